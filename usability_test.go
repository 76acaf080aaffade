package nnscope

import (
	"fmt"
	"nnscope/internal/reference"
	"strings"
	"testing"
)

// Regressions found by trying the API as a new user would.

// lm_head.weight is tied to transformer.wte.weight; both names work, as
// the module tree printed by fmt.Println(model) shows both.
func TestParamTiedName(t *testing.T) {
	m, _ := tiny(t)
	lm, wte := m.Param("lm_head.weight"), m.Param("transformer.wte.weight")
	if fmt.Sprint(lm.Shape()) != fmt.Sprint(wte.Shape()) || lm.Engine() != wte.Engine() {
		t.Fatalf("lm_head.weight %v is not the tied wte weight %v", lm.Shape(), wte.Shape())
	}
	err := expectError(t, func() { m.Param("lm_head.bias") })
	if !strings.Contains(err.Error(), `no parameter "lm_head.bias"`) {
		t.Errorf("error %q", err)
	}
}

// A whole-batch SetOutput of another shape: a broadcastable value is
// broadcast (like the per-invoke path's Copy), any other fails at once
// naming the module and both shapes instead of deep inside the model.
func TestSetOutputShape(t *testing.T) {
	m, _ := tiny(t)
	var out *Tensor
	m.Trace("Hello there", func(tr *Tracer) {
		m.Transformer.H.At(0).SetOutput(Zeros(32))
		out = m.Transformer.H.At(1).Input().Save()
	})
	if fmt.Sprint(out.Shape()) != "[1 2 32]" || out.Abs().Max() != 0 {
		t.Fatalf("broadcast replacement: %v max %v", out.Shape(), out.Abs().Max())
	}
	err := expectError(t, func() {
		m.Trace("Hello there", func(tr *Tracer) {
			m.Transformer.H.At(0).SetOutput(Zeros(1, 5, 32))
			m.Output()
		})
	})
	for _, want := range []string{"SetOutput on transformer.h.0", "[1 5 32]", "[1 2 32]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// An engine error raised while a module runs names that module. (A Skip
// value of the wrong width used to be the way to get one; it is now
// refused at the Skip, see TestSkipValueShape.)
func TestEngineErrorNamesModule(t *testing.T) {
	m, _ := tiny(t)
	err := expectError(t, func() {
		m.Trace("Hello there", func(tr *Tracer) {
			m.Transformer.WTE.SetInput(Full(1e6, 1, 2)) // not a token id
			m.Output()
		})
	})
	if !strings.Contains(err.Error(), "in transformer.wte: ") {
		t.Errorf("error %q does not name the module", err)
	}
}

// Errors say what failed once: "Item: ...", not "Item: Item: ...".
func TestErrorPrefixNotRepeated(t *testing.T) {
	for _, fn := range []func(){
		func() { Ones(2, 3).Item() },
		func() { Ones(2, 3).Copy(Ones(4)) },
		func() { Ones(2, 3).Slice("0, 7") },
	} {
		err := expectError(t, fn)
		msg := err.Error()
		op, _, _ := strings.Cut(msg, ":")
		op, _, _ = strings.Cut(op, "(")
		if strings.Count(msg, op+":")+strings.Count(msg, op+"(") > 1 {
			t.Errorf("repeated prefix: %q", msg)
		}
	}
}

func TestShapeChecksBeforeTheEngine(t *testing.T) {
	for _, c := range []struct {
		fn   func()
		want string
	}{
		{func() { LayerNorm(Ones(2, 31), Ones(32), Zeros(32), 1e-5) }, "weight has shape [32], want [31]"},
		{func() { LayerNorm(Ones(2, 3), Ones(3), Zeros(4), 1e-5) }, "bias has shape [4]"},
		{func() { Ones(2).Unsqueeze(3) }, "Unsqueeze: dim 3 out of range"},
		{func() { FromDense(nil) }, "FromDense(nil)"},
	} {
		err := expectError(t, c.fn)
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %q does not mention %q", err, c.want)
		}
	}
	if got := fmt.Sprint(Ones(2, 3).Unsqueeze(-3).Shape()); got != "[1 2 3]" {
		t.Errorf("Unsqueeze(-3): %s", got)
	}
}

// Cache.Get resolves paths like model.Module: negative block indices and
// nnsight's "model." prefix; a path naming no module is an error.
func TestCacheGetPaths(t *testing.T) {
	m, _ := tiny(t)
	var c *Cache
	m.Trace("Hello there", func(tr *Tracer) { c = tr.Cache() })
	last := c.Get("transformer.h.2")
	if last == nil || c.Get("transformer.h.-1") != last || c.Get("model.transformer.h.2") != last {
		t.Fatal("transformer.h.-1 / model.transformer.h.2 do not resolve to transformer.h.2")
	}
	err := expectError(t, func() { c.Get("transformer.h.0.mpl") })
	if !strings.Contains(err.Error(), "no module") {
		t.Errorf("error %q", err)
	}
}

// Token ids are not differentiable: the model's input is not marked
// requires_grad.
func TestInputIDsDoNotRequireGrad(t *testing.T) {
	m, _ := tiny(t)
	var ids *Tensor
	m.Trace("Hello there", func(tr *Tracer) { ids = m.Input().Save() })
	if s := ids.String(); strings.Contains(s, "requires_grad") {
		t.Errorf("ids print as %s", s)
	}
}

// fmt's float verbs format values (Python's f"{loss:.3f}").
func TestTensorFormat(t *testing.T) {
	x := Arange(6).Reshape(2, 3)
	for _, c := range []struct{ got, want string }{
		{fmt.Sprintf("%.3f", x.Sum()), "15.000"},
		{fmt.Sprintf("%.1f", x), "[[0.0 1.0 2.0] [3.0 4.0 5.0]]"},
		{fmt.Sprintf("%g", x.Select(0, 1)), "[3 4 5]"},
		{fmt.Sprintf("%v", x), x.String()},
		{fmt.Sprint(x), x.String()},
		{fmt.Sprintf("%d", x), "%!d(*nnscope.Tensor=" + x.String() + ")"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	var n *Tensor
	if s := fmt.Sprintf("%.2f", n); s != "<nil tensor>" {
		t.Errorf("nil: %q", s)
	}
}

// Module access inside a backward block says so, instead of "outside a
// trace".
func TestModuleAccessInBackwardBlock(t *testing.T) {
	m, _ := tiny(t)
	err := expectError(t, func() {
		m.Trace("Hello there", func(tr *Tracer) {
			h := m.Transformer.H.At(0).Output()
			m.Output().Sum().Backward(func() {
				h.Grad()
				m.Transformer.H.At(1).Output()
			})
		})
	})
	if !strings.Contains(err.Error(), "inside a backward block") {
		t.Errorf("error %q", err)
	}
}

// Any Go number is an operand.
func TestNumericOperands(t *testing.T) {
	x := Ones(2)
	if got := x.Mul(uint(3)).Add(int8(1)).Sub(uint64(2)).Div(uint16(2)).Sum().Item(); got != 2 {
		t.Errorf("got %v, want 2", got)
	}
}

// TestNilModel: in a session, a LanguageModel call that failed leaves its
// variable nil; using it says so instead of a nil dereference.
func TestNilModel(t *testing.T) {
	var m *Model
	for name, fn := range map[string]func(){
		"Trace":    func() { m.Trace(prompt, func(*Tracer) {}) },
		"Generate": func() { m.Generate(prompt) },
		"Module":   func() { m.Module("transformer") },
		"Encode":   func() { m.Encode("x") },
	} {
		err := expectError(t, fn)
		if !strings.Contains(err.Error(), name+" on a nil *nnscope.Model") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if s := m.String(); s != "<nil model>" {
		t.Errorf("String: %q", s)
	}
}

// TestLoadedModelsOnce: loading the same model again (a re-run cell)
// lists it once.
func TestLoadedModelsOnce(t *testing.T) {
	a := LanguageModel(reference.Dir())
	b := LanguageModel(reference.Dir())
	n := 0
	for _, m := range LoadedModels() {
		if m == a {
			t.Error("the first wrapper is still listed")
		}
		if m == b {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the model is listed %d times", n)
	}
}
