package nnscope

import (
	"slices"
	"strings"
	"testing"

	"nnscope/internal/reference"
)

// A GPU model's token ids and positions reach bodies on the model's
// device, as nnsight's model.input does, so they mix with the model's
// tensors (WTE.Call(model.Input())); the model reads what the body saw,
// edited in place or replaced.
func TestTokenInputsOnModelDevice(t *testing.T) { onGPUs(t, tokenInputsOnModelDevice) }

func tokenInputsOnModelDevice(t *testing.T) {
	cpu := LanguageModel(reference.Dir())
	gpu := LanguageModel(reference.Dir(), Device("cuda"))
	ids := cpu.Encode(prompt)
	T := len(ids)
	edited := append(slices.Clone(ids[:T-1]), ids[0])
	var want *Tensor
	cpu.Trace(edited, func(tr *Tracer) { want = cpu.Output().Save() })

	var in, pos, called, wte *Tensor
	gpu.Trace(prompt, func(tr *Tracer) {
		in = gpu.Input().Save()
		called = gpu.Transformer.WTE.Call(in).Save()
		wte = gpu.Transformer.WTE.Output().Save()
		pos = gpu.Transformer.WPE.Input().Save()
	})
	for name, v := range map[string]*Tensor{"model.Input()": in, "wpe's input": pos} {
		if v.Device() != "cuda" {
			t.Errorf("%s is on %s, want cuda", name, v.Device())
		}
	}
	if !slices.Equal(in.Ints(), ids) || !slices.Equal(pos.Ints(), []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}[:T]) {
		t.Errorf("ids %v, positions %v; want %v and 0..%d", in.Ints(), pos.Ints(), ids, T-1)
	}
	if called.Sub(wte).Abs().Max() != 0 {
		t.Error("WTE.Call(model.Input()) differs from wte's output")
	}

	near := func(name string, got *Tensor) {
		t.Helper()
		if d := got.To("cpu").Sub(want).Abs().Max(); d > 1e-4 {
			t.Errorf("%s: logits off the CPU model's on the edited ids by %g", name, d)
		}
	}
	var got *Tensor
	gpu.Trace(prompt, func(tr *Tracer) {
		gpu.Input().Narrow(1, T-1, 1).Fill(float64(ids[0]))
		got = gpu.Output().Save()
	})
	near("ids edited in place", got)

	e := make([]float64, T)
	for i, id := range edited {
		e[i] = float64(id)
	}
	gpu.Trace(prompt, func(tr *Tracer) {
		gpu.Transformer.WTE.SetInput(NewTensor(e, 1, T).To("cuda"))
		got = gpu.Output().Save()
	})
	near("wte's input replaced", got)

	err := expectError(t, func() {
		gpu.Trace(prompt, func(tr *Tracer) { gpu.Transformer.WTE.SetInput(NewTensor(e, 1, T)) })
	})
	if !strings.Contains(err.Error(), `the value is on cpu, the input on cuda`) {
		t.Errorf("a CPU replacement for a GPU model's ids: %v", err)
	}
}
