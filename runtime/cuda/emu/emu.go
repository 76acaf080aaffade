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

func (d *Device) slice(b cuda.Buffer) []float32 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if b.IsNil() {
		panic("emu: use of a nil or freed buffer")
	}
	base := b.Addr() - uint64(b.Offset())*4
	m, ok := d.mem[base]
	if !ok {
		panic(fmt.Sprintf("emu: %v is not allocated (freed?)", b))
	}
	return m[b.Offset() : b.Offset()+b.Len()]
}

// Alloc returns n elements of zeroed memory.
func (d *Device) Alloc(n int) (cuda.Buffer, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.Limit > 0 && d.used+int64(n)*4 > d.Limit {
		return cuda.Buffer{}, fmt.Errorf("cuda: out of memory allocating %d bytes: %w", n*4,
			&cuda.Error{Lib: "cuda", Call: "cuMemAlloc_v2", Code: 2, Name: "CUDA_ERROR_OUT_OF_MEMORY"})
	}
	d.used += int64(n) * 4
	base := d.next
	d.next += uint64(max(n, 1)*4+256) &^ 255
	d.mem[base] = make([]float32, n)
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
	copy(d.slice(dst), src)
	return nil
}

func (d *Device) UploadInt32(dst cuda.Buffer, src []int32) error {
	s := d.slice(dst)
	for i, v := range src {
		s[i] = math.Float32frombits(uint32(v))
	}
	return nil
}

func (d *Device) Download(dst []float32, src cuda.Buffer) error {
	copy(dst, d.slice(src))
	return nil
}

func (d *Device) Memset(dst cuda.Buffer, v float32) error {
	for i, s := 0, d.slice(dst); i < len(s); i++ {
		s[i] = v
	}
	return nil
}

func (d *Device) Sync() error           { return nil }
func (d *Device) SetTF32(on bool) error { return nil }

// at walks a strided view in row-major order of its shape, calling fn
// with each element's index into the view's buffer.
func at(s cuda.Strided, fn func(i, k int)) {
	n := 1
	for _, x := range s.Shape {
		n *= x
	}
	idx := make([]int, len(s.Shape))
	for k := 0; k < n; k++ {
		o := 0
		for dim, i := range idx {
			o += i * s.Strides[dim]
		}
		fn(o, k)
		for dim := len(idx) - 1; dim >= 0; dim-- {
			idx[dim]++
			if idx[dim] < s.Shape[dim] {
				break
			}
			idx[dim] = 0
		}
	}
}

// expand returns s seen with shape (numpy broadcasting, right aligned).
func expand(s cuda.Strided, shape []int) cuda.Strided {
	st := make([]int, len(shape))
	off := len(shape) - len(s.Shape)
	for i := range s.Shape {
		if s.Shape[i] != 1 {
			st[off+i] = s.Strides[i]
		}
	}
	return cuda.Strided{Buf: s.Buf, Shape: shape, Strides: st}
}

// values reads a view (broadcast to shape) into a dense slice.
func (d *Device) values(s cuda.Strided, shape []int) []float32 {
	e := expand(s, shape)
	buf := d.slice(s.Buf)
	out := make([]float32, 0)
	at(e, func(i, _ int) { out = append(out, buf[i]) })
	return out
}

func (d *Device) Fill(out cuda.Strided, v float32) error {
	b := d.slice(out.Buf)
	at(out, func(i, _ int) { b[i] = v })
	return nil
}

func (d *Device) Copy(dst, src cuda.Strided) error {
	vals := d.values(src, dst.Shape)
	b := d.slice(dst.Buf)
	at(dst, func(i, k int) { b[i] = vals[k] })
	return nil
}

func (d *Device) SumTo(out cuda.Buffer, g cuda.Strided, shape []int, alpha, beta float32) error {
	o := d.slice(out)
	acc := make([]float64, len(o))
	full := g.Shape
	// out's index of each element of g: drop leading dims, zero the 1s.
	ost := make([]int, len(full))
	os := 1
	for i := len(shape) - 1; i >= 0; i-- {
		gi := len(full) - len(shape) + i
		if shape[i] != 1 {
			ost[gi] = os
		}
		os *= shape[i]
	}
	gb := d.slice(g.Buf)
	idx := make([]int, len(full))
	at(g, func(i, _ int) {
		oi := 0
		for dim := range idx {
			oi += idx[dim] * ost[dim]
		}
		acc[oi] += float64(gb[i])
		for dim := len(idx) - 1; dim >= 0; dim-- {
			idx[dim]++
			if idx[dim] < full[dim] {
				break
			}
			idx[dim] = 0
		}
	})
	for i := range o {
		if beta == 0 {
			o[i] = alpha * float32(acc[i])
		} else {
			o[i] = alpha*float32(acc[i]) + beta*o[i]
		}
	}
	return nil
}

func broadcast(a, b []int) []int {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := 0; i < n; i++ {
		x, y := 1, 1
		if j := len(a) - n + i; j >= 0 {
			x = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			y = b[j]
		}
		out[i] = max(x, y)
	}
	return out
}

func (d *Device) Binary(op cuda.BinaryOp, out, a, b cuda.Strided) error {
	shape := broadcast(a.Shape, b.Shape)
	av, bv := d.values(a, shape), d.values(b, shape)
	ob := d.slice(out.Buf)
	at(out, func(i, k int) {
		switch op {
		case cuda.OpAdd:
			ob[i] = av[k] + bv[k]
		case cuda.OpSub:
			ob[i] = av[k] - bv[k]
		case cuda.OpMul:
			ob[i] = av[k] * bv[k]
		case cuda.OpDiv:
			ob[i] = av[k] / bv[k]
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
	as, bs, cs := d.slice(a), d.slice(b), d.slice(c)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				var x, y float32
				if transA {
					x = as[p*lda+i]
				} else {
					x = as[i*lda+p]
				}
				if transB {
					y = bs[j*ldb+p]
				} else {
					y = bs[p*ldb+j]
				}
				s += float64(x) * float64(y)
			}
			if beta == 0 {
				cs[i*ldc+j] = alpha * float32(s)
			} else {
				cs[i*ldc+j] = alpha*float32(s) + beta*cs[i*ldc+j]
			}
		}
	}
	return nil
}

func (d *Device) SgemmStridedBatched(transA, transB bool, m, n, k int, alpha float32, a cuda.Buffer, lda, strideA int, b cuda.Buffer, ldb, strideB int, beta float32, c cuda.Buffer, ldc, strideC int, batch int) error {
	for i := 0; i < batch; i++ {
		av := a.Slice(i*strideA, a.Len()-i*strideA)
		bv := b.Slice(i*strideB, b.Len()-i*strideB)
		cv := c.Slice(i*strideC, c.Len()-i*strideC)
		if err := d.Sgemm(transA, transB, m, n, k, alpha, av, lda, bv, ldb, beta, cv, ldc); err != nil {
			return err
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
