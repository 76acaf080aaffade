package runtime

import (
	"math/rand"
	"testing"

	"nnscope/runtime/cuda"
	"nnscope/runtime/cuda/emu"
)

// writeSpy counts the GPU calls that write whole buffers or views.
type writeSpy struct {
	GPUBackend
	memsets, copies, binaries *int
}

func (s writeSpy) Memset(dst cuda.Buffer, v float32) error {
	*s.memsets++
	return s.GPUBackend.Memset(dst, v)
}
func (s writeSpy) Copy(dst, src cuda.Strided) error { *s.copies++; return s.GPUBackend.Copy(dst, src) }
func (s writeSpy) Binary(op cuda.BinaryOp, out, a, b cuda.Strided) error {
	*s.binaries++
	return s.GPUBackend.Binary(op, out, a, b)
}

// TestSplitBackwardFillsOneBuffer: the backward of a tensor split into
// permuted views (GPT-2's q, k and v of one projection) builds the
// projection's gradient in one buffer: the first view's gradient is
// scattered into zeros, the other two are added into it in place, and the
// permutes pass their gradients on as views. It took 6 zero fills, 6
// copies and 2 sums over the whole projection. The gradient matches the
// CPU's, also when a view's region overlaps itself (an expanded view,
// which takes the general path).
func TestSplitBackwardFillsOneBuffer(t *testing.T) {
	var memsets, copies, binaries int
	useGPU(t, writeSpy{emu.New(), &memsets, &copies, &binaries})
	const B, T, H, D = 2, 5, 3, 4
	r := rand.New(rand.NewSource(5))
	x := randTensor(r, B, T, 3*H*D)
	ws := []*Tensor{randTensor(r, B, H, T, D), randTensor(r, B, H, T, D), randTensor(r, B, H, T, D)}
	grad := func(dev string, expanded bool) ([]float32, [3]int) {
		xd := x.Detach().To(dev).Detach().RequiresGrad()
		heads := xd.Reshape(B, T, 3, H, D)
		var loss *Tensor
		for i, w := range ws {
			v := heads.Select(2, i).Permute(0, 2, 1, 3) // [B, H, T, D]
			if expanded && i == 2 {
				v = heads.Select(2, i).Narrow(1, 0, 1).Expand(B, T, H, D).Permute(0, 2, 1, 3)
			}
			term := v.Mul(w.To(dev)).Sum()
			if loss == nil {
				loss = term
			} else {
				loss = loss.Add(term)
			}
		}
		memsets, copies, binaries = 0, 0, 0
		if err := loss.Backward(); err != nil {
			t.Fatal(err)
		}
		return xd.Grad().Data(), [3]int{memsets, copies, binaries}
	}
	for _, expanded := range []bool{false, true} {
		want, _ := grad("cpu", expanded)
		got, calls := grad("cuda", expanded)
		for i := range want {
			if d := got[i] - want[i]; d > 1e-5 || d < -1e-5 {
				t.Fatalf("expanded %v: gradient[%d] = %v on the GPU, %v on the CPU", expanded, i, got[i], want[i])
			}
		}
		if !expanded {
			// The seed's fill, then one fill and one copy for the first
			// view; the two sums of the loss's terms pass the gradient on.
			if calls[0] > 2 || calls[1] > 1 {
				t.Errorf("backward made %d zero fills and %d copies, want at most 2 and 1", calls[0], calls[1])
			}
		}
		t.Logf("expanded %v: %d fills, %d copies, %d binary ops", expanded, calls[0], calls[1], calls[2])
	}
}
