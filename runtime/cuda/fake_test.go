package cuda_test

import (
	"os"
	"testing"

	"nnscope/runtime/cuda"
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
// barrier) changes some result in one of the two runs, and with poisoned
// allocations, so that a kernel that writes past its buffer fails Free's
// check of the size class's slack (NNSCOPE_CUDA_POISON, memory.go).
func TestOnFakeCUDASkewed(t *testing.T) {
	fakecuda.Run(t, "^TestGPU", "FAKECUDA_THREAD_ORDER=skew")
}

// TestFakeCUDAMemoryLimit: FAKECUDA_MEMORY sets the fake GPU's memory, so
// that out-of-memory part-way through a model's pass can be tested with
// small tensors.
func TestFakeCUDAMemoryLimit(t *testing.T) {
	fakecuda.Run(t, "^TestFakeMemoryLimitChild$", "FAKECUDA_MEMORY=64M")
}

func TestFakeMemoryLimitChild(t *testing.T) {
	if os.Getenv(fakecuda.EnvChild) == "" {
		t.Skip("runs on fakecuda, from TestFakeCUDAMemoryLimit")
	}
	d := gpu(t)
	free, total, err := d.MemInfo()
	must(t, err)
	if total != 64<<20 || free > total {
		t.Fatalf("MemInfo: free %d total %d, want total %d", free, total, 64<<20)
	}
	const n = 10 << 20 // 40 MiB of floats
	a, err := d.Alloc(n)
	must(t, err)
	if _, err := d.Alloc(n); err == nil || !cuda.IsOutOfMemory(err) {
		t.Fatalf("a second 40 MiB on a 64 MiB GPU: %v, want out of memory", err)
	}
	must(t, d.Free(a))
	b, err := d.Alloc(n)
	must(t, err)
	must(t, d.Free(b))
}
