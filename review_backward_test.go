package nnscope

import (
	"math"
	"testing"

	rt "nnscope/runtime"
)

// reviewParams lists the model's parameter tensors (a tied weight once).
func reviewParams(m *Model) []*rt.Tensor {
	var ps []*rt.Tensor
	seen := map[*rt.Tensor]bool{}
	m.g.Root.Walk(func(mod *rt.Module) {
		for _, p := range mod.Params {
			if p.Tensor != nil && !seen[p.Tensor] {
				seen[p.Tensor] = true
				ps = append(ps, p.Tensor)
			}
		}
	})
	return ps
}

// With every parameter requiring grad, a backward block that reads (and
// saves) gradients, or replaces one with SetGrad, leaves the parameters
// the gradients a plain backward pass gives; no parameter's .grad shares
// memory with another's or with a tensor the block handed out, and the
// handed-out tensors keep the values they had when read (the pass sums
// gradients in place only into memory of its own).
func TestReviewBackwardBlockParamGradsPrivate(t *testing.T) {
	m, _ := tiny(t)
	params := reviewParams(m)
	zero := func() {
		for _, p := range params {
			p.ZeroGrad()
		}
	}
	m.SetRequiresGrad(true)
	defer func() { m.SetRequiresGrad(false); zero() }()
	zero()
	const prompt = "The Eiffel Tower is in the city of"
	L := m.Transformer.H.Len()

	m.Trace(prompt, func(tr *Tracer) { m.Output().Sum().Backward(nil) })
	want := make([][]float32, len(params))
	for i, p := range params {
		if p.Grad() == nil {
			t.Fatalf("parameter %d of shape %v: no gradient", i, p.Shape())
		}
		want[i] = append([]float32(nil), p.Grad().Data()...)
	}

	for _, replace := range []bool{false, true} {
		zero()
		var read, atRead []*Tensor
		var given, givenCopy *Tensor
		m.Trace(prompt, func(tr *Tracer) {
			hs := make([]*Tensor, L)
			for l := range L {
				hs[l] = m.Transformer.H.At(l).Output()
			}
			m.Output().Sum().Backward(func() {
				for l := L - 1; l >= 0; l-- {
					g := hs[l].Grad()
					read = append(read, g.Save())
					atRead = append(atRead, g.Clone().Save())
					if replace && l == L-1 {
						// The same values, as a tensor of the body's own.
						given = g.Clone().Save()
						givenCopy = g.Clone().Save()
						hs[l].SetGrad(given)
					}
				}
			})
		})
		for i, g := range read {
			a, b := g.Float32s(), atRead[i].Float32s()
			for j := range a {
				if a[j] != b[j] {
					t.Fatalf("replace %v: gradient %d read in the block changed after it was read: [%d] %g, was %g", replace, i, j, a[j], b[j])
				}
			}
		}
		if given != nil {
			a, b := given.Float32s(), givenCopy.Float32s()
			for j := range a {
				if a[j] != b[j] {
					t.Fatalf("the tensor given to SetGrad changed in the pass: [%d] %g, was %g", j, a[j], b[j])
				}
			}
		}
		for i, p := range params {
			g := p.Grad()
			d := g.Data()
			for j := range d {
				if math.Abs(float64(d[j]-want[i][j])) > 1e-5*(1+math.Abs(float64(want[i][j]))) {
					t.Fatalf("replace %v: parameter %d of shape %v: grad[%d] = %g, %g without a body", replace, i, p.Shape(), j, d[j], want[i][j])
				}
			}
			for k, q := range params[:i] {
				if rt.SharesMemory(g, q.Grad()) {
					t.Errorf("replace %v: parameters %d and %d share their .grad's memory", replace, k, i)
				}
			}
			for k, r := range read {
				if rt.SharesMemory(g, r.Engine()) {
					t.Errorf("replace %v: parameter %d's .grad shares memory with gradient %d read in the block", replace, i, k)
				}
			}
			if given != nil && rt.SharesMemory(g, given.Engine()) {
				t.Errorf("parameter %d's .grad shares memory with the tensor given to SetGrad", i)
			}
		}
		// Editing handed-out tensors after the pass touches no .grad.
		for _, r := range read {
			r.Fill(0)
		}
		if given != nil {
			given.Fill(0)
		}
		for i, p := range params {
			if d := p.Grad().Data(); math.Abs(float64(d[0]-want[i][0])) > 1e-5*(1+math.Abs(float64(want[i][0]))) {
				t.Fatalf("replace %v: parameter %d's grad[0] changed to %g when the block's tensors were zeroed", replace, i, d[0])
			}
		}
	}
}
