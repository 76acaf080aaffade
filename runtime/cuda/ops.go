package cuda

import "fmt"

// BinaryOp selects an elementwise binary operation.
type BinaryOp int

// Binary operations (codes match kernels/elementwise.cu).
const (
	OpAdd BinaryOp = iota
	OpSub
	OpMul
	OpDiv
)

// UnaryOp selects an elementwise unary operation; p is its parameter where
// it has one (Pow's exponent, the scalar of the scalar ops).
type UnaryOp int

// Unary operations (codes match kernels/elementwise.cu).
const (
	OpNeg        UnaryOp = iota // -x
	OpAbs                       // |x|
	OpExp                       // e^x
	OpLog                       // ln x
	OpTanh                      // tanh x
	OpSqrt                      // sqrt x
	OpRelu                      // max(x, 0)
	OpGeluNew                   // GPT-2's tanh GELU
	OpGelu                      // exact (erf) GELU
	OpPow                       // x^p
	OpScale                     // p*x
	OpAddScalar                 // x+p
	OpRSubScalar                // p-x
	OpRDivScalar                // p/x
)

// BackwardReads reports which of the forward's input x and output y the
// op's backward kernel reads (exp, tanh and sqrt read y; the linear ops
// neither; the others x): the engine keeps only those for backward.
func (op UnaryOp) BackwardReads() (x, y bool) {
	switch op {
	case OpExp, OpTanh, OpSqrt:
		return false, true
	case OpNeg, OpScale, OpAddScalar, OpRSubScalar:
		return false, false
	}
	return true, false
}

// need checks that b holds at least n elements.
func need(what string, b Buffer, n int) error {
	if n > 0 && b.IsNil() {
		return fmt.Errorf("cuda: %s: no buffer", what)
	}
	if b.n < n {
		return fmt.Errorf("cuda: %s: buffer of %d elements, need %d", what, b.n, n)
	}
	return nil
}

// optional checks an optional buffer (nil allowed).
func optional(what string, b Buffer, n int) error {
	if b.IsNil() {
		return nil
	}
	return need(what, b, n)
}

const blk = 256 // threads per block of the 1-d kernels

// Binary computes out = a op b elementwise with numpy broadcasting: out's
// shape must be the broadcast of a's and b's. Any operand may be a strided
// view (out too: an in-place write through a view); out may alias a or b
// element for element.
func (d *Device) Binary(op BinaryOp, out, a, b Strided) error {
	shape, ok := broadcastShapes(a.Shape, b.Shape)
	if !ok {
		return fmt.Errorf("cuda: Binary: shapes %v and %v do not broadcast", a.Shape, b.Shape)
	}
	if !sameShape(shape, out.Shape) {
		return fmt.Errorf("cuda: Binary: out shape %v, want %v", out.Shape, shape)
	}
	for _, c := range []struct {
		n string
		v Strided
	}{{"Binary out", out}, {"Binary a", a}, {"Binary b", b}} {
		if err := c.v.Check(c.n); err != nil {
			return err
		}
	}
	n := numel(shape)
	if n == 0 {
		return nil
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.exit()
	if out.IsContiguous() { // the common cases, without planning
		full := func(v Strided) bool { return v.IsContiguous() && numel(v.Shape) == n }
		switch {
		case full(a) && full(b):
			return d.binaryContig(op, out.Buf, a.Buf, b.Buf, n, 1, 1)
		case full(a) && numel(b.Shape) == 1:
			return d.binaryContig(op, out.Buf, a.Buf, b.Buf, n, 1, 0)
		case numel(a.Shape) == 1 && full(b):
			return d.binaryContig(op, out.Buf, a.Buf, b.Buf, n, 0, 1)
		}
	}
	sa, _ := broadcastTo(a, shape)
	sb, _ := broadcastTo(b, shape)
	sh, st := coalesce(shape, out.Strides, sa, sb)
	if ok, err := d.binaryFast(op, out.Buf, a.Buf, b.Buf, sh, st); ok {
		return err
	}
	if vec, ok := vec4Strides(sh, st, out.Buf, a.Buf, b.Buf); ok {
		return eachLaunch("Binary", sh, st, func(offs []int, n, rank int, dd []dims) error {
			return d.launch("binary_strided4", dim3{x: gridFor(n, blk)}, dim3{x: blk}, 0, out.Buf.at(offs[0]), a.Buf.at(offs[1]), b.Buf.at(offs[2]),
				n, rank, dd[0], dd[1], dd[2], dd[3], b2i(vec[1]), b2i(vec[2]), int(op))
		})
	}
	return eachLaunch("Binary", sh, st, func(offs []int, n, rank int, dd []dims) error {
		return d.launch("binary_strided", dim3{x: gridFor(n, blk)}, dim3{x: blk}, 0, out.Buf.at(offs[0]), a.Buf.at(offs[1]), b.Buf.at(offs[2]),
			n, rank, dd[0], dd[1], dd[2], dd[3], int(op))
	})
}

// Where computes out = cond != 0 ? a : b elementwise, with numpy
// broadcasting of the three operands to out's shape; any of them may be
// a strided view (out too: a write through a view). An operand with no
// buffer and no shape (Strided{}) stands for the scalar av (as a) or bv
// (as b), so that a number (MaskedFill's value, the zero of Where's
// gradients) needs no upload. A NaN in cond picks a (NaN != 0).
func (d *Device) Where(out, cond, a, b Strided, av, bv float32) error {
	if err := out.Check("Where out"); err != nil {
		return err
	}
	shape := out.Shape
	strides := [][]int{out.Strides}
	for _, c := range []struct {
		n      string
		v      Strided
		scalar bool // may stand for a scalar
	}{{"Where cond", cond, false}, {"Where a", a, true}, {"Where b", b, true}} {
		if c.scalar && c.v.Buf.IsNil() && len(c.v.Shape) == 0 {
			strides = append(strides, nil) // the scalar: stride 0 everywhere
			continue
		}
		if err := c.v.Check(c.n); err != nil {
			return err
		}
		st, ok := broadcastTo(c.v, shape)
		if !ok {
			return fmt.Errorf("cuda: %s: shape %v does not broadcast to %v", c.n, c.v.Shape, shape)
		}
		strides = append(strides, st)
	}
	n := numel(shape)
	if n == 0 {
		return nil
	}
	for i, st := range strides {
		if st == nil {
			strides[i] = make([]int, len(shape))
		}
	}
	sh, st := coalesce(shape, strides...)
	if err := d.enter(); err != nil {
		return err
	}
	defer d.exit()
	return eachLaunch("Where", sh, st, func(offs []int, n, rank int, dd []dims) error {
		return d.launch("where_strided", dim3{x: gridFor(n, blk)}, dim3{x: blk}, 0, out.Buf.at(offs[0]), cond.Buf.at(offs[1]),
			a.Buf.at(offs[2]), b.Buf.at(offs[3]), av, bv, n, rank, dd[0], dd[1], dd[2], dd[3], dd[4])
	})
}

// Unary computes out[i] = f(x[i]) for n contiguous elements (out may be x).
func (d *Device) Unary(op UnaryOp, out, x Buffer, n int, p float32) error {
	if err := need("Unary out", out, n); err != nil {
		return err
	}
	if err := need("Unary x", x, n); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.exit()
	if n >= 4 && aligned16(out) && aligned16(x) {
		return d.launch("unary_fwd4", dim3{x: gridFor(n/4, blk)}, dim3{x: blk}, 0, out, x, n, int(op), p)
	}
	return d.launch("unary_fwd", dim3{x: gridFor(n, blk)}, dim3{x: blk}, 0, out, x, n, int(op), p)
}

// UnaryBackward computes gi[i] = g[i] * f'(x[i]) for n contiguous
// elements. x is the forward input and y the forward output: OpExp,
// OpTanh and OpSqrt read y (x may be nil), the others read x (y may be
// nil); OpNeg, OpScale, OpAddScalar and OpRSubScalar read neither.
func (d *Device) UnaryBackward(op UnaryOp, gi, g, x, y Buffer, n int, p float32) error {
	if err := need("UnaryBackward gi", gi, n); err != nil {
		return err
	}
	if err := need("UnaryBackward g", g, n); err != nil {
		return err
	}
	readsX, readsY := op.BackwardReads()
	if readsY {
		if err := need("UnaryBackward y", y, n); err != nil {
			return err
		}
	}
	if readsX {
		if err := need("UnaryBackward x", x, n); err != nil {
			return err
		}
	}
	if n == 0 {
		return nil
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.exit()
	if !readsX { // the kernels read x and y where not NULL
		x = Buffer{}
	}
	if !readsY {
		y = Buffer{}
	}
	if n >= 4 && aligned16(gi) && aligned16(g) && aligned16(x) && aligned16(y) {
		return d.launch("unary_bwd4", dim3{x: gridFor(n/4, blk)}, dim3{x: blk}, 0, gi, g, x, y, n, int(op), p)
	}
	return d.launch("unary_bwd", dim3{x: gridFor(n, blk)}, dim3{x: blk}, 0, gi, g, x, y, n, int(op), p)
}

// Scale computes out = alpha * x for n contiguous elements.
func (d *Device) Scale(out, x Buffer, n int, alpha float32) error {
	return d.Unary(OpScale, out, x, n, alpha)
}

// Fill sets every element of the view out to v (a write through a view
// when out is strided).
func (d *Device) Fill(out Strided, v float32) error {
	if err := out.Check("Fill"); err != nil {
		return err
	}
	n := out.Numel()
	if n == 0 {
		return nil
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.exit()
	if out.IsContiguous() {
		return d.memsetLocked(out.Buf.Slice(0, n), v)
	}
	sh, st := coalesce(out.Shape, out.Strides)
	return eachLaunch("Fill", sh, st, func(offs []int, n, rank int, dd []dims) error {
		return d.launch("fill_strided", dim3{x: gridFor(n, blk)}, dim3{x: blk}, 0, out.Buf.at(offs[0]), n, rank, dd[0], dd[1], v)
	})
}

// Copy copies src into dst; src must broadcast to dst's shape (so Copy also
// materializes an expanded view). Either may be strided: this makes a view
// contiguous (dst contiguous) or writes in place through a view (dst
// strided). The views must not overlap.
func (d *Device) Copy(dst, src Strided) error {
	if err := dst.Check("Copy dst"); err != nil {
		return err
	}
	if err := src.Check("Copy src"); err != nil {
		return err
	}
	ss, ok := broadcastTo(src, dst.Shape)
	if !ok {
		return fmt.Errorf("cuda: Copy: shape %v does not broadcast to %v", src.Shape, dst.Shape)
	}
	n := dst.Numel()
	if n == 0 {
		return nil
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.exit()
	if dst.IsContiguous() && src.IsContiguous() && src.Numel() == n {
		ev := d.profBegin()
		err := d.drv.call("cuMemcpyDtoDAsync_v2", d.drv.cuMemcpyDtoDAsync, uintptr(dst.Buf.Addr()),
			uintptr(src.Buf.Addr()), uintptr(n*elemSize), d.stream)
		d.profEnd(ev, func() string { return "memcpy" })
		return err
	}
	sh, st := coalesce(dst.Shape, dst.Strides, ss)
	if vec, ok := vec4Strides(sh, st, dst.Buf, src.Buf); ok {
		return eachLaunch("Copy", sh, st, func(offs []int, n, rank int, dd []dims) error {
			return d.launch("copy_strided4", dim3{x: gridFor(n, blk)}, dim3{x: blk}, 0, dst.Buf.at(offs[0]), src.Buf.at(offs[1]),
				n, rank, dd[0], dd[1], dd[2], b2i(vec[1]))
		})
	}
	return eachLaunch("Copy", sh, st, func(offs []int, n, rank int, dd []dims) error {
		return d.launch("copy_strided", dim3{x: gridFor(n, blk)}, dim3{x: blk}, 0, dst.Buf.at(offs[0]), src.Buf.at(offs[1]),
			n, rank, dd[0], dd[1], dd[2])
	})
}

// SumTo computes out = alpha * sumTo(g, shape) + beta * out, where out is
// contiguous with the given shape and shape broadcasts to g's (leading
// dimensions of g and dimensions where shape has 1 are summed: the
// backward of a broadcast, a sum over leading or trailing axes, or, with
// an empty shape, the sum of all elements). beta = 0 ignores out's
// contents.
func (d *Device) SumTo(out Buffer, g Strided, shape []int, alpha, beta float32) error {
	if err := g.Check("SumTo g"); err != nil {
		return err
	}
	p, err := planSumTo(g, shape)
	if err != nil {
		return err
	}
	if (len(p.kshape) > MaxRank || len(p.rshape) > MaxRank) && !g.IsContiguous() {
		// Kept or summed dimensions that do not merge (a permuted tensor
		// of high rank): sum a contiguous copy, whose dimensions do.
		tmp, err := d.Alloc(g.Numel())
		if err != nil {
			return err
		}
		defer d.Free(tmp) // reuse is ordered after the launches on the stream
		c := Contig(tmp, g.Shape...)
		if err := d.Copy(c, g); err != nil {
			return err
		}
		return d.SumTo(out, c, shape, alpha, beta)
	}
	if err := need("SumTo out", out, p.nout); err != nil {
		return err
	}
	if p.nout == 0 {
		return nil
	}
	var kd [2]dims
	var rd [2]dims
	for i, x := range [][]int{p.kshape, p.kg} {
		if kd[i], err = toDims(x); err != nil {
			return fmt.Errorf("cuda: SumTo: %w", err)
		}
	}
	for i, x := range [][]int{p.rshape, p.rg} {
		if rd[i], err = toDims(x); err != nil {
			return fmt.Errorf("cuda: SumTo: %w", err)
		}
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.exit()
	if p.nred == 0 {
		if beta == 0 {
			return d.memsetLocked(out.Slice(0, p.nout), 0)
		}
		return d.launch("unary_fwd", dim3{x: gridFor(p.nout, blk)}, dim3{x: blk}, 0, out, out, p.nout, int(OpScale), beta)
	}
	target := 4 * max(d.info.SMs, 1) // blocks wanted in flight
	var gx, bx, splits int
	if p.colwise {
		bx = blk
		gx = gridFor(p.nout, bx)
		splits = min(ceilDiv(target, gx), ceilDiv(p.nred, 32))
	} else {
		bx = min(blk, roundUp(p.nred, 32))
		gx = min(p.nout, 1<<20)
		splits = min(ceilDiv(target, gx), ceilDiv(p.nred, 8*bx))
	}
	splits = max(1, min(splits, 65535))
	chunk := ceilDiv(p.nred, splits)
	splits = ceilDiv(p.nred, chunk)
	atomic := 0
	if splits > 1 {
		atomic = 1
		if beta == 0 {
			err = d.memsetLocked(out.Slice(0, p.nout), 0)
		} else {
			err = d.launch("unary_fwd", dim3{x: gridFor(p.nout, blk)}, dim3{x: blk}, 0, out, out, p.nout, int(OpScale), beta)
		}
		if err != nil {
			return err
		}
	}
	grid, block := dim3{x: gx, y: splits}, dim3{x: bx}
	if p.colwise {
		return d.launch("sum_cols", grid, block, 0, out, g.Buf, p.nout, p.nred, chunk,
			len(p.kshape), kd[0], kd[1], len(p.rshape), rd[0], rd[1], alpha, beta, atomic)
	}
	return d.launch("sum_rows", grid, block, 0, out, g.Buf, p.nout, p.nred, chunk,
		len(p.kshape), kd[0], kd[1], len(p.rshape), rd[0], rd[1], alpha, beta, atomic)
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
func roundUp(a, m int) int { return ceilDiv(a, m) * m }

// rowBlock is the block size of the one-block-per-row kernels.
func rowBlock(n int) int { return max(32, min(1024, roundUp(n, 32))) }

// rowGrid is the grid of the row kernels (they loop beyond it).
func rowGrid(rows int) int { return max(1, min(rows, 1<<20)) }
