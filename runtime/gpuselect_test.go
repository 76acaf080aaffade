package runtime

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"nnscope/runtime/cuda/emu"
)

// TestGPUSelectionOps: Where, MaskedFill, TopK and Argmax of GPU tensors
// give the CPU's values (NaN first, ties by lower index, inf on the side
// not picked kept out) and gradients, on the device. On the CUDA backend
// they run as kernels: no tensor goes through host memory (they were run
// on host copies, three downloads and an upload each).
func TestGPUSelectionOps(t *testing.T) { onGPUs(t, gpuSelectionOps) }

func gpuSelectionOps(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	x := FromSlice([]float32{1, 5, nan, 3, 0, nan, -1, 7, 2, 2, -inf, 2}, 3, 4)
	cond := FromSlice([]float32{1, 0, nan, 0}, 4)
	b := FromSlice([]float32{inf, -2, 3, nan}, 4)
	_, kernels := gpuBackend().(topKBackend)
	if _, w := gpuBackend().(whereBackend); w != kernels {
		t.Fatal("a backend with one of the selection kernels and not the other")
	}
	onCUDA := strings.HasSuffix(t.Name(), "/cuda") // the CUDA backend (on fakecuda here), not the emulator
	if onCUDA && !kernels {
		t.Error("the CUDA backend has no TopK and Where kernels")
	}
	type result struct{ gpu, cpu *Tensor }
	ops := []struct {
		name string
		f    func(x, cond, b *Tensor) []*Tensor
	}{
		{"Where", func(x, cond, b *Tensor) []*Tensor { return []*Tensor{Where(cond, x, b)} }},
		{"Where of views", func(x, cond, b *Tensor) []*Tensor {
			return []*Tensor{Where(cond.Slice("1:3").Unsqueeze(1), x.T().Slice("1:3"), b.Slice("::-2").Unsqueeze(1))}
		}},
		{"MaskedFill", func(x, cond, b *Tensor) []*Tensor { return []*Tensor{x.MaskedFill(cond, -9)} }},
		{"TopK", func(x, cond, b *Tensor) []*Tensor { v, i := x.TopK(3); return []*Tensor{v, i} }},
		{"TopK of a view, k = n", func(x, cond, b *Tensor) []*Tensor { v, i := x.T().TopK(3); return []*Tensor{v, i} }},
		{"Argmax", func(x, cond, b *Tensor) []*Tensor { return []*Tensor{x.Argmax(), x.Slice("1").Argmax(), b.Argmax()} }},
		{"Argmax of a 0-d tensor", func(x, cond, b *Tensor) []*Tensor { return []*Tensor{x.Select(0, 0).Select(0, 1).Argmax()} }},
	}
	for _, op := range ops {
		cpu := op.f(x, cond, b)
		gx, gc, gb := x.To("cuda"), cond.To("cuda"), b.To("cuda")
		before := GPUCallCounts()
		gpu := op.f(gx, gc, gb)
		calls := GPUCallCounts().Sub(before)
		for i := range cpu {
			if gpu[i].Device() != "cuda" {
				t.Errorf("%s: result %d on %s", op.name, i, gpu[i].Device())
				continue
			}
			if got, want := fmt.Sprint(gpu[i].Shape(), gpu[i].Data()), fmt.Sprint(cpu[i].Shape(), cpu[i].Data()); got != want {
				t.Errorf("%s: result %d is %s on the GPU, %s on the CPU", op.name, i, got, want)
			}
		}
		if onCUDA && (calls.Uploads != 0 || calls.Downloads != 0) {
			t.Errorf("%s: %v: the op went through host memory", op.name, calls)
		}
	}

	// Gradients, through the op only (no host copies on the way).
	a := FromSlice([]float32{1, 2, 3, 4, 5, 6, 7, 8}, 2, 4)
	grads := func(dev string) (string, GPUCounts) {
		xa, xb := a.To(dev).Detach().RequiresGrad(), b.To(dev).Detach().RequiresGrad()
		w := FromSlice([]float32{1, -2, 3, -4, 5, -6, 7, -8}, 2, 4).To(dev)
		c := cond.To(dev)
		v, _ := xa.Mul(w).TopK(2)
		out := Where(c, xa, xb).Mul(w).Sum().Add(v.Mul(v).Sum()).Add(xa.MaskedFill(c, 2).Mul(w).Sum())
		before := GPUCallCounts()
		if err := out.Backward(); err != nil {
			t.Fatal(err)
		}
		calls := GPUCallCounts().Sub(before)
		return fmt.Sprint(xa.Grad().Data(), xb.Grad().Data()), calls
	}
	want, _ := grads("cpu")
	got, calls := grads("cuda")
	if got != want {
		t.Errorf("gradients of Where, MaskedFill and TopK: %s on the GPU, %s on the CPU", got, want)
	}
	if onCUDA && calls.Uploads+calls.Downloads != 0 {
		t.Errorf("backward: %v: went through host memory", calls)
	}

	// A larger TopK than a block's threads: rows of 3000.
	big := New(5, 3000)
	for i := range big.raw() {
		big.raw()[i] = float32((i*7919)%3001) / 3
	}
	v, i := big.TopK(40)
	gv, gi := big.To("cuda").TopK(40)
	if fmt.Sprint(gv.Data(), gi.Data()) != fmt.Sprint(v.Data(), i.Data()) {
		t.Errorf("TopK(40) of rows of 3000 differs from the CPU's")
	}
}

// TestGPUGradReplacementOnAnotherDevice: a gradient replaced (OnGrad, a
// hook) by a tensor on the other device is a clear error; it was a nil
// pointer dereference in the next backward kernel.
func TestGPUGradReplacementOnAnotherDevice(t *testing.T) {
	onGPUs(t, gpuGradReplacementOnAnotherDevice)
}

func gpuGradReplacementOnAnotherDevice(t *testing.T) {
	x := Ones(2, 3).To("cuda").Detach().RequiresGrad()
	y := x.Mul(2).Exp()
	err := y.Sum().Backward(BackwardOptions{OnGrad: func(v, g *Tensor) *Tensor {
		if v == y {
			return Ones(2, 3)
		}
		return nil
	}})
	if err == nil || !strings.Contains(err.Error(), `gradient replacement is on cpu, the tensor and its gradient on cuda (move it with .To("cuda"))`) {
		t.Errorf("a cpu gradient for a cuda tensor: %v", err)
	}
	z := Ones(2).To("cuda").Detach().RequiresGrad()
	err = z.Sum().Backward(BackwardOptions{Grad: Scalar(1)})
	if err == nil || !strings.Contains(err.Error(), "seed gradient is on cpu") {
		t.Errorf("a cpu seed for a cuda tensor: %v", err)
	}
}

// TestGPUReversedViewsStayOnDevice: views with a negative step are read
// and written by the CUDA kernels; each went through host memory (the
// whole allocation downloaded, and uploaded back for a write).
func TestGPUReversedViewsStayOnDevice(t *testing.T) { onGPUs(t, gpuReversedViewsStayOnDevice) }

func gpuReversedViewsStayOnDevice(t *testing.T) {
	x := Arange(24).Reshape(2, 3, 4).Detach()
	w := Arange(8).Reshape(4, 2).Detach()
	f := func(x, w *Tensor) *Tensor {
		y := x.Mul(1)
		y.Slice(":, ::-1, 1").Copy(x.Slice("0, :, ::-2").Sum(1))
		y.Slice("::-1, 0, ::-3").Fill(-1)
		return y.Slice(":, ::-2").Add(x.Slice("::-1, ::-1, ::-1").Sum(1).Unsqueeze(1)).MatMul(w.Slice("::-1")).Contiguous()
	}
	want := f(x, w)
	gx, gw := x.To("cuda"), w.To("cuda")
	before := GPUCallCounts()
	got := f(gx, gw)
	calls := GPUCallCounts().Sub(before)
	if g, w := fmt.Sprint(got.Shape(), got.Data()), fmt.Sprint(want.Shape(), want.Data()); g != w {
		t.Errorf("on the GPU %s, on the CPU %s", g, w)
	}
	if strings.HasSuffix(t.Name(), "/cuda") && calls.Uploads+calls.Downloads != 0 {
		t.Errorf("%v: reversed views went through host memory", calls)
	}
}

// TestDeviceMismatchSaysWhichIsWhere: mixing devices is an error that
// says which operand is on which device (it said "cuda and cpu" whatever
// the order, and MaskedFill's named Where's operands).
func TestDeviceMismatchSaysWhichIsWhere(t *testing.T) {
	useGPU(t, emu.New())
	g, c := Ones(2, 3).To("cuda"), Ones(2, 3)
	for _, tc := range []struct {
		f    func()
		want string
	}{
		{func() { c.Add(g) }, "Add: tensors on different devices, the tensor on cpu and the operand on cuda: move one with"},
		{func() { g.MatMul(c.T()) }, "MatMul: tensors on different devices, the tensor on cuda and the argument on cpu"},
		{func() { g.Copy(c) }, "Copy: tensors on different devices, the destination on cuda and the source on cpu"},
		{func() { Where(c, g, g) }, "Where: tensors on different devices, cond on cpu, a on cuda and b on cuda"},
		{func() { g.MaskedFill(c, 1) }, "MaskedFill: tensors on different devices, the tensor on cuda and the mask on cpu"},
		{func() { Stack(0, g, g, c) }, "Concat: tensors on different devices, tensor 0 on cuda, tensor 1 on cuda and tensor 2 on cpu"},
		{func() { LayerNorm(g, Ones(3), nil, 1e-5) }, "LayerNorm: tensors on different devices, x on cuda and the weight on cpu"},
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), tc.want) {
					t.Errorf("got %v, want %q", r, tc.want)
				}
			}()
			tc.f()
		}()
	}
}

// TestGPUOutOfMemorySaysWhatToDo: running out of GPU memory names the
// tensor's shape and size, what live tensors hold, and what to do; the
// engine keeps working afterwards.
func TestGPUOutOfMemorySaysWhatToDo(t *testing.T) {
	dev := emu.New()
	dev.Limit = 1 << 20
	useGPU(t, dev)
	x := Ones(256, 256).To("cuda") // 256 KiB, held
	func() {
		defer func() {
			want := "out of GPU memory: a tensor of shape [65536 16] needs 4194304 bytes (4.0 MiB), and live tensors hold 256.0 KiB: free tensors you no longer use"
			if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), want) {
				t.Errorf("got %v, want %q", r, want)
			}
		}()
		x.Reshape(-1, 1).MatMul(x.Reshape(1, -1).Narrow(1, 0, 16)).Reshape(1024, 1024)
	}()
	if got := x.Sum().Item(); got != 256*256 {
		t.Errorf("after running out: sum %v", got)
	}
}

// TestGPUTopKLargeK: a k past the kernel's (TopK of a whole vocabulary
// row for top-p) sorts on the host, with the CPU's order and gradient; the
// kernel's k passes over the row made gpt2's fakecuda test, which takes
// TopK of whole vocabulary rows, run past 10 minutes.
func TestGPUTopKLargeK(t *testing.T) {
	onGPUs(t, func(t *testing.T) {
		k := topKKernelMax + 37
		x := New(2, 3*k)
		for i := range x.raw() {
			x.raw()[i] = float32((i*7919)%101) / 10 // ties, so the order of equal values counts
		}
		want, wantI := x.TopK(k)
		xg := x.To("cuda").Detach().RequiresGrad()
		got, gotI := xg.TopK(k)
		if fmt.Sprint(got.Data(), gotI.Data()) != fmt.Sprint(want.Data(), wantI.Data()) {
			t.Fatalf("TopK(%d) on the GPU differs from the CPU", k)
		}
		if err := got.Sum().Backward(); err != nil {
			t.Fatal(err)
		}
		if s := xg.Grad().Sum().Item(); s != float64(2*k) {
			t.Errorf("gradient sums to %g, want %d", s, 2*k)
		}
	})
}
