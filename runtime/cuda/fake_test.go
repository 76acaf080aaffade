package cuda_test

import (
	"testing"

	"nnscope/runtime/cuda/fakecuda"
)

// TestOnFakeCUDA runs the GPU tests against fakecuda, the host-CPU stand-in
// for the driver, NVRTC and cuBLAS: every kernel, compiled from
// kernels/*.cu, checked against the CPU runtime on machines without a GPU.
// Without poisoned allocations: these tests write every input themselves,
// and the allocator's cached path (which poisoning bypasses) runs here.
func TestOnFakeCUDA(t *testing.T) { fakecuda.Run(t, "^TestGPU", "NNSCOPE_CUDA_POISON=0") }

// TestOnFakeCUDASkewed runs the kernel tests again with each block's
// threads in another order (warps one after another, each as far as it
// gets; shim.h), so that a race between threads of a block (a missing
// barrier) changes some result in one of the two runs.
func TestOnFakeCUDASkewed(t *testing.T) {
	fakecuda.Run(t, "^TestGPU", "NNSCOPE_CUDA_POISON=0", "FAKECUDA_THREAD_ORDER=skew")
}
