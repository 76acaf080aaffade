package cuda_test

import (
	"math/rand"
	"testing"

	"nnscope/runtime"
	"nnscope/runtime/cuda"
)

// TestGPUHighRank: views whose dimensions do not merge to MaxRank (a
// permuted rank-8 tensor, reversed in places) in Copy, Fill, Binary,
// Where and SumTo: split over launches (they failed, "rank 8 exceeds 6
// after merging"); vs runtime.
func TestGPUHighRank(t *testing.T) {
	d := gpu(t)
	rng := rand.New(rand.NewSource(8))
	shape := []int{2, 3, 2, 2, 2, 2, 2, 3}
	n := 1
	for _, s := range shape {
		n *= s
	}
	x := randn(rng, n, 1)
	xt := runtime.FromSlice(append([]float32(nil), x...), shape...)
	xb := up(t, d, x)
	defer d.Free(xb)
	perm := []int{7, 5, 3, 1, 6, 4, 2, 0}
	view := xt.Permute(perm...).Slice("::-1, :, ::-1") // the reference
	vshape := view.Shape()
	// The same view of xb: permuted strides, dimensions 0 and 2 reversed.
	cstr := make([]int, 8) // xb's (contiguous) strides
	for i, s := 7, 1; i >= 0; i-- {
		cstr[i], s = s, s*shape[i]
	}
	vst := make([]int, 8)
	off := 0
	for i, p := range perm {
		vst[i] = cstr[p]
	}
	for _, i := range []int{0, 2} {
		off += (vshape[i] - 1) * vst[i]
		vst[i] = -vst[i]
	}
	v := cuda.Strided{Buf: xb.Slice(off, n-off), Shape: vshape, Strides: vst}
	out := alloc(t, d, n)
	defer d.Free(out)
	must(t, d.Copy(cuda.Contig(out, vshape...), v))
	closeTo(t, "copy", down(t, d, out, n), view.Contiguous().Data(), 0, 0)
	must(t, d.Binary(cuda.OpMul, cuda.Contig(out, vshape...), v, v))
	closeTo(t, "binary", down(t, d, out, n), view.Mul(view).Data(), 0, 0)
	must(t, d.Where(cuda.Contig(out, vshape...), v, v, cuda.Strided{}, 0, 5))
	closeTo(t, "where", down(t, d, out, n), runtime.Where(view, view, runtime.Scalar(5)).Data(), 0, 0)
	// Sums keeping seven dimensions that do not merge, and summing them.
	keep := append([]int{1}, vshape[1:]...)
	must(t, d.SumTo(out, v, keep, 1, 0))
	closeTo(t, "sum over the first axis", down(t, d, out, n/vshape[0]), view.Sum(0).Data(), 1e-5, 1e-5)
	must(t, d.SumTo(out, v, []int{vshape[0], 1, 1, 1, 1, 1, 1, 1}, 1, 0))
	closeTo(t, "sum over seven axes", down(t, d, out, vshape[0]), view.Sum(1, 2, 3, 4, 5, 6, 7).Data(), 1e-4, 1e-5)
	// A fill through the view writes every element of xb.
	must(t, d.Fill(v, 3))
	closeTo(t, "fill", down(t, d, xb, n), runtime.Full(3, n).Data(), 0, 0)
}
