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
func TestInterventionsOnGPU(t *testing.T) { onGPUs(t, interventionsOnGPU) }

// onGPUs runs fn as subtest "cuda" on the real GPU when there is one
// (NNSCOPE_REQUIRE_GPU makes its absence a failure), then as "emulated" on
// the emulated GPU; skipped in -short.
func onGPUs(t *testing.T, fn func(t *testing.T)) {
	if testing.Short() {
		t.Skip("short")
	}
	if _, err := rt.GPU(); err == nil {
		t.Run("cuda", fn)
	} else if os.Getenv("NNSCOPE_REQUIRE_GPU") != "" {
		t.Fatalf("NNSCOPE_REQUIRE_GPU is set but the GPU is not usable: %v", err)
	}
	rt.SetGPUBackend(emu.New())
	defer rt.SetGPUBackend(nil)
	t.Run("emulated", fn)
}

// TestOnFakeCUDA runs TestInterventionsOnGPU on fakecuda, the real CUDA
// backend over a host-CPU stand-in for the driver, NVRTC and cuBLAS.
func TestOnFakeCUDA(t *testing.T) {
	fakecuda.Run(t, "^(TestInterventionsOnGPU|TestTokenInputsOnModelDevice|TestTraceReleasesGPUMemory|TestValuesOutliveTheirTrace|TestNoGPUMemoryGrowthAcrossTraces|TestTF32IsPerModel|TestSelectionInterventionsOnGPU)$")
}

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
	var lens, logits *Tensor
	m.Trace(prompt, func(tr *Tracer) {
		lens = m.LMHead.Call(m.Transformer.LnF.Call(m.Transformer.H.At(-1).Output())).Save()
		logits = m.LMHead.Output().Save()
	})
	if d := lens.Sub(logits).Abs().Max(); lens.Device() != "cuda" || d > 1e-4 {
		t.Errorf("logit lens on cuda: device %s, off the logits by %g", lens.Device(), d)
	}
	if s := grad.String(); !strings.Contains(s, "device=cuda") {
		t.Errorf("printing a cuda tensor: %s", s)
	}
	if got := grad.To("cpu").Device(); got != "cpu" {
		t.Errorf("To(cpu) gave %s", got)
	}
}

// TestTraceReleasesGPUMemory: a trace gives the device memory of its pass
// back when it ends, but for what was saved; a saved value with gradient
// history keeps its graph, so backward after the trace still works. On
// fakecuda (the real allocator) the passes after the first reach
// cuMemAlloc no more.
func TestTraceReleasesGPUMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	if _, err := rt.GPU(); err == nil {
		t.Run("cuda", traceReleasesGPUMemory)
	}
	rt.SetGPUBackend(emu.New())
	defer rt.SetGPUBackend(nil)
	t.Run("emulated", traceReleasesGPUMemory)
}

func traceReleasesGPUMemory(t *testing.T) {
	m := LanguageModel(reference.Dir(), Device("cuda"))
	seed := func() *Tensor {
		var grad *Tensor
		m.Trace(prompt, func(tr *Tracer) {
			hs := m.Transformer.H.At(-1).Output()
			m.LMHead.Output().Sum().Backward(func() { grad = hs.Grad().Save() })
		})
		return grad
	}
	first := seed()
	base := rt.GPUMemoryInUse()
	stats0, real := rt.GPUAllocatorStats()
	var grads []*Tensor
	for range 5 {
		grads = append(grads, seed())
	}
	per := int64(first.Size()) * 4
	if grew := rt.GPUMemoryInUse() - base; grew > 5*per {
		t.Errorf("5 traces kept %d bytes on the device, want at most the 5 saved gradients (%d bytes)", grew, 5*per)
	}
	if real {
		stats, _ := rt.GPUAllocatorStats()
		if n := stats.Allocs - stats0.Allocs; n > 5 {
			t.Errorf("5 traces after the first called cuMemAlloc %d times, want the saved gradients' at most", n)
		}
		t.Logf("allocator over 5 traces: %d cuMemAlloc, %d reuses", stats.Allocs-stats0.Allocs, stats.Reuses-stats0.Reuses)
	}
	for i, g := range append(grads, first) {
		if !slices.Equal(g.Shape(), first.Shape()) || g.Sub(first).Abs().Max() != 0 {
			t.Fatalf("saved gradient %d changed after later traces", i)
		}
	}
	// Backward after the trace on saved values with history.
	var hs, logits *Tensor
	m.Trace(prompt, func(tr *Tracer) {
		hs = m.Transformer.H.At(-1).Output().RequiresGrad().Save()
		logits = m.LMHead.Output().Save()
	})
	var grad *Tensor
	logits.Sum().Backward(func() { grad = hs.Grad().Save() })
	if grad.Sub(first).Abs().Max() > 1e-4 {
		t.Errorf("backward after the trace gave a different gradient")
	}
}

// TestTF32IsPerModel: TF32 holds for the model loaded with it; loading the
// same model again with TF32 does not change the first one's precision
// (it was process-wide: the strict model's logits moved by 1e-3).
func TestTF32IsPerModel(t *testing.T) {
	if _, err := rt.GPU(); err != nil {
		t.Skip("no GPU: runs on fakecuda from TestOnFakeCUDA")
	}
	// Over 16 tokens, so that the projections are cuBLAS GEMMs: products of
	// fewer rows run strict FP32 kernels of nnscope's own in both modes.
	long := strings.Repeat(prompt+" ", 3)
	logits := func(m *Model) []float32 {
		var out *Tensor
		m.Trace(long, func(tr *Tracer) { out = m.LMHead.Output().Slice("0, -1, ::97").Save() })
		return out.Float32s()
	}
	strict := LanguageModel(reference.Dir(), Device("cuda"))
	before := logits(strict)
	fast := LanguageModel(reference.Dir(), Device("cuda"), TF32())
	if tf := logits(fast); slices.Equal(tf, before) {
		t.Error("TF32 changed nothing")
	}
	if after := logits(strict); !slices.Equal(after, before) {
		t.Error("loading the model again with TF32 changed the strict model's logits")
	}
	// A module call outside a trace runs in its model's precision too, not
	// in that of the last trace (of the TF32 model).
	var h *Tensor
	strict.Trace(long, func(tr *Tracer) { h = strict.Transformer.LnF.Output().Save() })
	call := func() []float32 { return strict.LMHead.Call(h).Slice("0, -1, ::97").Float32s() }
	want := call()
	logits(fast)
	if got := call(); !slices.Equal(got, want) {
		t.Error("strict model's LMHead.Call after a TF32 trace gave other logits")
	}
}
