package runtime

import (
	"testing"

	"nnscope/runtime/cuda/fakecuda"
)

// TestOnFakeCUDA runs the engine's GPU tests on fakecuda (the real CUDA
// backend over a host-CPU stand-in for the driver, NVRTC and cuBLAS).
func TestOnFakeCUDA(t *testing.T) {
	fakecuda.Run(t, "^(TestBackendsAgree|TestGPUDeviceErrors|TestNumbersWorkOnAnyDevice|TestGPUMemoryOfDroppedTensorsIsReused|TestGPUSelectionOps|TestGPUTopKLargeK|TestGPUGradReplacementOnAnotherDevice|TestGPUReversedViewsStayOnDevice|TestGPUReversedViewsOnEveryBackend|TestGradAccumulatesInPlace|TestAddInPlaceViews|TestLinearBackwardSameRows)$")
}
