// Package emu emulates runtime/cuda's Device on the host, kernel by kernel,
// following the contracts documented in runtime/cuda. The engine's GPU code
// paths (device dispatch, views and strides handed to kernels, cuBLAS
// parameters, autograd on the device) then run in tests on machines
// without a GPU; the real kernels are checked on a GPU by runtime/cuda's
// own tests.
package emu

import (
	"fmt"
	"math"
	"slices"
	"sync"

	"nnscope/runtime/cuda"
)

// Device is the emulator. Memory is a map from allocation id to host
// slices; int32 data is stored bit for bit.
type Device struct {
	mu     sync.Mutex
	mem    map[uint64][]float32
	next   uint64
	used   int64
	Allocs int   // allocations so far (for tests)
	Limit  int64 // device memory in bytes (0: unlimited), to test running out
}

// New returns an empty emulated device.
func New() *Device { return &Device{mem: map[uint64][]float32{}, next: 1 << 20} }

func (d *Device) String() string { return "emulated GPU (host memory)" }

// alloc returns b's whole allocation, its id and the index in it of b's
// first element (a view with negative strides reaches before it).
func (d *Device) alloc(b cuda.Buffer) (mem []float32, id uint64, off int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if b.IsNil() {
		panic("emu: use of a nil or freed buffer")
	}
	id = b.Addr() - uint64(b.Offset())*4
	m, ok := d.mem[id]
	if !ok {
		panic(fmt.Sprintf("emu: %v is not allocated (freed?)", b))
	}
	return m, id, b.Offset()
}

// slice returns the elements of b.
func (d *Device) slice(b cuda.Buffer) []float32 {
	m, _, off := d.alloc(b)
	return m[off : off+b.Len()]
}

// Alloc returns n elements of NaN: runtime/cuda's Alloc leaves memory
// undefined (a block the caching allocator hands out again holds its last
// user's data), so a read of memory nobody wrote must not pass for zeros.
func (d *Device) Alloc(n int) (cuda.Buffer, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if n < 0 {
		return cuda.Buffer{}, fmt.Errorf("cuda: Alloc of %d elements", n)
	}
	if d.Limit > 0 && d.used+int64(n)*4 > d.Limit {
		return cuda.Buffer{}, fmt.Errorf("cuda: out of memory allocating %d bytes: %w", n*4,
			&cuda.Error{Lib: "cuda", Call: "cuMemAlloc_v2", Code: 2, Name: "CUDA_ERROR_OUT_OF_MEMORY"})
	}
	d.used += int64(n) * 4
	base := d.next
	d.next += uint64(max(n, 1)*4+256) &^ 255
	m := make([]float32, n)
	nan := float32(math.NaN())
	for i := range m {
		m[i] = nan
	}
	d.mem[base] = m
	d.Allocs++
	return cuda.HostBuffer(base, n), nil
}

// Free releases an allocation.
func (d *Device) Free(b cuda.Buffer) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if b.IsNil() {
		return nil
	}
	base := b.Addr() - uint64(b.Offset())*4
	d.used -= int64(len(d.mem[base])) * 4
	delete(d.mem, base)
	return nil
}

func (d *Device) Upload(dst cuda.Buffer, src []float32) error {
	if len(src) > dst.Len() {
		return fmt.Errorf("cuda: Upload of %d elements into a buffer of %d", len(src), dst.Len())
	}
	if len(src) > 0 {
		copy(d.slice(dst), src)
	}
	return nil
}

func (d *Device) UploadInt32(dst cuda.Buffer, src []int32) error {
	if len(src) > dst.Len() {
		return fmt.Errorf("cuda: UploadInt32 of %d elements into a buffer of %d", len(src), dst.Len())
	}
	if len(src) == 0 {
		return nil
	}
	s := d.slice(dst)
	for i, v := range src {
		s[i] = math.Float32frombits(uint32(v))
	}
	return nil
}

func (d *Device) Download(dst []float32, src cuda.Buffer) error {
	if len(dst) > src.Len() {
		return fmt.Errorf("cuda: Download of %d elements from a buffer of %d", len(dst), src.Len())
	}
	if len(dst) > 0 {
		copy(dst, d.slice(src))
	}
	return nil
}

func (d *Device) Memset(dst cuda.Buffer, v float32) error {
	if dst.Len() == 0 {
		return nil
	}
	for i, s := 0, d.slice(dst); i < len(s); i++ {
		s[i] = v
	}
	return nil
}

func (d *Device) Sync() error           { return nil }
func (d *Device) SetTF32(on bool) error { return nil }

func (d *Device) Fill(out cuda.Strided, v float32) error {
	o, err := d.operand("Fill", out, out.Shape)
	if err != nil {
		return err
	}
	o.each(func(i, _ int) { o.mem[i] = v })
	return nil
}

// Copy copies src (broadcast) into dst. As on the device, the views must
// not overlap: its threads would read elements others write.
func (d *Device) Copy(dst, src cuda.Strided) error {
	o, err := d.operand("Copy dst", dst, dst.Shape)
	if err != nil {
		return err
	}
	s, err := d.operand("Copy src", src, dst.Shape)
	if err != nil {
		return err
	}
	if err := checkOverlap("Copy", o, true, s); err != nil {
		return err
	}
	vals := s.values()
	o.each(func(i, k int) { o.mem[i] = vals[k] })
	return nil
}

func (d *Device) SumTo(out cuda.Buffer, g cuda.Strided, shape []int, alpha, beta float32) error {
	full := g.Shape
	if len(shape) > len(full) {
		return fmt.Errorf("cuda: SumTo: shape %v has more dimensions than %v", shape, full)
	}
	// out's index of each element of g: drop leading dims, zero the 1s.
	ost := make([]int, len(full))
	os := 1
	for i := len(shape) - 1; i >= 0; i-- {
		gi := len(full) - len(shape) + i
		switch {
		case shape[i] == full[gi]:
			if shape[i] != 1 {
				ost[gi] = os
			}
		case shape[i] != 1:
			return fmt.Errorf("cuda: SumTo: shape %v does not broadcast to %v", shape, full)
		}
		os *= shape[i]
	}
	gv, err := d.operand("SumTo g", g, full)
	if err != nil {
		return err
	}
	nout := numel(shape)
	if out.Len() < nout {
		return fmt.Errorf("cuda: SumTo out: buffer of %d elements, need %d", out.Len(), nout)
	}
	if nout == 0 {
		return nil
	}
	ov, err := d.operand("SumTo out", cuda.Contig(out.Slice(0, nout), nout), []int{nout})
	if err != nil {
		return err
	}
	if err := checkOverlap("SumTo", ov, true, gv); err != nil {
		return err
	}
	acc := make([]float64, nout)
	idx := make([]int, len(full))
	gv.each(func(i, _ int) {
		oi := 0
		for dim := range idx {
			oi += idx[dim] * ost[dim]
		}
		acc[oi] += float64(gv.mem[i])
		for dim := len(idx) - 1; dim >= 0; dim-- {
			idx[dim]++
			if idx[dim] < full[dim] {
				break
			}
			idx[dim] = 0
		}
	})
	o := d.slice(out)
	for i := range acc {
		if beta == 0 {
			o[i] = alpha * float32(acc[i])
		} else {
			o[i] = alpha*float32(acc[i]) + beta*o[i]
		}
	}
	return nil
}

// Binary computes out = a op b with broadcasting. As on the device, out
// may alias a or b element for element, and no other way.
func (d *Device) Binary(op cuda.BinaryOp, out, a, b cuda.Strided) error {
	shape, ok := broadcast(a.Shape, b.Shape)
	if !ok {
		return fmt.Errorf("cuda: Binary: shapes %v and %v do not broadcast", a.Shape, b.Shape)
	}
	if !slices.Equal(shape, out.Shape) {
		return fmt.Errorf("cuda: Binary: out shape %v, want %v", out.Shape, shape)
	}
	o, err := d.operand("Binary out", out, shape)
	if err != nil {
		return err
	}
	av, err := d.operand("Binary a", a, shape)
	if err != nil {
		return err
	}
	bv, err := d.operand("Binary b", b, shape)
	if err != nil {
		return err
	}
	if err := checkOverlap("Binary", o, false, av, bv); err != nil {
		return err
	}
	as, bs := av.values(), bv.values()
	o.each(func(i, k int) {
		switch op {
		case cuda.OpAdd:
			o.mem[i] = as[k] + bs[k]
		case cuda.OpSub:
			o.mem[i] = as[k] - bs[k]
		case cuda.OpMul:
			o.mem[i] = as[k] * bs[k]
		case cuda.OpDiv:
			o.mem[i] = as[k] / bs[k]
		}
	})
	return nil
}

const geluK = 0.7978845608028654

func unary(op cuda.UnaryOp, x, p float64) float64 {
	switch op {
	case cuda.OpNeg:
		return -x
	case cuda.OpAbs:
		return math.Abs(x)
	case cuda.OpExp:
		return math.Exp(x)
	case cuda.OpLog:
		return math.Log(x)
	case cuda.OpTanh:
		return math.Tanh(x)
	case cuda.OpSqrt:
		return math.Sqrt(x)
	case cuda.OpRelu:
		return math.Max(x, 0)
	case cuda.OpGeluNew:
		return 0.5 * x * (1 + math.Tanh(geluK*(x+0.044715*x*x*x)))
	case cuda.OpGelu:
		return 0.5 * x * (1 + math.Erf(x/math.Sqrt2))
	case cuda.OpPow:
		return math.Pow(x, p)
	case cuda.OpScale:
		return p * x
	case cuda.OpAddScalar:
		return x + p
	case cuda.OpRSubScalar:
		return p - x
	case cuda.OpRDivScalar:
		return p / x
	}
	panic("emu: unknown unary op")
}

func grad(op cuda.UnaryOp, x, y, p float64) float64 {
	switch op {
	case cuda.OpNeg:
		return -1
	case cuda.OpAbs:
		switch {
		case x > 0:
			return 1
		case x < 0:
			return -1
		}
		return 0
	case cuda.OpExp:
		return y
	case cuda.OpLog:
		return 1 / x
	case cuda.OpTanh:
		return 1 - y*y
	case cuda.OpSqrt:
		return 1 / (2 * y)
	case cuda.OpRelu:
		if x > 0 {
			return 1
		}
		return 0
	case cuda.OpGeluNew:
		u := geluK * (x + 0.044715*x*x*x)
		th := math.Tanh(u)
		return 0.5*(1+th) + 0.5*x*(1-th*th)*geluK*(1+3*0.044715*x*x)
	case cuda.OpGelu:
		return 0.5*(1+math.Erf(x/math.Sqrt2)) + x*math.Exp(-x*x/2)/math.Sqrt(2*math.Pi)
	case cuda.OpPow:
		return p * math.Pow(x, p-1)
	case cuda.OpScale:
		return p
	case cuda.OpAddScalar:
		return 1
	case cuda.OpRSubScalar:
		return -1
	case cuda.OpRDivScalar:
		return -p / (x * x)
	}
	panic("emu: unknown unary op")
}

func (d *Device) Unary(op cuda.UnaryOp, out, x cuda.Buffer, n int, p float32) error {
	o, xs := d.slice(out), d.slice(x)
	for i := 0; i < n; i++ {
		o[i] = float32(unary(op, float64(xs[i]), float64(p)))
	}
	return nil
}

func (d *Device) UnaryBackward(op cuda.UnaryOp, gi, g, x, y cuda.Buffer, n int, p float32) error {
	o, gs := d.slice(gi), d.slice(g)
	var xs, ys []float32
	if !x.IsNil() {
		xs = d.slice(x)
	}
	if !y.IsNil() {
		ys = d.slice(y)
	}
	for i := 0; i < n; i++ {
		var xv, yv float64
		if xs != nil {
			xv = float64(xs[i])
		}
		if ys != nil {
			yv = float64(ys[i])
		}
		o[i] = gs[i] * float32(grad(op, xv, yv, float64(p)))
	}
	return nil
}

func softmaxRow(o, x []float32, log bool) {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, float64(v))
	}
	var s float64
	for _, v := range x {
		s += math.Exp(float64(v) - m)
	}
	for i, v := range x {
		if log {
			o[i] = float32(float64(v) - m - math.Log(s))
		} else {
			o[i] = float32(math.Exp(float64(v)-m) / s)
		}
	}
}

func (d *Device) Softmax(out, x cuda.Buffer, rows, n int) error {
	o, xs := d.slice(out), d.slice(x)
	for r := 0; r < rows; r++ {
		softmaxRow(o[r*n:(r+1)*n], xs[r*n:(r+1)*n], false)
	}
	return nil
}

func (d *Device) LogSoftmax(out, x cuda.Buffer, rows, n int) error {
	o, xs := d.slice(out), d.slice(x)
	for r := 0; r < rows; r++ {
		softmaxRow(o[r*n:(r+1)*n], xs[r*n:(r+1)*n], true)
	}
	return nil
}

func (d *Device) SoftmaxBackward(gi, g, y cuda.Buffer, rows, n int) error {
	o, gs, ys := d.slice(gi), d.slice(g), d.slice(y)
	for r := 0; r < rows; r++ {
		var dot float64
		for i := r * n; i < (r+1)*n; i++ {
			dot += float64(gs[i]) * float64(ys[i])
		}
		for i := r * n; i < (r+1)*n; i++ {
			o[i] = ys[i] * (gs[i] - float32(dot))
		}
	}
	return nil
}

func (d *Device) LogSoftmaxBackward(gi, g, y cuda.Buffer, rows, n int) error {
	o, gs, ys := d.slice(gi), d.slice(g), d.slice(y)
	for r := 0; r < rows; r++ {
		var s float64
		for i := r * n; i < (r+1)*n; i++ {
			s += float64(gs[i])
		}
		for i := r * n; i < (r+1)*n; i++ {
			o[i] = gs[i] - float32(math.Exp(float64(ys[i]))*s)
		}
	}
	return nil
}

func (d *Device) LayerNorm(out, mean, rstd, x, w, b cuda.Buffer, rows, n int, eps float32) error {
	o, ms, rs, xs := d.slice(out), d.slice(mean), d.slice(rstd), d.slice(x)
	var ws, bs []float32
	if !w.IsNil() {
		ws = d.slice(w)
	}
	if !b.IsNil() {
		bs = d.slice(b)
	}
	for r := 0; r < rows; r++ {
		row := xs[r*n : (r+1)*n]
		var mu, v float64
		for _, a := range row {
			mu += float64(a)
		}
		mu /= float64(n)
		for _, a := range row {
			v += (float64(a) - mu) * (float64(a) - mu)
		}
		rstdv := 1 / math.Sqrt(v/float64(n)+float64(eps))
		ms[r], rs[r] = float32(mu), float32(rstdv)
		for i, a := range row {
			y := (float64(a) - mu) * rstdv
			if ws != nil {
				y *= float64(ws[i])
			}
			if bs != nil {
				y += float64(bs[i])
			}
			o[r*n+i] = float32(y)
		}
	}
	return nil
}

func (d *Device) LayerNormBackward(dx, dw, db, g, x, w, mean, rstd cuda.Buffer, rows, n int) error {
	gs, xs, ms, rs := d.slice(g), d.slice(x), d.slice(mean), d.slice(rstd)
	var ws, dxs, dws, dbs []float32
	if !w.IsNil() {
		ws = d.slice(w)
	}
	if !dx.IsNil() {
		dxs = d.slice(dx)
	}
	if !dw.IsNil() {
		dws = d.slice(dw)
		clear(dws)
	}
	if !db.IsNil() {
		dbs = d.slice(db)
		clear(dbs)
	}
	for r := 0; r < rows; r++ {
		var m1, m2 float64
		for i := 0; i < n; i++ {
			k := r*n + i
			nm := (float64(xs[k]) - float64(ms[r])) * float64(rs[r])
			dn := float64(gs[k])
			if ws != nil {
				dn *= float64(ws[i])
			}
			m1 += dn
			m2 += dn * nm
			if dws != nil {
				dws[i] += float32(float64(gs[k]) * nm)
			}
			if dbs != nil {
				dbs[i] += gs[k]
			}
		}
		if dxs == nil {
			continue
		}
		m1 /= float64(n)
		m2 /= float64(n)
		for i := 0; i < n; i++ {
			k := r*n + i
			nm := (float64(xs[k]) - float64(ms[r])) * float64(rs[r])
			dn := float64(gs[k])
			if ws != nil {
				dn *= float64(ws[i])
			}
			dxs[k] = float32(float64(rs[r]) * (dn - m1 - nm*m2))
		}
	}
	return nil
}

func (d *Device) ints(b cuda.Buffer, n int) []int {
	s := d.slice(b)
	out := make([]int, n)
	for i := range out {
		out[i] = int(int32(math.Float32bits(s[i])))
	}
	return out
}

func (d *Device) Embedding(out, w, ids cuda.Buffer, n, C, V int) error {
	o, ws := d.slice(out), d.slice(w)
	for i, id := range d.ints(ids, n) {
		if id < 0 || id >= V {
			clear(o[i*C : (i+1)*C])
			continue
		}
		copy(o[i*C:(i+1)*C], ws[id*C:(id+1)*C])
	}
	return nil
}

func (d *Device) EmbeddingBackward(gw, g, ids cuda.Buffer, n, C, V int, accumulate bool) error {
	o, gs := d.slice(gw), d.slice(g)
	if !accumulate {
		clear(o)
	}
	for i, id := range d.ints(ids, n) {
		if id < 0 || id >= V {
			continue
		}
		for c := 0; c < C; c++ {
			o[id*C+c] += gs[i*C+c]
		}
	}
	return nil
}

func (d *Device) CausalSoftmax(out, x, mask cuda.Buffer, B, H, Tq, Tk int, scale float32) error {
	o, xs := d.slice(out), d.slice(x)
	var ms []float32
	if !mask.IsNil() {
		ms = d.slice(mask)
	}
	past := Tk - Tq
	for b := 0; b < B; b++ {
		for h := 0; h < H; h++ {
			for i := 0; i < Tq; i++ {
				row := ((b*H+h)*Tq + i) * Tk
				m := math.Inf(-1)
				vis := func(j int) bool { return j <= i+past && (ms == nil || ms[b*Tk+j] != 0) }
				for j := 0; j < Tk; j++ {
					if vis(j) {
						m = math.Max(m, float64(xs[row+j]*scale))
					}
				}
				var s float64
				for j := 0; j < Tk; j++ {
					if vis(j) {
						s += math.Exp(float64(xs[row+j]*scale) - m)
					}
				}
				for j := 0; j < Tk; j++ {
					o[row+j] = 0
					if vis(j) && s > 0 {
						o[row+j] = float32(math.Exp(float64(xs[row+j]*scale)-m) / s)
					}
				}
			}
		}
	}
	return nil
}

func (d *Device) CausalSoftmaxBackward(gi, g, y cuda.Buffer, rows, Tk int, scale float32) error {
	o, gs, ys := d.slice(gi), d.slice(g), d.slice(y)
	for r := 0; r < rows; r++ {
		var dot float64
		for j := r * Tk; j < (r+1)*Tk; j++ {
			dot += float64(ys[j]) * float64(gs[j])
		}
		for j := r * Tk; j < (r+1)*Tk; j++ {
			o[j] = scale * ys[j] * (gs[j] - float32(dot))
		}
	}
	return nil
}

func (d *Device) CrossEntropy(loss, lse, logits, targets cuda.Buffer, N, V int) error {
	ls, lses, xs := d.slice(loss), d.slice(lse), d.slice(logits)
	tg := d.ints(targets, N)
	var total float64
	count := 0
	for r := 0; r < N; r++ {
		row := xs[r*V : (r+1)*V]
		m := math.Inf(-1)
		for _, v := range row {
			m = math.Max(m, float64(v))
		}
		var s float64
		for _, v := range row {
			s += math.Exp(float64(v) - m)
		}
		lses[r] = float32(m + math.Log(s))
		if tg[r] == -100 {
			continue
		}
		total += m + math.Log(s) - float64(row[tg[r]])
		count++
	}
	ls[0], ls[1] = float32(math.NaN()), float32(count) // no row counted: NaN, as in PyTorch
	if count > 0 {
		ls[0] = float32(total / float64(count))
	}
	return nil
}

func (d *Device) CrossEntropyBackward(dlogits, logits, lse, targets, loss, dloss cuda.Buffer, N, V int) error {
	o, xs, lses := d.slice(dlogits), d.slice(logits), d.slice(lse)
	tg := d.ints(targets, N)
	count := d.slice(loss)[1]
	scale := d.slice(dloss)[0] / max(count, 1)
	for r := 0; r < N; r++ {
		for j := 0; j < V; j++ {
			o[r*V+j] = 0
			if tg[r] != -100 {
				o[r*V+j] = float32(math.Exp(float64(xs[r*V+j])-float64(lses[r]))) * scale
			}
		}
		if tg[r] != -100 {
			o[r*V+tg[r]] -= scale
		}
	}
	return nil
}

func (d *Device) Sgemm(transA, transB bool, m, n, k int, alpha float32, a cuda.Buffer, lda int, b cuda.Buffer, ldb int, beta float32, c cuda.Buffer, ldc int) error {
	return d.SgemmStridedBatched(transA, transB, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0, 1)
}

// LinearSmall is cuda.Device's: out[m, n] = x . op(W) + bias for
// 1 <= m <= cuda.SmallRows, with the same checks, through Sgemm.
func (d *Device) LinearSmall(out, x, w, bias cuda.Buffer, m, n, k int, transW bool, ldw int) error {
	if m < 1 || m > cuda.SmallRows {
		return fmt.Errorf("cuda: LinearSmall: m=%d n=%d k=%d (m must be 1..%d)", m, n, k, cuda.SmallRows)
	}
	if !bias.IsNil() && bias.Len() < n {
		return fmt.Errorf("cuda: LinearSmall bias: buffer of %d elements, need %d", bias.Len(), n)
	}
	if err := d.Sgemm(false, transW, m, n, k, 1, x, k, w, ldw, 0, out, n); err != nil {
		return err
	}
	if bias.IsNil() || n == 0 {
		return nil
	}
	o := cuda.Contig(out, m, n)
	return d.Binary(cuda.OpAdd, o, o, cuda.Strided{Buf: bias, Shape: []int{m, n}, Strides: []int{0, 1}})
}

// GemmSmall is cuda.Device's: SgemmStridedBatched with alpha 1 and beta 0,
// for at most cuda.SmallGemmFMAs multiply-adds.
func (d *Device) GemmSmall(transA, transB bool, m, n, k int, a cuda.Buffer, lda, strideA int, b cuda.Buffer, ldb, strideB int,
	c cuda.Buffer, ldc, strideC int, batch int) error {
	if fmas := int64(batch) * int64(m) * int64(n) * int64(k); fmas > cuda.SmallGemmFMAs {
		return fmt.Errorf("cuda: GemmSmall: %d multiply-adds, past its limit of %d (use Sgemm)", fmas, cuda.SmallGemmFMAs)
	}
	return d.SgemmStridedBatched(transA, transB, m, n, k, 1, a, lda, strideA, b, ldb, strideB, 0, c, ldc, strideC, batch)
}

// SgemmStridedBatched checks what cuda.Device's does (sizes, leading
// dimensions, buffers that hold every batch) and what cuBLAS leaves
// undefined (C overlapping A or B, or C's batches one another), then
// computes the row-major products.
func (d *Device) SgemmStridedBatched(transA, transB bool, m, n, k int, alpha float32, a cuda.Buffer, lda, strideA int, b cuda.Buffer, ldb, strideB int, beta float32, c cuda.Buffer, ldc, strideC int, batch int) error {
	if m < 0 || n < 0 || k < 0 || batch < 0 || strideA < 0 || strideB < 0 || strideC < 0 {
		return fmt.Errorf("cuda: Sgemm: negative size m=%d n=%d k=%d, batch %d or stride", m, n, k, batch)
	}
	ar, ac := m, k // A as stored
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	if lda < max(1, ac) || ldb < max(1, bc) || ldc < max(1, n) {
		return fmt.Errorf("cuda: Sgemm: leading dimensions lda=%d ldb=%d ldc=%d too small for transA=%v transB=%v m=%d n=%d k=%d",
			lda, ldb, ldc, transA, transB, m, n, k)
	}
	mats := []struct {
		name       string
		buf        cuda.Buffer
		rows, cols int
		ld, stride int
	}{{"A", a, ar, ac, lda, strideA}, {"B", b, br, bc, ldb, strideB}, {"C", c, m, n, ldc, strideC}}
	var ops [3]operand
	for i, x := range mats {
		if x.rows == 0 || x.cols == 0 || batch == 0 {
			continue
		}
		if need := (batch-1)*x.stride + (x.rows-1)*x.ld + x.cols; x.buf.IsNil() || x.buf.Len() < need {
			return fmt.Errorf("cuda: Sgemm %s: buffer of %d elements, need %d", x.name, x.buf.Len(), need)
		}
		var err error
		ops[i], err = d.operand("Sgemm "+x.name, cuda.Strided{Buf: x.buf, Shape: []int{batch, x.rows, x.cols},
			Strides: []int{x.stride, x.ld, 1}}, []int{batch, x.rows, x.cols})
		if err != nil {
			return err
		}
	}
	if m == 0 || n == 0 || batch == 0 {
		return nil
	}
	if err := checkOverlap("Sgemm", ops[2], true, ops[0], ops[1]); err != nil {
		return err
	}
	A, B, C := ops[0], ops[1], ops[2]
	for bi := 0; bi < batch; bi++ {
		ao, bo, co := A.off+bi*strideA, B.off+bi*strideB, C.off+bi*strideC
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				var s float64
				for p := 0; p < k; p++ {
					var x, y float32
					if transA {
						x = A.mem[ao+p*lda+i]
					} else {
						x = A.mem[ao+i*lda+p]
					}
					if transB {
						y = B.mem[bo+j*ldb+p]
					} else {
						y = B.mem[bo+p*ldb+j]
					}
					s += float64(x) * float64(y)
				}
				ci := co + i*ldc + j
				if beta == 0 {
					C.mem[ci] = alpha * float32(s)
				} else {
					C.mem[ci] = alpha*float32(s) + beta*C.mem[ci]
				}
			}
		}
	}
	return nil
}

// Live returns the number of allocations not freed (for leak tests).
func (d *Device) Live() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.mem)
}
