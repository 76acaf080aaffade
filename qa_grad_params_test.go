package nnscope

// QA of gradient semantics with parameters requiring grad, as scripts
// drive them: every parameter's gradient against central differences of
// the float64 model (internal/naive), the tied wte/lm_head weight,
// gradient edits in a backward block (in place, through a view, SetGrad)
// and what they change in each parameter's .grad, accumulation over
// passes, zeroing, RetainGraph and batched invokes.

import (
	"fmt"
	"maps"
	"math"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"nnscope/gpt2"
	"nnscope/internal/naive"
)

// qaParamNames lists every parameter: the API's name and the float64
// model's.
func qaParamNames(m *Model) [][2]string {
	var out [][2]string
	for _, name := range slices.Sorted(maps.Keys(gpt2.WeightShapes(m.Config()))) {
		full := "transformer." + name
		if name == "lm_head.weight" {
			full = name
		}
		out = append(out, [2]string{full, name})
	}
	return out
}

// qaGrads copies every parameter's accumulated gradient.
func qaGrads(m *Model) map[string][]float64 {
	out := map[string][]float64{}
	for _, pn := range qaParamNames(m) {
		if g := m.Param(pn[0]).AccumulatedGrad(); g != nil {
			out[pn[0]] = g.Data()
		}
	}
	return out
}

// qaZero zeroes every accumulated gradient in place, the scripts' idiom.
func qaZero(m *Model) {
	for _, pn := range qaParamNames(m) {
		if g := m.Param(pn[0]).AccumulatedGrad(); g != nil {
			g.Fill(0)
		}
	}
}

// qaWithParams runs fn with every parameter requiring grad and no
// gradient accumulated, and leaves the model as it found it.
func qaWithParams(m *Model, fn func()) {
	clear := func() {
		for _, pn := range qaParamNames(m) {
			m.Param(pn[0]).Engine().ZeroGrad()
		}
	}
	clear()
	m.SetRequiresGrad(true)
	defer func() { m.SetRequiresGrad(false); clear() }()
	fn()
}

// qaCE is the mean next-token loss of the trace's logits for ids.
func qaCE(m *Model, logits *Tensor, ids []int) *Tensor {
	return CrossEntropy(logits.Slice(fmt.Sprintf("0, :%d, :", len(ids)-1)), ids[1:])
}

// naiveCE is the same loss under the float64 model.
func naiveCE(res *naive.Result, ids []int) float64 {
	var s float64
	for t := 0; t < len(ids)-1; t++ {
		s -= logSoftmax(res.Logits(t))[ids[t+1]]
	}
	return s / float64(len(ids)-1)
}

// paramFD is the central difference of f in weight name[i] of ref.
func paramFD(ref *naive.Model, name string, i int, f func() float64) float64 {
	const h = 1e-4
	w := ref.W[name]
	orig := w[i]
	w[i] = orig + h
	up := f()
	w[i] = orig - h
	down := f()
	w[i] = orig
	return (up - down) / (2 * h)
}

// qaCoords picks coordinates of a parameter's gradient to check: the
// largest, random ones, and for wte entries in the rows of tokens the
// prompt uses (where the embedding's part adds to the unembedding's).
func qaCoords(r *rand.Rand, ref *naive.Model, name string, g []float64, ids []int, n int) []int {
	big := 0
	for i := range g {
		if math.Abs(g[i]) > math.Abs(g[big]) {
			big = i
		}
	}
	out := []int{big}
	if name == "wte.weight" {
		for _, tok := range ids[:min(2, len(ids))] {
			out = append(out, tok*ref.NEmbd+r.Intn(ref.NEmbd))
		}
	}
	for range n {
		out = append(out, r.Intn(len(g)))
	}
	return out
}

// qaSome are parameters of every kind, for the checks that need not
// cover all of them.
var qaSome = []string{"wte.weight", "wpe.weight", "ln_f.weight", "ln_f.bias", "h.0.ln_1.bias", "h.0.attn.c_attn.weight",
	"h.1.attn.c_attn.bias", "h.1.ln_2.weight", "h.1.mlp.c_fc.weight", "h.1.mlp.c_proj.bias", "h.2.attn.c_proj.weight"}

// qaCheckParams compares each parameter's .grad (those named in only, or
// all) with central differences of f at a few coordinates.
func qaCheckParams(t *testing.T, what string, om oracleModel, r *rand.Rand, ids []int, f func() float64, w worst, only []string) {
	t.Helper()
	for _, pn := range qaParamNames(om.m) {
		if only != nil && !slices.Contains(only, pn[1]) {
			continue
		}
		g := om.m.Param(pn[0]).AccumulatedGrad()
		if g == nil {
			t.Errorf("%s %s: %s has no gradient", om.name, what, pn[0])
			continue
		}
		gd := g.Data()
		scale := math.Max(rms(gd), 1e-6)
		for _, i := range qaCoords(r, om.ref, pn[1], gd, ids, 1) {
			fd := paramFD(om.ref, pn[1], i, f)
			if e := fdErr(gd[i], fd, scale); e > tolFD {
				t.Errorf("%s %s: %s[%d] = %.6g, finite differences %.6g (%.2e of RMS %.3g)", om.name, what, pn[0], i, gd[i], fd, e, scale)
			} else {
				w.add(what, e)
			}
		}
	}
}

// TestQAGradAllParameters: with every parameter requiring grad, one
// backward pass of the language-model loss gives each parameter (the tied
// wte/lm_head weight: embedding plus unembedding) the float64 model's
// gradient, and the norms PyTorch gives in reference.json.
func TestQAGradAllParameters(t *testing.T) {
	r := rand.New(rand.NewSource(oracleSeed(31)))
	_, ref := tiny(t)
	var lm struct {
		Loss    float64 `json:"loss"`
		WTE     float64 `json:"wte_weight_grad_norm"`
		CAttnH0 float64 `json:"h0_c_attn_weight_grad_norm"`
	}
	if err := ref.Case("lm_loss", &lm); err != nil {
		t.Fatal(err)
	}
	w := worst{}
	for _, om := range oracleModels(t) {
		ids := om.m.Encode(prompt)
		qaWithParams(om.m, func() {
			var loss float64
			om.m.Trace(prompt, func(tr *Tracer) {
				l := qaCE(om.m, om.m.Output(), ids)
				loss = l.Item()
				l.Backward(nil)
			})
			if om.name == "tiny" {
				got := []float64{loss, om.m.Param("lm_head.weight").AccumulatedGrad().Norm(),
					om.m.Param("transformer.h.0.attn.c_attn.weight").AccumulatedGrad().Norm()}
				for i, want := range []float64{lm.Loss, lm.WTE, lm.CAttnH0} {
					e := math.Abs(got[i]-want) / want
					if e > tolF32 {
						t.Errorf("lm_loss value %d: %.8g, PyTorch %.8g", i, got[i], want)
					}
					w.add("lm_loss vs reference.json", e)
				}
			}
			qaCheckParams(t, "loss", om, r, ids, func() float64 { return naiveCE(om.ref.Forward(ids, nil), ids) }, w, nil)
		})
	}
	w.log(t)
}

// qaScaleHook makes the float64 model's output at path f(row)*x +
// (1-f(row))*x0, x0 its value at the unperturbed weights: the same values
// there, with the gradient through path scaled by f(row), which is what a
// backward block that scales (or zeroes) that gradient does.
func qaScaleHook(ref *naive.Model, ids []int, path string, f func(row int) float64) naive.Hook {
	var x0 [][]float64
	ref.Forward(ids, func(p string, x [][]float64) [][]float64 {
		if p == path {
			x0 = cloneRows(x)
		}
		return nil
	})
	return func(p string, x [][]float64) [][]float64 {
		if p != path {
			return nil
		}
		y := cloneRows(x)
		for r := range y {
			c := f(r)
			for j := range y[r] {
				y[r][j] = c*x[r][j] + (1-c)*x0[r][j]
			}
		}
		return y
	}
}

// TestQAGradEditsWithParameters: a gradient edited in a backward block
// (in place, through a view of it, or replaced with SetGrad) changes
// exactly what flows back from there: every parameter's .grad, and a
// gradient read further back, equal central differences of the float64
// model with the gradient at that module scaled the same way. Zeroing the
// gradient of wte's output leaves the tied weight the unembedding's part
// alone; zeroing wpe's output's leaves wpe.weight zero.
func TestQAGradEditsWithParameters(t *testing.T) {
	type editCase struct {
		name   string
		path   string
		factor func(row, T int) float64 // the float64 model's rows: [T][C], the pattern [H*T][T]
		edit   func(m *Model, out *Tensor)
	}
	mid := func(row, T int) float64 {
		if row == 2 {
			return 0
		}
		return 2
	}
	cases := []editCase{
		{"block 1: *2 in place, position 2 zeroed through a view", "transformer.h.1", mid, func(m *Model, out *Tensor) {
			g := out.Grad()
			g.Copy(g.Mul(2))
			g.Slice(":, 2, :").Fill(0)
		}},
		{"block 1: SetGrad(*2, position 2 zero)", "transformer.h.1", mid, func(m *Model, out *Tensor) {
			mask := Ones(out.Shape()...)
			mask.Slice(":, 2, :").Fill(0)
			out.SetGrad(out.Grad().Mul(2).Mul(mask))
		}},
		{"block 1 MLP zeroed (the residual keeps its share)", "transformer.h.1.mlp", func(row, T int) float64 { return 0 },
			func(m *Model, out *Tensor) { out.Grad().Fill(0) }},
		{"layer 0 pattern, head 1 zeroed through a view", "transformer.h.0.attn.attn_dropout", func(row, T int) float64 {
			if row/T == 1 {
				return 0
			}
			return 1
		}, func(m *Model, out *Tensor) { out.Grad().Slice(":, 1, :, :").Fill(0) }},
		{"wte output zeroed", "transformer.wte", func(row, T int) float64 { return 0 },
			func(m *Model, out *Tensor) { out.Grad().Fill(0) }},
		{"wte output, position 0 zeroed, SetGrad", "transformer.wte", func(row, T int) float64 {
			if row == 0 {
				return 0
			}
			return 1
		}, func(m *Model, out *Tensor) {
			g := out.Grad().Clone()
			g.Slice(":, 0, :").Fill(0)
			out.SetGrad(g)
		}},
		{"wpe output zeroed", "transformer.wpe", func(row, T int) float64 { return 0 },
			func(m *Model, out *Tensor) { out.Grad().Fill(0) }},
		{"ln_f halved", "transformer.ln_f", func(row, T int) float64 { return 0.5 }, func(m *Model, out *Tensor) {
			g := out.Grad()
			g.Copy(g.Mul(0.5))
		}},
	}
	r := rand.New(rand.NewSource(oracleSeed(32)))
	w := worst{}
	om := oracleModels(t)[0]
	ids := om.m.Encode(prompt)
	T := len(ids)
	for _, c := range cases {
		qaWithParams(om.m, func() {
			early := c.path == "transformer.wte" || c.path == "transformer.wpe" || strings.HasPrefix(c.path, "transformer.h.0.")
			var h0g *Tensor
			om.m.Trace(prompt, func(tr *Tracer) {
				var h0 *Tensor
				if !early {
					h0 = om.m.Transformer.H.At(0).Output()
				}
				out := om.m.Module(c.path).Output()
				om.m.Output() // modules in order: the edited one, then the logits
				qaCE(om.m, om.m.Output(), ids).Backward(func() {
					c.edit(om.m, out)
					if h0 != nil {
						h0g = h0.Grad().Save()
					}
				})
			})
			hook := qaScaleHook(om.ref, ids, c.path, func(row int) float64 { return c.factor(row, T) })
			f := func() float64 { return naiveCE(om.ref.Forward(ids, hook), ids) }
			qaCheckParams(t, c.name, om, r, ids, f, w, qaSome)
			if c.path == "transformer.wpe" {
				if g := om.m.Param("transformer.wpe.weight").AccumulatedGrad(); g.Abs().Max() != 0 {
					t.Errorf("%s: wpe.weight's gradient is not zero (max %g)", c.name, g.Abs().Max())
				}
			}
			if h0g == nil {
				return
			}
			hd, C := h0g.Data(), om.ref.NEmbd
			for range 3 {
				row, col := r.Intn(T), r.Intn(C)
				at := func(h float64) float64 {
					return naiveCE(om.ref.Forward(ids, func(p string, x [][]float64) [][]float64 {
						if p == "transformer.h.0" {
							x[row][col] += h
						}
						return hook(p, x)
					}), ids)
				}
				fd := (at(1e-4) - at(-1e-4)) / 2e-4
				if e := fdErr(hd[row*C+col], fd, rms(hd)); e > tolFD {
					t.Errorf("%s: block 0's gradient [%d,%d] = %.6g, finite differences %.6g", c.name, row, col, hd[row*C+col], fd)
				} else {
					w.add("block 0 gradient after an edit", e)
				}
			}
		})
	}
	w.log(t)
}

// TestQAGradAccumulation: parameter gradients sum over traces and over
// the passes of a retained graph; zeroing .grad in place starts afresh;
// gradients read in a backward block (a parameter's included) are the
// pass's own, and editing them after the pass changes no .grad, nor a
// .grad edited after the pass a gradient read; a parameter's gradient
// edited in the block is what its .grad gets, and no other parameter's.
func TestQAGradAccumulation(t *testing.T) {
	m, _ := tiny(t)
	ids := m.Encode(prompt)
	const other = "The Colosseum is in the city of"
	oids := m.Encode(other)
	w := worst{}
	maxRel := func(got, want []float64, scale float64) float64 {
		var d, s float64
		for i := range want {
			d = math.Max(d, math.Abs(got[i]-scale*want[i]))
			s = math.Max(s, math.Abs(scale*want[i]))
		}
		return d / math.Max(s, 1e-30)
	}
	check := func(what string, got, a, b map[string][]float64, sa, sb float64) {
		t.Helper()
		for k, ga := range a {
			want := slices.Clone(ga)
			for i := range want {
				want[i] *= sa
				if b != nil {
					want[i] += sb * b[k][i]
				}
			}
			if e := maxRel(got[k], want, 1); e > 1e-5 {
				t.Errorf("%s: %s off by %.2e of its largest entry", what, k, e)
			} else {
				w.add(what, e)
			}
		}
	}
	qaWithParams(m, func() {
		m.Trace(prompt, func(tr *Tracer) { qaCE(m, m.Output(), ids).Backward(nil) })
		gA := qaGrads(m)
		qaZero(m)
		m.Trace(other, func(tr *Tracer) { qaCE(m, m.Output(), oids).Backward(nil) })
		gB := qaGrads(m)
		qaZero(m)
		m.Trace(prompt, func(tr *Tracer) { qaCE(m, m.Output(), ids).Backward(nil) })
		check("a pass after zeroing", qaGrads(m), gA, nil, 1, 0)
		m.Trace(other, func(tr *Tracer) { qaCE(m, m.Output(), oids).Backward(nil) })
		check("two traces accumulated", qaGrads(m), gA, gB, 1, 1)

		// A retained graph: loss, then 2*loss.
		qaZero(m)
		var h1a, h1b, pa *Tensor
		m.Trace(prompt, func(tr *Tracer) {
			h1 := m.Transformer.H.At(1).Output()
			loss := qaCE(m, m.Output(), ids)
			loss.Backward(func() {
				h1a = h1.Grad().Save()
				pa = m.Param("lm_head.weight").Grad().Save()
			}, RetainGraph)
			loss.Mul(2).Backward(func() { h1b = h1.Grad().Save() })
		})
		check("retained graph, loss then 2*loss", qaGrads(m), gA, nil, 3, 0)
		if e := maxRel(h1b.Data(), h1a.Data(), 2); e > 1e-6 {
			t.Errorf("second pass's own gradient at block 1 is not twice the first's (%.2e)", e)
		}
		if e := maxRel(pa.Data(), gA["transformer.wte.weight"], 1); e > 1e-5 {
			t.Errorf("lm_head.weight's Grad() in the first pass is not that pass's own (%.2e)", e)
		}
		// Editing what the blocks handed out changes no .grad, and the
		// other way round.
		before := qaGrads(m)
		h1a.Fill(9)
		pa.Fill(9)
		check("after editing gradients read in the blocks", qaGrads(m), before, nil, 1, 0)
		paBefore := pa.Data()
		qaZero(m)
		if !slices.Equal(pa.Data(), paBefore) {
			t.Error("zeroing .grad changed a parameter's gradient read in a block")
		}

		// A parameter's gradient edited in the block is its .grad; the
		// others are the plain pass's.
		row := ids[0]
		C := m.Config().NEmbd
		m.Trace(prompt, func(tr *Tracer) {
			qaCE(m, m.Output(), ids).Backward(func() {
				m.Param("transformer.ln_f.weight").Grad().Fill(0)
				m.Param("lm_head.weight").Grad().Slice(fmt.Sprint(row)).Fill(5)
			})
		})
		got := qaGrads(m)
		if v := slices.Max(got["transformer.ln_f.weight"]); v != 0 || slices.Min(got["transformer.ln_f.weight"]) != 0 {
			t.Errorf("ln_f.weight's .grad after Grad().Fill(0) in the block: not zero")
		}
		wte := got["transformer.wte.weight"]
		for i := range wte {
			want := gA["transformer.wte.weight"][i]
			if i/C == row {
				want = 5
			}
			if math.Abs(wte[i]-want) > 1e-5*(1+math.Abs(want)) {
				t.Fatalf("wte.weight's .grad[%d] = %g after editing row %d of lm_head.weight's Grad(), want %g", i, wte[i], row, want)
			}
		}
		delete(got, "transformer.ln_f.weight")
		delete(got, "transformer.wte.weight")
		rest := maps.Clone(gA)
		delete(rest, "transformer.ln_f.weight")
		delete(rest, "transformer.wte.weight")
		check("other parameters after editing two parameters' Grad()", got, rest, nil, 1, 0)
	})
	w.log(t)
}

// TestQAGradBatchedParameters: parameter gradients of the summed losses of
// batched invokes of different lengths (backward after the trace, on the
// saved losses) are the sums of the gradients of each prompt alone: the
// left padding adds nothing (not to the padding token's wte row either),
// and equal central differences of the float64 model.
func TestQAGradBatchedParameters(t *testing.T) {
	r := rand.New(rand.NewSource(oracleSeed(33)))
	w := worst{}
	for _, om := range oracleModels(t)[:1] {
		var prompts []string
		var idss [][]int
		for _, n := range []int{7, 2, 11} {
			p, ids := randomPrompt(om.m, r, n, 40)
			prompts, idss = append(prompts, p), append(idss, ids)
		}
		qaWithParams(om.m, func() {
			for k, p := range prompts {
				om.m.Trace(p, func(tr *Tracer) { qaCE(om.m, om.m.Output(), idss[k]).Backward(nil) })
			}
			alone := qaGrads(om.m)
			qaZero(om.m)
			losses := make([]*Tensor, len(prompts))
			om.m.Trace(nil, func(tr *Tracer) {
				for k, p := range prompts {
					tr.Invoke(p, func() { losses[k] = qaCE(om.m, om.m.Output(), idss[k]).Save() })
				}
			})
			losses[0].Add(losses[1]).Add(losses[2]).Backward(nil)
			for k, g := range qaGrads(om.m) {
				var d, s float64
				for i := range g {
					d = math.Max(d, math.Abs(g[i]-alone[k][i]))
					s = math.Max(s, math.Abs(alone[k][i]))
				}
				if e := d / s; e > 1e-5 {
					t.Errorf("%s %s: batched differs from the prompts alone by %.2e of its largest entry", om.name, k, e)
				} else {
					w.add("batched vs alone", e)
				}
			}
			f := func() float64 {
				s := 0.0
				for _, ids := range idss {
					s += naiveCE(om.ref.Forward(ids, nil), ids)
				}
				return s
			}
			pad := []int{50256, 50256} // the padding token's row: the unembedding's part only
			qaCheckParams(t, "batched", om, r, append(pad, idss[1]...), f, w, qaSome)
		})
	}
	w.log(t)
}
