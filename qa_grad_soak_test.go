package nnscope

import (
	"testing"

	"nnscope/internal/reference"
	rt "nnscope/runtime"
	"nnscope/runtime/cuda/emu"
)

// qaGradSoak runs n traces with every parameter requiring grad: a
// backward block that edits and reads gradients through a retained graph,
// a second pass, .grad zeroed in place after each trace (every third
// trace it is left to accumulate instead), sampling memory every `every`
// traces.
func qaGradSoak(t *testing.T, m *Model, n, every int) []soakSample {
	ids := m.Encode(prompt)
	var out []soakSample
	var kept *Tensor
	qaWithParams(m, func() {
		for i := range n {
			m.Trace(prompt, func(tr *Tracer) {
				h := m.Transformer.H.At(1).Output()
				loss := qaCE(m, m.Output(), ids)
				loss.Backward(func() {
					g := h.Grad()
					g.Copy(g.Mul(0.5))
					kept = g.Detach().Save()
				}, RetainGraph)
				loss.Backward(nil)
			})
			if i%3 != 2 {
				qaZero(m)
			}
			if (i+1)%every == 0 {
				out = append(out, soakSampleNow(i+1, 0))
			}
		}
	})
	_ = kept
	return out
}

// TestQAGradParameterLoopKeepsMemoryFlat: a loop of traces taking every
// parameter's gradient keeps the heap (within noise) and GPU memory flat:
// a pass's gradients, kept as .grad or summed into it, replace the last
// ones instead of piling up.
func TestQAGradParameterLoopKeepsMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	s := qaGradSoak(t, LanguageModel(reference.Dir()), 90, 30)
	soakReport(t, "gpt2-tiny, parameter gradients", s)
	soakCheck(t, s, 512<<10)

	rt.SetGPUBackend(emu.New())
	defer rt.SetGPUBackend(nil)
	s = qaGradSoak(t, LanguageModel(reference.Dir(), Device("cuda")), 45, 15)
	soakReport(t, "gpt2-tiny on the emulated GPU, parameter gradients", s)
	soakCheck(t, s, 512<<10)
}
