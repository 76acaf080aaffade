package runtime

import "slices"

// Concat joins tensors along axis; all other dimensions must match.
func Concat(axis int, ts ...*Tensor) *Tensor {
	if len(ts) == 0 {
		panic(errorf("Concat: no tensors"))
	}
	nd := len(ts[0].shape)
	axis = normAxis(axis, nd)
	shape := cloneInts(ts[0].shape)
	shape[axis] = 0
	for _, t := range ts {
		if len(t.shape) != nd {
			panic(errorf("Concat: tensors of shapes %v and %v have different ranks", ts[0].shape, t.shape))
		}
		for d := range t.shape {
			if d != axis && t.shape[d] != ts[0].shape[d] {
				panic(errorf("Concat: shapes %v and %v differ outside axis %d", ts[0].shape, t.shape, axis))
			}
		}
		shape[axis] += t.shape[axis]
	}
	sameDevice("Concat", ts...)
	out := newLike(ts[0], shape...)
	start := 0
	for _, t := range ts {
		copyStrided(out.Detach().Narrow(axis, start, t.shape[axis]).Detach(), t)
		start += t.shape[axis]
	}
	inputs := append([]*Tensor(nil), ts...)
	record(out, "concat", inputs, func(g *Tensor) []*Tensor {
		gs := make([]*Tensor, len(inputs))
		s := 0
		for i, t := range inputs {
			gs[i] = g.Narrow(axis, s, t.shape[axis]).Contiguous().Detach()
			if gs[i] == nil || !gs[i].IsContiguous() {
				gs[i] = gs[i].Clone()
			}
			s += t.shape[axis]
		}
		return gs
	})
	return out
}

// Stack joins same-shaped tensors along a new axis.
func Stack(axis int, ts ...*Tensor) *Tensor {
	if len(ts) == 0 {
		panic(errorf("Stack: no tensors"))
	}
	nd := len(ts[0].shape)
	if axis < -nd-1 || axis > nd {
		panic(errorf("Stack: axis %d out of range for %d-d tensors (want %d..%d)", axis, nd, -nd-1, nd))
	}
	if axis < 0 {
		axis += nd + 1
	}
	us := make([]*Tensor, len(ts))
	for i, t := range ts {
		if !slices.Equal(t.shape, ts[0].shape) {
			panic(errorf("Stack: shapes %v and %v differ", ts[0].shape, t.shape))
		}
		us[i] = t.Unsqueeze(axis)
	}
	return Concat(axis, us...)
}

// Where picks a where cond != 0, else b (all broadcast together).
func Where(cond, a, b *Tensor) *Tensor {
	shape, ok := broadcastShapes(cond.shape, a.shape)
	if ok {
		shape, ok = broadcastShapes(shape, b.shape)
	}
	if !ok {
		panic(errorf("Where: shapes %v, %v, %v do not broadcast", cond.shape, a.shape, b.shape))
	}
	if sameDevice("Where", cond, a, b) {
		return gpuWhere(cond, a, b, shape)
	}
	c := cond.Expand(shape...).Detach().Contiguous()
	mask := unary(c, func(x float32) float32 {
		if x != 0 {
			return 1
		}
		return 0
	})
	inv := unary(c, func(x float32) float32 {
		if x != 0 {
			return 0
		}
		return 1
	})
	out := binary(a.Detach().Expand(shape...).Detach(), mask, "Where", func(x, y float32) float32 { return x * y }, vmul)
	// Select without multiplying b by 0, so an inf/NaN in the unpicked side
	// does not leak.
	ad := a.Detach().Expand(shape...).Detach().Contiguous().raw()
	bd := b.Detach().Expand(shape...).Detach().Contiguous().raw()
	o, md := out.raw(), mask.raw()
	for i := range o {
		if md[i] != 0 {
			o[i] = ad[i]
		} else {
			o[i] = bd[i]
		}
	}
	recordNeeds(out, "where", []*Tensor{a, b}, func(g *Tensor, needs []bool) []*Tensor {
		gs := make([]*Tensor, 2)
		if needs[0] {
			gs[0] = sumTo(g.Mul(mask), a.shape)
		}
		if needs[1] {
			gs[1] = sumTo(g.Mul(inv), b.shape)
		}
		return gs
	})
	return out
}

// MaskedFill returns a copy of t with value where mask != 0.
func (t *Tensor) MaskedFill(mask *Tensor, value float64) *Tensor {
	sameDevice("MaskedFill", t, mask) // an error naming these operands, not Where's
	return Where(mask, constant(float32(value)), t)
}
