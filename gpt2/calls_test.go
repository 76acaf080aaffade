package gpt2

import (
	"testing"

	rt "nnscope/runtime"
)

type exitHook func(m *rt.Module, out *rt.Tensor)

func (h exitHook) Enter(*rt.Module, []*rt.Tensor) ([]*rt.Tensor, *rt.Tensor) { return nil, nil }
func (h exitHook) Exit(m *rt.Module, out *rt.Tensor) *rt.Tensor              { h(m, out); return nil }

// TestGPUPassCalls pins down what a pass asks of the GPU, counted on the
// emulated device: on a GPU a small pass is bound by launches and host
// syncs, not arithmetic. A forward pass and the seed example (gradient at
// the last block from logits.sum()) upload the ids and positions once, never
// wait for the device, and stay within a launch budget per layer.
func TestGPUPassCalls(t *testing.T) {
	installEmulatedGPU(t)
	testDevice = "cuda"
	defer func() { testDevice = "cpu" }()
	m, _, _ := loadTiny(t)
	L := int64(len(m.Blocks))
	in := Input{IDs: [][]int{{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}}
	m.Forward(nil, in, nil) // warm up

	c0 := rt.GPUCallCounts()
	m.Forward(nil, in, nil)
	fwd := rt.GPUCallCounts().Sub(c0)

	last := m.Blocks[len(m.Blocks)-1].Module.Path
	var out *rt.Tensor
	c1 := rt.GPUCallCounts()
	logits := m.Forward(exitHook(func(mod *rt.Module, o *rt.Tensor) {
		if mod.Path == last {
			o.RequiresGrad()
			out = o
		}
	}), in, nil)
	got := 0
	out.RegisterHook(func(g *rt.Tensor) *rt.Tensor { got++; return nil })
	if err := logits.Sum().Backward(); err != nil {
		t.Fatal(err)
	}
	seed := rt.GPUCallCounts().Sub(c1)
	if got != 1 {
		t.Fatalf("gradient hook ran %d times", got)
	}
	t.Logf("%d layers; forward: %v; seed example: %v", L, fwd, seed)
	for name, c := range map[string]rt.GPUCounts{"forward": fwd, "seed example": seed} {
		if c.Downloads != 0 || c.Syncs != 0 {
			t.Errorf("%s waited for the device: %v", name, c)
		}
		if c.Uploads > 2 {
			t.Errorf("%s uploaded %d times, want the ids and positions only", name, c.Uploads)
		}
	}
	// Per layer at 10 tokens: 12 launches and no cuBLAS call (a cuBLAS
	// call cost the host of an H100 about three launches): the
	// projections are few-row kernels with the bias added in the same
	// launch, attention's products small batched kernels. The seed's one
	// is the lm_head's dx, a sum over the vocabulary (cuda.LinearSmallFits).
	if fwd.Gemms != 0 || seed.Gemms > 1 {
		t.Errorf("cuBLAS calls over 10 tokens: forward %d, seed %d; want none and one", fwd.Gemms, seed.Gemms)
	}
	// With the pass's own 8 (embeddings, final norm, lm_head) spread over
	// the tiny model's 3 layers: 14.
	if perLayer := (fwd.Kernels + fwd.Gemms) / L; perLayer > 14 {
		t.Errorf("forward launches %d per layer, want <= 14 (%v)", perLayer, fwd)
	}
}
