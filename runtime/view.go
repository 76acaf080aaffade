package runtime

import (
	"slices"
	"strconv"
	"strings"
)

// makeView creates a view of t with the given geometry. apply re-creates the
// same view on any tensor shaped like t; autograd uses it to route a
// gradient back into t's shape, and in-place writes use it to replay the
// write on t's history.
func makeView(t *Tensor, op string, off int, shape, stride []int, apply func(*Tensor) *Tensor) *Tensor {
	v := fromStorage(t.st, off, shape, stride)
	base, full := t, apply
	if t.view != nil {
		base = t.view.base
		inner := t.view.apply
		full = func(x *Tensor) *Tensor { return apply(inner(x)) }
	}
	v.view = &viewOf{base: base, apply: full, gen: len(base.olds)}
	recordNeeds(v, op, []*Tensor{t}, viewGrad(t, apply))
	if v.node != nil {
		v.node.region = apply
	}
	return v
}

// Slice returns a view selected by a numpy-style index string, e.g.
// ":, -1, :", "0, 2:5", "..., ::2", "1:-1:3". An integer removes its
// dimension; "None" inserts a new one of size 1.
func (t *Tensor) Slice(spec string) *Tensor {
	items, err := parseIndex(spec)
	if err != nil {
		panic(errorf("Slice(%q): %v", spec, err))
	}
	return t.index(spec, items)
}

type indexItem struct {
	kind              byte // 'i' int, 's' slice, 'e' ellipsis, 'n' new axis
	i                 int
	start, stop, step int
	hasStart, hasStop bool
}

func parseIndex(spec string) ([]indexItem, error) {
	var items []indexItem
	if strings.TrimSpace(spec) == "" {
		return nil, nil
	}
	ell := 0
	for _, part := range strings.Split(spec, ",") {
		p := strings.TrimSpace(part)
		switch {
		case p == "...":
			ell++
			items = append(items, indexItem{kind: 'e'})
		case p == "None" || p == "nil":
			items = append(items, indexItem{kind: 'n'})
		case strings.Contains(p, ":"):
			f := strings.Split(p, ":")
			if len(f) > 3 {
				return nil, errorf("bad slice %q", p)
			}
			it := indexItem{kind: 's', step: 1}
			parse := func(s string) (int, bool, error) {
				s = strings.TrimSpace(s)
				if s == "" {
					return 0, false, nil
				}
				v, err := strconv.Atoi(s)
				if err != nil {
					return 0, false, errorf("bad number %q in %q", s, p)
				}
				return v, true, nil
			}
			var err error
			if it.start, it.hasStart, err = parse(f[0]); err != nil {
				return nil, err
			}
			if it.stop, it.hasStop, err = parse(f[1]); err != nil {
				return nil, err
			}
			if len(f) == 3 {
				s, ok, err := parse(f[2])
				if err != nil {
					return nil, err
				}
				if ok {
					if s == 0 {
						return nil, errorf("slice step cannot be zero")
					}
					it.step = s
				}
			}
			items = append(items, it)
		default:
			v, err := strconv.Atoi(p)
			if err != nil {
				return nil, errorf("bad index %q (want an int, start:stop:step, ... or None)", p)
			}
			items = append(items, indexItem{kind: 'i', i: v})
		}
	}
	if ell > 1 {
		return nil, errorf("at most one ellipsis")
	}
	return items, nil
}

func (t *Tensor) index(spec string, items []indexItem) *Tensor {
	consumed := 0
	for _, it := range items {
		if it.kind == 'i' || it.kind == 's' {
			consumed++
		}
	}
	if consumed > len(t.shape) {
		panic(errorf("Slice(%q): too many indices for a tensor of shape %v", spec, t.shape))
	}
	// Expand the ellipsis (or pad at the end) to full slices.
	var full []indexItem
	expanded := false
	for _, it := range items {
		if it.kind == 'e' {
			for k := 0; k < len(t.shape)-consumed; k++ {
				full = append(full, indexItem{kind: 's', step: 1})
			}
			expanded = true
			continue
		}
		full = append(full, it)
	}
	if !expanded {
		for k := consumed; k < len(t.shape); k++ {
			full = append(full, indexItem{kind: 's', step: 1})
		}
	}
	geo := func(x *Tensor) *Tensor {
		off := x.off
		var shape, stride []int
		d := 0
		for _, it := range full {
			switch it.kind {
			case 'n':
				shape = append(shape, 1)
				stride = append(stride, 0)
			case 'i':
				i := it.i
				if i < 0 {
					i += x.shape[d]
				}
				if i < 0 || i >= x.shape[d] {
					panic(errorf("Slice(%q): index %d out of range for dimension %d of size %d", spec, it.i, d, x.shape[d]))
				}
				off += i * x.stride[d]
				d++
			case 's':
				start, n := sliceRange(it, x.shape[d])
				off += start * x.stride[d]
				shape = append(shape, n)
				stride = append(stride, x.stride[d]*it.step)
				d++
			}
		}
		return fromStorage(x.st, off, shape, stride)
	}
	g := geo(t)
	return makeView(t, "slice", g.off, g.shape, g.stride, geo)
}

// sliceRange resolves start and length of a python slice on a dimension of size n.
func sliceRange(it indexItem, n int) (start, length int) {
	step := it.step
	var lo, hi int
	if step > 0 {
		lo, hi = 0, n
		if it.hasStart {
			lo = clampIndex(it.start, n, 0, n)
		}
		if it.hasStop {
			hi = clampIndex(it.stop, n, 0, n)
		}
		if hi <= lo {
			return lo, 0
		}
		return lo, (hi - lo + step - 1) / step
	}
	lo, hi = n-1, -1
	if it.hasStart {
		lo = clampIndex(it.start, n, -1, n-1)
	}
	if it.hasStop {
		hi = clampIndex(it.stop, n, -1, n-1)
	}
	if lo <= hi {
		return max(lo, 0), 0
	}
	return lo, (lo - hi + (-step) - 1) / (-step)
}

func clampIndex(i, n, lo, hi int) int {
	if i < 0 {
		i += n
	}
	return min(max(i, lo), hi)
}

// Select returns the view t[..., i, ...] at dimension dim (removing it).
func (t *Tensor) Select(dim, i int) *Tensor {
	dim = normAxis(dim, len(t.shape))
	geo := func(x *Tensor) *Tensor {
		j := i
		if j < 0 {
			j += x.shape[dim]
		}
		if j < 0 || j >= x.shape[dim] {
			panic(errorf("Select: index %d out of range for dimension %d of size %d", i, dim, x.shape[dim]))
		}
		shape := append(cloneInts(x.shape[:dim]), x.shape[dim+1:]...)
		stride := append(cloneInts(x.stride[:dim]), x.stride[dim+1:]...)
		return fromStorage(x.st, x.off+j*x.stride[dim], shape, stride)
	}
	g := geo(t)
	return makeView(t, "select", g.off, g.shape, g.stride, geo)
}

// Narrow returns the view of length n starting at start along dim.
func (t *Tensor) Narrow(dim, start, n int) *Tensor {
	dim = normAxis(dim, len(t.shape))
	if start < 0 {
		start += t.shape[dim]
	}
	if start < 0 || n < 0 || start+n > t.shape[dim] {
		panic(errorf("Narrow: [%d, %d) out of range for dimension %d of size %d", start, start+n, dim, t.shape[dim]))
	}
	geo := func(x *Tensor) *Tensor {
		shape := cloneInts(x.shape)
		shape[dim] = n
		return fromStorage(x.st, x.off+start*x.stride[dim], shape, cloneInts(x.stride))
	}
	g := geo(t)
	return makeView(t, "narrow", g.off, g.shape, g.stride, geo)
}

// Transpose swaps two dimensions (a view).
func (t *Tensor) Transpose(a, b int) *Tensor {
	a, b = normAxis(a, len(t.shape)), normAxis(b, len(t.shape))
	perm := make([]int, len(t.shape))
	for i := range perm {
		perm[i] = i
	}
	perm[a], perm[b] = perm[b], perm[a]
	return t.Permute(perm...)
}

// T is the transpose of a 2-d tensor, or swaps the last two dimensions.
func (t *Tensor) T() *Tensor {
	if len(t.shape) < 2 {
		return t
	}
	return t.Transpose(-2, -1)
}

// Permute reorders dimensions (a view).
func (t *Tensor) Permute(perm ...int) *Tensor {
	if len(perm) != len(t.shape) {
		panic(errorf("Permute: %d axes for a %d-d tensor", len(perm), len(t.shape)))
	}
	seen := make([]bool, len(perm))
	for i, p := range perm {
		p = normAxis(p, len(perm))
		if seen[p] {
			panic(errorf("Permute: repeated axis %d", p))
		}
		seen[p] = true
		perm[i] = p
	}
	perm = cloneInts(perm)
	geo := func(x *Tensor) *Tensor {
		shape, stride := make([]int, len(perm)), make([]int, len(perm))
		for i, p := range perm {
			shape[i], stride[i] = x.shape[p], x.stride[p]
		}
		return fromStorage(x.st, x.off, shape, stride)
	}
	g := geo(t)
	return makeView(t, "permute", g.off, g.shape, g.stride, geo)
}

// Reshape returns a tensor with the same elements in a new shape; one
// dimension may be -1. It is a view when t is contiguous, else a copy.
func (t *Tensor) Reshape(shape ...int) *Tensor {
	shape = resolveShape(shape, t.Size())
	strides, ok := viewStrides(t.shape, t.stride, shape)
	if !ok {
		return t.Contiguous().Reshape(shape...)
	}
	if t.view != nil {
		// The view is replayed on a contiguous base (after a write to the
		// base): it must be a view of that layout too. A base that is not
		// contiguous itself (x.T().Detach()) can allow a reshape the
		// replay cannot do; then it is a copy (t may be contiguous: Clone).
		base := t.view.base
		rel := t.view.apply(&Tensor{shape: base.shape, stride: contiguousStrides(base.shape)})
		if _, ok := viewStrides(rel.shape, rel.stride, shape); !ok {
			return t.Clone().Reshape(shape...)
		}
	}
	geo := func(x *Tensor) *Tensor {
		st, ok := viewStrides(x.shape, x.stride, shape)
		if !ok { // x is laid out as t is, or as t would be on a contiguous base: never here
			panic(errorf("internal: reshape of %v strides %v to %v is no view", x.shape, x.stride, shape))
		}
		return fromStorage(x.st, x.off, cloneInts(shape), st)
	}
	return makeView(t, "reshape", t.off, cloneInts(shape), strides, geo)
}

// viewStrides returns strides that show the elements of a tensor of shape
// oldShape and strides oldStride, in row-major order, as shape newShape,
// or false when no strides do (then Reshape copies). It is PyTorch's rule
// for view: each run of old dimensions that are contiguous with each
// other can be split and merged freely, e.g. a slice of the last
// dimension reshaped into heads, [1, 10, 32] of a [1, 10, 96] tensor to
// [1, 10, 4, 8], stays a view.
func viewStrides(oldShape, oldStride, newShape []int) ([]int, bool) {
	newStride := make([]int, len(newShape))
	if numel(oldShape) == 0 || len(oldShape) == 0 {
		return contiguousStrides(newShape), true
	}
	viewD := len(newShape) - 1
	chunkBase := oldStride[len(oldStride)-1]
	tensorN, viewN := 1, 1
	for d := len(oldShape) - 1; d >= 0; d-- {
		tensorN *= oldShape[d]
		// The end of a run of dimensions contiguous with each other.
		if d == 0 || (oldShape[d-1] != 1 && oldStride[d-1] != tensorN*chunkBase) {
			for viewD >= 0 && (viewN < tensorN || newShape[viewD] == 1) {
				newStride[viewD] = viewN * chunkBase
				viewN *= newShape[viewD]
				viewD--
			}
			if viewN != tensorN {
				return nil, false
			}
			if d > 0 {
				chunkBase = oldStride[d-1]
				tensorN, viewN = 1, 1
			}
		}
	}
	if viewD != -1 {
		return nil, false
	}
	return newStride, true
}

// View is Reshape.
func (t *Tensor) View(shape ...int) *Tensor { return t.Reshape(shape...) }

// Flatten reshapes to one dimension.
func (t *Tensor) Flatten() *Tensor { return t.Reshape(-1) }

func resolveShape(shape []int, n int) []int {
	shape = cloneInts(shape)
	neg, prod := -1, 1
	for i, s := range shape {
		if s == -1 {
			if neg >= 0 {
				panic(errorf("Reshape: more than one -1 in %v", shape))
			}
			neg = i
			continue
		}
		prod *= s
	}
	if neg >= 0 {
		if prod == 0 || n%prod != 0 {
			panic(errorf("Reshape: cannot reshape %d elements into %v", n, shape))
		}
		shape[neg] = n / prod
	} else if prod != n {
		panic(errorf("Reshape: cannot reshape %d elements into %v", n, shape))
	}
	return shape
}

// Unsqueeze inserts a dimension of size 1 at dim.
func (t *Tensor) Unsqueeze(dim int) *Tensor {
	if n := len(t.shape); dim < -n-1 || dim > n {
		panic(errorf("Unsqueeze: dim %d out of range for a %d-d tensor (want %d..%d)", dim, n, -n-1, n))
	}
	if dim < 0 {
		dim += len(t.shape) + 1
	}
	shape := append(cloneInts(t.shape[:dim]), append([]int{1}, t.shape[dim:]...)...)
	return t.Reshape(shape...)
}

// Squeeze removes dimension dim, which must have size 1.
func (t *Tensor) Squeeze(dim int) *Tensor {
	dim = normAxis(dim, len(t.shape))
	if t.shape[dim] != 1 {
		panic(errorf("Squeeze: dimension %d has size %d", dim, t.shape[dim]))
	}
	return t.Select(dim, 0)
}

// Expand broadcasts size-1 dimensions to shape without copying.
func (t *Tensor) Expand(shape ...int) *Tensor {
	bs, ok := broadcastShapes(t.shape, shape)
	if !ok || !slices.Equal(bs, shape) {
		panic(errorf("Expand: cannot expand %v to %v", t.shape, shape))
	}
	// A view like the others, so that one used after a write to t reads
	// the write's history; Fill and Copy refuse to write through its
	// stride-0 dimensions.
	shape = bs // equal to shape, and the view's own
	geo := func(x *Tensor) *Tensor { return fromStorage(x.st, x.off, cloneInts(shape), broadcastStrides(x, shape)) }
	return makeView(t, "expand", t.off, shape, broadcastStrides(t, shape), geo)
}
