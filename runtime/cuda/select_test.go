package cuda_test

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"nnscope/runtime"
	"nnscope/runtime/cuda"
)

// TestGPUWhere: the where_strided kernel against runtime.Where, with
// broadcasting, strided and reversed views, scalar operands, and an inf
// or NaN on the side not picked.
func TestGPUWhere(t *testing.T) {
	d := gpu(t)
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	c := []float32{1, 0, nan, 0, -2, 0}
	a := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	b := []float32{inf, -1, nan, -3}
	cb, ab, bb := up(t, d, c), up(t, d, a), up(t, d, b)
	defer func() { d.Free(cb); d.Free(ab); d.Free(bb) }()
	ct, at, bt := runtime.FromSlice(c, 2, 3), runtime.FromSlice(a, 3, 4), runtime.FromSlice(b, 4)
	out, err := d.Alloc(12)
	must(t, err)
	defer d.Free(out)
	cases := []struct {
		name       string
		c, a, b    cuda.Strided
		av, bv     float32
		want       *runtime.Tensor
		outStrides []int
	}{
		{"broadcast", cuda.Strided{Buf: cb, Shape: []int{3, 1}, Strides: []int{1, 0}}, cuda.Contig(ab, 3, 4), cuda.Contig(bb, 4), 0, 0,
			runtime.Where(ct.Reshape(6).Narrow(0, 0, 3).Reshape(3, 1), at, bt), nil},
		{"transposed and reversed", cuda.Strided{Buf: cb, Shape: []int{3, 2}, Strides: []int{1, 3}},
			cuda.Strided{Buf: ab.Slice(11, 1), Shape: []int{3, 2}, Strides: []int{-4, -1}}, cuda.Contig(bb, 1), 0, 0,
			runtime.Where(ct.T(), at.Slice("::-1, ::-1").Narrow(1, 0, 2), bt.Narrow(0, 0, 1)), nil},
		{"scalars", cuda.Contig(cb, 6), cuda.Strided{}, cuda.Strided{}, 7, -7,
			runtime.Where(ct.Reshape(6), runtime.Full(7, 1), runtime.Full(-7, 1)), nil},
		{"written through a transposed view", cuda.Contig(cb, 2, 3), cuda.Strided{}, cuda.Contig(ab, 2, 3), 0.5, 0,
			runtime.Where(ct, runtime.Full(0.5, 1), at.Reshape(12).Narrow(0, 0, 6).Reshape(2, 3)).T().Contiguous().T(), []int{1, 2}},
	}
	for _, c := range cases {
		shape := c.want.Shape()
		o := cuda.Contig(out, shape...)
		if c.outStrides != nil {
			o.Strides = c.outStrides
		}
		must(t, d.Where(o, c.c, c.a, c.b, c.av, c.bv))
		got := down(t, d, out, runtime.FromSlice(make([]float32, 12), 12).Size())[:c.want.Size()]
		wantDense := c.want.Contiguous().Data()
		if c.outStrides != nil {
			wantDense = c.want.T().Contiguous().Data() // out holds the transposed layout
		}
		if fmt.Sprint(got) != fmt.Sprint(wantDense) {
			t.Errorf("%s: %v, want %v", c.name, got, wantDense)
		}
	}
}

// TestGPUTopKRows: topk_rows and topk_bwd against runtime.TopK: rows
// longer than a block, vocabulary-sized rows, k up to the row, NaN first,
// ties by lower index.
func TestGPUTopKRows(t *testing.T) {
	d := gpu(t)
	rng := rand.New(rand.NewSource(3))
	for _, c := range []struct{ rows, n, k int }{{3, 7, 7}, {5, 2500, 9}, {2, 33, 1}, {4, 1, 1}, {3, 50257, 5}} {
		x := make([]float32, c.rows*c.n)
		for i := range x {
			x[i] = float32(rng.Intn(20)) // many ties
		}
		x[0] = float32(math.NaN())
		if c.n > 3 {
			x[c.n-1] = float32(math.NaN())
			x[c.n+2] = float32(math.Inf(-1))
		}
		xt := runtime.FromSlice(x, c.rows, c.n).RequiresGrad()
		wv, wi := xt.TopK(c.k)
		g := make([]float32, c.rows*c.k)
		for i := range g {
			g[i] = float32(i + 1)
		}
		must(t, wv.Mul(runtime.FromSlice(g, c.rows, c.k)).Sum().Backward())
		xb, gb := up(t, d, x), up(t, d, g)
		vb, err := d.Alloc(c.rows * c.k)
		must(t, err)
		ib, err := d.Alloc(c.rows * c.k)
		must(t, err)
		gi, err := d.Alloc(c.rows * c.n)
		must(t, err)
		must(t, d.TopKRows(vb, ib, xb, c.rows, c.n, c.k))
		must(t, d.TopKBackward(gi, gb, ib, c.rows, c.n, c.k))
		name := fmt.Sprintf("rows %d of %d, k %d", c.rows, c.n, c.k)
		if got, want := fmt.Sprint(down(t, d, vb, c.rows*c.k), down(t, d, ib, c.rows*c.k)), fmt.Sprint(wv.Data(), wi.Data()); got != want {
			t.Errorf("%s: values and indices %s, want %s", name, got, want)
		}
		if got, want := fmt.Sprint(down(t, d, gi, c.rows*c.n)), fmt.Sprint(xt.Grad().Data()); got != want {
			t.Errorf("%s: gradient %s, want %s", name, got, want)
		}
		for _, b := range []cuda.Buffer{xb, gb, vb, ib, gi} {
			d.Free(b)
		}
	}
	if err := d.TopKRows(cuda.Buffer{}, cuda.Buffer{}, cuda.Buffer{}, 1, 4, 5); err == nil {
		t.Error("k above the row length accepted")
	}
}
