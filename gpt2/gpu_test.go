package gpt2

import (
	"os"
	"testing"

	rt "nnscope/runtime"
)

// TestReferenceOnGPU runs the reference.json tests with the model on the
// GPU: everything PyTorch computed must hold there too, within the same
// tolerance. Without a GPU it skips and says why.
func TestReferenceOnGPU(t *testing.T) {
	if _, err := rt.GPU(); err != nil {
		if os.Getenv("NNSCOPE_REQUIRE_GPU") != "" {
			t.Fatalf("NNSCOPE_REQUIRE_GPU is set but the GPU is not usable: %v", err)
		}
		t.Skipf("no GPU here, CUDA reference tests skipped: %v", err)
	}
	testDevice = "cuda"
	defer func() { testDevice = "cpu" }()
	for name, fn := range map[string]func(*testing.T){
		"forward": TestForward, "grad_last": TestGradLast, "grad_all_layers": TestGradAllLayers,
		"grad_zero_last": TestGradZeroLast, "grad_modify_mid": TestGradModifyMid,
		"retain_graph": TestRetainGraph, "forward_ablate": TestForwardAblate, "patching": TestPatching,
		"integrated_gradients": TestIntegratedGradients, "generate_greedy": TestGenerateGreedy,
		"lm_loss": TestLMLoss, "batch": TestBatch,
	} {
		t.Run(name, fn)
	}
}
