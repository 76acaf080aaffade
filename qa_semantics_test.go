package nnscope

// QA regressions for intervention semantics found by scripts written in
// the style of nnsight's tutorials, each checked against internal/naive.

import (
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"
)

// TestBatchedGeneratePatternPerInvoke: in a generation of several invokes
// of different lengths, the attention pattern an invoke body sees at a
// step after the prompt has that invoke's keys only (not the left padding
// the shorter prompts carry in the KV cache), as when the prompt runs
// alone; putting all attention on key 0 (the prompt's first token) from
// step 2 on gives the float64 model's continuation with the same edit, and
// the other invoke's continuation is the float64 model's without one.
func TestBatchedGeneratePatternPerInvoke(t *testing.T) {
	r := rand.New(rand.NewSource(oracleSeed(21)))
	const N = 5
	for _, om := range oracleModels(t) {
		short, shortIDs := randomPrompt(om.m, r, 2, 3)
		long, longIDs := randomPrompt(om.m, r, 9, 16)
		if len(longIDs) <= len(shortIDs) {
			t.Fatalf("prompts %q %q", short, long)
		}
		layer := r.Intn(om.ref.NLayer)
		const editStep = 2
		body := func(tr *Tracer, shapes *[][]int) {
			tr.Iter(func(step int) {
				p := om.m.Transformer.H.At(layer).Attn.AttnDropout.Output()
				*shapes = append(*shapes, p.Shape())
				if step >= editStep {
					// All attention on the prompt's first token.
					p.Fill(0)
					p.Slice("..., 0").Fill(1)
				}
			})
		}
		var aloneShapes, batchShapes [][]int
		alone := om.m.Generate(short, MaxNewTokens(N), IgnoreEOS(), func(tr *Tracer) { body(tr, &aloneShapes) }).NewTokens()
		rows := om.m.Generate(nil, MaxNewTokens(N), IgnoreEOS(), func(tr *Tracer) {
			tr.Invoke(short, func() { body(tr, &batchShapes) })
			tr.Invoke(long, nil)
		}).Rows()
		P := len(shortIDs)
		for s, shape := range aloneShapes {
			want := []int{1, om.ref.NHead, 1, P + s}
			if s == 0 {
				want = []int{1, om.ref.NHead, P, P}
			}
			if !slices.Equal(shape, want) {
				t.Errorf("%s alone: pattern at step %d has shape %v, want %v", om.name, s, shape, want)
			}
		}
		if fmt.Sprint(batchShapes) != fmt.Sprint(aloneShapes) {
			t.Errorf("%s: the short invoke's pattern shapes in the batch %v, alone %v", om.name, batchShapes, aloneShapes)
		}
		path := fmt.Sprintf("transformer.h.%d.attn.attn_dropout", layer)
		want, gaps := om.ref.Greedy(shortIDs, N, -1, func(p string, x [][]float64) [][]float64 {
			// The pattern rows are h*T+q; the query of step s is
			// position P+s-1, kept in the KV cache for later steps.
			if T := len(x[0]); p == path {
				for h := 0; h < om.ref.NHead; h++ {
					for q := P + editStep - 1; q < T; q++ {
						clear(x[h*T+q])
						x[h*T+q][0] = 1
					}
				}
			}
			return nil
		})
		check := func(what string, got, want []int, gaps []float64) {
			t.Helper()
			for s := range want {
				if got[s] != want[s] {
					if gaps[s] < 1e-3 {
						return // a near tie: float32 may pick either
					}
					t.Errorf("%s %s: tokens %v, float64 with the same edit %v", om.name, what, got, want)
					return
				}
			}
		}
		check("alone", alone, want, gaps)
		check("batched", rows[0][P:], want, gaps)
		plain, plainGaps := om.ref.Greedy(longIDs, N, -1, nil)
		check("long invoke (no edit)", rows[1][len(longIDs):], plain, plainGaps)
	}
}

// TestTensorFormatFloat32Shortest: %g (and %v on the values) prints a
// tensor's float32 values in their shortest form, as Go prints a float32
// (and as Python's f"{x:g}" reads), not the float64 expansion of the
// float32 (0.10000000149011612).
func TestTensorFormatFloat32Shortest(t *testing.T) {
	x := NewTensor([]float64{0.1, 4e-5, 1e6, -2.5})
	loss := NewTensor([]float64{0.1}).Sum()
	for _, c := range []struct{ got, want string }{
		{fmt.Sprintf("%g", loss), "0.1"},
		{fmt.Sprintf("%g", x), "[0.1 4e-05 1e+06 -2.5]"},
		{fmt.Sprintf("%G", x.Reshape(2, 2)), "[[0.1 4E-05] [1E+06 -2.5]]"},
		{fmt.Sprintf("%.3g", loss), "0.1"},
		{fmt.Sprintf("%.4f", x.Select(0, 0)), "0.1000"},
		{fmt.Sprintf("%e", loss), "1.000000e-01"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// TestSkipValueShape: a Skip value is checked against the shape the
// module's output has (the input's positions and batch, the module's
// width), as SetOutput's is: one that broadcasts to it is broadcast (and
// gives the float64 model's numbers with that output), any other is a
// usage error naming the module and both shapes, instead of a model that
// silently runs on more positions or rows than the input has (or a Go
// runtime error from deep inside a later module).
func TestSkipValueShape(t *testing.T) {
	m, _ := tiny(t)
	ref := naiveOf(t, m)
	ids := m.Encode("Hello there")
	T, C := len(ids), ref.NEmbd
	bad := []struct {
		path  string
		value *Tensor
		want  string
	}{
		{"transformer.h.0", Ones(1, 5, C), "[1 2 32]"},
		{"transformer.h.-1", Ones(2, T, C), "[1 2 32]"},
		{"transformer.h.0", Ones(7), "[1 2 32]"},
		{"transformer.h.1.attn.attn_dropout", Ones(1, 4, T, T+1), "[1 4 2 2]"},
		{"transformer.h.1.mlp.c_fc", Ones(1, T, C), "[1 2 128]"},
		{"transformer.wte", Ones(1, T+1, C), "[1 2 32]"},
		{"lm_head", Ones(1, T, 5), "[1 2 50257]"},
	}
	for _, c := range bad {
		err := expectError(t, func() {
			m.Trace(ids, func(tr *Tracer) {
				m.Module(c.path).Skip(c.value)
				m.Output()
			})
		})
		e, ok := err.(*Error)
		if !ok || e.Kind != "usage" || !strings.Contains(e.Msg, "Skip on "+strings.Replace(c.path, "-1", "2", 1)) || !strings.Contains(e.Msg, c.want) {
			t.Errorf("Skip(%v) on %s: %v, want a usage error naming the module and the output shape %s", c.value.Shape(), c.path, err, c.want)
		}
	}
	// In a generation, the output of a step after the prompt covers one
	// position.
	err := expectError(t, func() {
		m.Generate(ids, MaxNewTokens(3), func(tr *Tracer) {
			tr.Iter(func(step int) {
				if step == 1 {
					m.Transformer.H.At(0).Skip(Ones(1, T, C))
				}
			})
		})
	})
	if e, ok := err.(*Error); !ok || !strings.Contains(e.Msg, "[1 1 32]") {
		t.Errorf("Skip of a prompt-sized value at step 1: %v", err)
	}
	// A value that broadcasts: a row for every position.
	row := randVec(rand.New(rand.NewSource(1)), C, 1)
	for _, path := range []string{"transformer.h.1", "transformer.h.1.mlp", "transformer.ln_f"} {
		var logits *Tensor
		m.Trace(ids, func(tr *Tracer) {
			m.Module(path).Skip(NewTensor(row))
			logits = m.Output().Save()
		})
		res := ref.Forward(ids, func(p string, x [][]float64) [][]float64 {
			if p == path {
				for i := range x {
					copy(x[i], row)
				}
			}
			return nil
		})
		if e := rmsRel(logits.Data(), flat(res.AllLogits())); e > tolF32 {
			t.Errorf("Skip of a broadcast row on %s: logits differ from float64 by %.2e of RMS", path, e)
		}
	}
}

// TestBackwardInGeneration: a backward pass from a value of a generation
// (which runs without gradients, as Hugging Face's generate does) says so
// and points at model.Trace, like Grad() there, instead of advising a
// RequiresGrad() that cannot help.
func TestBackwardInGeneration(t *testing.T) {
	m, _ := tiny(t)
	for _, requires := range []bool{false, true} {
		err := expectError(t, func() {
			m.Generate("Hello there", MaxNewTokens(2), func(tr *Tracer) {
				h := m.Transformer.H.At(0).Output()
				if requires {
					h.RequiresGrad()
				}
				m.Output().Sum().Backward(func() { h.Grad() })
			})
		})
		if e, ok := err.(*Error); !ok || !strings.Contains(e.Msg, "generation") || !strings.Contains(e.Msg, "model.Trace") {
			t.Errorf("RequiresGrad %v: %v, want an error saying a generation has no gradients", requires, err)
		}
	}
}
