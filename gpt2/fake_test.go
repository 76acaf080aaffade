package gpt2

import (
	"testing"

	"nnscope/runtime/cuda/fakecuda"
)

// TestOnFakeCUDA runs every reference.json case with the model on fakecuda
// (the real CUDA backend over a host-CPU stand-in for the driver, NVRTC
// and cuBLAS).
func TestOnFakeCUDA(t *testing.T) { fakecuda.Run(t, "^TestReferenceOnGPU$") }
