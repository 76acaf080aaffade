package nnscope

import (
	"math"
	"strings"
	"testing"

	"nnscope/internal/reference"
	"nnscope/runtime/cuda/fakecuda"
)

// qaParamWorkload drives parameter gradients on m as scripts do and
// returns every parameter's .grad after each stage: one pass; a second,
// accumulated; after zeroing, a retained graph whose first pass edits
// gradients (in place, through views) and reads a parameter's, whose
// second replaces one with SetGrad; after zeroing, batched invokes.
func qaParamWorkload(t *testing.T, m *Model) []map[string][]float64 {
	var out []map[string][]float64
	snap := func() {
		for _, pn := range qaParamNames(m) {
			if g, p := m.Param(pn[0]).AccumulatedGrad(), m.Param(pn[0]); g != nil && g.Device() != p.Device() {
				t.Errorf("%s: .grad on %s, the parameter on %s", pn[0], g.Device(), p.Device())
			}
		}
		out = append(out, qaGrads(m))
	}
	ids := m.Encode(prompt)
	qaWithParams(m, func() {
		m.Trace(prompt, func(tr *Tracer) { qaCE(m, m.Output(), ids).Backward(nil) })
		snap()
		m.Trace(prompt, func(tr *Tracer) { qaCE(m, m.Output(), ids).Backward(nil) })
		snap()
		qaZero(m)
		var read *Tensor
		m.Trace(prompt, func(tr *Tracer) {
			pat := m.Transformer.H.At(0).Attn.AttnDropout.Output()
			h1 := m.Transformer.H.At(1).Output()
			lnf := m.Transformer.LnF.Output()
			loss := qaCE(m, m.Output(), ids)
			loss.Backward(func() {
				lnf.Grad().Slice(":, -1, :").Fill(0)
				g := h1.Grad()
				g.Copy(g.Mul(2))
				pat.Grad().Slice(":, 1, :, :").Fill(0)
				read = m.Param("lm_head.weight").Grad().Save()
			}, RetainGraph)
			loss.Mul(0.5).Backward(func() { h1.SetGrad(Zeros(h1.Shape()...).To(h1.Device())) })
		})
		read.Fill(3) // after the pass: no .grad changes
		snap()
		qaZero(m)
		var l1, l2 *Tensor
		m.Trace(nil, func(tr *Tracer) {
			tr.Invoke("Hello world, this is", func() { l1 = m.Output().Slice("0, -1, :").LogSoftmax().Slice("42").Save() })
			tr.Invoke(prompt, func() { l2 = m.Output().Slice("0, -1, :").LogSoftmax().Slice("43").Save() })
		})
		l1.Add(l2).Backward(nil)
		snap()
	})
	return out
}

// TestQAGradParametersOnGPU: the workload's parameter gradients on the GPU
// (the real one where there is one, and the emulated one; fakecuda in
// TestQAGradParametersOnFakeCUDA) equal the CPU's, stage by stage, and
// stay on the GPU.
func TestQAGradParametersOnGPU(t *testing.T) {
	cpu := qaParamWorkload(t, LanguageModel(reference.Dir()))
	onGPUs(t, func(t *testing.T) { qaGradParametersOnGPU(t, cpu) })
}

func qaGradParametersOnGPU(t *testing.T, cpu []map[string][]float64) {
	device := t.Name()[strings.LastIndex(t.Name(), "/")+1:]
	gpu := qaParamWorkload(t, LanguageModel(reference.Dir(), Device("cuda")))
	worstErr := 0.0
	for s := range cpu {
		for k, want := range cpu[s] {
			got, ok := gpu[s][k]
			if !ok {
				t.Errorf("stage %d: %s has no gradient on %s", s, k, device)
				continue
			}
			var d, scale float64
			for i := range want {
				d = math.Max(d, math.Abs(got[i]-want[i]))
				scale = math.Max(scale, math.Abs(want[i]))
			}
			e := d / math.Max(scale, 1e-12)
			if e > 1e-4 {
				t.Errorf("stage %d: %s on %s differs from the cpu by %.2e of its largest entry", s, k, device, e)
			}
			worstErr = math.Max(worstErr, e)
		}
	}
	t.Logf("%s vs cpu: worst %.2e of the largest entry", device, worstErr)
}

// TestQAGradParametersOnFakeCUDA runs TestQAGradParametersOnGPU on
// fakecuda (the real CUDA backend over a host-CPU stand-in).
func TestQAGradParametersOnFakeCUDA(t *testing.T) {
	fakecuda.Run(t, "^TestQAGradParametersOnGPU$")
}
