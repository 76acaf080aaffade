package cuda

import (
	"fmt"
	"math"
	"slices"
)

// Strided describes a tensor view on the device: a buffer, a shape and
// element strides relative to the buffer's first element (as
// runtime.Tensor's offset, shape and stride; the offset goes in the Buffer
// with Slice). Strides of 0 broadcast. A negative stride (a reversed view,
// x[::-1]) walks back from the buffer's first element, into the part of
// its allocation before it (Buffer.Offset elements).
type Strided struct {
	Buf     Buffer
	Shape   []int
	Strides []int
}

// Contig describes buf as a contiguous tensor of the given shape.
func Contig(buf Buffer, shape ...int) Strided {
	return Strided{Buf: buf, Shape: shape, Strides: contiguousStrides(shape)}
}

// Numel returns the number of elements of the view's shape.
func (s Strided) Numel() int { return numel(s.Shape) }

// IsContiguous reports whether the view is dense row-major.
func (s Strided) IsContiguous() bool {
	st := 1
	for i := len(s.Shape) - 1; i >= 0; i-- {
		if s.Shape[i] != 1 && s.Strides[i] != st {
			return false
		}
		st *= s.Shape[i]
	}
	return true
}

// Check validates the view against its buffer, as the strided ops do
// (and an emulator of them should): strides match the shape's rank, sizes
// are not negative, and every element lies inside Buf, or for negative
// strides before it in Buf's allocation (at most Buf.Offset() elements
// back). what names the operand in the error.
func (s Strided) Check(what string) error {
	if len(s.Strides) != len(s.Shape) {
		return fmt.Errorf("cuda: %s: %d strides for shape %v", what, len(s.Strides), s.Shape)
	}
	for _, n := range s.Shape {
		if n < 0 {
			return fmt.Errorf("cuda: %s: negative size in shape %v", what, s.Shape)
		}
	}
	if numel(s.Shape) == 0 {
		return nil
	}
	if s.Buf.IsNil() {
		return fmt.Errorf("cuda: %s: no buffer", what)
	}
	lo, hi := 0, 0 // the lowest and highest element offsets from Buf's first
	for i, n := range s.Shape {
		if st := s.Strides[i]; st < 0 {
			lo += (n - 1) * st
		} else {
			hi += (n - 1) * st
		}
	}
	if hi >= s.Buf.n || -lo > s.Buf.off {
		return fmt.Errorf("cuda: %s: view shape %v strides %v reaches elements %d to %d of a buffer of %d (at element %d of its allocation)",
			what, s.Shape, s.Strides, lo, hi, s.Buf.n, s.Buf.off)
	}
	return nil
}

func numel(shape []int) int {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return n
}

func contiguousStrides(shape []int) []int {
	st := make([]int, len(shape))
	s := 1
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = s
		s *= shape[i]
	}
	return st
}

// broadcastShapes returns the numpy broadcast of two shapes.
func broadcastShapes(a, b []int) ([]int, bool) {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := range n {
		da, db := 1, 1
		if j := len(a) - n + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			db = b[j]
		}
		switch {
		case da == db || db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil, false
		}
	}
	return out, true
}

// broadcastTo returns v's strides seen as shape (right-aligned, stride 0
// on broadcast dimensions), or false when v does not broadcast to shape.
func broadcastTo(v Strided, shape []int) ([]int, bool) {
	if len(v.Shape) > len(shape) {
		return nil, false
	}
	st := make([]int, len(shape))
	off := len(shape) - len(v.Shape)
	for i, n := range v.Shape {
		switch {
		case n == shape[off+i]:
			if n != 1 {
				st[off+i] = v.Strides[i]
			}
		case n == 1:
		default:
			return nil, false
		}
	}
	return st, true
}

// coalesce drops size-1 dimensions and merges neighbours that every
// operand walks as one (strides[d] == strides[d+1] * shape[d+1]), so
// views of any rank usually fit MaxRank. An empty result becomes shape [1]
// with zero strides.
func coalesce(shape []int, strides ...[]int) ([]int, [][]int) {
	var sh []int
	st := make([][]int, len(strides))
	for d, n := range shape {
		if n == 1 {
			continue
		}
		if k := len(sh) - 1; k >= 0 {
			merge := true
			for j := range strides {
				if st[j][k] != strides[j][d]*n {
					merge = false
					break
				}
			}
			if merge {
				sh[k] *= n
				for j := range strides {
					st[j][k] = strides[j][d]
				}
				continue
			}
		}
		sh = append(sh, n)
		for j := range strides {
			st[j] = append(st[j], strides[j][d])
		}
	}
	if len(sh) == 0 {
		sh = []int{1}
		for j := range st {
			st[j] = []int{0}
		}
	}
	return sh, st
}

// eachLaunch runs fn once per launch of a strided kernel over the
// coalesced shape sh and operand strides st (split by splitLaunches when
// its rank is above MaxRank): fn gets each operand's element offset, the
// element count and rank of the launch, and the kernel's Dims, the shape's
// first and then each operand's strides. what names the op in errors.
func eachLaunch(what string, sh []int, st [][]int, fn func(offs []int, n, rank int, dd []dims) error) error {
	dd := make([]dims, 1+len(st))
	return splitLaunches(sh, st, func(offs, sh []int, st [][]int) error {
		var err error
		if dd[0], err = toDims(sh); err != nil {
			return fmt.Errorf("cuda: %s: %w", what, err)
		}
		for j, s := range st {
			if dd[1+j], err = toDims(s); err != nil {
				return fmt.Errorf("cuda: %s: %w", what, err)
			}
		}
		return fn(offs, numel(sh), len(sh), dd)
	})
}

// splitLaunches splits a coalesced shape whose rank is above MaxRank (views
// whose dimensions do not merge, such as a permuted rank-7 tensor) into
// launches over its last MaxRank dimensions, one per index of the others:
// fn gets each operand's element offset for that index and the inner
// shape and strides. A rank up to MaxRank is one call with zero offsets.
func splitLaunches(sh []int, st [][]int, fn func(offs, sh []int, st [][]int) error) error {
	if len(sh) <= MaxRank { // one launch, with the strides as they are
		var zero [4]int
		if len(st) <= len(zero) {
			return fn(zero[:len(st)], sh, st)
		}
	}
	outer := max(0, len(sh)-MaxRank)
	offs := make([]int, len(st))
	inner := make([][]int, len(st))
	for j := range st {
		inner[j] = st[j][outer:]
	}
	idx := make([]int, outer)
	for {
		if err := fn(offs, sh[outer:], inner); err != nil {
			return err
		}
		d := outer - 1
		for ; d >= 0; d-- {
			idx[d]++
			for j := range st {
				offs[j] += st[j][d]
			}
			if idx[d] < sh[d] {
				break
			}
			for j := range st {
				offs[j] -= st[j][d] * sh[d]
			}
			idx[d] = 0
		}
		if d < 0 {
			return nil
		}
	}
}

// at returns b moved by delta elements within its allocation (back, for a
// negative delta: a view with negative strides checked by Check stays in
// it), for a kernel launch; the nil Buffer stays nil.
func (b Buffer) at(delta int) Buffer {
	if b.base == 0 {
		return b
	}
	return Buffer{base: b.base, off: b.off + delta, n: b.n - delta, keep: b.keep}
}

// toDims packs a shape or strides of rank <= MaxRank into a kernel Dims.
func toDims(x []int) (dims, error) {
	var d dims
	if len(x) > MaxRank {
		return d, fmt.Errorf("cuda: rank %d exceeds %d after merging dimensions (shape or strides %v)", len(x), MaxRank, x)
	}
	for i, v := range x {
		if v > 1<<31-1 || v < -(1<<31) {
			return d, fmt.Errorf("cuda: dimension or stride %d does not fit a C int", v)
		}
		d[i] = int32(v)
	}
	return d, nil
}

// sumPlan is how sum_rows/sum_cols reduce g to a broadcast shape: the kept
// dimensions (the output is contiguous over them) and the reduced ones,
// each merged.
type sumPlan struct {
	kshape, kg []int // kept dims: sizes and g's strides
	rshape, rg []int // reduced dims: sizes and g's strides
	nout, nred int
	colwise    bool // g's innermost (smallest-stride) dimension is kept: use sum_cols
}

// planSumTo plans reducing g to shape, which must broadcast to g.Shape
// (runtime's sumTo: leading dimensions of g beyond len(shape) and
// dimensions where shape has 1 are summed).
func planSumTo(g Strided, shape []int) (sumPlan, error) {
	var p sumPlan
	if len(shape) > len(g.Shape) {
		return p, fmt.Errorf("cuda: SumTo: shape %v has more dimensions than %v", shape, g.Shape)
	}
	off := len(g.Shape) - len(shape)
	var kshape, kg, kout, rshape, rg []int
	outStrides := contiguousStrides(shape)
	for d, n := range g.Shape {
		t := 1
		if d >= off {
			t = shape[d-off]
		}
		switch {
		case t == n:
			os := 0
			if d >= off {
				os = outStrides[d-off]
			}
			kshape, kg, kout = append(kshape, n), append(kg, g.Strides[d]), append(kout, os)
		case t == 1:
			rshape, rg = append(rshape, n), append(rg, g.Strides[d])
		default:
			return p, fmt.Errorf("cuda: SumTo: shape %v does not broadcast to %v", shape, g.Shape)
		}
	}
	ks, kst := coalesce(kshape, kg, kout)
	rs, rst := coalesce(rshape, rg)
	p = sumPlan{kshape: ks, kg: kst[0], rshape: rs, rg: rst[0], nout: numel(shape), nred: numel(rs)}
	if numel(g.Shape) == 0 {
		p.nred = 0
	}
	// Column-wise when the kept dims hold g's smallest nonzero stride.
	minK, minR := math.MaxInt, math.MaxInt
	for i, s := range p.kg {
		if p.kshape[i] > 1 && s > 0 {
			minK = min(minK, s)
		}
	}
	for i, s := range p.rg {
		if p.rshape[i] > 1 && s > 0 {
			minR = min(minR, s)
		}
	}
	p.colwise = minK < minR
	return p, nil
}

// sameShape reports whether two shapes are equal.
func sameShape(a, b []int) bool { return slices.Equal(a, b) }
