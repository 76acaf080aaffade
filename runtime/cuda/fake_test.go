package cuda_test

import (
	"testing"

	"nnscope/runtime/cuda/fakecuda"
)

// TestOnFakeCUDA runs the GPU tests against fakecuda, the host-CPU stand-in
// for the driver, NVRTC and cuBLAS: every kernel, compiled from
// kernels/*.cu, checked against the CPU runtime on machines without a GPU.
func TestOnFakeCUDA(t *testing.T) { fakecuda.Run(t, "^TestGPU") }
