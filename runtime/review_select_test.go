package runtime

import (
	"strings"
	"testing"

	"nnscope/runtime/cuda/fakecuda"
)

// TestReviewOnFakeCUDA runs this file's GPU tests on fakecuda (the CUDA
// backend with its kernels, over a host stand-in for the driver).
func TestReviewOnFakeCUDA(t *testing.T) {
	fakecuda.Run(t, "^(TestReviewTopKIndicesEdited|TestReviewLinearEmptyInner)$")
}

// TopK's backward scatters the values' gradient to the positions in the
// indices tensor, which the caller holds and may write: an edit before
// the backward pass must be an error (as for any value a backward reads),
// not a gradient at the edited positions, a Go index panic (CPU) or a
// write outside the gradient's memory (the GPU kernel).
func TestReviewTopKIndicesEdited(t *testing.T) {
	run := func(t *testing.T, device string) {
		for _, edit := range []struct {
			name string
			f    func(idx *Tensor)
		}{
			{"to other positions", func(idx *Tensor) { idx.Fill(0) }},
			{"out of range", func(idx *Tensor) { idx.SetAt(1000, 0, 0) }},
		} {
			x := FromSlice([]float32{1, 9, 3, 7, 8, 2, 6, 4}, 2, 4)
			if device == "cuda" {
				x = x.To("cuda")
			}
			x.RequiresGrad()
			values, idx := x.TopK(2)
			edit.f(idx)
			var err error
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("%s, %s: backward panicked: %v", device, edit.name, r)
					}
				}()
				err = values.Sum().Backward()
			}()
			if err == nil || !strings.Contains(err.Error(), "topk") || !strings.Contains(err.Error(), "modified in place") {
				t.Errorf("%s, %s: error %v does not say topk's saved value was modified in place", device, edit.name, err)
			}
		}
	}
	t.Run("cpu", func(t *testing.T) { run(t, "cpu") })
	onGPUs(t, func(t *testing.T) { run(t, "cuda") })
}
