package runtime

import (
	"math"
	"testing"
)

// reviewNear fails unless got's elements are want's.
func reviewNear(t *testing.T, name string, got *Tensor, want ...float32) {
	t.Helper()
	d := got.Data()
	if len(d) != len(want) {
		t.Fatalf("%s = %v, want %v", name, d, want)
	}
	for i := range want {
		if math.Abs(float64(d[i]-want[i])) > 1e-5 {
			t.Fatalf("%s = %v, want %v", name, d, want)
		}
	}
}

// A sum hands its input an expanded view of its gradient (stride 0): a
// leaf must not keep that as its .grad, where one element written would
// be all of them and Fill would refuse the broadcast view.
func TestReviewLeafGradOfSumIsItsOwn(t *testing.T) {
	for name, loss := range map[string]func(a *Tensor) *Tensor{
		"sum":           func(a *Tensor) *Tensor { return a.Sum() },
		"sum of axis":   func(a *Tensor) *Tensor { return a.Reshape(1, 3).Sum(0).Sum() },
		"clone's sum":   func(a *Tensor) *Tensor { return a.Clone().Sum() },
		"reshape's sum": func(a *Tensor) *Tensor { return a.Reshape(3, 1).Sum() },
	} {
		a := FromSlice([]float32{1, 2, 3}, 3).RequiresGrad()
		if err := loss(a).Backward(); err != nil {
			t.Fatal(err)
		}
		g := a.Grad()
		g.SetAt(5, 0)
		reviewNear(t, name+": .grad after SetAt(5, 0)", g, 5, 1, 1)
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("%s: Fill on .grad: %v", name, r)
				}
			}()
			g.Fill(0)
		}()
		reviewNear(t, name+": .grad after Fill(0)", g, 0, 0, 0)
	}
}

// Gradients the pass kept or summed in place are visible nowhere else:
// hooks' tensors, other leaves' .grad, the first pass's .grad.
func TestReviewOwnedGradientsStayPrivate(t *testing.T) {
	// One gradient through an add to two reshapes of two leaves: a's
	// .grad and b's must not share memory.
	a := FromSlice([]float32{1, 2, 3, 4}, 2, 2).RequiresGrad()
	b := FromSlice([]float32{5, 6, 7, 8}, 2, 2).RequiresGrad()
	w := FromSlice([]float32{1, 2, 3, 4}, 4)
	if err := a.Reshape(4).Add(b.Reshape(4)).Mul(w).Sum().Backward(); err != nil {
		t.Fatal(err)
	}
	if SharesMemory(a.Grad(), b.Grad()) {
		t.Fatal("a.grad and b.grad share memory")
	}
	a.Grad().Fill(0)
	reviewNear(t, "b.grad after a.grad.Fill(0)", b.Grad(), 1, 2, 3, 4)

	// A hook keeps an intermediate's gradient; the leaf behind it gets
	// that gradient handed on (reshape) and a second one summed in, in
	// both orders of the two paths.
	for _, first := range []bool{true, false} {
		a := FromSlice([]float32{1, 2}, 2).RequiresGrad()
		y := a.Reshape(1, 2)
		var kept *Tensor
		y.RegisterHook(func(g *Tensor) *Tensor { kept = g; return nil })
		p := y.Mul(FromSlice([]float32{3, 3}, 1, 2)).Sum()
		q := a.Mul(FromSlice([]float32{2, 2}, 2)).Sum()
		loss := p.Add(q)
		if !first {
			loss = q.Add(p)
		}
		if err := loss.Backward(); err != nil {
			t.Fatal(err)
		}
		reviewNear(t, "the hook's gradient", kept, 3, 3)
		reviewNear(t, "a.grad", a.Grad(), 5, 5)
		a.Grad().Fill(-1)
		reviewNear(t, "the hook's gradient after a.grad.Fill", kept, 3, 3)
	}

	// A backward that returns its own gradient (clone, contiguous) with a
	// second path into the same leaf, and a sub of a tensor from itself.
	a = FromSlice([]float32{1, 2}, 2).RequiresGrad()
	s := a.Mul(FromSlice([]float32{4, 4}, 2))
	if err := s.Clone().Add(s.T().Contiguous()).Sub(a).Mul(FromSlice([]float32{1, 10}, 2)).Sum().Backward(); err != nil {
		t.Fatal(err)
	}
	reviewNear(t, "d/da of (8a - a) * [1 10]", a.Grad(), 7, 70)

	// Two passes through a retained graph: the second pass adds to what
	// is in .grad, in place, as PyTorch does (first is still .grad).
	a = FromSlice([]float32{1, 2}, 2).RequiresGrad()
	loss := a.Mul(a).Sum()
	if err := loss.Backward(BackwardOptions{RetainGraph: true}); err != nil {
		t.Fatal(err)
	}
	first := a.Grad()
	reviewNear(t, "first pass", first, 2, 4)
	first.Fill(10)
	if err := loss.Backward(); err != nil {
		t.Fatal(err)
	}
	reviewNear(t, "second pass onto the edited .grad", a.Grad(), 12, 14)
	reviewNear(t, "the first pass's tensor after the second", first, 12, 14)

	// A seed the caller gives is the caller's: not kept, not summed into.
	a = FromSlice([]float32{1, 2}, 2).RequiresGrad()
	seed := FromSlice([]float32{1, 1}, 2)
	y := a.Reshape(2)
	if err := y.Add(a.Mul(FromSlice([]float32{2, 2}, 2))).Backward(BackwardOptions{Grad: seed}); err != nil {
		t.Fatal(err)
	}
	reviewNear(t, "the caller's seed", seed, 1, 1)
	reviewNear(t, "a.grad with a given seed", a.Grad(), 3, 3)
	a = FromSlice([]float32{1, 2}, 2).RequiresGrad()
	if err := a.Backward(BackwardOptions{Grad: seed}); err != nil {
		t.Fatal(err)
	}
	a.Grad().Fill(4)
	reviewNear(t, "the caller's seed after a leaf's .grad.Fill", seed, 1, 1)
}
