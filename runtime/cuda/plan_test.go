package cuda

import (
	"math/rand"
	"slices"
	"testing"
)

// offsetOfEmu is the CUDA offsetOf (kernels/common.cuh) in Go.
func offsetOfEmu(i, rank int, shape, strides dims) int {
	off := 0
	for d := MaxRank - 1; d >= 0; d-- {
		if d < rank {
			s := int(shape[d])
			off += (i % s) * int(strides[d])
			i /= s
		}
	}
	return off
}

// forEachIndex calls fn with every multi-index of shape in row-major order.
func forEachIndex(shape []int, fn func(idx []int)) {
	if numel(shape) == 0 {
		return
	}
	idx := make([]int, len(shape))
	for {
		fn(idx)
		d := len(shape) - 1
		for ; d >= 0; d-- {
			idx[d]++
			if idx[d] < shape[d] {
				break
			}
			idx[d] = 0
		}
		if d < 0 {
			return
		}
	}
}

func dot(idx, st []int) int {
	s := 0
	for i := range idx {
		s += idx[i] * st[i]
	}
	return s
}

// randomView returns a view (permuted, narrowed, offset) of a buffer of
// base elements, with a rank between 0 and maxRank.
func randomView(rng *rand.Rand, maxRank int) (v Strided, base int) {
	rank := rng.Intn(maxRank + 1)
	parent := make([]int, rank)
	for i := range parent {
		parent[i] = 1 + rng.Intn(4)
	}
	pst := contiguousStrides(parent)
	perm := rng.Perm(rank)
	shape, st := make([]int, rank), make([]int, rank)
	off := 0
	for i, p := range perm {
		n := parent[p]
		shape[i] = n
		if rng.Intn(3) == 0 && n > 1 { // narrow
			start := rng.Intn(n)
			shape[i] = 1 + rng.Intn(n-start)
			off += start * pst[p]
		}
		st[i] = pst[p]
	}
	base = numel(parent) + 3
	return Strided{Buf: Buffer{base: 1 << 20, n: base}.Slice(off, base-off), Shape: shape, Strides: st}, base
}

func TestCoalesce(t *testing.T) {
	sh, st := coalesce([]int{2, 1, 3, 4}, []int{12, 99, 4, 1}, []int{0, 0, 1, 0})
	if !slices.Equal(sh, []int{2, 3, 4}) || !slices.Equal(st[0], []int{12, 4, 1}) || !slices.Equal(st[1], []int{0, 1, 0}) {
		t.Errorf("got %v %v", sh, st)
	}
	sh, st = coalesce([]int{2, 3, 4}, []int{12, 4, 1})
	if !slices.Equal(sh, []int{24}) || !slices.Equal(st[0], []int{1}) {
		t.Errorf("contiguous: %v %v", sh, st)
	}
	sh, st = coalesce([]int{1, 1}, []int{5, 7})
	if !slices.Equal(sh, []int{1}) || !slices.Equal(st[0], []int{0}) {
		t.Errorf("scalar: %v %v", sh, st)
	}
	// An 8-d contiguous tensor fits in rank 1.
	shape8 := []int{2, 2, 2, 2, 2, 2, 2, 2}
	sh, _ = coalesce(shape8, contiguousStrides(shape8))
	if len(sh) != 1 || sh[0] != 256 {
		t.Errorf("8-d: %v", sh)
	}
	if _, err := toDims([]int{1, 2, 3, 4, 5, 6, 7}); err == nil {
		t.Error("rank 7 accepted")
	}
}

// TestBinaryIndexing emulates binary_strided's indexing (broadcastTo,
// coalesce, toDims, offsetOf) against a naive broadcast.
func TestBinaryIndexing(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for it := 0; it < 3000; it++ {
		a, na := randomView(rng, 5)
		b, nb := randomView(rng, 5)
		// Make b broadcastable: take a suffix of a's shape with some 1s.
		if rng.Intn(4) != 0 {
			k := rng.Intn(len(a.Shape) + 1)
			bs := slices.Clone(a.Shape[len(a.Shape)-k:])
			for i := range bs {
				if rng.Intn(3) == 0 {
					bs[i] = 1
				}
			}
			b = Contig(Buffer{base: 2 << 20, n: numel(bs)}, bs...)
			nb = numel(bs)
		}
		shape, ok := broadcastShapes(a.Shape, b.Shape)
		if !ok {
			continue
		}
		out := Contig(Buffer{base: 3 << 20, n: numel(shape)}, shape...)
		if rng.Intn(2) == 0 { // a transposed output view
			if len(shape) >= 2 {
				ps := slices.Clone(shape)
				ps[0], ps[1] = ps[1], ps[0]
				pst := contiguousStrides(ps)
				pst[0], pst[1] = pst[1], pst[0]
				out = Strided{Buf: out.Buf, Shape: shape, Strides: pst}
			}
		}
		for _, v := range []Strided{a, b, out} {
			if err := v.Check("v"); err != nil {
				t.Fatal(err)
			}
		}
		A := make([]float32, na)
		B := make([]float32, nb)
		for i := range A {
			A[i] = float32(i)
		}
		for i := range B {
			B[i] = float32(1000 * i)
		}
		aoff, boff := a.Buf.off, b.Buf.off
		want := make([]float32, numel(shape))
		sa, _ := broadcastTo(a, shape)
		sb, _ := broadcastTo(b, shape)
		forEachIndex(shape, func(idx []int) {
			want[dot(idx, out.Strides)] = A[aoff+dot(idx, sa)] + B[boff+dot(idx, sb)]
		})
		sh, st := coalesce(shape, out.Strides, sa, sb)
		var dd [4]dims
		for i, x := range [][]int{sh, st[0], st[1], st[2]} {
			var err error
			if dd[i], err = toDims(x); err != nil {
				t.Fatal(err)
			}
		}
		got := make([]float32, numel(shape))
		for i := 0; i < numel(shape); i++ {
			got[offsetOfEmu(i, len(sh), dd[0], dd[1])] = A[aoff+offsetOfEmu(i, len(sh), dd[0], dd[2])] +
				B[boff+offsetOfEmu(i, len(sh), dd[0], dd[3])]
		}
		if !slices.Equal(got, want) {
			t.Fatalf("a %v/%v b %v/%v: got %v want %v", a.Shape, a.Strides, b.Shape, b.Strides, got, want)
		}
	}
}

// TestSumPlan emulates sum_rows/sum_cols over planSumTo against a naive sumTo.
func TestSumPlan(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	cols := 0
	for it := 0; it < 3000; it++ {
		g, n := randomView(rng, 5)
		k := rng.Intn(len(g.Shape) + 1)
		shape := slices.Clone(g.Shape[len(g.Shape)-k:])
		for i := range shape {
			if rng.Intn(2) == 0 {
				shape[i] = 1
			}
		}
		G := make([]float32, n)
		for i := range G {
			G[i] = float32(rng.Intn(100))
		}
		want := make([]float32, numel(shape))
		ost, _ := broadcastTo(Contig(Buffer{}, shape...), g.Shape)
		forEachIndex(g.Shape, func(idx []int) {
			want[dot(idx, ost)] += G[g.Buf.off+dot(idx, g.Strides)]
		})
		p, err := planSumTo(g, shape)
		if err != nil {
			t.Fatal(err)
		}
		if p.colwise {
			cols++
		}
		var kd, rd [2]dims
		for i, x := range [][]int{p.kshape, p.kg} {
			kd[i], _ = toDims(x)
		}
		for i, x := range [][]int{p.rshape, p.rg} {
			rd[i], _ = toDims(x)
		}
		got := make([]float32, p.nout)
		for o := 0; o < p.nout; o++ {
			base := offsetOfEmu(o, len(p.kshape), kd[0], kd[1])
			for r := 0; r < p.nred; r++ {
				got[o] += G[g.Buf.off+base+offsetOfEmu(r, len(p.rshape), rd[0], rd[1])]
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("g %v/%v to %v: plan %+v got %v want %v", g.Shape, g.Strides, shape, p, got, want)
		}
	}
	if cols == 0 {
		t.Error("never chose sum_cols")
	}
	// A bias gradient [N, C] -> [C] is column-wise; a row sum [N, C] -> [N, 1] is not.
	p, _ := planSumTo(Contig(Buffer{base: 1, n: 64 * 768}, 64, 768), []int{768})
	q, _ := planSumTo(Contig(Buffer{base: 1, n: 64 * 768}, 64, 768), []int{64, 1})
	if !p.colwise || q.colwise || p.nred != 64 || q.nred != 768 {
		t.Errorf("bias plan %+v, row plan %+v", p, q)
	}
	if _, err := planSumTo(Contig(Buffer{base: 1, n: 6}, 2, 3), []int{2}); err == nil {
		t.Error("[2,3] -> [2] accepted")
	}
}

func TestStridedCheck(t *testing.T) {
	buf := Buffer{base: 1, n: 12}
	if err := Contig(buf, 3, 4).Check("x"); err != nil {
		t.Error(err)
	}
	if err := Contig(buf, 3, 5).Check("x"); err == nil {
		t.Error("overflow accepted")
	}
	if err := (Strided{Buf: buf, Shape: []int{4, 3}, Strides: []int{1, 4}}).Check("x"); err != nil {
		t.Error(err)
	}
	if err := (Strided{Buf: buf.Slice(1, 11), Shape: []int{4, 3}, Strides: []int{1, 4}}).Check("x"); err == nil {
		t.Error("offset overflow accepted")
	}
	if err := (Strided{Buf: buf, Shape: []int{2}, Strides: []int{1, 1}}).Check("x"); err == nil {
		t.Error("rank mismatch accepted")
	}
	if !Contig(buf, 3, 4).IsContiguous() || (Strided{Buf: buf, Shape: []int{4, 3}, Strides: []int{1, 4}}).IsContiguous() {
		t.Error("IsContiguous")
	}
}
