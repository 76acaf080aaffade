package runtime

import (
	"math"
	"math/rand"
	"testing"
)

// A backward pass keeps a fresh gradient as a leaf's .grad and sums a
// second gradient into a fresh one in place; a gradient that is shared (an
// add hands one tensor to both inputs) or that a hook saw must not be.
func TestBackwardOwnsOnlyFreshGradients(t *testing.T) {
	near := func(name string, got *Tensor, want ...float32) {
		t.Helper()
		d := got.Data()
		for i := range want {
			if math.Abs(float64(d[i]-want[i])) > 1e-5 {
				t.Fatalf("%s = %v, want %v", name, d, want)
			}
		}
	}

	// z = a + b hands one gradient to a and b; editing a's .grad after
	// the pass must leave b's alone.
	a := FromSlice([]float32{1, 2}, 2).RequiresGrad()
	b := FromSlice([]float32{3, 4}, 2).RequiresGrad()
	if err := a.Add(b).Sum().Backward(); err != nil {
		t.Fatal(err)
	}
	a.Grad().Fill(7)
	near("b.grad after editing a.grad", b.Grad(), 1, 1)

	// (a*a) and (a*3): two fresh gradients of a, summed in place: 2a+3.
	a = FromSlice([]float32{1, 2}, 2).RequiresGrad()
	if err := a.Mul(a).Add(a.Mul(Scalar(3))).Sum().Backward(); err != nil {
		t.Fatal(err)
	}
	near("d(a^2+3a)", a.Grad(), 5, 7)

	// The same tensor reaching a leaf by two paths (a + a) is summed into
	// a new tensor, not into the shared one.
	a = FromSlice([]float32{1, 2}, 2).RequiresGrad()
	s := a.Add(a)
	if err := s.Mul(s).Sum().Backward(); err != nil {
		t.Fatal(err)
	}
	near("d((2a)^2)", a.Grad(), 8, 16) // 8a

	// A hook that keeps its gradient: editing the kept tensor later must
	// not change the leaf's .grad.
	a = FromSlice([]float32{1, 2}, 2).RequiresGrad()
	var kept *Tensor
	a.RegisterHook(func(g *Tensor) *Tensor { kept = g; return nil })
	if err := a.Mul(Scalar(2)).Sum().Backward(); err != nil {
		t.Fatal(err)
	}
	kept.Fill(-1)
	near("a.grad after editing the hook's tensor", a.Grad(), 2, 2)

	// OnGrad replacing a gradient: the replacement is the caller's, so the
	// leaf keeps a copy.
	a = FromSlice([]float32{1, 2}, 2).RequiresGrad()
	var given *Tensor
	err := a.Mul(Scalar(2)).Sum().Backward(BackwardOptions{OnGrad: func(x, g *Tensor) *Tensor {
		if x == a {
			given = g.Clone()
			return given
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	given.Fill(9)
	near("a.grad after editing OnGrad's replacement", a.Grad(), 2, 2)

	// The second pass adds into the first pass's .grad.
	a = FromSlice([]float32{1, 2}, 2).RequiresGrad()
	for range 2 {
		if err := a.Mul(Scalar(3)).Sum().Backward(); err != nil {
			t.Fatal(err)
		}
	}
	near("two passes", a.Grad(), 6, 6)
}

// A weight used through its transpose (GPT-2's tied lm_head) and as an
// embedding gets the sum of both gradients, laid out as the weight is;
// checked against the same products written without views.
func TestTiedWeightGradient(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	const V, C = 37, 8
	w := randTensor(r, V, C).RequiresGrad()
	ids := []int{3, 1, 3, 36}
	h := Embedding(w, ids, 1, 4)
	logits := Linear(h, w.T(), nil)
	weights := randTensor(r, 1, 4, V)
	if err := logits.Mul(weights).Sum().Backward(); err != nil {
		t.Fatal(err)
	}
	got := w.Grad()
	if !got.IsContiguous() {
		t.Fatalf("gradient layout %v strides %v", got.Shape(), got.Strides())
	}
	// d/dw of sum(weights * (E w) w^T): weights^T (E w) from the
	// unembedding, plus E^T (weights w) scattered from the embedding.
	hv := h.Detach().Reshape(4, C).Data()
	wv, gv := w.Detach().Data(), weights.Reshape(4, V).Data()
	want := make([]float64, V*C)
	for i := range 4 {
		for v := range V {
			for c := range C {
				want[v*C+c] += float64(gv[i*V+v]) * float64(hv[i*C+c])
				want[ids[i]*C+c] += float64(gv[i*V+v]) * float64(wv[v*C+c])
			}
		}
	}
	for i, g := range got.Data() {
		if math.Abs(float64(g)-want[i]) > 1e-4*(1+math.Abs(want[i])) {
			t.Fatalf("grad[%d] = %g, want %g", i, g, want[i])
		}
	}
}
