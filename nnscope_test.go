package nnscope

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"nnscope/gpt2"
	"nnscope/internal/reference"
)

const prompt = "The Eiffel Tower is in the city of"

func tiny(t testing.TB) (*Model, reference.Cases) {
	t.Helper()
	m := LanguageModel(reference.Dir())
	ref, err := reference.Load()
	if err != nil {
		t.Fatal(err)
	}
	return m, ref
}

func check(t *testing.T, what string, got *Tensor, want reference.Tensor) {
	t.Helper()
	if !slices.Equal(got.Shape(), want.Shape) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape(), want.Shape)
	}
	if err := reference.Close(got.Data(), want.Data, 1); err != nil {
		t.Errorf("%s: %v", what, err)
	}
}

// expectError runs fn and returns the nnscope error it panics with.
func expectError(t *testing.T, fn func()) (err error) {
	t.Helper()
	defer func() {
		r := recover()
		if r == nil {
			t.Fatal("no error")
		}
		e, ok := r.(error)
		if !ok {
			t.Fatalf("panicked with %T %v, want an error", r, r)
		}
		err = e
	}()
	fn()
	return nil
}

func TestSeedExample(t *testing.T) {
	m, ref := tiny(t)
	var c struct {
		Grad reference.Tensor `json:"grad"`
	}
	ref.Case("grad_last", &c)
	var grad *Tensor
	m.Trace(prompt, func(tr *Tracer) {
		hs := m.Transformer.H.At(-1).Output()
		hs.RequiresGrad()
		logits := m.LMHead.Output()
		loss := logits.Sum()
		loss.Backward(func() {
			grad = hs.Grad().Save()
		})
	})
	check(t, "grad", grad, c.Grad)
}

func TestLayersInReverseOrderAndEdits(t *testing.T) {
	m, ref := tiny(t)
	var c struct {
		L1 reference.Tensor `json:"layer1_grad_after_edit"`
		L0 reference.Tensor `json:"layer0_grad"`
		E  reference.Tensor `json:"embed_grad"`
	}
	ref.Case("grad_modify_mid", &c)
	var g1, g0, ge *Tensor
	m.Trace(prompt, func(tr *Tracer) {
		emb := m.Transformer.WTE.Output().RequiresGrad()
		h0 := m.Transformer.H.At(0).Output()
		h1 := m.Module("transformer.h.1").Output()
		loss := m.LMHead.Output().Sum()
		loss.Backward(func() {
			g := h1.Grad()
			g.Copy(g.Mul(2))
			g.Slice(":, 2, :").Fill(0)
			g1 = g.Save()
			g0 = h0.Grad().Save()
			ge = emb.Grad().Save()
		})
	})
	check(t, "edited layer 1 grad", g1, c.L1)
	check(t, "layer 0 grad", g0, c.L0)
	check(t, "wte grad", ge, c.E)
}

func TestRetainGraphAndStandaloneBackward(t *testing.T) {
	m, ref := tiny(t)
	var c struct {
		First  reference.Tensor `json:"first"`
		Second reference.Tensor `json:"second"`
	}
	ref.Case("retain_graph", &c)
	var first, second *Tensor
	var hs, logits *Tensor
	m.Trace(prompt, func(tr *Tracer) {
		hs = m.Transformer.H.At(-1).Output().RequiresGrad().Save()
		logits = m.LMHead.Output().Save()
		logits.Sum().Backward(func() { first = hs.Grad().Save() }, RetainGraph)
	})
	// After the trace, on saved tensors.
	logits.Mul(2).Sum().Backward(func() { second = hs.Grad().Save() })
	check(t, "first", first, c.First)
	check(t, "second", second, c.Second)
	err := expectError(t, func() { logits.Sum().Backward(nil) })
	if !strings.Contains(err.Error(), "RetainGraph") {
		t.Errorf("third pass error %q does not suggest RetainGraph", err)
	}
}

func TestForwardAblationAndPatching(t *testing.T) {
	m, ref := tiny(t)
	var c struct {
		Slice reference.Tensor `json:"last_logits_slice"`
	}
	ref.Case("forward_ablate", &c)
	var out *Tensor
	m.Trace(prompt, func(tr *Tracer) {
		m.Transformer.H.At(1).Output().Slice(":, -1, :").Fill(0)
		out = m.LMHead.Output().Slice("0, -1, ::997").Save()
	})
	check(t, "ablated logits", out, c.Slice)

	var p struct {
		Clean, Corrupt string
		A, B           int
		Act            [][]float64 `json:"activation_patching"`
	}
	ref.Case("patching", &p)
	var clean *Tensor
	m.Trace(p.Clean, func(tr *Tracer) { clean = m.Transformer.H.At(0).Output().Save() })
	for pos := 0; pos < 3; pos++ {
		var metric *Tensor
		m.Trace(p.Corrupt, func(tr *Tracer) {
			sl := fmt.Sprintf(":, %d, :", pos)
			m.Transformer.H.At(0).Output().Slice(sl).Copy(clean.Slice(sl))
			last := m.LMHead.Output().Select(1, -1)
			metric = last.Select(1, p.A).Sub(last.Select(1, p.B)).Save()
		})
		if !reference.Near(metric.Item(), p.Act[0][pos], 1) {
			t.Errorf("patch layer 0 pos %d: %v, want %v", pos, metric.Item(), p.Act[0][pos])
		}
	}
}

func TestBatchedInvokes(t *testing.T) {
	m, ref := tiny(t)
	var c struct {
		Prompts []string           `json:"prompts"`
		Slices  []reference.Tensor `json:"last_logits_slice"`
	}
	ref.Case("batch", &c)
	got := make([]*Tensor, len(c.Prompts))
	m.Trace(nil, func(tr *Tracer) {
		for i, p := range c.Prompts {
			i := i
			tr.Invoke(p, func() {
				got[i] = m.LMHead.Output().Slice("0, -1, ::997").Save()
			})
		}
	})
	for i := range got {
		check(t, c.Prompts[i], got[i], c.Slices[i])
	}
	// Each invoke sees only its own (unpadded) tokens.
	var shapes [][]int
	m.Trace(nil, func(tr *Tracer) {
		tr.Invoke("Hello", func() { shapes = append(shapes, m.Transformer.H.At(0).Output().Shape()) })
		tr.Invoke(prompt, func() { shapes = append(shapes, m.Transformer.H.At(0).Output().Shape()) })
	})
	if fmt.Sprint(shapes) != "[[1 1 32] [1 10 32]]" {
		t.Errorf("invoke shapes %v", shapes)
	}
}

func TestErrors(t *testing.T) {
	m, _ := tiny(t)
	cases := []struct {
		name string
		fn   func()
		want []string
	}{
		{"out of order", func() {
			m.Trace(prompt, func(tr *Tracer) {
				m.Transformer.H.At(2).Output()
				m.Transformer.H.At(1).Output()
			})
		}, []string{"transformer.h.1.output", "out of order"}},
		{"not executed", func() {
			m.Trace(prompt, func(tr *Tracer) {
				m.LMHead.Output()
				m.Transformer.H.At(0).Output() // already passed: out of order
			})
		}, []string{"out of order"}},
		{"never ran", func() {
			m.Trace(prompt, func(tr *Tracer) {
				m.LMHead.Output()
				m.LMHead.Input()
			})
		}, []string{"lm_head.input", "out of order"}},
		{"not saved", func() {
			var hs *Tensor
			m.Trace(prompt, func(tr *Tracer) { hs = m.Transformer.H.At(0).Output() })
			hs.Sum()
		}, []string{"not saved", "Save()"}},
		{"grad outside backward", func() {
			m.Trace(prompt, func(tr *Tracer) {
				m.Transformer.H.At(0).Output().RequiresGrad().Grad()
			})
		}, []string{"outside a backward block"}},
		{"grad without requires grad", func() {
			m.Trace(prompt, func(tr *Tracer) {
				hs := m.Transformer.H.At(2).Output()
				hs.RequiresGrad()
				loss := m.LMHead.Output().Sum()
				loss.Backward(func() { m.Transformer.H.At(0) })
			})
		}, nil},
		{"body panics", func() {
			m.Trace(prompt, func(tr *Tracer) {
				var s []int
				_ = s[3]
			})
		}, []string{"index out of range"}},
		{"output outside trace", func() { m.Transformer.H.At(0).Output() }, []string{"outside a trace"}},
		{"gradients out of backprop order", func() {
			m.Trace(prompt, func(tr *Tracer) {
				h0 := m.Transformer.H.At(0).Output()
				h2 := m.Transformer.H.At(2).Output()
				m.LMHead.Output().Sum().Backward(func() {
					h0.Grad()
					h2.Grad() // already passed: layer 2's gradient comes before layer 0's
				})
			})
		}, []string{"gradient of transformer.h.2.output", "out of order"}},
		{"gradient that never comes", func() {
			m.Trace(prompt, func(tr *Tracer) {
				h1 := m.Transformer.H.At(1).Output()
				h2 := m.Transformer.H.At(2).Output()
				h1.Sum().Backward(func() { h2.Grad() }) // h2 is downstream of h1.Sum's input
			})
		}, []string{"gradient of transformer.h.2.output", "no gradient reached it"}},
		{"bad slice", func() {
			m.Trace(prompt, func(tr *Tracer) { m.Transformer.H.At(0).Output().Slice(":, 99, :") })
		}, []string{"Slice", "out of range"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.want == nil {
				c.fn() // must not fail
				return
			}
			err := expectError(t, c.fn)
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	// The model still works after all that.
	var out *Tensor
	m.Trace(prompt, func(tr *Tracer) { out = m.LMHead.Output().Save() })
	if out.Shape()[1] != 10 {
		t.Fatal("trace after errors failed")
	}
}

func TestNotExecuted(t *testing.T) {
	m, _ := tiny(t)
	// Block 1's attention pattern is never produced when block 1 is skipped.
	err := expectError(t, func() {
		m.Trace(prompt, func(tr *Tracer) {
			h0 := m.Transformer.H.At(0).Output()
			m.Transformer.H.At(1).Skip(h0.Clone())
			m.Transformer.H.At(1).Attn.Output()
		})
	})
	if !strings.Contains(err.Error(), "transformer.h.1.attn.output was not executed") {
		t.Errorf("error %q", err)
	}
}

func TestSkipStopCache(t *testing.T) {
	m, _ := tiny(t)
	var skipped, h1 *Tensor
	m.Trace(prompt, func(tr *Tracer) {
		h0 := m.Transformer.H.At(0).Output()
		m.Transformer.H.At(1).Skip(h0.Mul(1))
		h1 = m.Transformer.H.At(1).Output().Save()
		skipped = h0.Save()
	})
	if err := reference.Close(h1.Data(), skipped.Data(), 0); err != nil {
		t.Errorf("skipped block output differs from its skip value: %v", err)
	}
	ran := false
	m.Trace(prompt, func(tr *Tracer) {
		m.Transformer.H.At(0).Output()
		tr.Stop()
		ran = true
	})
	if ran {
		t.Error("code after Stop ran")
	}
	var cache *Cache
	m.Trace(prompt, func(tr *Tracer) { cache = tr.Cache() })
	if cache.Len() < 30 || cache.Get("transformer.h.2.mlp.c_fc").Shape()[2] != 128 {
		t.Errorf("cache has %d outputs: %v", cache.Len(), cache.Paths())
	}
}

func TestGenerateWithSteering(t *testing.T) {
	m, ref := tiny(t)
	var c struct {
		IDs []int `json:"ids"`
	}
	ref.Case("generate_greedy", &c)
	g := m.Generate(prompt, MaxNewTokens(10))
	if !slices.Equal(g.Tokens(), c.IDs) {
		t.Fatalf("greedy %v, want %v", g.Tokens(), c.IDs)
	}
	var streamed strings.Builder
	steps := 0
	var shapes []string
	g2 := m.Generate(prompt, MaxNewTokens(5), Stream(func(s string) { streamed.WriteString(s) }), func(tr *Tracer) {
		tr.Iter(func(step int) {
			steps++
			out := m.Transformer.H.At(1).Output()
			shapes = append(shapes, fmt.Sprint(out.Shape()))
			out.Slice(":, -1, :").Fill(0) // steer every step
		})
	})
	if steps != 5 || shapes[0] != "[1 10 32]" || shapes[1] != "[1 1 32]" {
		t.Errorf("steps %d shapes %v", steps, shapes)
	}
	if streamed.String() != g2.NewText() {
		t.Errorf("streamed %q, generated %q", streamed.String(), g2.NewText())
	}
	if slices.Equal(g2.Tokens(), g.Tokens()[:15]) {
		t.Error("steering did not change generation")
	}
}

func TestGoroutinesDoNotLeak(t *testing.T) {
	m, _ := tiny(t)
	for i := 0; i < 3; i++ {
		func() {
			defer func() { recover() }()
			m.Trace(prompt, func(tr *Tracer) {
				m.Transformer.H.At(2).Output()
				m.Transformer.H.At(1).Output()
			})
		}()
	}
	if current != nil {
		t.Fatal("a mediator is still current after the traces ended")
	}
}

var _ = gpt2.Batch

func TestModelOutputIsLogits(t *testing.T) {
	m, _ := tiny(t)
	var ids, logits, head *Tensor
	m.Trace(prompt, func(tr *Tracer) {
		ids = m.Input().Save()
		head = m.LMHead.Output().Save()
		logits = m.Output().Save()
	})
	if got := ids.Ints(); len(got) != 10 || got[0] != 464 {
		t.Errorf("model input %v", got)
	}
	if err := reference.Close(logits.Data(), head.Data(), 0); err != nil || !slices.Equal(logits.Shape(), []int{1, 10, 50257}) {
		t.Errorf("model output %v differs from lm_head's: %v", logits.Shape(), err)
	}
	err := expectError(t, func() {
		m.Trace(prompt, func(tr *Tracer) {
			m.Output()
			m.LMHead.Output()
		})
	})
	if !strings.Contains(err.Error(), "lm_head.output") {
		t.Errorf("%v", err)
	}
}
