package runtime

import "slices"

// In-place writes. They change the tensor's memory, which every view of the
// same storage sees, and keep autograd right: the written region's history
// is replaced by the source's, as PyTorch's copy_ on a view does.

// Fill sets every element of t (a tensor or a view) to v, in place.
func (t *Tensor) Fill(v float64) *Tensor {
	return t.Copy(constant(float32(v)))
}

// Zero sets every element to 0 in place.
func (t *Tensor) Zero() *Tensor { return t.Fill(0) }

// Copy writes src (broadcast to t's shape) into t in place.
func (t *Tensor) Copy(src *Tensor) *Tensor {
	if src == nil {
		panic(errorf("Copy: nil source"))
	}
	bs, ok := broadcastShapes(t.shape, src.shape)
	if !ok || !slices.Equal(bs, t.shape) {
		panic(errorf("Copy: source of shape %v does not broadcast to %v", src.shape, t.shape))
	}
	if hasOverlap(t) {
		panic(errorf("Copy: cannot write through a broadcast (expanded) view of shape %v", t.shape))
	}
	if !src.constant {
		sameDevice("Copy", t, src)
	}
	s := src
	if s.st == t.st {
		s = src.Detach().Clone() // source aliases the destination
	}
	t.st.writable()
	copyStrided(t.Detach(), s.Detach().Expand(t.shape...).Detach())
	t.st.version++
	if gradDisabled > 0 || (!t.needsGrad() && !src.needsGrad() && (t.view == nil || !t.view.base.requiresGrad)) {
		return t
	}
	t.rebaseAfterWrite(src)
	noteWrittenOutside(t)
	return t
}

// refreshView gives a view whose base was written in place since the
// view's history was recorded the base's current history, as PyTorch
// regenerates a view's grad_fn: the values it reads now are the write's.
// Ops that read the view before keep its old history (in t.olds), so
// v := h.Slice("0"); y := v.Mul(2); h.Fill(0) still sends y's gradient to
// h's history before the fill. Ops call it on their inputs (recordNeeds).
func (t *Tensor) refreshView() {
	if t == nil || t.view == nil || gradDisabled > 0 {
		return
	}
	v := t.view
	if v.gen == len(v.base.olds) || (t.node == nil && t.requiresGrad) {
		return // current, or a leaf made by RequiresGrad on the view
	}
	t.olds = append(t.olds, t.snapshot())
	base, region := v.base, v.apply
	t.view = &viewOf{base: base, apply: region, gen: len(base.olds)}
	t.node = nil
	t.requiresGrad = false
	recordRaw(t, "view_after_write", []*Tensor{base}, viewGrad(base, region))
}

// snapshot is t as it is now (memory, geometry, history, view), without
// hooks: what ops that read t before an in-place write keep (t.olds).
func (t *Tensor) snapshot() *Tensor {
	return &Tensor{st: t.st, off: t.off, shape: t.shape, stride: t.stride,
		requiresGrad: t.requiresGrad, node: t.node, view: t.view}
}

// viewGrad is the backward of a view of base with geometry region: the
// gradient scattered into zeros of base's shape, summed over the stride-0
// dimensions of an expanded view (whose elements share memory).
func viewGrad(base *Tensor, region func(*Tensor) *Tensor) func(g *Tensor, _ []bool) []*Tensor {
	return func(g *Tensor, _ []bool) []*Tensor {
		r := regionOn(base.shape, region)
		if slices.Equal(r.stride, g.stride) && numel(r.shape) == numel(base.shape) && dense(r) {
			// The view reorders all of base (a transpose, a permutation;
			// r fills base's memory from 0) and g is laid out like it:
			// g's memory, seen in base's shape, is the answer (no zeros,
			// no copy).
			lo, _ := span(g)
			return []*Tensor{fromStorage(g.st, lo, cloneInts(base.shape), contiguousStrides(base.shape))}
		}
		if gb, ok := reorderedGrad(base.shape, r, g); ok {
			return []*Tensor{gb}
		}
		z := newLike(g, base.shape...)
		r = fromStorage(z.st, r.off, r.shape, r.stride)
		if hasOverlap(r) {
			shape := cloneInts(r.shape)
			for i, s := range r.stride {
				if s == 0 {
					shape[i] = 1
				}
			}
			g = sumTo(g, shape)
			r = fromStorage(r.st, r.off, shape, r.stride)
		}
		copyStrided(r, g)
		return []*Tensor{z}
	}
}

// reorderedGrad is the gradient of a base of shape baseShape for a view
// (geometry r on base's contiguous layout) that reorders all of base, each
// of its dimensions one of base's (a transpose, a permutation): g seen
// through the inverse reordering, a view of g's memory, as PyTorch's
// PermuteBackward returns. GPT-2's q, k and v (permuted views of the
// projection) so reach the projection's gradient with one copy, not three.
func reorderedGrad(baseShape []int, r, g *Tensor) (*Tensor, bool) {
	if r.off != 0 || numel(r.shape) != numel(baseShape) {
		return nil, false
	}
	cs := contiguousStrides(baseShape)
	stride := make([]int, len(baseShape))
	used := make([]bool, len(baseShape))
	for i, n := range r.shape {
		if n == 1 {
			continue // any stride will do
		}
		j := -1
		for k, m := range baseShape {
			if !used[k] && m == n && cs[k] == r.stride[i] {
				j = k
				break
			}
		}
		if j < 0 {
			return nil, false
		}
		used[j] = true
		stride[j] = g.stride[i]
	}
	for k, n := range baseShape {
		if n != 1 && !used[k] {
			return nil, false
		}
	}
	return fromStorage(g.st, g.off, cloneInts(baseShape), stride), true
}

// regionOn is a view's geometry (region, a makeView apply) on a
// contiguous tensor of shape: region reads no memory.
func regionOn(shape []int, region func(*Tensor) *Tensor) *Tensor {
	return region(fromStorage(&storage{}, 0, shape, contiguousStrides(shape)))
}

// scatterView is viewGrad's shortcut for when the view's input already has
// a pending gradient acc that the pass owns: g is added into the view's
// region of acc in place, one pass over the view, where viewGrad writes
// zeros of the input's shape, copies g in and then sums the two. The parts
// of a split (GPT-2's q, k and v of one projection) so fill one buffer. It
// reports false (nothing done) when it cannot: acc not contiguous, or a
// region whose elements share memory (an expanded view).
func scatterView(region func(*Tensor) *Tensor, acc, g *Tensor) bool {
	if !acc.IsContiguous() {
		return false
	}
	r := regionOn(acc.shape, region)
	return addInPlace(fromStorage(acc.st, acc.off+r.off, r.shape, r.stride), g)
}

// rebaseAfterWrite rewrites autograd history after src was written into t:
// the base tensor (t, or the tensor t views) becomes a new op whose
// gradient flows to its old history outside the written region and to src
// inside it.
func (t *Tensor) rebaseAfterWrite(src *Tensor) {
	// Views written or read here take the history of earlier writes
	// first; the nodes below then pin the generations they read.
	t.refreshView()
	src.refreshView()
	base, region := t, func(x *Tensor) *Tensor { return x }
	if t.view != nil {
		base, region = t.view.base, t.view.apply
	}
	old := base.snapshot()
	// Ops that read base before this write keep its old history.
	base.olds = append(base.olds, old)
	if t != base {
		t.olds = append(t.olds, t.snapshot())
	}
	srcShape := src.shape
	tShape := t.shape
	base.node = nil
	base.requiresGrad = false
	recordRaw(base, "copy_", []*Tensor{old, src}, func(g *Tensor, needs []bool) []*Tensor {
		gs := make([]*Tensor, 2)
		gc := g.Detach().Clone()
		if needs[1] {
			r := region(gc).Detach()
			gs[1] = sumTo(r.Contiguous().Detach().Clone(), srcShape)
		}
		if needs[0] {
			copyStrided(region(gc).Detach(), constant(0).Expand(tShape...))
			gs[0] = gc
		}
		return gs
	})
	if t != base {
		// t itself now reads the new base.
		t.node = nil
		t.requiresGrad = false
		t.view = &viewOf{base: base, apply: region, gen: len(base.olds)}
		recordRaw(t, "view_after_write", []*Tensor{base}, viewGrad(base, region))
	}
}

// hasOverlap reports whether distinct indices of t can map to the same
// memory (a stride-0 dimension of size > 1). A tensor without elements
// has no two (a fresh [3 0] has strides [0 1]).
func hasOverlap(t *Tensor) bool {
	if numel(t.shape) == 0 {
		return false
	}
	for i, s := range t.stride {
		if s == 0 && t.shape[i] > 1 {
			return true
		}
	}
	return false
}
