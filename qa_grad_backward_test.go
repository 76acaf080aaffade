package nnscope

import "testing"

// TestQAGradLateEditChangesNothing: an edit a backward block makes to a
// gradient it read (or gave with SetGrad) after it moved on to a later
// gradient changes no other tensor's gradient: the pass went on with the
// value the block left when it moved on. Through a reshape of the hidden
// state (whose backward hands its gradient to the base as is since
// 72b469d), an add (which hands one gradient to both inputs) and a clone,
// the late Fill(0) reached the block output's gradient, read later.
func TestQAGradLateEditChangesNothing(t *testing.T) {
	m, _ := tiny(t)
	views := map[string]func(h *Tensor) *Tensor{
		"reshape": func(h *Tensor) *Tensor { return h.Reshape(-1) },
		"add":     func(h *Tensor) *Tensor { return h.Add(0) },
		"clone":   func(h *Tensor) *Tensor { return h.Clone() },
	}
	for _, params := range []bool{false, true} {
		check := func() {
			for name, view := range views {
				for _, setGrad := range []bool{false, true} {
					run := func(late bool) *Tensor {
						var gh *Tensor
						m.Trace(prompt, func(tr *Tracer) {
							h := m.Transformer.H.At(1).Output().RequiresGrad()
							v := view(h)
							a := m.Transformer.H.At(2).Output()
							loss := m.LMHead.Output().Sum().Add(v.Mul(3).Sum())
							loss.Backward(func() {
								g := v.Grad()
								if setGrad {
									g = g.Clone()
									v.SetGrad(g)
								}
								a.Grad()
								if late {
									g.Fill(0) // after the block moved on
								}
								gh = h.Grad().Save()
							})
						})
						return gh
					}
					want, got := run(false), run(true)
					if d := got.Sub(want).Abs().Max(); d > 1e-5*want.Abs().Max() {
						t.Errorf("params %v, %s, SetGrad %v: a late edit of the gradient read changed the block output's gradient by %g (mean %.4g, without it %.4g)",
							params, name, setGrad, d, got.Mean().Item(), want.Mean().Item())
					}
				}
			}
		}
		if params {
			qaWithParams(m, check) // and every parameter's gradient cleared after
		} else {
			check()
		}
	}
}
