package nnscope

import (
	"strings"
	"testing"
)

// TestModuleDidYouMean: a path naming no module is an error that names the
// closest paths, an out-of-range block index with the model's range, and
// nnsight's .output or a parameter for what they are.
func TestModuleDidYouMean(t *testing.T) {
	m, _ := tiny(t) // 3 blocks
	for _, c := range []struct{ path, want string }{
		{"transformer.h.0.mlp.fc", `no module "transformer.h.0.mlp.fc" in the model: did you mean "transformer.h.0.mlp.c_fc"?`},
		{"transformer.h.0.mpl", `did you mean "transformer.h.0.mlp"?`},
		{"transformer.h.0.MLP", `did you mean "transformer.h.0.mlp"?`},
		{"transformer.h.0.ln1", `did you mean "transformer.h.0.ln_1"?`},
		{"transformer.h.1.attn.dropout", `did you mean "transformer.h.1.attn.attn_dropout" or "transformer.h.1.attn.resid_dropout"?`},
		{"transformer.h.0.proj", `did you mean "transformer.h.0.attn.c_proj" or "transformer.h.0.mlp.c_proj"?`},
		// The wrong parent, a missing or an extra element.
		{"transformer.h.0.attn.c_fc", `did you mean "transformer.h.0.mlp.c_fc"?`},
		{"h.0.mlp", `did you mean "transformer.h.0.mlp"?`},
		{"transformer.0.mlp", `did you mean "transformer.h.0.mlp"?`},
		{"transformer.lm_head", `did you mean "lm_head"?`},
		{"lnf", `did you mean "transformer.ln_f"?`},
		// Indices stay as written, in nnsight's spelling too.
		{"transformer.h[-1].mlp.fc", `did you mean "transformer.h.-1.mlp.c_fc"?`},
		// Other models' names for GPT-2's parts (Llama's, GPT-NeoX's).
		{"model.layers.0.mlp", `did you mean "transformer.h.0.mlp"?`},
		{"model.model.layers.-1.self_attn.o_proj", `did you mean "transformer.h.-1.attn.c_proj"?`},
		{"transformer.h.2.mlp.down_proj", `did you mean "transformer.h.2.mlp.c_proj"?`},
		// Out of range.
		{"transformer.h.40", `no module "transformer.h.40" in the model: transformer.h has 3 blocks, indices 0..2 (or -3..-1 from the end)`},
		{"transformer.h[-4].mlp", `transformer.h has 3 blocks, indices 0..2 (or -3..-1 from the end)`},
		// Not modules.
		{"transformer.h.0.output", `"output" is not a module; transformer.h.0's output is model.Module("transformer.h.0").Output()`},
		{"model.lm_head.input", `"input" is not a module; lm_head's input is model.Module("lm_head").Input()`},
		{"transformer.h.0.mlp.fc.output", `"output" is not a module; did you mean model.Module("transformer.h.0.mlp.c_fc").Output()?`},
		{"transformer.h.0.attn.c_attn.weight", `"weight" is a parameter of transformer.h.0.attn.c_attn, not a module (model.Param("transformer.h.0.attn.c_attn.weight"))`},
	} {
		err := expectError(t, func() { m.Module(c.path) })
		if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "see model.Modules()") {
			t.Errorf("Module(%q):\n got %s\nwant it to say %s", c.path, err, c.want)
		}
	}
	// Nothing plausible: no guess.
	for _, path := range []string{"foo", "transformer.foo", "mlp", "transformer.h.x"} {
		err := expectError(t, func() { m.Module(path) })
		if want := `no module "` + path + `" in the model (see model.Modules() for the tree)`; err.Error() != want {
			t.Errorf("Module(%q): %s\nwant %s", path, err, want)
		}
	}
}

// TestEnvoyModuleDidYouMean: relative paths get relative suggestions.
func TestEnvoyModuleDidYouMean(t *testing.T) {
	m, _ := tiny(t)
	block := m.Transformer.H.At(0)
	for _, c := range []struct {
		e          *Envoy
		path, want string
	}{
		{block.Envoy, "mlp.fc", `no module "mlp.fc" under "transformer.h.0": did you mean "mlp.c_fc"?`},
		{block.Envoy, "fc", `did you mean "mlp.c_fc"?`},
		{block.Envoy, "self_attn", `did you mean "attn"?`},
		{block.Envoy, "mlp.output", `"output" is not a module; transformer.h.0.mlp's output is model.Module("transformer.h.0.mlp").Output()`},
		{m.Transformer.Envoy, "h[7]", `no module "h.7" under "transformer": transformer.h has 3 blocks, indices 0..2 (or -3..-1 from the end)`},
		{m.Module(""), "transformer.h.0.mlpp", `no module "transformer.h.0.mlpp" under "model": did you mean "transformer.h.0.mlp"?`},
	} {
		err := expectError(t, func() { c.e.Module(c.path) })
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s.Module(%q):\n got %s\nwant it to say %s", c.e.Name(), c.path, err, c.want)
		}
	}
}

// TestCacheGetDidYouMean: Cache.Get's unknown paths get the same hints,
// worded for the cache.
func TestCacheGetDidYouMean(t *testing.T) {
	m, _ := tiny(t)
	var c *Cache
	m.Trace("Hello there", func(tr *Tracer) { c = tr.Cache() })
	for _, k := range []struct{ path, want string }{
		{"transformer.h.0.mpl", `Cache.Get("transformer.h.0.mpl"): no module "transformer.h.0.mpl" in the model: did you mean "transformer.h.0.mlp"?`},
		{"transformer.h.0.mlp.fc@1", `no module "transformer.h.0.mlp.fc" in the model: did you mean "transformer.h.0.mlp.c_fc"?`},
		{"transformer.h.9", `transformer.h has 3 blocks, indices 0..2 (or -3..-1 from the end)`},
		{"transformer.h.1.output", `did you mean "transformer.h.1"? (the cache holds each module's output)`},
		{"transformer.h.1.input", `the cache holds module outputs only`},
	} {
		err := expectError(t, func() { c.Get(k.path) })
		if !strings.Contains(err.Error(), k.want) {
			t.Errorf("Get(%q):\n got %s\nwant it to say %s", k.path, err, k.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{{"mlp", "mlp", 0}, {"mpl", "mlp", 1}, {"fc", "c_fc", 2}, {"", "abc", 3}, {"ln1", "ln_1", 1}, {"attn", "mlp", 4}} {
		if got := editDistance(c.a, c.b); got != c.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}
