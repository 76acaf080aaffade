package runtime

import (
	"math"
	"sync"

	"nnscope/runtime/cuda"
)

// GPU versions of the ops: each op in the CPU files first asks
// sameDevice and comes here for GPU tensors. Forward and backward sit side
// by side as in the CPU code; the arithmetic is in runtime/cuda's kernels.

var binaryOps = map[string]cuda.BinaryOp{"Add": cuda.OpAdd, "Sub": cuda.OpSub, "Mul": cuda.OpMul, "Div": cuda.OpDiv}

// gpuBinary is binary() on the GPU. A number operand (a constant scalar)
// becomes a scalar kernel parameter instead of an upload.
func gpuBinary(a, b *Tensor, name string) *Tensor {
	if b.constant && !b.onGPU() {
		return gpuScalarOp(a, name, float32(b.st.data[b.off]), false)
	}
	if a.constant && !a.onGPU() {
		return gpuScalarOp(b, name, float32(a.st.data[a.off]), true)
	}
	shape, ok := broadcastShapes(a.shape, b.shape)
	if !ok {
		panic(errorf("%s: shapes %v and %v do not broadcast", name, a.shape, b.shape))
	}
	out := gpuEmpty(shape...)
	check(name, gpuDev.Binary(binaryOps[name], cuda.Contig(out.gbuf(), shape...), a.gs(), b.gs()))
	return out
}

// negStrides reports whether t has a negative stride (a view with a
// negative step, x.Slice("::-1")). The strided kernels take them; cuBLAS
// does not (gpuMatmulInto).
func negStrides(t *Tensor) bool {
	for _, s := range t.stride {
		if s < 0 {
			return true
		}
	}
	return false
}

// gpuScalarOp computes x op p (or p op x when swapped) elementwise.
func gpuScalarOp(x *Tensor, name string, p float32, swapped bool) *Tensor {
	xc := gpuContig(x)
	out := gpuEmpty(x.shape...)
	n := x.Size()
	var err error
	switch {
	case name == "Add":
		err = gpuDev.Unary(cuda.OpAddScalar, out.gbuf(), xc.gbuf(), n, p)
	case name == "Mul":
		err = gpuDev.Unary(cuda.OpScale, out.gbuf(), xc.gbuf(), n, p)
	case name == "Sub" && !swapped:
		err = gpuDev.Unary(cuda.OpAddScalar, out.gbuf(), xc.gbuf(), n, -p)
	case name == "Sub":
		err = gpuDev.Unary(cuda.OpRSubScalar, out.gbuf(), xc.gbuf(), n, p)
	case name == "Div" && !swapped:
		err = gpuDev.Unary(cuda.OpScale, out.gbuf(), xc.gbuf(), n, 1/p)
	default:
		err = gpuDev.Unary(cuda.OpRDivScalar, out.gbuf(), xc.gbuf(), n, p)
	}
	check(name, err)
	return out
}

// gpuUnary applies a unary kernel and records its backward kernel.
func gpuUnary(t *Tensor, op cuda.UnaryOp, p float32, name string) *Tensor {
	x := gpuContig(t)
	out := gpuEmpty(t.shape...)
	check(name, gpuDev.Unary(op, out.gbuf(), x.gbuf(), t.Size(), p))
	// Keep (and check for in-place writes) only what the backward reads,
	// as the CPU ops do: a write to exp's input is no error.
	var xb, yb cuda.Buffer
	var saved []*Tensor
	switch readsX, readsY := op.BackwardReads(); {
	case readsY:
		yb, saved = out.gbuf(), []*Tensor{out}
	case readsX:
		xb, saved = x.gbuf(), []*Tensor{x}
	}
	recordNeeds(out, name, []*Tensor{t}, func(g *Tensor, _ []bool) []*Tensor {
		gi := gpuEmpty(t.shape...)
		check(name+" backward", gpuDev.UnaryBackward(op, gi.gbuf(), gpuContig(g).gbuf(), xb, yb, t.Size(), p))
		return []*Tensor{gi}
	}, saved...)
	return out
}

// gpuCopy is copyStrided on the GPU; a constant source is a fill.
func gpuCopy(dst, src *Tensor) {
	if !src.onGPU() && len(src.st.data) != 1 || !dst.onGPU() {
		panic(errorf("copy: tensors on different devices (%s and %s): move one with .To(%q)", dst.Device(), src.Device(), dst.Device()))
	}
	if !src.onGPU() { // a number, possibly expanded
		check("fill", gpuDev.Fill(dst.gs(), src.st.data[src.off]))
		return
	}
	check("copy", gpuDev.Copy(dst.gs(), src.gs()))
}

// gpuSumTo is sumTo on the GPU.
func gpuSumTo(g *Tensor, shape []int) *Tensor {
	out := gpuEmpty(shape...)
	check("sum", gpuDev.SumTo(out.gbuf(), g.gs(), shape, 1, 0))
	return out
}

func gpuRows(t *Tensor) (rows, n int) {
	n = 1 // a 0-d tensor is one row of one element
	if len(t.shape) > 0 {
		n = t.shape[len(t.shape)-1]
	}
	return t.Size() / max(n, 1), n
}

func gpuSoftmax(t *Tensor, log bool) *Tensor {
	x := gpuContig(t)
	rows, n := gpuRows(t)
	out := gpuEmpty(t.shape...)
	name := "softmax"
	if log {
		name = "log_softmax"
		check(name, gpuDev.LogSoftmax(out.gbuf(), x.gbuf(), rows, n))
	} else {
		check(name, gpuDev.Softmax(out.gbuf(), x.gbuf(), rows, n))
	}
	recordNeeds(out, name, []*Tensor{t}, func(g *Tensor, _ []bool) []*Tensor {
		gi := gpuEmpty(t.shape...)
		if log {
			check(name, gpuDev.LogSoftmaxBackward(gi.gbuf(), gpuContig(g).gbuf(), out.gbuf(), rows, n))
		} else {
			check(name, gpuDev.SoftmaxBackward(gi.gbuf(), gpuContig(g).gbuf(), out.gbuf(), rows, n))
		}
		return []*Tensor{gi}
	}, out)
	return out
}

func optBuf(t *Tensor) cuda.Buffer {
	if t == nil {
		return cuda.Buffer{}
	}
	return gpuContig(t).gbuf()
}

func gpuLayerNorm(x, w, b *Tensor, eps float64) *Tensor {
	xc := gpuContig(x)
	rows, n := gpuRows(x)
	out := gpuEmpty(x.shape...)
	mean, rstd := gpuEmpty(rows), gpuEmpty(rows)
	check("layer_norm", gpuDev.LayerNorm(out.gbuf(), mean.gbuf(), rstd.gbuf(), xc.gbuf(), optBuf(w), optBuf(b), rows, n, float32(eps)))
	recordNeeds(out, "layer_norm", []*Tensor{x, w, b}, func(g *Tensor, needs []bool) []*Tensor {
		gs := make([]*Tensor, 3)
		var dx, dw, db cuda.Buffer
		if needs[0] {
			gs[0] = gpuEmpty(x.shape...)
			dx = gs[0].gbuf()
		}
		if w != nil && needs[1] {
			gs[1] = gpuEmpty(n)
			dw = gs[1].gbuf()
		}
		if b != nil && needs[2] {
			gs[2] = gpuEmpty(n)
			db = gs[2].gbuf()
		}
		check("layer_norm backward", gpuDev.LayerNormBackward(dx, dw, db, gpuContig(g).gbuf(), xc.gbuf(), optBuf(w), mean.gbuf(), rstd.gbuf(), rows, n))
		return gs
	}, x, w, b)
	return out
}

func uploadInts(ids []int) *Tensor {
	d := make([]int32, len(ids))
	for i, v := range ids {
		d[i] = int32(v)
	}
	t := gpuEmpty(len(ids))
	check("upload", gpuDev.UploadInt32(t.gbuf(), d))
	return t
}

func gpuEmbedding(weight *Tensor, ids []int, idsShape []int) *Tensor {
	V, C := weight.shape[0], weight.shape[1]
	for _, id := range ids {
		if id < 0 || id >= V {
			panic(errorf("Embedding: token id %d out of range [0, %d)", id, V))
		}
	}
	w := gpuContig(weight)
	idb := uploadInts(ids)
	out := gpuEmpty(append(cloneInts(idsShape), C)...)
	check("embedding", gpuDev.Embedding(out.gbuf(), w.gbuf(), idb.gbuf(), len(ids), C, V))
	record(out, "embedding", []*Tensor{weight}, func(g *Tensor) []*Tensor {
		gw := gpuNew(V, C)
		check("embedding backward", gpuDev.EmbeddingBackward(gw.gbuf(), gpuContig(g).gbuf(), idb.gbuf(), len(ids), C, V, true))
		return []*Tensor{gw}
	})
	return out
}

func gpuCausalSoftmax(scores *Tensor, scale float32, keyMask [][]float32) *Tensor {
	x := gpuContig(scores)
	B, H, Tq, Tk := x.shape[0], x.shape[1], x.shape[2], x.shape[3]
	var mask cuda.Buffer
	if keyMask != nil {
		mask = uploadMask(keyMask, B, Tk).gbuf()
	}
	out := gpuEmpty(x.shape...)
	check("causal_softmax", gpuDev.CausalSoftmax(out.gbuf(), x.gbuf(), mask, B, H, Tq, Tk, scale))
	recordNeeds(out, "causal_softmax", []*Tensor{scores}, func(g *Tensor, _ []bool) []*Tensor {
		gi := gpuEmpty(x.shape...)
		check("causal_softmax backward", gpuDev.CausalSoftmaxBackward(gi.gbuf(), gpuContig(g).gbuf(), out.gbuf(), B*H*Tq, Tk, scale))
		return []*Tensor{gi}
	}, out)
	return out
}

func gpuCrossEntropy(logits *Tensor, targets []int) *Tensor {
	x := gpuContig(logits)
	N, V := x.shape[0], x.shape[1]
	for _, tg := range targets {
		if tg != -100 && (tg < 0 || tg >= V) {
			panic(errorf("CrossEntropy: target %d out of range [0, %d)", tg, V))
		}
	}
	tb := uploadInts(targets)
	loss2, lse := gpuEmpty(2), gpuEmpty(N)
	check("cross_entropy", gpuDev.CrossEntropy(loss2.gbuf(), lse.gbuf(), x.gbuf(), tb.gbuf(), N, V))
	out := loss2.Narrow(0, 0, 1).Reshape().Detach()
	record(out, "cross_entropy", []*Tensor{logits}, func(g *Tensor) []*Tensor {
		gi := gpuEmpty(N, V)
		check("cross_entropy backward", gpuDev.CrossEntropyBackward(gi.gbuf(), x.gbuf(), lse.gbuf(), tb.gbuf(), loss2.gbuf(), gpuContig(g).gbuf(), N, V))
		return []*Tensor{gi}
	})
	return out
}

// gpuMatmulInto is matmulInto on the GPU: cuBLAS reads transposed views
// in place, and the batch dimensions go to one strided-batched GEMM when
// each operand walks them with one stride (contiguous, or broadcast).
// Attention's Q and K are views into the fused QKV projection whose batch
// and head strides do not merge; rather than a GEMM call per batch row (32
// calls of 12 small products for a 32x128 batch, per layer and product),
// such an operand is copied contiguous first: one copy kernel and one GEMM.
func gpuMatmulInto(out, a, b *Tensor, batch []int, m, n, k int) {
	if out.Size() == 0 {
		return
	}
	if k == 0 { // an empty sum: zeros (cuBLAS refuses leading dimension 0)
		check("matmul", gpuDev.Memset(out.st.gpu.buf, 0))
		return
	}
	// cuBLAS takes no negative strides: a reversed view is copied first.
	if negStrides(a) {
		a = a.Detach().Contiguous()
	}
	if negStrides(b) {
		b = b.Detach().Contiguous()
	}
	ab := a.Expand(append(cloneInts(batch), m, k)...).Detach()
	bb := b.Expand(append(cloneInts(batch), k, n)...).Detach()
	ax, aT, lda := matOperand(ab)
	bx, bT, ldb := matOperand(bb)
	gemmFlops.Add(2 * int64(numel(batch)) * int64(m) * int64(n) * int64(k))
	sa, okA := batchStride(ax, batch)
	sb, okB := batchStride(bx, batch)
	if len(batch) > 1 && numel(batch[:len(batch)-1]) > 2 {
		if !okA {
			ax, aT, lda = matOperand(ab.Contiguous())
			sa, okA = batchStride(ax, batch)
		}
		if !okB {
			bx, bT, ldb = matOperand(bb.Contiguous())
			sb, okB = batchStride(bx, batch)
		}
	}
	ob := out.gbuf()
	abuf, bbuf := ax.liveBuf(), bx.liveBuf()
	if okA && okB {
		av, bv := abuf.Slice(ax.off, abuf.Len()-ax.off), bbuf.Slice(bx.off, bbuf.Len()-bx.off)
		nb := numel(batch)
		if cuda.GemmSmallFits(m, n, k, nb) && sa <= math.MaxInt32 && sb <= math.MaxInt32 { // strides of views into big tensors may not fit a C int
			// Attention over a few tokens: one launch, no cuBLAS call.
			check("matmul", gpuDev.GemmSmall(aT, bT, m, n, k, av, lda, sa, bv, ldb, sb, ob, n, m*n, nb))
			return
		}
		if nb == 1 {
			check("matmul", gpuDev.Sgemm(aT, bT, m, n, k, 1, av, lda, bv, ldb, 0, ob, n))
		} else {
			check("matmul", gpuDev.SgemmStridedBatched(aT, bT, m, n, k, 1, av, lda, sa, bv, ldb, sb, 0, ob, n, m*n, nb))
		}
		return
	}
	// The last batch dimension in one strided-batched call, a call per
	// index of the others.
	nd := len(batch)
	inner := 1
	sa, sb = 0, 0
	if nd > 0 {
		inner, sa, sb = batch[nd-1], ax.stride[nd-1], bx.stride[nd-1]
		nd--
	}
	outer := numel(batch[:nd])
	idx := make([]int, nd)
	for i := 0; i < outer; i++ {
		ao, bo := ax.off, bx.off
		for d := 0; d < nd; d++ {
			ao += idx[d] * ax.stride[d]
			bo += idx[d] * bx.stride[d]
		}
		cb := ob.Slice(i*inner*m*n, inner*m*n)
		av, bv := abuf.Slice(ao, abuf.Len()-ao), bbuf.Slice(bo, bbuf.Len()-bo)
		if inner == 1 {
			check("matmul", gpuDev.Sgemm(aT, bT, m, n, k, 1, av, lda, bv, ldb, 0, cb, n))
		} else {
			check("matmul", gpuDev.SgemmStridedBatched(aT, bT, m, n, k, 1, av, lda, sa, bv, ldb, sb, 0, cb, n, m*n, inner))
		}
		for d := nd - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < batch[d] {
				break
			}
			idx[d] = 0
		}
	}
}

// batchStride returns the one stride with which t (shaped batch + a
// matrix) walks its flattened batch dimensions, if there is one: the
// dimensions of size above 1 nest (stride[d] = stride[d+1] * batch[d+1]),
// or all broadcast (stride 0).
func batchStride(t *Tensor, batch []int) (int, bool) {
	stride, span, set := 0, 0, false // span: elements one step of the dims seen so far covers
	for d := len(batch) - 1; d >= 0; d-- {
		if batch[d] == 1 {
			continue
		}
		st := t.stride[d]
		switch {
		case st < 0:
			return 0, false // a reversed batch: cuBLAS's strides are not negative
		case !set:
			stride, span, set = st, st*batch[d], true
		case st == span:
			span *= batch[d]
		default:
			return 0, false
		}
	}
	return stride, true // 0 for a single matrix
}

// gpuLinear is Linear on the GPU: out = x @ w (+ bias), dx = g @ w^T,
// dw = x^T @ g, db = column sums of g.
func gpuLinear(x, w, bias *Tensor) *Tensor {
	in, outF := w.shape[0], w.shape[1]
	xc := gpuContig(x)
	rows := numel(x.shape[:len(x.shape)-1]) // not Size()/in: in may be 0
	outShape := append(cloneInts(x.shape[:len(x.shape)-1]), outF)
	out := gpuEmpty(outShape...)
	wx, wT, ldw := matOperand(w)
	wbuf := wx.st.gpu.buf.Slice(wx.off, wx.st.gpu.buf.Len()-wx.off)
	gemmFlops.Add(2 * int64(rows) * int64(outF) * int64(in))
	biasAdded := false
	switch {
	case in == 0: // an empty sum: zeros (cuBLAS refuses leading dimension 0)
		check("linear", gpuDev.Memset(out.st.gpu.buf, 0))
	case cuda.LinearSmallFits(rows, outF, in): // a few tokens: one launch, the bias added
		var b cuda.Buffer
		if bias != nil {
			b = gpuContig(bias).gbuf()
		}
		check("linear", gpuDev.LinearSmall(out.gbuf(), xc.gbuf(), wbuf, b, rows, outF, in, wT, ldw))
		biasAdded = true
	default:
		check("linear", gpuDev.Sgemm(false, wT, rows, outF, in, 1, xc.gbuf(), in, wbuf, ldw, 0, out.gbuf(), outF))
	}
	if bias != nil && !biasAdded {
		o := cuda.Contig(out.gbuf(), rows, outF)
		check("linear bias", gpuDev.Binary(cuda.OpAdd, o, o, gpuContig(bias).gs()))
	}
	recordNeeds(out, "linear", []*Tensor{x, w, bias}, func(g *Tensor, needs []bool) []*Tensor {
		if c := sameRows(g, rows); c != nil && in > 0 {
			return gpuLinearBackwardSameRows(gpuContig(c), x, xc, wbuf, wT, ldw, bias != nil, needs)
		}
		gc := gpuContig(g)
		gs := make([]*Tensor, 3)
		if needs[0] && in == 0 {
			gs[0] = gpuEmpty(x.shape...) // no elements
		} else if needs[0] {
			gemmFlops.Add(2 * int64(rows) * int64(outF) * int64(in))
			gx := gpuEmpty(x.shape...)
			if cuda.LinearSmallFits(rows, in, outF) {
				check("linear backward", gpuDev.LinearSmall(gx.gbuf(), gc.gbuf(), wbuf, cuda.Buffer{}, rows, in, outF, !wT, ldw))
			} else {
				check("linear backward", gpuDev.Sgemm(false, !wT, rows, in, outF, 1, gc.gbuf(), outF, wbuf, ldw, 0, gx.gbuf(), in))
			}
			gs[0] = gx
		}
		if needs[1] && in == 0 {
			gs[1] = gpuEmpty(in, outF) // no elements
		} else if needs[1] {
			gemmFlops.Add(2 * int64(rows) * int64(outF) * int64(in))
			if wT { // in w's own layout, as on the CPU (Linear)
				gwT := gpuEmpty(outF, in)
				check("linear backward", gpuDev.Sgemm(true, false, outF, in, rows, 1, gc.gbuf(), outF, xc.gbuf(), in, 0, gwT.gbuf(), in))
				gs[1] = fromStorage(gwT.st, 0, []int{in, outF}, []int{1, in})
			} else {
				gw := gpuEmpty(in, outF)
				check("linear backward", gpuDev.Sgemm(true, false, in, outF, rows, 1, xc.gbuf(), in, gc.gbuf(), outF, 0, gw.gbuf(), outF))
				gs[1] = gw
			}
		}
		if bias != nil && needs[2] {
			gs[2] = gpuSumTo(gc.Reshape(rows, outF).Detach(), []int{outF})
		}
		return gs
	}, savedIf(w.needsGrad(), x), savedIf(x.needsGrad(), w))
	return out
}

// gpuLinearBackwardSameRows is linearBackwardSameRows on the GPU: one row
// of dx by a one-row GEMM, broadcast by a copy; dw as the outer product of
// x's column sums and c (a GEMM of depth 1); db = rows * c.
func gpuLinearBackwardSameRows(c, x, xc *Tensor, wbuf cuda.Buffer, wT bool, ldw int, hasBias bool, needs []bool) []*Tensor {
	in := x.shape[len(x.shape)-1]
	outF := c.Size()
	rows := numel(x.shape[:len(x.shape)-1])
	gs := make([]*Tensor, 3)
	if needs[0] {
		gemmFlops.Add(2 * int64(outF) * int64(in))
		row := gpuEmpty(in)
		if cuda.LinearSmallFits(1, in, outF) {
			check("linear backward", gpuDev.LinearSmall(row.gbuf(), c.gbuf(), wbuf, cuda.Buffer{}, 1, in, outF, !wT, ldw))
		} else { // the lm_head's: k = the vocabulary
			check("linear backward", gpuDev.Sgemm(false, !wT, 1, in, outF, 1, c.gbuf(), outF, wbuf, ldw, 0, row.gbuf(), in))
		}
		gx := gpuEmpty(x.shape...)
		check("linear backward", gpuDev.Copy(cuda.Contig(gx.gbuf(), rows, in), cuda.Strided{Buf: row.gbuf(), Shape: []int{rows, in}, Strides: []int{0, 1}}))
		gs[0] = gx
	}
	if needs[1] {
		gemmFlops.Add(2 * int64(outF) * int64(in))
		s := gpuSumTo(xc.Reshape(rows, in).Detach(), []int{in})
		if wT { // in w's own layout, as the general case
			gwT := gpuEmpty(outF, in)
			check("linear backward", gpuDev.Sgemm(false, false, outF, in, 1, 1, c.gbuf(), 1, s.gbuf(), in, 0, gwT.gbuf(), in))
			gs[1] = fromStorage(gwT.st, 0, []int{in, outF}, []int{1, in})
		} else {
			gw := gpuEmpty(in, outF)
			check("linear backward", gpuDev.Sgemm(false, false, in, outF, 1, 1, s.gbuf(), 1, c.gbuf(), outF, 0, gw.gbuf(), outF))
			gs[1] = gw
		}
	}
	if hasBias && needs[2] {
		gs[2] = gpuScalarOp(c, "Mul", float32(rows), false)
	}
	return gs
}

// viaCPU runs an op on host copies where the GPU backend lacks its kernel
// (TopK and Where on a backend without them, gpuselect.go):
// To is differentiable, so gradients still reach the GPU inputs.
func viaCPU(ts ...*Tensor) []*Tensor {
	out := make([]*Tensor, len(ts))
	for i, t := range ts {
		out[i] = t.To("cpu")
	}
	return out
}

// The key mask is the same [][]float32 for every layer of a forward pass:
// upload it once, not once per layer (an upload waits for the queued work).
// The cache holds the mask itself, not just its address: a collected mask's
// address could come back holding another mask.
var maskCache struct {
	sync.Mutex
	mask [][]float32
	B, T int
	t    *Tensor
}

func uploadMask(keyMask [][]float32, B, Tk int) *Tensor {
	maskCache.Lock()
	defer maskCache.Unlock()
	c := &maskCache
	if c.t != nil && len(c.mask) > 0 && &c.mask[0][0] == &keyMask[0][0] && c.B == B && c.T == Tk && !c.t.st.gpu.isFreed() {
		return c.t
	}
	flat := make([]float32, 0, B*Tk)
	for b := 0; b < B; b++ {
		flat = append(flat, keyMask[b][:Tk]...)
	}
	m := gpuEmpty(B * Tk)
	check("upload", gpuDev.Upload(m.gbuf(), flat))
	c.mask, c.B, c.T, c.t = keyMask, B, Tk, m
	return m
}
