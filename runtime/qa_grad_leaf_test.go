package runtime

import (
	"math"
	"math/rand"
	"testing"
)

// TestQAGradLeafGradIsPlainAndZeroable: for every op of the suite, on the
// CPU and the GPUs, the gradient a backward pass leaves in a leaf's .grad
// is a tensor of its own, laid out like the leaf (contiguous, no
// broadcast dimension, memory no other .grad shares), so zeroing it in
// place (.grad.Fill(0), the optimizer-loop idiom) works and a second pass
// through the retained graph then gives the first pass's gradient again.
// A sum's gradient is an expanded view (kept as .grad, Fill refused it),
// and an input without elements got strides [0 1] that Fill took for a
// broadcast.
func TestQAGradLeafGradIsPlainAndZeroable(t *testing.T) {
	t.Run("cpu", func(t *testing.T) { leafGradIsPlain(t, "cpu") })
	onGPUs(t, func(t *testing.T) { leafGradIsPlain(t, "cuda") })
}

func leafGradIsPlain(t *testing.T, device string) {
	for _, c := range opCases() {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewSource(1))
			in := make([]*Tensor, len(c.in))
			for k, x := range c.in {
				in[k] = x.Detach().Clone().To(device).Detach().RequiresGrad()
			}
			out := c.f(in)
			loss := out.Mul(randTensor(r, out.shape...).To(device)).Sum()
			if err := loss.Backward(BackwardOptions{RetainGraph: true}); err != nil {
				t.Fatal(err)
			}
			first := make([][]float32, len(in))
			for k, x := range in {
				g := x.Grad()
				if g == nil {
					t.Fatalf("input %d: no gradient", k)
				}
				if !g.IsContiguous() || hasOverlap(g) {
					t.Errorf("input %d: .grad has shape %v strides %v: not laid out like the leaf", k, g.shape, g.stride)
				}
				for j, o := range in[:k] {
					if SharesMemory(g, o.Grad()) {
						t.Errorf("inputs %d and %d: their .grads share memory", j, k)
					}
				}
				first[k] = append([]float32(nil), g.Data()...)
			}
			for k, x := range in {
				func() {
					defer func() {
						if e := recover(); e != nil {
							t.Errorf("input %d: zeroing .grad in place: %v", k, e)
						}
					}()
					x.Grad().Fill(0)
				}()
			}
			if err := loss.Backward(); err != nil {
				t.Fatal(err)
			}
			for k, x := range in {
				for i, v := range x.Grad().Data() {
					if math.Abs(float64(v-first[k][i])) > 1e-5*(1+math.Abs(float64(first[k][i]))) {
						t.Errorf("input %d: after zeroing, the second pass gave grad[%d] = %g, the first %g", k, i, v, first[k][i])
						break
					}
				}
			}
		})
	}
}

// TestQAGradFillWithoutElements: writing into a tensor without elements
// is a no-op, not "a broadcast view" (a fresh [3 0] has strides [0 1]).
func TestQAGradFillWithoutElements(t *testing.T) {
	for _, shape := range [][]int{{3, 0}, {2, 0, 4}, {0}} {
		x := New(shape...)
		x.Fill(1)
		x.Copy(New(shape...))
		if x.Size() != 0 {
			t.Fatalf("%v: %d elements", shape, x.Size())
		}
	}
}
