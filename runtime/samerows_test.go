package runtime

import (
	"math/rand"
	"testing"
)

// Linear's backward for an upstream gradient that is the same in every row
// (logits.Sum().Backward(): an expanded view) takes one-row GEMMs and an
// outer product; its gradients are those of the general path, given the
// same gradient materialized, for every operand layout and on every device.
func TestLinearBackwardSameRows(t *testing.T) {
	t.Run("cpu", func(t *testing.T) { linearBackwardSameRowsCase(t, "cpu") })
	onGPUs(t, func(t *testing.T) { linearBackwardSameRowsCase(t, "cuda") })
}

// meanSeed stands for out.Mean().Backward() in linearBackwardSameRowsCase.
var meanSeed = New(1)

func linearBackwardSameRowsCase(t *testing.T, dev string) {
	r := rand.New(rand.NewSource(11))
	const B, T, in, outF = 3, 4, 5, 7
	x0, wt0, b0 := randTensor(r, B, T, in), randTensor(r, outF, in), randTensor(r, outF)
	row := randTensor(r, outF)
	// Expanded on the device, as a Sum's gradient is there.
	seeds := map[string]*Tensor{
		"scalar":    FromSlice([]float32{1.5}).Reshape().To(dev).Expand(B, T, outF),
		"one row":   row.To(dev).Expand(B, T, outF),
		"one batch": randTensor(r, 1, 1, outF).To(dev).Expand(B, T, outF),
		"Sum":       nil,
		"Mean":      meanSeed,
	}
	for name, seed := range seeds {
		for _, transposed := range []bool{false, true} {
			for _, withBias := range []bool{false, true} {
				run := func(seed *Tensor) (gx, gw, gb *Tensor, flops int64) {
					x := x0.Clone().To(dev).Detach().RequiresGrad()
					wt := wt0.Clone().To(dev).Detach().RequiresGrad() // [out, in]
					w := wt.T()
					if !transposed {
						w = wt.T().Contiguous().Detach().RequiresGrad()
					}
					var b *Tensor
					if withBias {
						b = b0.Clone().To(dev).Detach().RequiresGrad()
					}
					out := Linear(x, w, b)
					f0 := gemmFlops.Load()
					var err error
					switch seed {
					case nil:
						err = out.Sum().Backward()
					case meanSeed:
						err = out.Mean().Backward()
					default:
						err = out.Backward(BackwardOptions{Grad: seed})
					}
					if err != nil {
						t.Fatal(err)
					}
					flops = gemmFlops.Load() - f0
					gw = w.Grad()
					if transposed {
						gw = wt.Grad().T()
					}
					if withBias {
						gb = b.Grad()
					}
					return x.Grad(), gw, gb, flops
				}
				gx, gw, gb, fast := run(seed)
				full := Full(1, B, T, outF)
				switch seed {
				case nil:
				case meanSeed:
					full = Full(1.0/(B*T*outF), B, T, outF)
				default:
					full = seed.Contiguous()
				}
				wx, ww, wb, fullFlops := run(full.To(dev))
				if fast >= fullFlops {
					t.Errorf("%s transposed=%v bias=%v: %d GEMM flops, the general path %d", name, transposed, withBias, fast, fullFlops)
				}
				for _, c := range []struct {
					what      string
					got, want *Tensor
				}{{"dx", gx, wx}, {"dw", gw, ww}, {"db", gb, wb}} {
					if c.want == nil {
						continue
					}
					if !AllClose(c.got.To("cpu"), c.want.To("cpu"), 1e-5, 1e-5) {
						t.Errorf("%s transposed=%v bias=%v: %s\n%v\nwant\n%v", name, transposed, withBias, c.what, c.got.To("cpu"), c.want.To("cpu"))
					}
				}
			}
		}
	}
}
