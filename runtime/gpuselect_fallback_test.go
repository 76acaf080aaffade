package runtime

import (
	"testing"

	"nnscope/runtime/cuda/emu"
)

// TestGPUSelectionOpsWithoutKernels: on a backend without the Where and
// TopK kernels (GPUBackend's methods only: the emulator has them, as the
// CUDA backend does), the selection ops run on host copies with the same
// values and gradients.
func TestGPUSelectionOpsWithoutKernels(t *testing.T) {
	useGPU(t, struct{ GPUBackend }{emu.New()})
	if _, ok := gpuBackend().(whereBackend); ok {
		t.Fatal("the wrapped emulator still has the Where kernel")
	}
	gpuSelectionOps(t)
	gpuReversedViewsOnEveryBackendVia(t, false)
}
