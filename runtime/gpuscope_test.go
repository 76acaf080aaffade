package runtime

import (
	"strings"
	"testing"

	"nnscope/runtime/cuda/emu"
)

func TestGPUScope(t *testing.T) {
	saved, savedErr := gpuDev, gpuErr
	defer func() {
		SetGPUBackend(saved)
		gpuErr = savedErr
	}()
	SetGPUBackend(emu.New())
	outside := Ones(8).To("cuda") // made before the scope: never released
	w := Ones(8).To("cuda").RequiresGrad()
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
