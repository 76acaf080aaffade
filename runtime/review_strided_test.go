package runtime

import (
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"
)

// reviewRandomView returns a random view of a fresh random tensor of
// shape: its dimensions permuted, some reversed, some of size 1 or 0.
func reviewRandomView(r *rand.Rand, shape []int) *Tensor {
	nd := len(shape)
	perm := r.Perm(nd)
	base := make([]int, nd)
	for i, p := range perm {
		base[p] = shape[i]
	}
	t := randTensor(r, base...)
	inv := make([]int, nd)
	for i, p := range perm {
		inv[i] = p
	}
	v := t.Permute(inv...)
	spec := make([]string, nd)
	for i := range spec {
		spec[i] = ":"
		if r.Intn(3) == 0 {
			spec[i] = "::-1"
		}
	}
	if nd > 0 {
		v = v.Slice(strings.Join(spec, ","))
	}
	return v.Detach()
}

// copyStrided (its block copy for equal layouts, its tiles for a
// transpose, its rows) against an element-by-element copy, for views with
// reversed, size-0 and size-1 dimensions into contiguous and strided
// destinations.
func TestReviewCopyStridedRandomViews(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	sizes := []int{0, 1, 2, 3, 33, 40}
	for trial := range 3000 {
		nd := 1 + r.Intn(4)
		shape := make([]int, nd)
		for i := range shape {
			shape[i] = sizes[r.Intn(len(sizes))]
		}
		if numel(shape) > 5000 {
			continue
		}
		src := reviewRandomView(r, shape)
		var dst *Tensor
		switch r.Intn(3) {
		case 0:
			dst = New(shape...)
		case 1:
			dst = reviewRandomView(r, shape)
		default: // the same layout as src
			dst = fromStorage(freshStorage(make([]float32, len(src.st.data)), nil), src.off, cloneInts(src.shape), cloneInts(src.stride))
		}
		copyStrided(dst, src)
		n := numel(shape)
		idx := make([]int, nd)
		for k := 0; k < n; k++ {
			rem := k
			for d := nd - 1; d >= 0; d-- {
				idx[d] = rem % shape[d]
				rem /= shape[d]
			}
			if got, want := dst.st.data[dst.offsetOf(idx)], src.st.data[src.offsetOf(idx)]; got != want {
				t.Fatalf("trial %d: shape %v, src strides %v, dst strides %v: element %v = %g, want %g",
					trial, shape, src.stride, dst.stride, fmt.Sprint(idx), got, want)
			}
		}
	}
}

// viewGrad's zero-copy answer (a gradient laid out as the view is, seen
// in the base's shape) for permuted and reversed views: the view of the
// answer is the gradient, element by element.
func TestReviewViewGradZeroCopy(t *testing.T) {
	r := rand.New(rand.NewSource(12))
	sizes := []int{1, 2, 3, 5}
	zeroCopies := 0
	for trial := range 500 {
		nd := 1 + r.Intn(4)
		base := make([]int, nd)
		for i := range base {
			base[i] = sizes[r.Intn(len(sizes))]
		}
		perm := r.Perm(nd)
		spec := make([]string, nd)
		for i := range spec {
			spec[i] = ":"
			if r.Intn(2) == 0 {
				spec[i] = "::-1"
			}
		}
		region := func(x *Tensor) *Tensor { return x.Permute(perm...).Slice(strings.Join(spec, ",")).Detach() }
		probe := region(New(base...))
		// The gradient in the view's own layout (the probe's strides) in
		// memory of its own, with room before it.
		pad := 3
		data := make([]float32, numel(base)+2*pad)
		for i := range data {
			data[i] = float32(r.NormFloat64())
		}
		g := fromStorage(freshStorage(data, nil), probe.off+pad, cloneInts(probe.shape), cloneInts(probe.stride))
		bt := FromSlice(make([]float32, numel(base)), base...)
		got := viewGrad(bt, region)(g, nil)[0]
		if got.st == g.st {
			zeroCopies++
		}
		if !slices.Equal(got.shape, base) {
			t.Fatalf("trial %d: shape %v, want %v", trial, got.shape, base)
		}
		v := region(got)
		n := numel(v.shape)
		idx := make([]int, nd)
		for k := 0; k < n; k++ {
			rem := k
			for d := nd - 1; d >= 0; d-- {
				idx[d] = rem % v.shape[d]
				rem /= v.shape[d]
			}
			if a, b := v.st.data[v.offsetOf(idx)], g.st.data[g.offsetOf(idx)]; a != b {
				t.Fatalf("trial %d: base %v perm %v spec %v: element %v of the view of the answer = %g, gradient %g", trial, base, perm, spec, idx, a, b)
			}
		}
	}
	if zeroCopies == 0 {
		t.Fatal("no trial took the zero-copy path")
	}
}
