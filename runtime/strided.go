package runtime

import "slices"

// Strided iteration: ops that accept views walk them row by row, with the
// innermost dimension as a tight loop, instead of paying an index
// computation per element.

// rowIter visits every innermost row of shape for k operands with their own
// strides, calling fn with each operand's offset of the row start.
func rowIter(shape []int, strides [][]int, offs []int, fn func(offs []int)) {
	if numel(shape) == 0 {
		return // no rows (a dimension of size 0)
	}
	nd := len(shape)
	if nd <= 1 {
		fn(offs)
		return
	}
	k := len(strides)
	cur := make([]int, k)
	copy(cur, offs)
	idx := make([]int, nd-1)
	for {
		fn(cur)
		d := nd - 2
		for ; d >= 0; d-- {
			idx[d]++
			for j := 0; j < k; j++ {
				cur[j] += strides[j][d]
			}
			if idx[d] < shape[d] {
				break
			}
			for j := 0; j < k; j++ {
				cur[j] -= strides[j][d] * shape[d]
			}
			idx[d] = 0
		}
		if d < 0 {
			return
		}
	}
}

// copyStrided copies src into dst (same shape, any strides).
func copyStrided(dst, src *Tensor) {
	if dst.onGPU() || src.onGPU() {
		gpuCopy(dst, src)
		return
	}
	if numel(dst.shape) == 0 {
		return
	}
	if dst.IsContiguous() && src.IsContiguous() {
		copy(dst.raw(), src.raw())
		return
	}
	dd, sd := dst.st.data, src.st.data
	if slices.Equal(dst.stride, src.stride) && dense(dst) {
		// The same layout without gaps (a transposed or permuted tensor
		// into one laid out alike): one block copy.
		dlo, dhi := span(dst)
		slo, _ := span(src)
		copy(dd[dlo:dhi], sd[slo:slo+dhi-dlo])
		return
	}
	nd := len(dst.shape)
	if nd == 0 {
		dd[dst.off] = sd[src.off]
		return
	}
	if nd >= 2 {
		R, C := dst.shape[nd-2], dst.shape[nd-1]
		dr, dc, sr, sc := dst.stride[nd-2], dst.stride[nd-1], src.stride[nd-2], src.stride[nd-1]
		if dc == 1 && sr == 1 || dr == 1 && sc == 1 {
			// A transpose in the last two dimensions: element by element
			// one side jumps a row per element; tiles keep both in cache
			// (the element loop was two thirds of seed1-params' CPU
			// profile, for the tied 50257x768 gradient).
			rowIter(dst.shape[:nd-1], [][]int{dst.stride[:nd-1], src.stride[:nd-1]}, []int{dst.off, src.off}, func(o []int) {
				do, so := o[0], o[1]
				parallelRange(R, max(1, (1<<16)/max(C, 1)), func(lo, hi int) {
					transposeTiles(dd, sd, do, so, lo, hi, C, dr, dc, sr, sc)
				})
			})
			return
		}
	}
	n := dst.shape[nd-1]
	ds, ss := dst.stride[nd-1], src.stride[nd-1]
	rowIter(dst.shape, [][]int{dst.stride, src.stride}, []int{dst.off, src.off}, func(o []int) {
		if ds == 1 && ss == 1 {
			copy(dd[o[0]:o[0]+n], sd[o[1]:o[1]+n])
			return
		}
		for i := 0; i < n; i++ {
			dd[o[0]+i*ds] = sd[o[1]+i*ss]
		}
	})
}

// transposeTiles copies rows [lo, hi) of a [R, C] block in 32x32 tiles.
func transposeTiles(dd, sd []float32, do, so, lo, hi, C, dr, dc, sr, sc int) {
	const tile = 32
	for i0 := lo; i0 < hi; i0 += tile {
		i1 := min(i0+tile, hi)
		for j0 := 0; j0 < C; j0 += tile {
			j1 := min(j0+tile, C)
			for i := i0; i < i1; i++ {
				d, s := do+i*dr+j0*dc, so+i*sr+j0*sc
				for j := j0; j < j1; j++ {
					dd[d] = sd[s]
					d += dc
					s += sc
				}
			}
		}
	}
}

// span returns the lowest offset t's elements use and one past the
// highest.
func span(t *Tensor) (lo, hi int) {
	lo, hi = t.off, t.off+1
	for i, n := range t.shape {
		if n == 0 {
			return t.off, t.off
		}
		if s := t.stride[i] * (n - 1); s < 0 {
			lo += s
		} else {
			hi += s
		}
	}
	return lo, hi
}

// dense says whether t's elements fill their span without gaps, in any
// order (a contiguous tensor, or one permuted). It trusts that distinct
// indices are distinct elements, as for every view the view ops make
// (span and stride 0 alone would not rule out strides such as (5, 1, 1)
// on [2, 2, 2]).
func dense(t *Tensor) bool {
	lo, hi := span(t)
	return !hasOverlap(t) && hi-lo == numel(t.shape)
}

// broadcastShapes returns the numpy broadcast of two shapes.
func broadcastShapes(a, b []int) ([]int, bool) {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := 0; i < n; i++ {
		da, db := 1, 1
		if j := len(a) - n + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			db = b[j]
		}
		switch {
		case da == db:
			out[i] = da
		case da == 1:
			out[i] = db
		case db == 1:
			out[i] = da
		default:
			return nil, false
		}
	}
	return out, true
}

// broadcastStrides returns t's strides seen as shape (stride 0 on
// broadcast dimensions).
func broadcastStrides(t *Tensor, shape []int) []int {
	st := make([]int, len(shape))
	off := len(shape) - len(t.shape)
	for i := range t.shape {
		if t.shape[i] != 1 {
			st[off+i] = t.stride[i]
		}
	}
	return st
}

// sumTo reduces a gradient of shape g.shape down to shape (undoing a
// broadcast).
func sumTo(g *Tensor, shape []int) *Tensor {
	if slices.Equal(g.shape, shape) {
		return g
	}
	if g.onGPU() {
		return gpuSumTo(g, shape)
	}
	out := New(shape...)
	st := broadcastStrides(out, g.shape)
	nd := len(g.shape)
	if nd == 0 {
		return out
	}
	// Accumulate in float64, as sumAll does: a float32 running sum over a
	// long axis loses digits (2e-5 relative over 4M elements).
	acc := make([]float64, len(out.st.data))
	gd := g.st.data
	n := g.shape[nd-1]
	gs, os := g.stride[nd-1], st[nd-1]
	rowIter(g.shape, [][]int{g.stride, st}, []int{g.off, 0}, func(o []int) {
		if os == 0 {
			var s float64
			for i := 0; i < n; i++ {
				s += float64(gd[o[0]+i*gs])
			}
			acc[o[1]] += s
			return
		}
		for i := 0; i < n; i++ {
			acc[o[1]+i*os] += float64(gd[o[0]+i*gs])
		}
	})
	for i, v := range acc {
		out.st.data[i] = float32(v)
	}
	return out
}
