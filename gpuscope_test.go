package nnscope

import (
	"math"
	"strings"
	"testing"

	"nnscope/internal/reference"
	rt "nnscope/runtime"
	"nnscope/runtime/cuda/emu"
)

// TestValuesOutliveTheirTrace: values a script may still use after a trace
// keep their memory, on the CPU (the model's buffer pool) and on the GPU
// (the trace's GPU scope). Regressions:
//   - a tensor given to SetOutput (a saved, detached activation; a value
//     computed in the body) was released by the model once it was done with
//     that module's output: on the CPU its buffer went back to the pool
//     (tensors of 1024 floats or more: "slice bounds out of range"), on the
//     GPU its memory to the allocator ("GPU memory was released");
//   - a leaf's accumulated gradient was released at the end of the trace
//     when Save was called on the leaf after the backward pass;
//   - a saved CPU tensor with gradient history through GPU tensors
//     (out.To("cpu")) did not keep the pass's memory, so a backward pass
//     after the trace found it released.
func TestValuesOutliveTheirTrace(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	t.Run("cpu", func(t *testing.T) { valuesOutliveTheirTrace(t, "cpu") })
	if _, err := rt.GPU(); err == nil {
		t.Run("cuda", func(t *testing.T) { valuesOutliveTheirTrace(t, "cuda") })
	}
	rt.SetGPUBackend(emu.New())
	defer rt.SetGPUBackend(nil)
	t.Run("emulated", func(t *testing.T) { valuesOutliveTheirTrace(t, "cuda") })
}

func valuesOutliveTheirTrace(t *testing.T, dev string) {
	m := LanguageModel(reference.Dir(), Device(dev))
	long := strings.Repeat("The cat sat on the mat. ", 8) // [1, 57, 32]: pooled on the CPU
	var h *Tensor
	m.Trace(long, func(tr *Tracer) { h = m.Transformer.H.At(0).Output().Detach().Save() })
	want := h.Sum().Item()
	var patched, computed float64
	var inside *Tensor
	m.Trace(long, func(tr *Tracer) {
		m.Transformer.H.At(0).SetOutput(h)
		n := m.Transformer.H.At(1).Output().Mul(2)
		m.Transformer.H.At(1).SetOutput(n)
		m.Transformer.LnF.Output()
		computed = n.Sum().Item() // the model is done with n by now
		inside = n.Save()
		patched = m.LMHead.Output().Sum().Item()
	})
	if got := h.Sum().Item(); got != want {
		t.Errorf("saved activation given to SetOutput reads %v after the trace, want %v", got, want)
	}
	if got := inside.Sum().Item(); got != computed {
		t.Errorf("SetOutput value reads %v after the trace, %v inside", got, computed)
	}
	var again float64
	m.Trace(long, func(tr *Tracer) {
		m.Transformer.H.At(0).SetOutput(h)
		m.Transformer.H.At(1).SetOutput(m.Transformer.H.At(1).Output().Mul(2))
		again = m.LMHead.Output().Sum().Item()
	})
	if again != patched {
		t.Errorf("patching with the saved activation again gave %v, first %v", again, patched)
	}

	// Save after the backward pass keeps the accumulated gradient.
	var leaf *Tensor
	m.Trace(prompt, func(tr *Tracer) {
		w := Ones(1, 1, 32).To(dev).RequiresGrad()
		o := m.Transformer.H.At(0).Output()
		m.Transformer.H.At(0).SetOutput(o.Mul(w))
		m.LMHead.Output().Sum().Backward(nil)
		leaf = w.Save()
	})
	if g := leaf.AccumulatedGrad(); g == nil || g.Abs().Sum().Item() == 0 {
		t.Errorf("accumulated gradient of a leaf saved after backward: %v", g)
	}

	// A saved CPU copy with history through the GPU pass.
	var hs, cpuLogits, grad, ref *Tensor
	m.Trace(prompt, func(tr *Tracer) {
		hs = m.Transformer.H.At(0).Output().Save()
		l := m.LMHead.Output()
		cpuLogits = l.To("cpu").Save()
		l.Sum().Backward(func() { ref = hs.Grad().Save() }, RetainGraph)
	})
	cpuLogits.Sum().Backward(func() { grad = hs.Grad().Save() })
	if d := grad.Sub(ref).Abs().Max(); d > 1e-4*ref.Abs().Max() {
		t.Errorf("backward after the trace through To(\"cpu\"): gradient differs by %v", d)
	}

	// Saved, then written in place from values computed in the pass.
	x := Ones(32).To(dev).RequiresGrad()
	var h0 *Tensor
	m.Trace(prompt, func(tr *Tracer) {
		h0 = m.Transformer.H.At(0).Output().Save()
		h0.Slice(":, -1, :").Copy(x.Mul(2).Exp())
	})
	h0.Sum().Backward(func() { grad = x.Grad().Save() })
	if d := grad.Sub(2 * math.Exp(2)).Abs().Max(); d > 1e-3 {
		t.Errorf("backward after the trace through an in-place write: gradient off by %v", d)
	}

	// Made before the trace, written in it from the pass without Save:
	// a backward after the trace reads the pass's memory (on the GPU it
	// was released: "backward of linear: ... its GPU memory was released").
	m.SetRequiresGrad(true)
	defer m.SetRequiresGrad(false)
	w := m.Param("transformer.h.0.attn.c_attn.weight")
	m.Trace(prompt, func(tr *Tracer) { m.Transformer.H.At(1).Output().Sum().Backward(nil) })
	wantG := w.AccumulatedGrad().Abs().Sum().Item()
	w.AccumulatedGrad().Fill(0)
	acc := Zeros(1, 10, 32).To(dev)
	m.Trace(prompt, func(tr *Tracer) { acc.Copy(m.Transformer.H.At(1).Output()) })
	if err := expectErrorTB(func() { acc.Sum().Backward(nil) }); err != nil {
		t.Fatalf("backward after the trace from a tensor made before it and written in it: %v", err)
	}
	if got := w.AccumulatedGrad().Abs().Sum().Item(); math.Abs(got-wantG) > 1e-4*wantG {
		t.Errorf("w gradient through the written tensor %v, through the pass %v", got, wantG)
	}
}

// TestNoGPUMemoryGrowthAcrossTraces: repeating a kind of trace (patching,
// SetOutput with a saved value, gradients, steered generation, a batch of
// invokes, Stop, a failing trace) keeps the device memory in use flat.
func TestNoGPUMemoryGrowthAcrossTraces(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	if _, err := rt.GPU(); err == nil {
		t.Run("cuda", noGPUMemoryGrowthAcrossTraces)
	}
	rt.SetGPUBackend(emu.New())
	defer rt.SetGPUBackend(nil)
	t.Run("emulated", noGPUMemoryGrowthAcrossTraces)
}

func noGPUMemoryGrowthAcrossTraces(t *testing.T) {
	m := LanguageModel(reference.Dir(), Device("cuda"))
	var acts []*Tensor
	m.Trace(prompt, func(tr *Tracer) {
		for l := range m.Transformer.H.Len() {
			acts = append(acts, m.Transformer.H.At(l).Output().Detach().Save())
		}
	})
	dir := acts[1].Mean(1).Sub(acts[0].Mean(1))
	kinds := []struct {
		name string
		run  func()
	}{
		{"patch", func() {
			m.Trace("The Colosseum is in the city of", func(tr *Tracer) {
				m.Transformer.H.At(1).Output().Slice(":, -1, :").Copy(acts[1].Slice(":, -1, :"))
				m.LMHead.Output().Sum().Item()
			})
		}},
		{"set output", func() {
			m.Trace(prompt, func(tr *Tracer) {
				m.Transformer.H.At(1).SetOutput(acts[1])
				m.LMHead.Output().Sum().Item()
			})
		}},
		{"gradient", func() {
			m.Trace(prompt, func(tr *Tracer) {
				h := m.Transformer.H.At(0).Output()
				m.LMHead.Output().Sum().Backward(func() { h.Grad().Abs().Mean().Item() })
			})
		}},
		{"steered generation", func() {
			m.Generate(prompt, MaxNewTokens(4), func(tr *Tracer) {
				tr.Iter(func(int) {
					o := m.Transformer.H.At(0).Output()
					o.Copy(o.Add(dir))
				})
			})
		}},
		{"batch", func() {
			m.Trace(nil, func(tr *Tracer) {
				tr.Invoke("Hello", func() { m.LMHead.Output().Sum().Item() })
				tr.Invoke(prompt, func() { m.Transformer.H.At(0).Output().Fill(0) })
			})
		}},
		{"stop", func() {
			m.Trace(prompt, func(tr *Tracer) { m.Transformer.H.At(0).Output(); tr.Stop() })
		}},
		{"failing", func() {
			expectError(t, func() {
				m.Trace(prompt, func(tr *Tracer) { m.Transformer.H.At(1).Output(); m.Transformer.H.At(0).Output() })
			})
		}},
	}
	for _, k := range kinds {
		k.run()
		base := rt.GPUMemoryInUse()
		for range 5 {
			k.run()
		}
		if grew := rt.GPUMemoryInUse() - base; grew > 0 {
			t.Errorf("%s: 5 more traces kept %d bytes on the device", k.name, grew)
		}
	}
	if got := acts[1].Sum().Item(); got != acts[1].Detach().Sum().Item() || acts[0].Device() != "cuda" {
		t.Errorf("saved activations changed")
	}
}

// TestReplacementOnWrongDevice: SetOutput, SetInput and Skip with a value
// on the other device fail naming the module the value was given to (it
// used to fail in the next module that read it: "in
// transformer.h.2.ln_1: LayerNorm: tensors on different devices").
func TestReplacementOnWrongDevice(t *testing.T) {
	rt.SetGPUBackend(emu.New())
	defer rt.SetGPUBackend(nil)
	m := LanguageModel(reference.Dir(), Device("cuda"))
	T := len(m.Encode(prompt))
	for op, fn := range map[string]func(e *Envoy, v *Tensor){
		"SetOutput": (*Envoy).SetOutput, "SetInput": (*Envoy).SetInput, "Skip": (*Envoy).Skip,
	} {
		err := expectError(t, func() {
			m.Trace(prompt, func(tr *Tracer) { fn(m.Transformer.H.At(1).Envoy, Zeros(1, T, 32)) })
		})
		if want := op + ` on transformer.h.1: the value is on cpu`; !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), `.To("cuda")`) {
			t.Errorf("%s with a CPU value on a GPU model: %v, want %q", op, err, want)
		}
	}
	var s float64
	m.Trace(prompt, func(tr *Tracer) {
		m.Transformer.H.At(1).SetOutput(Zeros(1, T, 32).To("cuda"))
		s = m.LMHead.Output().Sum().Item()
	})
	if s == 0 {
		t.Error("a replacement on the right device did not run")
	}
}
