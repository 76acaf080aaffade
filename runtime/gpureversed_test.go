package runtime

import (
	"math/rand"
	"testing"
)

// TestGPUReversedViewsOnEveryBackend: views with negative steps go to each
// strided kernel (Binary, Copy, Fill, SumTo, Where) as they are, on the
// emulator as on the CUDA backend, with the CPU's values and gradients.
// No tensor goes through host memory on either: the engine used to copy
// such views through the host for the emulator, which did not take
// negative strides, so the kernels' path was tested only on fakecuda.
func TestGPUReversedViewsOnEveryBackend(t *testing.T) { onGPUs(t, gpuReversedViewsOnEveryBackend) }

func gpuReversedViewsOnEveryBackend(t *testing.T) { gpuReversedViewsOnEveryBackendVia(t, true) }

// gpuReversedViewsOnEveryBackendVia runs the cases; onDevice: the backend
// has every kernel they use, so that none goes through host memory.
func gpuReversedViewsOnEveryBackendVia(t *testing.T, onDevice bool) {
	r := rand.New(rand.NewSource(21))
	x, w := randTensor(r, 3, 4, 5), randTensor(r, 4, 5)
	h := randTensor(r, 2, 2, 2, 2, 2, 2, 3)
	cond := New(3, 4, 5)
	for i := range cond.raw() {
		cond.raw()[i] = float32(i % 3 % 2) // 0, 1, 0, 0, 1, 0, ...
	}
	cases := []struct {
		name string
		f    func(x, w, cond, _ *Tensor) *Tensor
	}{
		{"binary, both operands reversed", func(x, w, _, _ *Tensor) *Tensor {
			return x.Slice("::-1, :, ::-1").Mul(w.Slice("::-1"))
		}},
		{"binary, a reversed operand broadcast", func(x, w, _, _ *Tensor) *Tensor {
			return x.Slice(":, ::-1").Sub(w.Slice("::-1, 1:2")).Div(w.Slice("::-2, ::-1").Slice("0").Exp())
		}},
		{"binary of a view and its reverse", func(x, _, _, _ *Tensor) *Tensor {
			return x.Add(x.Slice("::-1, ::-1, ::-1"))
		}},
		{"contiguous copy of a reversed view", func(x, _, _, _ *Tensor) *Tensor {
			return x.Slice("::-1, ::-2, ::-1").Contiguous()
		}},
		{"copy into a reversed view", func(x, w, _, _ *Tensor) *Tensor {
			y := x.Mul(1)
			y.Slice("::-1, ::-2").Copy(w.Slice("::-2, ::-1").Mul(3))
			return y
		}},
		{"copy of a reversed view into a reversed view", func(x, w, _, _ *Tensor) *Tensor {
			y := x.Mul(2)
			y.Slice("0, ::-1, ::-1").Copy(w.Slice(":, ::-1").Tanh())
			return y
		}},
		{"fill of a reversed view", func(x, _, _, _ *Tensor) *Tensor {
			y := x.Mul(1)
			y.Slice(":, ::-1, ::-3").Fill(7)
			return y
		}},
		{"sums of reversed views", func(x, _, _, _ *Tensor) *Tensor {
			return x.Slice("::-1, :, ::-1").Sum(0).Add(x.Slice(":, ::-1").Sum(2).Slice("0").Unsqueeze(1))
		}},
		{"sum of all of a reversed view", func(x, _, _, _ *Tensor) *Tensor {
			return x.Slice("::-2, ::-1").Sum().Add(x.Slice("1"))
		}},
		{"where over reversed views", func(x, w, cond, _ *Tensor) *Tensor {
			return Where(cond.Slice("::-1, :, ::-1"), x.Slice(":, ::-1"), w.Slice("::-1").Mul(5))
		}},
		{"masked fill through a reversed mask", func(x, _, cond, _ *Tensor) *Tensor {
			return x.MaskedFill(cond.Slice("::-1, ::-1"), -3)
		}},
		// Rank 7 whose dimensions do not merge: past the kernels' MaxRank,
		// so the device splits them over launches (it failed).
		{"rank 7, permuted and reversed", func(_, _, cond, h *Tensor) *Tensor {
			p := h.Permute(6, 5, 4, 3, 2, 1, 0).Slice("::-1, :, ::-1")
			y := p.Mul(p.Slice(":, ::-1").Exp()).Contiguous()
			y.Permute(1, 0, 3, 2, 5, 4, 6).Slice("::-1").Fill(2)
			c := cond.Reshape(3, 4, 5, 1, 1, 1, 1).Slice("0:2, 0:2, 0:2").Permute(6, 5, 4, 3, 2, 1, 0).Expand(3, 2, 2, 2, 2, 2, 2)
			summed := p.Unsqueeze(0).Expand(2, 3, 2, 2, 2, 2, 2, 2).Sum(0) // seven kept dimensions that do not merge
			return Where(c, y, p).Add(p.Sum(0, 2, 4, 6).Reshape(1, 2, 1, 2, 1, 2, 1)).Add(summed)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			xc, wc, hc := x.Detach().Clone().RequiresGrad(), w.Detach().Clone().RequiresGrad(), h.Detach().Clone().RequiresGrad()
			want := c.f(xc, wc, cond, hc)
			seed := randTensor(r, want.shape...)
			if err := want.Mul(seed).Sum().Backward(); err != nil {
				t.Fatal(err)
			}
			xg, wg, cg := x.To("cuda").Detach().RequiresGrad(), w.To("cuda").Detach().RequiresGrad(), cond.To("cuda")
			hg := h.To("cuda").Detach().RequiresGrad()
			before := GPUCallCounts()
			got := c.f(xg, wg, cg, hg)
			if calls := GPUCallCounts().Sub(before); onDevice && calls.Uploads+calls.Downloads != 0 {
				t.Errorf("%v: reversed views went through host memory", calls)
			}
			if got.Device() != "cuda" {
				t.Fatalf("result on %s", got.Device())
			}
			if err := got.Mul(seed.To("cuda")).Sum().Backward(); err != nil {
				t.Fatal(err)
			}
			if !AllClose(got.To("cpu"), want, 1e-5, 1e-6) {
				t.Errorf("forward differs:\ngpu %v\ncpu %v", got.To("cpu"), want)
			}
			for i, p := range [][2]*Tensor{{xg, xc}, {wg, wc}, {hg, hc}} {
				gg, gc := p[0].Grad(), p[1].Grad()
				if (gg == nil) != (gc == nil) {
					t.Fatalf("input %d: gpu grad %v, cpu grad %v", i, gg, gc)
				}
				if gc != nil && !AllClose(gg.To("cpu"), gc, 1e-4, 1e-5) {
					t.Errorf("input %d gradient differs:\ngpu %v\ncpu %v", i, gg.To("cpu"), gc)
				}
			}
		})
	}
}
