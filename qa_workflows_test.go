package nnscope

import (
	"testing"
)

// Regressions found porting nnsight workflows (logit lens, patching,
// head ablation, steering, IG, batching) to nnscope scripts.

// OutputShapes (and the REPL's :modules) describe the last trace only: a
// module the last trace skipped or never reached has no shape, even when
// an earlier trace ran it.
func TestOutputShapesForgetEarlierTraces(t *testing.T) {
	m, _ := tiny(t)
	m.Trace("Hello world", func(tr *Tracer) {})
	if _, ok := m.OutputShapes()["transformer.h.1.mlp"]; !ok {
		t.Fatal("a full trace has no shape for transformer.h.1.mlp")
	}
	m.Trace("Hello world", func(tr *Tracer) {
		m.Transformer.H.At(1).Skip(m.Transformer.H.At(0).Output())
	})
	s := m.OutputShapes()
	for _, p := range []string{"transformer.h.1.mlp", "transformer.h.1.attn", "transformer.h.1.ln_1"} {
		if sh, ok := s[p]; ok {
			t.Errorf("%s was skipped by the last trace but OutputShapes gives %v", p, sh)
		}
	}
	if _, ok := s["transformer.h.1"]; !ok {
		t.Error("the skipped block's own output is missing")
	}
	m.Trace("Hello world", func(tr *Tracer) {
		m.Transformer.H.At(0).Output()
		tr.Stop()
	})
	if sh, ok := m.OutputShapes()["lm_head"]; ok {
		t.Errorf("the last trace stopped at block 0 but lm_head has shape %v", sh)
	}
}

// Module paths as nnsight users copy them: its error messages name
// modules "model.transformer.h.5", and Python indexing reads "h[0]".
func TestModuleNnsightPaths(t *testing.T) {
	m, _ := tiny(t)
	for path, want := range map[string]string{
		"model.transformer.h.0":        "transformer.h.0",
		"transformer.h[1].mlp":         "transformer.h.1.mlp",
		"model.transformer.h[-1].attn": "transformer.h.2.attn",
		"transformer.h.0.mlp.c_fc":     "transformer.h.0.mlp.c_fc",
	} {
		if got := m.Module(path).Name(); got != want {
			t.Errorf("Module(%q) is %q, want %q", path, got, want)
		}
	}
	if got := m.Transformer.Module("h[1].ln_2").Name(); got != "transformer.h.1.ln_2" {
		t.Errorf(`Transformer.Module("h[1].ln_2") is %q`, got)
	}
	if got := m.Module("model").Module("model.transformer.h[0].mlp").Name(); got != "transformer.h.0.mlp" {
		t.Errorf(`the model's envoy: Module("model.transformer.h[0].mlp") is %q`, got)
	}
	err := expectError(t, func() { m.Module("model.transformer.h.7") })
	if err == nil {
		t.Error("block 7 of 3 found")
	}
}

// An invoke of several prompts sees them padded to its own longest, as
// when they run alone, not to the longest prompt of the whole batch; its
// edits and values are those of the prompts run alone.
func TestMultiRowInvokeHidesBatchPadding(t *testing.T) {
	m, _ := tiny(t)
	pair := []string{"The Eiffel Tower is in the city of", "Hello"}
	long := "When Mary and John went to the store, John gave a bottle of milk to the"
	edit := func() *Tensor {
		h := m.Transformer.H.At(1).Output()
		h.Slice(":, -1, :").Fill(0)
		return m.Output().Slice(":, -1, :").Save()
	}
	var alone, batched *Tensor
	var shape []int
	m.Trace(pair, func(tr *Tracer) { alone = edit() })
	m.Trace(nil, func(tr *Tracer) {
		tr.Invoke(long, func() {})
		tr.Invoke(pair, func() {
			shape = m.Transformer.H.At(0).Output().Shape()
			batched = edit()
		})
	})
	if want := len(m.Encode(pair[0])); len(shape) != 3 || shape[0] != 2 || shape[1] != want {
		t.Fatalf("the invoke of two prompts sees shape %v, want [2 %d 32]", shape, want)
	}
	if d := batched.Sub(alone).Abs().Max(); d > 1e-4 {
		t.Fatalf("batched invoke differs from the prompts alone by %g", d)
	}
}
