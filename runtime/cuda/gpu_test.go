package cuda_test

// GPU tests: every kernel against nnscope's CPU runtime (or a host
// reference) on random data, forward and backward; cuBLAS GEMM; the
// allocator on a real device. They skip, saying why, without a GPU
// (NNSCOPE_REQUIRE_GPU=1 makes that a failure). An external test package,
// so it may import nnscope/runtime even once the runtime imports cuda.

import (
	"errors"
	"fmt"
	"math"
	"math/rand"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"nnscope/runtime"
	"nnscope/runtime/cuda"
)

var (
	devOnce sync.Once
	dev     *cuda.Device
	devErr  error
)

func gpu(tb testing.TB) *cuda.Device {
	tb.Helper()
	devOnce.Do(func() {
		dev, devErr = cuda.Open()
	})
	if devErr != nil {
		if os.Getenv("NNSCOPE_REQUIRE_GPU") == "1" {
			tb.Fatalf("NNSCOPE_REQUIRE_GPU=1 but %v", devErr)
		}
		why := "no GPU usable"
		if errors.Is(devErr, cuda.ErrNoDriver) {
			why = "no GPU: the NVIDIA driver (libcuda.so.1) is not installed here"
		} else if errors.Is(devErr, cuda.ErrNoDevice) {
			why = "no GPU: the driver reports no CUDA device"
		}
		tb.Skipf("%s: %v", why, devErr)
	}
	return dev
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

func up(tb testing.TB, d *cuda.Device, x []float32) cuda.Buffer {
	tb.Helper()
	b, err := d.Alloc(len(x))
	must(tb, err)
	must(tb, d.Upload(b, x))
	return b
}

func upInt(tb testing.TB, d *cuda.Device, x []int) cuda.Buffer {
	tb.Helper()
	v := make([]int32, len(x))
	for i, id := range x {
		v[i] = int32(id)
	}
	b, err := d.Alloc(len(x))
	must(tb, err)
	must(tb, d.UploadInt32(b, v))
	return b
}

func down(tb testing.TB, d *cuda.Device, b cuda.Buffer, n int) []float32 {
	tb.Helper()
	x := make([]float32, n)
	must(tb, d.Download(x, b))
	return x
}

func alloc(tb testing.TB, d *cuda.Device, n int) cuda.Buffer {
	tb.Helper()
	b, err := d.Alloc(n)
	must(tb, err)
	return b
}

func randn(rng *rand.Rand, n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * scale)
	}
	return x
}

// closeTo fails when |got-want| > atol + rtol*|want| anywhere.
func closeTo(tb testing.TB, name string, got, want []float32, atol, rtol float64) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	worst, at := 0.0, -1
	for i := range got {
		g, w := float64(got[i]), float64(want[i])
		e := math.Abs(g - w)
		if math.IsNaN(g) != math.IsNaN(w) || e > atol+rtol*math.Abs(w) {
			tb.Errorf("%s: [%d] = %v, want %v", name, i, g, w)
			return
		}
		if e > worst {
			worst, at = e, i
		}
	}
	_ = at
}

// refGrad runs f on a CPU tensor from x (shape), and returns f's output and
// the gradient of sum(f(x) * g) with respect to x.
func refGrad(x []float32, shape []int, g []float32, f func(*runtime.Tensor) *runtime.Tensor) (y, gx []float32) {
	xt := runtime.FromSlice(append([]float32(nil), x...), shape...).RequiresGrad()
	yt := f(xt)
	loss := yt.Mul(runtime.FromSlice(g, yt.Shape()...)).Sum()
	if err := loss.Backward(); err != nil {
		panic(err)
	}
	return append([]float32(nil), yt.Data()...), xt.Grad().Data()
}

func TestGPUDevice(t *testing.T) {
	d := gpu(t)
	t.Logf("device: %v", d)
	t.Logf("info: %+v", d.Info())
	start := time.Now()
	ci, err := d.Compile()
	must(t, err)
	t.Logf("kernels: %+v in %v", ci, time.Since(start))
	free, total, err := d.MemInfo()
	must(t, err)
	t.Logf("memory: %.1f of %.1f GiB free", float64(free)/(1<<30), float64(total)/(1<<30))
	if ci.CacheDir != "" {
		// A second device handle (a new process would do the same) loads
		// the CUBIN from the disk cache.
		d2, err := cuda.Open()
		must(t, err)
		defer d2.Close()
		ci2, err := d2.Compile()
		must(t, err)
		if !ci2.CacheHit {
			t.Errorf("second Open compiled again: %+v", ci2)
		}
	}
}

func TestGPUMemory(t *testing.T) {
	d := gpu(t)
	x := []float32{1, 2, 3, 4, 5, 6, 7, 8}
	b := up(t, d, x)
	defer d.Free(b)
	closeTo(t, "roundtrip", down(t, d, b, 8), x, 0, 0)
	closeTo(t, "slice", down(t, d, b.Slice(3, 4), 4), x[3:7], 0, 0)
	c := alloc(t, d, 8)
	defer d.Free(c)
	must(t, d.Memset(c, -1))
	must(t, d.CopyDtoD(c.Slice(2, 4), b.Slice(5, 3), 3))
	closeTo(t, "CopyDtoD", down(t, d, c, 8), []float32{-1, -1, 6, 7, 8, -1, -1, -1}, 0, 0)
	ids := upInt(t, d, []int{3, -100, 7})
	defer d.Free(ids)
	got := make([]int32, 3)
	must(t, d.DownloadInt32(got, ids))
	if got[0] != 3 || got[1] != -100 || got[2] != 7 {
		t.Errorf("int32 roundtrip %v", got)
	}
	if err := d.Upload(b.Slice(0, 2), x); err == nil {
		t.Error("oversized upload accepted")
	}
}

func TestGPUBinary(t *testing.T) {
	d := gpu(t)
	rng := rand.New(rand.NewSource(1))
	ops := []struct {
		op cuda.BinaryOp
		f  func(a, b *runtime.Tensor) *runtime.Tensor
	}{
		{cuda.OpAdd, func(a, b *runtime.Tensor) *runtime.Tensor { return a.Add(b) }},
		{cuda.OpSub, func(a, b *runtime.Tensor) *runtime.Tensor { return a.Sub(b) }},
		{cuda.OpMul, func(a, b *runtime.Tensor) *runtime.Tensor { return a.Mul(b) }},
		{cuda.OpDiv, func(a, b *runtime.Tensor) *runtime.Tensor { return a.Div(b) }},
	}
	type operand struct {
		host *runtime.Tensor
		dev  cuda.Strided
	}
	mk := func(shape ...int) operand {
		x := randn(rng, max(1, numel(shape)), 1)
		for i := range x {
			x[i] += float32(math.Copysign(0.5, float64(x[i]))) // keep divisors away from 0
		}
		return operand{runtime.FromSlice(x[:numel(shape)], shape...), cuda.Contig(up(t, d, x), shape...)}
	}
	// transposed view of a [c, r] buffer, seen as [r, c].
	mkT := func(r, c int) operand {
		x := randn(rng, r*c, 1)
		for i := range x {
			x[i] += float32(math.Copysign(0.5, float64(x[i])))
		}
		return operand{runtime.FromSlice(x, c, r).T(), cuda.Strided{Buf: up(t, d, x), Shape: []int{r, c}, Strides: []int{1, r}}}
	}
	cases := []struct {
		name string
		a, b operand
	}{
		{"same", mk(4, 5), mk(4, 5)},
		{"scalar b", mk(64, 33), mk()},
		{"scalar a", mk(), mk(7, 9)},
		{"broadcast", mk(3, 1, 5), mk(4, 5)},
		{"bias", mk(2, 3, 768), mk(768)},
		{"transposed", mkT(6, 7), mk(6, 7)},
		{"both transposed", mkT(6, 7), mkT(6, 7)},
		{"rank 7", mk(2, 1, 2, 3, 1, 2, 3), mk(2, 1, 1, 2, 1)},
	}
	for _, c := range cases {
		for _, o := range ops {
			want := o.f(c.a.host, c.b.host)
			shape := want.Shape()
			out := alloc(t, d, max(1, want.Size()))
			must(t, d.Binary(o.op, cuda.Contig(out, shape...), c.a.dev, c.b.dev))
			closeTo(t, fmt.Sprintf("%s op %d", c.name, o.op), down(t, d, out, want.Size()), want.Data(), 1e-6, 1e-6)
			if len(shape) == 2 { // write through a transposed output view
				r, cc := shape[0], shape[1]
				must(t, d.Binary(o.op, cuda.Strided{Buf: out, Shape: shape, Strides: []int{1, r}}, c.a.dev, c.b.dev))
				closeTo(t, c.name+" strided out", down(t, d, out, r*cc), want.T().Contiguous().Data(), 1e-6, 1e-6)
			}
			d.Free(out)
		}
	}
}

func numel(s []int) int {
	n := 1
	for _, v := range s {
		n *= v
	}
	return n
}

func TestGPUUnary(t *testing.T) {
	d := gpu(t)
	rng := rand.New(rand.NewSource(2))
	const n = 10007
	x := randn(rng, n, 2)
	pos := make([]float32, n)
	for i, v := range x {
		pos[i] = float32(math.Abs(float64(v))) + 0.1
	}
	g := randn(rng, n, 1)
	cases := []struct {
		op   cuda.UnaryOp
		p    float32
		in   []float32
		f    func(*runtime.Tensor) *runtime.Tensor
		tol  float64
		name string
	}{
		{cuda.OpNeg, 0, x, (*runtime.Tensor).Neg, 0, "neg"},
		{cuda.OpAbs, 0, x, (*runtime.Tensor).Abs, 0, "abs"},
		{cuda.OpExp, 0, x, (*runtime.Tensor).Exp, 1e-6, "exp"},
		{cuda.OpLog, 0, pos, (*runtime.Tensor).Log, 1e-6, "log"},
		{cuda.OpTanh, 0, x, (*runtime.Tensor).Tanh, 1e-6, "tanh"},
		{cuda.OpSqrt, 0, pos, (*runtime.Tensor).Sqrt, 1e-6, "sqrt"},
		{cuda.OpRelu, 0, x, (*runtime.Tensor).Relu, 0, "relu"},
		{cuda.OpGeluNew, 0, x, (*runtime.Tensor).GeluNew, 1e-6, "gelu_new"},
		{cuda.OpGelu, 0, x, (*runtime.Tensor).Gelu, 1e-6, "gelu"},
		{cuda.OpPow, 3, x, func(t *runtime.Tensor) *runtime.Tensor { return t.Pow(3) }, 1e-5, "pow3"},
		{cuda.OpPow, 0.5, pos, func(t *runtime.Tensor) *runtime.Tensor { return t.Pow(0.5) }, 1e-6, "pow0.5"},
		{cuda.OpScale, 2.5, x, func(t *runtime.Tensor) *runtime.Tensor { return t.Mul(2.5) }, 0, "scale"},
		{cuda.OpAddScalar, 1.5, x, func(t *runtime.Tensor) *runtime.Tensor { return t.Add(1.5) }, 0, "add scalar"},
		{cuda.OpRSubScalar, 1.5, x, func(t *runtime.Tensor) *runtime.Tensor { return t.Neg().Add(1.5) }, 0, "rsub scalar"},
		{cuda.OpRDivScalar, 3, pos, func(t *runtime.Tensor) *runtime.Tensor { return runtime.Full(3, n).Div(t) }, 1e-6, "rdiv scalar"},
	}
	gb := up(t, d, g)
	defer d.Free(gb)
	for _, c := range cases {
		wantY, wantG := refGrad(c.in, []int{n}, g, c.f)
		xb := up(t, d, c.in)
		yb, gi := alloc(t, d, n), alloc(t, d, n)
		must(t, d.Unary(c.op, yb, xb, n, c.p))
		closeTo(t, c.name+" forward", down(t, d, yb, n), wantY, c.tol, c.tol+1e-6)
		must(t, d.UnaryBackward(c.op, gi, gb, xb, yb, n, c.p))
		closeTo(t, c.name+" backward", down(t, d, gi, n), wantG, c.tol+1e-6, 1e-5)
		for _, b := range []cuda.Buffer{xb, yb, gi} {
			d.Free(b)
		}
	}
}

func TestGPUFillCopy(t *testing.T) {
	d := gpu(t)
	rng := rand.New(rand.NewSource(3))
	x := randn(rng, 6*8, 1)
	xt := runtime.FromSlice(append([]float32(nil), x...), 6, 8)
	xb := up(t, d, x)
	defer d.Free(xb)
	// A transposed view made contiguous.
	out := alloc(t, d, 48)
	defer d.Free(out)
	must(t, d.Copy(cuda.Contig(out, 8, 6), cuda.Strided{Buf: xb, Shape: []int{8, 6}, Strides: []int{1, 8}}))
	closeTo(t, "transpose copy", down(t, d, out, 48), xt.T().Contiguous().Data(), 0, 0)
	// A narrowed view [6, 3] (columns 2..4) made contiguous.
	must(t, d.Copy(cuda.Contig(out, 6, 3), cuda.Strided{Buf: xb.Slice(2, 46), Shape: []int{6, 3}, Strides: []int{8, 1}}))
	closeTo(t, "narrow copy", down(t, d, out, 18), xt.Narrow(1, 2, 3).Contiguous().Data(), 0, 0)
	// Expand a row [8] to [6, 8].
	must(t, d.Copy(cuda.Contig(out, 6, 8), cuda.Contig(xb, 8)))
	closeTo(t, "expand copy", down(t, d, out, 48), xt.Narrow(0, 0, 1).Expand(6, 8).Contiguous().Data(), 0, 0)
	// In-place writes through a view: fill column 5, copy rows into column 1.
	must(t, d.Copy(cuda.Contig(out, 6, 8), cuda.Contig(xb, 6, 8)))
	must(t, d.Fill(cuda.Strided{Buf: out.Slice(5, 43), Shape: []int{6}, Strides: []int{8}}, 7))
	src := up(t, d, []float32{10, 11, 12, 13, 14, 15})
	defer d.Free(src)
	must(t, d.Copy(cuda.Strided{Buf: out.Slice(1, 47), Shape: []int{6}, Strides: []int{8}}, cuda.Contig(src, 6)))
	want := append([]float32(nil), x...)
	for r := 0; r < 6; r++ {
		want[r*8+5] = 7
		want[r*8+1] = float32(10 + r)
	}
	closeTo(t, "writes through views", down(t, d, out, 48), want, 0, 0)
	must(t, d.Fill(cuda.Contig(out, 48), 0.5))
	closeTo(t, "contiguous fill", down(t, d, out, 48), runtime.Full(0.5, 48).Data(), 0, 0)
}

// hostSumTo is runtime's sumTo on the host (through Sum and Reshape).
func hostSumTo(x *runtime.Tensor, shape []int) []float32 {
	xs := x.Shape()
	lead := len(xs) - len(shape)
	var axes []int
	for i := range xs {
		if i < lead || (shape[i-lead] == 1 && xs[i] != 1) {
			axes = append(axes, i)
		}
	}
	if len(axes) == 0 {
		return x.Contiguous().Data()
	}
	return x.Sum(axes...).Contiguous().Data()
}

func TestGPUSumTo(t *testing.T) {
	d := gpu(t)
	rng := rand.New(rand.NewSource(4))
	x := randn(rng, 8*16*32, 1)
	xb := up(t, d, x)
	defer d.Free(xb)
	xt := runtime.FromSlice(x, 8, 16, 32)
	out := alloc(t, d, 8*16*32)
	defer d.Free(out)
	for _, shape := range [][]int{{32}, {16, 1}, {8, 1, 32}, {}, {1, 1}, {8, 16, 32}, {16, 32}, {8, 1, 1}} {
		must(t, d.SumTo(out, cuda.Contig(xb, 8, 16, 32), shape, 1, 0))
		want := hostSumTo(xt, shape)
		closeTo(t, fmt.Sprintf("sum to %v", shape), down(t, d, out, len(want)), want, 1e-4, 1e-4)
	}
	// A permuted view [32, 16, 8] of the same data.
	pv := cuda.Strided{Buf: xb, Shape: []int{32, 16, 8}, Strides: []int{1, 32, 512}}
	pt := xt.Permute(2, 1, 0)
	for _, shape := range [][]int{{8}, {32, 1, 1}, {16, 1}} {
		must(t, d.SumTo(out, pv, shape, 1, 0))
		want := hostSumTo(pt, shape)
		closeTo(t, fmt.Sprintf("permuted sum to %v", shape), down(t, d, out, len(want)), want, 1e-4, 1e-4)
	}
	// alpha and beta: out = 0.5*sum + 2*out.
	must(t, d.Memset(out, 1))
	must(t, d.SumTo(out, cuda.Contig(xb, 8, 16, 32), []int{32}, 0.5, 2))
	want := hostSumTo(xt, []int{32})
	for i := range want {
		want[i] = 0.5*want[i] + 2
	}
	closeTo(t, "alpha beta", down(t, d, out, 32), want, 1e-4, 1e-4)
	// Large sums take the split (atomic) path.
	big := randn(rng, 1<<22, 1)
	bb := up(t, d, big)
	defer d.Free(bb)
	var s float64
	for _, v := range big {
		s += float64(v)
	}
	must(t, d.SumTo(out, cuda.Contig(bb, 1<<22), nil, 1, 0))
	closeTo(t, "sum of 4M", down(t, d, out, 1), []float32{float32(s)}, 0.05, 1e-4)
	must(t, d.Memset(out, 3))
	must(t, d.SumTo(out, cuda.Contig(bb, 1<<12, 1<<10), []int{1 << 10}, 1, 1))
	wantCols := hostSumTo(runtime.FromSlice(big, 1<<12, 1<<10), []int{1 << 10})
	for i := range wantCols {
		wantCols[i] += 3
	}
	closeTo(t, "split column sums with beta", down(t, d, out, 1<<10), wantCols, 1e-3, 1e-4)
}

func TestGPUSoftmax(t *testing.T) {
	d := gpu(t)
	rng := rand.New(rand.NewSource(5))
	for _, sz := range [][2]int{{3, 1}, {5, 7}, {64, 768}, {4, 50257}} {
		rows, n := sz[0], sz[1]
		x, g := randn(rng, rows*n, 3), randn(rng, rows*n, 1)
		xb, gb, yb, gi := up(t, d, x), up(t, d, g), alloc(t, d, rows*n), alloc(t, d, rows*n)
		for _, c := range []struct {
			name     string
			fwd, bwd func(a, b, c cuda.Buffer) error
			ref      func(*runtime.Tensor) *runtime.Tensor
		}{
			{"softmax", func(o, x, _ cuda.Buffer) error { return d.Softmax(o, x, rows, n) },
				func(gi, g, y cuda.Buffer) error { return d.SoftmaxBackward(gi, g, y, rows, n) }, (*runtime.Tensor).Softmax},
			{"log_softmax", func(o, x, _ cuda.Buffer) error { return d.LogSoftmax(o, x, rows, n) },
				func(gi, g, y cuda.Buffer) error { return d.LogSoftmaxBackward(gi, g, y, rows, n) }, (*runtime.Tensor).LogSoftmax},
		} {
			wantY, wantG := refGrad(x, []int{rows, n}, g, c.ref)
			must(t, c.fwd(yb, xb, cuda.Buffer{}))
			closeTo(t, fmt.Sprintf("%s %dx%d", c.name, rows, n), down(t, d, yb, rows*n), wantY, 1e-6, 1e-4)
			must(t, c.bwd(gi, gb, yb))
			closeTo(t, fmt.Sprintf("%s backward %dx%d", c.name, rows, n), down(t, d, gi, rows*n), wantG, 1e-4, 1e-3)
		}
		for _, b := range []cuda.Buffer{xb, gb, yb, gi} {
			d.Free(b)
		}
	}
}

func TestGPULayerNorm(t *testing.T) {
	d := gpu(t)
	rng := rand.New(rand.NewSource(6))
	for _, sz := range [][2]int{{64, 768}, {7, 33}} {
		rows, n := sz[0], sz[1]
		x, g := randn(rng, rows*n, 2), randn(rng, rows*n, 1)
		for i := range x {
			x[i] += 0.3
		}
		w, b := randn(rng, n, 1), randn(rng, n, 1)
		for _, affine := range []bool{true, false} {
			xt := runtime.FromSlice(append([]float32(nil), x...), rows, n).RequiresGrad()
			var wt, bt *runtime.Tensor
			var wb, bb cuda.Buffer
			if affine {
				wt = runtime.FromSlice(append([]float32(nil), w...), n).RequiresGrad()
				bt = runtime.FromSlice(append([]float32(nil), b...), n).RequiresGrad()
				wb, bb = up(t, d, w), up(t, d, b)
			}
			yt := runtime.LayerNorm(xt, wt, bt, 1e-5)
			must(t, yt.Mul(runtime.FromSlice(g, rows, n)).Sum().Backward())
			xb, gb := up(t, d, x), up(t, d, g)
			yb, mean, rstd := alloc(t, d, rows*n), alloc(t, d, rows), alloc(t, d, rows)
			dx, dw, db := alloc(t, d, rows*n), alloc(t, d, n), alloc(t, d, n)
			must(t, d.LayerNorm(yb, mean, rstd, xb, wb, bb, rows, n, 1e-5))
			closeTo(t, "layernorm", down(t, d, yb, rows*n), yt.Data(), 1e-5, 1e-4)
			if affine {
				must(t, d.LayerNormBackward(dx, dw, db, gb, xb, wb, mean, rstd, rows, n))
				closeTo(t, "layernorm dw", down(t, d, dw, n), wt.Grad().Data(), 1e-4, 1e-4)
				closeTo(t, "layernorm db", down(t, d, db, n), bt.Grad().Data(), 1e-4, 1e-4)
			} else {
				must(t, d.LayerNormBackward(dx, cuda.Buffer{}, cuda.Buffer{}, gb, xb, cuda.Buffer{}, mean, rstd, rows, n))
			}
			closeTo(t, "layernorm dx", down(t, d, dx, rows*n), xt.Grad().Data(), 1e-4, 1e-3)
			for _, bf := range []cuda.Buffer{xb, gb, yb, mean, rstd, dx, dw, db, wb, bb} {
				d.Free(bf)
			}
		}
	}
}

func TestGPUEmbedding(t *testing.T) {
	d := gpu(t)
	rng := rand.New(rand.NewSource(7))
	V, C := 100, 64
	ids := []int{3, 7, 3, 99, 0, 7, 7, 42}
	w := randn(rng, V*C, 1)
	g := randn(rng, len(ids)*C, 1)
	wt := runtime.FromSlice(append([]float32(nil), w...), V, C).RequiresGrad()
	yt := runtime.Embedding(wt, ids, 2, 4)
	must(t, yt.Mul(runtime.FromSlice(g, 2, 4, C)).Sum().Backward())
	wb, ib, gb := up(t, d, w), upInt(t, d, ids), up(t, d, g)
	out, gw := alloc(t, d, len(ids)*C), alloc(t, d, V*C)
	must(t, d.Embedding(out, wb, ib, len(ids), C, V))
	closeTo(t, "embedding", down(t, d, out, len(ids)*C), yt.Data(), 0, 0)
	must(t, d.EmbeddingBackward(gw, gb, ib, len(ids), C, V, false))
	closeTo(t, "embedding backward", down(t, d, gw, V*C), wt.Grad().Data(), 1e-6, 1e-6)
	must(t, d.EmbeddingBackward(gw, gb, ib, len(ids), C, V, true))
	want := wt.Grad().Mul(2).Data()
	closeTo(t, "embedding backward accumulate", down(t, d, gw, V*C), want, 1e-6, 1e-6)
	for _, b := range []cuda.Buffer{wb, ib, gb, out, gw} {
		d.Free(b)
	}
}

func TestGPUCausalSoftmax(t *testing.T) {
	d := gpu(t)
	rng := rand.New(rand.NewSource(8))
	B, H, Tq, Tk := 2, 3, 5, 8
	scale := float32(0.125)
	x, g := randn(rng, B*H*Tq*Tk, 4), randn(rng, B*H*Tq*Tk, 1)
	// Batch 1 is left-padded by 5: its first queries see no key at all.
	mask := [][]float32{{1, 1, 1, 1, 1, 1, 1, 1}, {0, 0, 0, 0, 0, 1, 1, 1}}
	for _, withMask := range []bool{true, false} {
		var km [][]float32
		var mb cuda.Buffer
		if withMask {
			km = mask
			mb = up(t, d, append(append([]float32(nil), mask[0]...), mask[1]...))
		}
		wantY, wantG := refGrad(x, []int{B, H, Tq, Tk}, g, func(s *runtime.Tensor) *runtime.Tensor {
			return runtime.CausalSoftmax(s, scale, km)
		})
		xb, gb, yb, gi := up(t, d, x), up(t, d, g), alloc(t, d, len(x)), alloc(t, d, len(x))
		must(t, d.CausalSoftmax(yb, xb, mb, B, H, Tq, Tk, scale))
		closeTo(t, fmt.Sprintf("causal softmax mask=%v", withMask), down(t, d, yb, len(x)), wantY, 1e-6, 1e-4)
		must(t, d.CausalSoftmaxBackward(gi, gb, yb, B*H*Tq, Tk, scale))
		closeTo(t, fmt.Sprintf("causal softmax backward mask=%v", withMask), down(t, d, gi, len(x)), wantG, 1e-6, 1e-4)
		for _, b := range []cuda.Buffer{xb, gb, yb, gi, mb} {
			d.Free(b)
		}
	}
}

func TestGPUCrossEntropy(t *testing.T) {
	d := gpu(t)
	rng := rand.New(rand.NewSource(9))
	N, V := 16, 1000
	x := randn(rng, N*V, 3)
	targets := make([]int, N)
	for i := range targets {
		targets[i] = rng.Intn(V)
	}
	targets[3], targets[11] = -100, -100
	xt := runtime.FromSlice(append([]float32(nil), x...), N, V).RequiresGrad()
	lt := runtime.CrossEntropy(xt, targets)
	must(t, lt.Mul(2.0).Backward())
	xb, tb := up(t, d, x), upInt(t, d, targets)
	loss, lse, dl, gx := alloc(t, d, 2), alloc(t, d, N), up(t, d, []float32{2}), alloc(t, d, N*V)
	must(t, d.CrossEntropy(loss, lse, xb, tb, N, V))
	got := down(t, d, loss, 2)
	closeTo(t, "cross entropy", got[:1], []float32{float32(lt.Item())}, 1e-5, 1e-5)
	if got[1] != float32(N-2) {
		t.Errorf("counted %v rows, want %d", got[1], N-2)
	}
	must(t, d.CrossEntropyBackward(gx, xb, lse, tb, loss, dl, N, V))
	closeTo(t, "cross entropy backward", down(t, d, gx, N*V), xt.Grad().Data(), 1e-6, 1e-4)
	for _, b := range []cuda.Buffer{xb, tb, loss, lse, dl, gx} {
		d.Free(b)
	}
}

// TestGPUCrossEntropyNothingCounted: with every target ignored the loss is
// NaN (the mean of nothing, as in PyTorch) and the gradient zero.
func TestGPUCrossEntropyNothingCounted(t *testing.T) {
	d := gpu(t)
	N, V := 3, 7
	xb, tb := up(t, d, randn(rand.New(rand.NewSource(3)), N*V, 1)), upInt(t, d, []int{-100, -100, -100})
	loss, lse, dl, gx := alloc(t, d, 2), alloc(t, d, N), up(t, d, []float32{1}), alloc(t, d, N*V)
	must(t, d.CrossEntropy(loss, lse, xb, tb, N, V))
	if got := down(t, d, loss, 2); got[0] == got[0] || got[1] != 0 {
		t.Errorf("loss %v, want NaN with 0 rows counted", got)
	}
	must(t, d.CrossEntropyBackward(gx, xb, lse, tb, loss, dl, N, V))
	for i, g := range down(t, d, gx, N*V) {
		if g != 0 {
			t.Fatalf("gradient[%d] = %v, want 0", i, g)
		}
	}
	for _, b := range []cuda.Buffer{xb, tb, loss, lse, dl, gx} {
		d.Free(b)
	}
	// No rows, or rows of no logits (every target ignored): NaN too, as
	// runtime.CrossEntropy gives (the device gave 0).
	for _, c := range []struct{ N, V int }{{0, 7}, {2, 0}} {
		loss := alloc(t, d, 2)
		lse := alloc(t, d, max(c.N, 1))
		ids := make([]int, c.N)
		for i := range ids {
			ids[i] = -100
		}
		logits := alloc(t, d, max(c.N*c.V, 1))
		tb := upInt(t, d, append(ids, 0))
		must(t, d.CrossEntropy(loss, lse, logits, tb, c.N, c.V))
		if got := down(t, d, loss, 2); got[0] == got[0] || got[1] != 0 {
			t.Errorf("N=%d V=%d: loss %v, want NaN with 0 rows counted", c.N, c.V, got)
		}
		for _, b := range []cuda.Buffer{loss, lse, logits, tb} {
			d.Free(b)
		}
	}
}

// hostGemm is the row-major reference in float64.
func hostGemm(transA, transB bool, m, n, k int, alpha float32, A []float32, lda int, B []float32, ldb int, beta float32, C []float32, ldc int) []float32 {
	out := append([]float32(nil), C...)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				var a, b float32
				if transA {
					a = A[p*lda+i]
				} else {
					a = A[i*lda+p]
				}
				if transB {
					b = B[j*ldb+p]
				} else {
					b = B[p*ldb+j]
				}
				s += float64(a) * float64(b)
			}
			out[i*ldc+j] = float32(float64(alpha)*s + float64(beta)*float64(C[i*ldc+j]))
		}
	}
	return out
}

func TestGPUGemm(t *testing.T) {
	d := gpu(t)
	rng := rand.New(rand.NewSource(11))
	m, n, k := 65, 47, 129
	for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
		ta, tb := tr[0], tr[1]
		ar, ac, br, bc := m, k, k, n
		if ta {
			ar, ac = k, m
		}
		if tb {
			br, bc = n, k
		}
		lda, ldb, ldc := ac+3, bc+1, n+2
		A, B, C := randn(rng, ar*lda+5, 1), randn(rng, br*ldb+5, 1), randn(rng, m*ldc, 1)
		// Operands start at element 5 of their buffers: views with offsets.
		ab, bb, cb := up(t, d, A), up(t, d, B), up(t, d, C)
		want := hostGemm(ta, tb, m, n, k, 0.75, A[5:], lda, B[5:], ldb, 0.5, C, ldc)
		must(t, d.Sgemm(ta, tb, m, n, k, 0.75, ab.Slice(5, len(A)-5), lda, bb.Slice(5, len(B)-5), ldb, 0.5, cb, ldc))
		got := down(t, d, cb, len(C))
		for i := 0; i < m; i++ { // padding columns are untouched
			for j := 0; j < ldc; j++ {
				w := C[i*ldc+j]
				if j < n {
					w = want[i*ldc+j]
				}
				if math.Abs(float64(got[i*ldc+j]-w)) > 1e-4 {
					t.Fatalf("transA=%v transB=%v: C[%d,%d] = %v, want %v", ta, tb, i, j, got[i*ldc+j], w)
				}
			}
		}
		for _, b := range []cuda.Buffer{ab, bb, cb} {
			d.Free(b)
		}
	}
	// Strided batched, with B shared by every batch (stride 0).
	batch := 3
	A, B := randn(rng, batch*m*k, 1), randn(rng, k*n, 1)
	ab, bb, cb := up(t, d, A), up(t, d, B), alloc(t, d, batch*m*n)
	must(t, d.SgemmStridedBatched(false, false, m, n, k, 1, ab, k, m*k, bb, n, 0, 0, cb, n, m*n, batch))
	got := down(t, d, cb, batch*m*n)
	for i := 0; i < batch; i++ {
		want := hostGemm(false, false, m, n, k, 1, A[i*m*k:], k, B, n, 0, make([]float32, m*n), n)
		closeTo(t, fmt.Sprintf("batched %d", i), got[i*m*n:(i+1)*m*n], want, 1e-4, 1e-4)
	}
	// Q K^T per head: B transposed, as attention does.
	must(t, d.SgemmStridedBatched(false, true, m, m, k, 1, ab, k, m*k, ab, k, m*k, 0, cb, m, m*m, 2))
	got = down(t, d, cb, 2*m*m)
	for i := 0; i < 2; i++ {
		want := hostGemm(false, true, m, m, k, 1, A[i*m*k:], k, A[i*m*k:], k, 0, make([]float32, m*m), m)
		closeTo(t, fmt.Sprintf("QK^T %d", i), got[i*m*m:(i+1)*m*m], want, 1e-4, 1e-4)
	}
	for _, b := range []cuda.Buffer{ab, bb, cb} {
		d.Free(b)
	}
	if err := d.Sgemm(false, false, m, n, k, 1, ab.Slice(0, 10), k, bb, n, 0, cb, n); err == nil {
		t.Error("too-small A accepted")
	}
}

func TestGPUTF32(t *testing.T) {
	d := gpu(t)
	rng := rand.New(rand.NewSource(12))
	const s = 512
	A, B := randn(rng, s*s, 1), randn(rng, s*s, 1)
	want := hostGemm(false, false, s, s, s, 1, A, s, B, s, 0, make([]float32, s*s), s)
	ab, bb, cb := up(t, d, A), up(t, d, B), alloc(t, d, s*s)
	defer func() {
		d.SetTF32(false)
		d.Free(ab)
		d.Free(bb)
		d.Free(cb)
	}()
	relErr := func() float64 {
		must(t, d.Sgemm(false, false, s, s, s, 1, ab, s, bb, s, 0, cb, s))
		got := down(t, d, cb, s*s)
		var num, den float64
		for i := range got {
			e := float64(got[i] - want[i])
			num += e * e
			den += float64(want[i]) * float64(want[i])
		}
		return math.Sqrt(num / den)
	}
	fp32 := relErr()
	must(t, d.SetTF32(true))
	tf32 := relErr()
	must(t, d.SetTF32(false))
	t.Logf("relative error vs float64: FP32 %.2e, TF32 %.2e", fp32, tf32)
	if fp32 > 1e-6 {
		t.Errorf("FP32 error %.2e too large (TF32 math leaking into strict mode?)", fp32)
	}
	if tf32 > 5e-3 {
		t.Errorf("TF32 error %.2e too large", tf32)
	}
	if again := relErr(); math.Abs(again-fp32) > 1e-7 {
		t.Errorf("FP32 after TF32 off: %.2e, was %.2e", again, fp32)
	}
}

// TestGPUAllocatorSteadyState runs a forward-like sequence repeatedly and
// checks that after the first round no buffer needs cuMemAlloc.
func TestGPUAllocatorSteadyState(t *testing.T) {
	d := gpu(t)
	rng := rand.New(rand.NewSource(13))
	rows, n := 128, 768
	x := up(t, d, randn(rng, rows*n, 1))
	defer d.Free(x)
	step := func() {
		y := alloc(t, d, rows*n)
		mean, rstd := alloc(t, d, rows), alloc(t, d, rows)
		must(t, d.LayerNorm(y, mean, rstd, x, cuda.Buffer{}, cuda.Buffer{}, rows, n, 1e-5))
		z := alloc(t, d, rows*n)
		must(t, d.Unary(cuda.OpGeluNew, z, y, rows*n, 0))
		s := alloc(t, d, n)
		must(t, d.SumTo(s, cuda.Contig(z, rows, n), []int{n}, 1, 0))
		for _, b := range []cuda.Buffer{y, mean, rstd, z, s} {
			must(t, d.Free(b))
		}
	}
	step()
	before := d.Stats()
	for range 20 {
		step()
	}
	must(t, d.Sync())
	after := d.Stats()
	t.Logf("stats after warm-up %+v, after 20 steps %+v", before, after)
	if after.Allocs != before.Allocs {
		t.Errorf("steady state called cuMemAlloc %d times", after.Allocs-before.Allocs)
	}
	if after.Reuses-before.Reuses != 20*5 {
		t.Errorf("reuses %d, want 100", after.Reuses-before.Reuses)
	}
}

func TestGPUOutOfMemory(t *testing.T) {
	d := gpu(t)
	_, err := d.Alloc(1 << 40) // 4 TiB
	if err == nil {
		t.Fatal("4 TiB allocation succeeded")
	}
	t.Logf("error: %v", err)
	if !cuda.IsOutOfMemory(err) || !strings.Contains(err.Error(), "4398046511104 bytes") {
		t.Errorf("error %v: want out of memory naming 4398046511104 bytes", err)
	}
	b := up(t, d, []float32{1, 2, 3})
	defer d.Free(b)
	must(t, d.Unary(cuda.OpScale, b, b, 3, 2))
	closeTo(t, "after OOM", down(t, d, b, 3), []float32{2, 4, 6}, 0, 0)
}

// BenchmarkLaunch measures the cost of one small kernel launch: us/launch
// until the GPU has run them all, host-us/launch until the host has queued
// them (the launches wait for nothing).
func BenchmarkLaunch(b *testing.B) {
	d := gpu(b)
	x := up(b, d, make([]float32, 1024))
	defer d.Free(x)
	must(b, d.Unary(cuda.OpScale, x, x, 1024, 1))
	must(b, d.Sync())
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if err := d.Unary(cuda.OpScale, x, x, 1024, 1); err != nil {
			b.Fatal(err)
		}
	}
	queued := time.Since(start)
	must(b, d.Sync())
	b.ReportMetric(float64(time.Since(start).Microseconds())/float64(b.N), "us/launch")
	b.ReportMetric(float64(queued.Microseconds())/float64(b.N), "host-us/launch")
}

func benchGemm(b *testing.B, tf32 bool) {
	d := gpu(b)
	skipOnFake(b, d)
	const s = 4096
	rng := rand.New(rand.NewSource(14))
	x := randn(rng, s*s, 1)
	ab, bb, cb := up(b, d, x), up(b, d, x), alloc(b, d, s*s)
	defer func() {
		d.SetTF32(false)
		d.Free(ab)
		d.Free(bb)
		d.Free(cb)
	}()
	must(b, d.SetTF32(tf32))
	must(b, d.Sgemm(false, false, s, s, s, 1, ab, s, bb, s, 0, cb, s))
	must(b, d.Sync())
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if err := d.Sgemm(false, false, s, s, s, 1, ab, s, bb, s, 0, cb, s); err != nil {
			b.Fatal(err)
		}
	}
	must(b, d.Sync())
	sec := time.Since(start).Seconds()
	b.ReportMetric(2*float64(s)*s*s*float64(b.N)/sec/1e12, "TFLOP/s")
}

func BenchmarkSgemm4096FP32(b *testing.B) { benchGemm(b, false) }
func BenchmarkSgemm4096TF32(b *testing.B) { benchGemm(b, true) }

// BenchmarkSoftmaxLogits times softmax over GPT-2 logits [1024, 50257].
func BenchmarkSoftmaxLogits(b *testing.B) {
	d := gpu(b)
	skipOnFake(b, d)
	rows, n := 1024, 50257
	x, y := alloc(b, d, rows*n), alloc(b, d, rows*n)
	defer d.Free(x)
	defer d.Free(y)
	must(b, d.Memset(x, 0.5))
	must(b, d.Softmax(y, x, rows, n))
	must(b, d.Sync())
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		must(b, d.Softmax(y, x, rows, n))
	}
	must(b, d.Sync())
	sec := time.Since(start).Seconds()
	b.ReportMetric(float64(3*4*rows*n)*float64(b.N)/sec/1e9, "GB/s")
}

// skipOnFake skips a benchmark too big for fakecuda's host execution (a
// dry run of the GPU check).
func skipOnFake(b *testing.B, d *cuda.Device) {
	if strings.Contains(d.Info().Name, "fakecuda") {
		b.Skip("fakecuda runs GEMMs and kernels on the host: too slow for this size")
	}
}

// benchBytes times f (one launch moving bytes of memory) and reports GB/s.
func benchBytes(b *testing.B, d *cuda.Device, bytes int, f func() error) {
	must(b, f())
	must(b, d.Sync())
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		must(b, f())
	}
	must(b, d.Sync())
	b.ReportMetric(float64(bytes)*float64(b.N)/time.Since(start).Seconds()/1e9, "GB/s")
}

// BenchmarkBiasAdd times Linear's bias add, out[4096, 3072] = x + bias[3072]
// (binary_row4).
func BenchmarkBiasAdd(b *testing.B) {
	d := gpu(b)
	skipOnFake(b, d)
	rows, n := 4096, 3072
	x, out, bias := alloc(b, d, rows*n), alloc(b, d, rows*n), alloc(b, d, n)
	defer d.Free(x)
	defer d.Free(out)
	defer d.Free(bias)
	must(b, d.Memset(x, 0.5))
	must(b, d.Memset(bias, 0.25))
	benchBytes(b, d, 2*4*rows*n, func() error {
		return d.Binary(cuda.OpAdd, cuda.Contig(out, rows, n), cuda.Contig(x, rows, n), cuda.Contig(bias, n))
	})
}

// BenchmarkResidualAdd times a contiguous add, [4096, 768] + [4096, 768]
// (binary_contig4).
func BenchmarkResidualAdd(b *testing.B) {
	d := gpu(b)
	skipOnFake(b, d)
	n := 4096 * 768
	x, y, out := alloc(b, d, n), alloc(b, d, n), alloc(b, d, n)
	defer d.Free(x)
	defer d.Free(y)
	defer d.Free(out)
	must(b, d.Memset(x, 0.5))
	must(b, d.Memset(y, 0.25))
	benchBytes(b, d, 3*4*n, func() error { return d.Binary(cuda.OpAdd, cuda.Contig(out, n), cuda.Contig(x, n), cuda.Contig(y, n)) })
}

// BenchmarkHeadPermute times attention's head permute made contiguous,
// [32, 128, 12, 64] seen as [32, 12, 128, 64] (copy_strided4).
func BenchmarkHeadPermute(b *testing.B) {
	d := gpu(b)
	skipOnFake(b, d)
	B, T, H, D := 32, 128, 12, 64
	n := B * T * H * D
	x, out := alloc(b, d, n), alloc(b, d, n)
	defer d.Free(x)
	defer d.Free(out)
	must(b, d.Memset(x, 0.5))
	src := cuda.Strided{Buf: x, Shape: []int{B, H, T, D}, Strides: []int{T * H * D, D, H * D, 1}}
	benchBytes(b, d, 2*4*n, func() error { return d.Copy(cuda.Contig(out, B, H, T, D), src) })
}
