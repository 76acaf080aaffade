package nnscope

import (
	"os"
	"slices"
	"strings"
	"testing"

	"nnscope/internal/reference"
	rt "nnscope/runtime"
	"nnscope/runtime/cuda/emu"
	"nnscope/runtime/cuda/fakecuda"
)

// TestInterventionsOnGPU drives a model on the GPU through the API scripts
// use: gradients in a backward block, an in-place edit, patching with a
// saved tensor, generation with steering, and the error for mixing
// devices. It runs on the real GPU when there is one (fakecuda stands in
// for it in TestOnFakeCUDA), and on the emulated GPU.
func TestInterventionsOnGPU(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	if _, err := rt.GPU(); err == nil {
		t.Run("cuda", interventionsOnGPU)
	} else if os.Getenv("NNSCOPE_REQUIRE_GPU") != "" {
		t.Fatalf("NNSCOPE_REQUIRE_GPU is set but the GPU is not usable: %v", err)
	}
	rt.SetGPUBackend(emu.New())
	defer rt.SetGPUBackend(nil)
	t.Run("emulated", interventionsOnGPU)
}

// TestOnFakeCUDA runs TestInterventionsOnGPU on fakecuda, the real CUDA
// backend over a host-CPU stand-in for the driver, NVRTC and cuBLAS.
func TestOnFakeCUDA(t *testing.T) { fakecuda.Run(t, "^TestInterventionsOnGPU$") }

func interventionsOnGPU(t *testing.T) {
	m := LanguageModel(reference.Dir(), Device("cuda"))
	ref, _ := reference.Load()
	var c struct {
		Grad reference.Tensor `json:"grad"`
	}
	ref.Case("grad_last", &c)
	var grad, ablated *Tensor
	m.Trace(prompt, func(tr *Tracer) {
		hs := m.Transformer.H.At(-1).Output()
		if hs.Device() != "cuda" {
			t.Errorf("activation on %s", hs.Device())
		}
		m.LMHead.Output().Sum().Backward(func() { grad = hs.Grad().Save() })
	})
	check(t, "grad on cuda", grad, c.Grad)
	var a struct {
		Slice reference.Tensor `json:"last_logits_slice"`
	}
	ref.Case("forward_ablate", &a)
	m.Trace(prompt, func(tr *Tracer) {
		m.Transformer.H.At(1).Output().Slice(":, -1, :").Fill(0)
		ablated = m.LMHead.Output().Slice("0, -1, ::997").Save()
	})
	check(t, "ablation on cuda", ablated, a.Slice)
	var gen struct {
		IDs []int `json:"ids"`
	}
	ref.Case("generate_greedy", &gen)
	if got := m.Generate(prompt, MaxNewTokens(10)).Tokens(); !slices.Equal(got, gen.IDs) {
		t.Errorf("generation on cuda %v, want %v", got, gen.IDs)
	}
	err := expectError(t, func() {
		m.Trace(prompt, func(tr *Tracer) { m.Transformer.H.At(0).Output().Add(NewTensor(make([]float64, 32))) })
	})
	if !strings.Contains(err.Error(), "different devices") {
		t.Errorf("mixing devices: %v", err)
	}
	if s := grad.String(); !strings.Contains(s, "device=cuda") {
		t.Errorf("printing a cuda tensor: %s", s)
	}
	if got := grad.To("cpu").Device(); got != "cpu" {
		t.Errorf("To(cpu) gave %s", got)
	}
}
