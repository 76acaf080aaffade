package runtime

import (
	"math"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"nnscope/runtime/cuda/emu"
)

func TestGPUScope(t *testing.T) {
	useGPU(t, emu.New())
	outside := Ones(8).To("cuda") // made before the scope: never released
	w := Ones(8).To("cuda").RequiresGrad()
	settleGPUMemory()
	base := GPUMemoryInUse()

	gs := BeginGPUScope()
	if BeginGPUScope() != nil {
		t.Fatal("a second scope opened while one is open")
	}
	gs.tainted = false // undo the mark the refused Begin left, for this test
	kept := outside.Add(1)
	Escape(kept)
	view := kept.Slice("2:4") // shares kept's memory
	dropped := outside.Mul(2)
	loss := w.Mul(outside).Sum() // gradient into w, a leaf from before the scope
	if err := loss.Backward(); err != nil {
		t.Fatal(err)
	}
	inner := Ones(8).To("cuda").RequiresGrad() // a leaf made inside the scope
	if err := inner.Sum().Backward(); err != nil {
		t.Fatal(err)
	}
	released := gs.End()
	if released == 0 {
		t.Fatal("nothing released")
	}
	if got := GPUMemoryInUse() - base; got != int64(kept.Size()+w.Size())*4 {
		t.Errorf("%d bytes in use after the scope, want kept's and w.grad's %d", got, (kept.Size()+w.Size())*4)
	}
	if got := kept.Sum().Item() + view.Sum().Item(); got != 16+4 {
		t.Errorf("escaped values read %v, want 20", got)
	}
	if g := w.Grad(); g == nil || g.Sum().Item() != 8 {
		t.Errorf("gradient of a leaf from before the scope lost: %v", g)
	}
	func() {
		defer func() {
			r := recover()
			if r == nil || !strings.Contains(r.(*Error).Msg, "released when the trace") {
				t.Errorf("using a released tensor: %v", r)
			}
		}()
		dropped.Sum()
	}()

	// A saved value with gradient history keeps the whole scope (its graph
	// may be differentiated later).
	gs = BeginGPUScope()
	x := outside.RequiresGrad().Mul(3)
	y := x.Mul(x)
	Escape(y)
	if n := gs.End(); n != 0 {
		t.Errorf("released %d bytes though an escaped value has a graph", n)
	}
	if err := y.Sum().Backward(); err != nil {
		t.Fatal(err)
	}
	var nilScope *GPUScope
	if nilScope.End() != 0 {
		t.Error("End on nil")
	}
}

// TestGPUScopeCountsEscapedForGC: what a scope keeps (saved values, caches)
// is the collector's to free once dropped, so End counts it towards the
// next forced collection; before, a loop of traces that each saved or
// cached values and dropped them never asked for one (allocations inside a
// scope do not count), and device memory grew until an allocation failed.
func TestGPUScopeCountsEscapedForGC(t *testing.T) {
	useGPU(t, emu.New())
	every := gpuGCEvery
	defer func() { gpuGCEvery = every }()
	gpuGCEvery = 1 << 40
	gpuSinceGC.Store(0)
	gs := BeginGPUScope()
	kept := Ones(256).To("cuda")
	Escape(kept)
	Ones(256).To("cuda") // released by End
	gs.End()
	if got := gpuSinceGC.Load(); got != int64(kept.Size())*4 {
		t.Errorf("counted %d bytes towards the next collection, want the escaped %d", got, kept.Size()*4)
	}
	// Past the threshold, End collects.
	gpuGCEvery = 512
	var before, after goruntime.MemStats
	goruntime.ReadMemStats(&before)
	gs = BeginGPUScope()
	Escape(Ones(256).To("cuda"))
	gs.End()
	goruntime.ReadMemStats(&after)
	if after.NumGC == before.NumGC || gpuSinceGC.Load() != 0 {
		t.Errorf("End past the threshold: %d collections, %d bytes still counted", after.NumGC-before.NumGC, gpuSinceGC.Load())
	}
}

// TestGPUTensorPrintsRequiresGrad: a GPU tensor prints requires_grad as a
// CPU one does.
func TestGPUTensorPrintsRequiresGrad(t *testing.T) {
	useGPU(t, emu.New())
	x := Ones(2).To("cuda").RequiresGrad()
	if s := x.String(); !strings.HasSuffix(s, "device=cuda, requires_grad)") {
		t.Errorf("printed %s", s)
	}
	if s := x.Detach().String(); strings.Contains(s, "requires_grad") {
		t.Errorf("detached printed %s", s)
	}
}

// TestGPUScopeSavedThenWritten: a value escaped without history that an
// in-place write then gives a graph through the scope's buffers keeps the
// scope (a backward pass after it needs them: it used to fail with "GPU
// memory was released"); a write of a constant (an ablation after saving)
// does not.
func TestGPUScopeSavedThenWritten(t *testing.T) {
	useGPU(t, emu.New())
	x := Ones(2).To("cuda").RequiresGrad() // from before the scope

	gs := BeginGPUScope()
	h := Ones(4).To("cuda").RequiresGrad()
	Escape(h)
	h.Slice("1:3").Copy(x.Mul(2).Exp()) // exp's backward reads its output, made in the scope
	if n := gs.End(); n != 0 {
		t.Fatalf("released %d bytes though a saved value was written from the scope's graph", n)
	}
	if err := h.Sum().Backward(); err != nil {
		t.Fatal(err)
	}
	if g := x.Grad(); g == nil || math.Abs(g.At(1)-2*math.Exp(2)) > 1e-3 {
		t.Errorf("gradient through the write: %v", g)
	}

	gs = BeginGPUScope()
	a := Ones(4).To("cuda").RequiresGrad()
	Escape(a)
	a.Mul(3) // dropped
	a.Slice("0:2").Fill(0)
	if n := gs.End(); n == 0 {
		t.Error("a saved value ablated in place kept the whole scope")
	}
	if got := a.Sum().Item(); got != 2 {
		t.Errorf("ablated value reads %v, want 2", got)
	}
}

// settleGPUMemory lets the collector free the GPU tensors earlier tests
// dropped, so that their cleanups do not change GPUMemoryInUse in the
// middle of a test that measures it.
func settleGPUMemory() {
	for range 20 {
		before := GPUMemoryInUse()
		goruntime.GC()
		time.Sleep(2 * time.Millisecond) // cleanups run on their own goroutine
		if GPUMemoryInUse() == before {
			return
		}
	}
}
