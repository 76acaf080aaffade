package runtime

import (
	"math/rand"
	"testing"
)

// A second backward pass adds into the leaf's existing .grad in place, as
// PyTorch's AccumulateGrad does: a reference to the gradient taken after
// the first pass sees the sum, on either device.
func TestGradAccumulatesInPlace(t *testing.T) {
	t.Run("cpu", func(t *testing.T) { gradAccumulatesInPlace(t, "cpu") })
	onGPUs(t, func(t *testing.T) { gradAccumulatesInPlace(t, "cuda") })
}

func gradAccumulatesInPlace(t *testing.T, dev string) {
	r := rand.New(rand.NewSource(3))
	x := randTensor(r, 5, 3)
	for _, c := range []struct {
		name  string
		shape []int
		loss  func(w, x *Tensor) *Tensor
	}{
		{"matmul", []int{4, 3}, func(w, x *Tensor) *Tensor { return x.MatMul(w.T()).Tanh().Sum() }},
		{"transposed", []int{3, 4}, func(w, x *Tensor) *Tensor { return w.T().Mul(x.Narrow(0, 0, 4)).Tanh().Sum() }},
	} {
		t.Run(c.name, func(t *testing.T) {
			w0 := randTensor(r, c.shape...)
			grad := func(x *Tensor) *Tensor { // one pass on a fresh leaf, on the CPU
				w := w0.Clone().RequiresGrad()
				if err := c.loss(w, x).Backward(); err != nil {
					t.Fatal(err)
				}
				return w.Grad()
			}
			x2 := x.Mul(Scalar(-0.5))
			want := grad(x).Add(grad(x2))

			w := w0.Clone().To(dev).Detach().RequiresGrad()
			if err := c.loss(w, x.To(dev)).Backward(); err != nil {
				t.Fatal(err)
			}
			first := w.Grad()
			if err := c.loss(w, x2.To(dev)).Backward(); err != nil {
				t.Fatal(err)
			}
			if !AllClose(w.Grad().To("cpu"), want, 1e-4, 1e-5) {
				t.Fatalf("grad after two passes:\n%v\nwant\n%v", w.Grad().To("cpu"), want)
			}
			if !AllClose(first.To("cpu"), want, 1e-4, 1e-5) {
				t.Fatalf("the first pass's .grad did not see the second pass's gradient:\n%v\nwant\n%v", first.To("cpu"), want)
			}

			// Zeroing the kept reference in place zeroes the leaf's
			// gradient (the training-loop idiom), and the next pass adds
			// into it.
			first.Fill(0)
			if err := c.loss(w, x.To(dev)).Backward(); err != nil {
				t.Fatal(err)
			}
			if g := grad(x); !AllClose(first.To("cpu"), g, 1e-4, 1e-5) || !AllClose(w.Grad().To("cpu"), g, 1e-4, 1e-5) {
				t.Fatalf("after Fill(0) and a pass: kept %v, .grad %v, want %v", first.To("cpu"), w.Grad().To("cpu"), g)
			}
		})
	}
}

// A gradient kept by a hook, or given by the caller through OnGrad, stays
// the caller's: a later pass's accumulation into the leaf must not write it.
func TestGradAccumulationLeavesCallersTensors(t *testing.T) {
	w := FromSlice([]float32{1, 2}, 2).RequiresGrad()
	var kept *Tensor
	remove := w.RegisterHook(func(g *Tensor) *Tensor { kept = g; return nil })
	if err := w.Mul(Scalar(2)).Sum().Backward(); err != nil {
		t.Fatal(err)
	}
	remove()
	given := FromSlice([]float32{10, 10}, 2)
	if err := w.Mul(Scalar(3)).Sum().Backward(BackwardOptions{OnGrad: func(v, g *Tensor) *Tensor {
		if v == w {
			return given
		}
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Mul(Scalar(5)).Sum().Backward(); err != nil {
		t.Fatal(err)
	}
	if d := kept.Data(); d[0] != 2 || d[1] != 2 {
		t.Errorf("hook's tensor = %v, want [2 2]", d)
	}
	if d := given.Data(); d[0] != 10 || d[1] != 10 {
		t.Errorf("OnGrad's tensor = %v, want [10 10]", d)
	}
	if d := w.Grad().Data(); d[0] != 17 || d[1] != 17 {
		t.Errorf("w.grad = %v, want [17 17]", d)
	}
}

// addInPlace writes through strided views (a gradient kept as a view of
// another layout) and refuses what it cannot write element by element.
func TestAddInPlaceViews(t *testing.T) {
	check := func(t *testing.T, dev string) {
		r := rand.New(rand.NewSource(5))
		a0, b0 := randTensor(r, 3, 4), randTensor(r, 4, 3)
		want := a0.T().Contiguous().Add(b0)
		a := a0.Clone().To(dev).Detach()
		at := a.T() // [4, 3], strides [1, 4]
		if !addInPlace(at, b0.To(dev).Detach()) {
			t.Fatal("addInPlace refused a transposed view")
		}
		if !AllClose(at.To("cpu"), want, 1e-6, 1e-6) || !AllClose(a.To("cpu"), want.T(), 1e-6, 1e-6) {
			t.Fatalf("a.T() += b: got %v, want %v", at.To("cpu"), want)
		}
		if addInPlace(at, a) {
			t.Error("addInPlace added a tensor into its own storage")
		}
		if e := a.Narrow(0, 0, 1).Expand(3, 4); addInPlace(e, b0.T().To(dev)) {
			t.Error("addInPlace wrote through an expanded view")
		}
	}
	t.Run("cpu", func(t *testing.T) { check(t, "cpu") })
	onGPUs(t, func(t *testing.T) { check(t, "cuda") })
}
