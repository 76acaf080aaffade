package runtime

// Matrix products. All of them end in sgemm (runtime/gemm), which reads
// transposed operands in place, so a transposed view never costs a copy.

// matOperand describes the last two dims of t as a GEMM operand: trans is
// true when the matrix is stored column-major (a transposed view).
func matOperand(t *Tensor) (x *Tensor, trans bool, ld int) {
	nd := len(t.shape)
	r, c := t.shape[nd-2], t.shape[nd-1]
	rs, cs := t.stride[nd-2], t.stride[nd-1]
	switch {
	case cs == 1 && (rs >= c || r == 1):
		return t, false, max(rs, c)
	case rs == 1 && (cs >= r || c == 1):
		return t, true, max(cs, r)
	}
	x = t.Contiguous()
	return x, false, c
}

// MatMul multiplies the last two dimensions, broadcasting leading ones,
// like torch.matmul: a 1-d operand is a row (on the left) or a column (on
// the right) whose dimension is dropped from the result, so two vectors
// give their dot product.
func (t *Tensor) MatMul(b *Tensor) *Tensor {
	a := t
	if len(a.shape) == 0 || len(b.shape) == 0 {
		panic(errorf("MatMul: need at least 1-d tensors, got %v and %v", a.shape, b.shape))
	}
	if len(a.shape) == 1 || len(b.shape) == 1 {
		if a.shape[len(a.shape)-1] != b.shape[max(len(b.shape)-2, 0)] {
			panic(errorf("MatMul: inner dimensions differ: %v x %v", a.shape, b.shape))
		}
		a2, b2 := a, b
		if len(a.shape) == 1 {
			a2 = a.Unsqueeze(0)
		}
		if len(b.shape) == 1 {
			b2 = b.Unsqueeze(1)
		}
		out := a2.MatMul(b2)
		nd := len(out.shape)
		shape := cloneInts(out.shape[:nd-2])
		if len(a.shape) > 1 {
			shape = append(shape, out.shape[nd-2])
		}
		if len(b.shape) > 1 {
			shape = append(shape, out.shape[nd-1])
		}
		return out.Reshape(shape...)
	}
	m, k := a.shape[len(a.shape)-2], a.shape[len(a.shape)-1]
	k2, n := b.shape[len(b.shape)-2], b.shape[len(b.shape)-1]
	if k != k2 {
		panic(errorf("MatMul: inner dimensions differ: %v x %v", a.shape, b.shape))
	}
	batch, ok := broadcastShapes(a.shape[:len(a.shape)-2], b.shape[:len(b.shape)-2])
	if !ok {
		panic(errorf("MatMul: batch dimensions of %v and %v do not broadcast", a.shape, b.shape))
	}
	outShape := append(cloneInts(batch), m, n)
	var out *Tensor
	if sameDevice("MatMul", a, b) {
		out = gpuEmpty(outShape...)
		gpuMatmulInto(out, a, b, batch, m, n, k)
	} else {
		out = New(outShape...)
		matmulInto(out, a, b, batch, m, n, k)
	}
	recordNeeds(out, "matmul", []*Tensor{a, b}, func(g *Tensor, needs []bool) []*Tensor {
		gs := make([]*Tensor, 2)
		if needs[0] {
			gs[0] = sumTo(g.MatMul(b.Detach().T()), a.shape)
		}
		if needs[1] {
			gs[1] = sumTo(a.Detach().T().MatMul(g), b.shape)
		}
		return gs
	}, savedIf(b.needsGrad(), a), savedIf(a.needsGrad(), b))
	return out
}

// matmulInto computes out[batch] = a[batch] @ b[batch] with broadcasting.
func matmulInto(out, a, b *Tensor, batch []int, m, n, k int) {
	ab := a.Expand(append(cloneInts(batch), m, k)...).Detach()
	bb := b.Expand(append(cloneInts(batch), k, n)...).Detach()
	nb := numel(batch)
	if nb == 0 || m == 0 || n == 0 {
		return
	}
	if k == 0 { // an empty sum; the operands' strides may point past their (empty) data
		clear(out.raw())
		return
	}
	// Fold all batch dims into a loop over row-major batch indices.
	nd := len(batch)
	idx := make([]int, nd)
	od := out.raw()
	ax, aT, lda := matOperand(ab)
	bx, bT, ldb := matOperand(bb)
	for i := 0; i < nb; i++ {
		ao, bo := ax.off, bx.off
		for d := 0; d < nd; d++ {
			ao += idx[d] * ax.stride[d]
			bo += idx[d] * bx.stride[d]
		}
		sgemm(aT, bT, m, n, k, 1, ax.st.data[ao:], lda, bx.st.data[bo:], ldb, 0, od[i*m*n:], n)
		for d := nd - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < batch[d] {
				break
			}
			idx[d] = 0
		}
	}
}

// Linear computes x @ w + bias for x [..., in], w [in, out] (GPT-2's Conv1D
// layout) and bias [out] (may be nil).
func Linear(x, w, bias *Tensor) *Tensor {
	in, outF := w.shape[0], w.shape[1]
	if x.shape[len(x.shape)-1] != in {
		panic(errorf("Linear: input %v does not match weight %v", x.shape, w.shape))
	}
	if sameDevice("Linear", x, w, bias) {
		return gpuLinear(x, w, bias)
	}
	xc := x.Contiguous()
	rows := numel(x.shape[:len(x.shape)-1]) // not Size()/in: in may be 0
	outShape := append(cloneInts(x.shape[:len(x.shape)-1]), outF)
	out := newEmpty(outShape...) // bias rows or the GEMM (beta 0) write all of it
	od := out.raw()
	if bias != nil {
		bd := bias.Contiguous().raw()
		for r := 0; r < rows; r++ {
			copy(od[r*outF:(r+1)*outF], bd)
		}
	}
	beta := float32(0)
	if bias != nil {
		beta = 1
	}
	wx, wT, ldw := matOperand(w)
	sgemm(false, wT, rows, outF, in, 1, xc.raw(), in, wx.st.data[wx.off:], ldw, beta, od, outF)
	inputs := []*Tensor{x, w, bias}
	recordNeeds(out, "linear", inputs, func(g *Tensor, needs []bool) []*Tensor {
		if c := sameRows(g, rows); c != nil && in > 0 {
			return linearBackwardSameRows(c.Contiguous().raw(), x, xc, wx, wT, ldw, bias != nil, needs)
		}
		gc := g.Contiguous().raw()
		gs := make([]*Tensor, 3)
		if needs[0] {
			gx := newEmpty(x.shape...)
			// dx = g @ w^T
			sgemm(false, !wT, rows, in, outF, 1, gc, outF, wx.st.data[wx.off:], ldw, 0, gx.raw(), in)
			gs[0] = gx
		}
		if needs[1] {
			if wT {
				// w is the transpose of an [out, in] matrix (a tied
				// lm_head): dw^T = g^T @ x lands in that layout, so the
				// transpose's backward can take it without a copy.
				gwT := newEmpty(outF, in)
				sgemm(true, false, outF, in, rows, 1, gc, outF, xc.raw(), in, 0, gwT.raw(), in)
				gs[1] = fromStorage(gwT.st, 0, []int{in, outF}, []int{1, in})
			} else {
				// dw = x^T @ g
				gw := newEmpty(in, outF)
				sgemm(true, false, in, outF, rows, 1, xc.raw(), in, gc, outF, 0, gw.raw(), outF)
				gs[1] = gw
			}
		}
		if bias != nil && needs[2] {
			gb := New(outF)
			bd := gb.raw()
			for r := 0; r < rows; r++ {
				vadd(bd, bd, gc[r*outF:(r+1)*outF])
			}
			gs[2] = gb
		}
		return gs
	}, savedIf(w.needsGrad(), x), savedIf(x.needsGrad(), w))
	return out
}

// sameRows returns g's first row when every one of its rows (of the
// leading dimensions) is that row, because g is expanded over them with
// stride 0: the gradient of a Sum or a Mean of a Linear's output
// (logits.Sum().Backward()). nil when there are fewer than 2 rows or
// they may differ.
func sameRows(g *Tensor, rows int) *Tensor {
	nd := len(g.shape)
	if rows < 2 || nd < 2 {
		return nil
	}
	for d := 0; d < nd-1; d++ {
		if g.shape[d] > 1 && g.stride[d] != 0 {
			return nil
		}
	}
	return fromStorage(g.st, g.off, g.shape[nd-1:], g.stride[nd-1:])
}

// linearBackwardSameRows is Linear's backward when every row of the
// upstream gradient is c (sameRows): with s the column sums of x,
// dx's rows are all c @ w^T, dw = s ⊗ c (an outer product) and db =
// rows * c. That is two GEMMs of one row instead of two of every row: for
// the logits of a 4x64 batch, 2 x 19.8 GFLOP become 2 x 0.08.
func linearBackwardSameRows(c []float32, x, xc, wx *Tensor, wT bool, ldw int, hasBias bool, needs []bool) []*Tensor {
	in := x.shape[len(x.shape)-1]
	outF := len(c)
	rows := numel(x.shape[:len(x.shape)-1])
	gs := make([]*Tensor, 3)
	if needs[0] {
		gx := newEmpty(x.shape...)
		d := gx.raw()
		sgemm(false, !wT, 1, in, outF, 1, c, outF, wx.st.data[wx.off:], ldw, 0, d[:in], in)
		for r := 1; r < rows; r++ {
			copy(d[r*in:(r+1)*in], d[:in])
		}
		gs[0] = gx
	}
	if needs[1] {
		s := sumTo(xc.Reshape(rows, in).Detach(), []int{in}).raw()
		if wT { // in w's own layout, as the general case
			gwT := newEmpty(outF, in)
			sgemm(false, false, outF, in, 1, 1, c, 1, s, in, 0, gwT.raw(), in)
			gs[1] = fromStorage(gwT.st, 0, []int{in, outF}, []int{1, in})
		} else {
			gw := newEmpty(in, outF)
			sgemm(false, false, in, outF, 1, 1, s, 1, c, outF, 0, gw.raw(), outF)
			gs[1] = gw
		}
	}
	if hasBias && needs[2] {
		gb := newEmpty(outF)
		bd := gb.raw()
		for v := range bd {
			bd[v] = float32(rows) * c[v]
		}
		gs[2] = gb
	}
	return gs
}
