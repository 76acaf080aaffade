package gpt2

import (
	"os"
	"testing"

	rt "nnscope/runtime"
	"nnscope/runtime/cuda/emu"
)

// TestReferenceOnGPU runs the reference.json tests with the model on the
// GPU: everything PyTorch computed must hold there too, within the same
// tolerance. It runs on the real GPU when there is one, and always on the
// emulated GPU (runtime/cuda/emu), so the model's GPU code paths are
// exercised on every machine.
func TestReferenceOnGPU(t *testing.T) {
	cases := map[string]func(*testing.T){
		"forward": TestForward, "grad_last": TestGradLast, "grad_all_layers": TestGradAllLayers,
		"grad_zero_last": TestGradZeroLast, "grad_modify_mid": TestGradModifyMid,
		"retain_graph": TestRetainGraph, "forward_ablate": TestForwardAblate, "patching": TestPatching,
		"integrated_gradients": TestIntegratedGradients, "generate_greedy": TestGenerateGreedy,
		"lm_loss": TestLMLoss, "batch": TestBatch, "sampling": TestSampling,
	}
	run := func(t *testing.T) {
		testDevice = "cuda"
		defer func() { testDevice = "cpu" }()
		for name, fn := range cases {
			t.Run(name, fn)
		}
	}
	if _, err := rt.GPU(); err == nil {
		t.Run("cuda", run)
	} else if os.Getenv("NNSCOPE_REQUIRE_GPU") != "" {
		t.Fatalf("NNSCOPE_REQUIRE_GPU is set but the GPU is not usable: %v", err)
	} else {
		t.Logf("no GPU here (%v): running on the emulated GPU only", err)
	}
	if testing.Short() {
		return
	}
	t.Run("emulated", func(t *testing.T) {
		installEmulatedGPU(t)
		run(t)
	})
}

// installEmulatedGPU makes the emulated GPU the "cuda" device for the
// rest of t.
func installEmulatedGPU(t *testing.T) {
	rt.SetGPUBackend(emu.New())
	t.Cleanup(func() { rt.SetGPUBackend(nil) })
}
