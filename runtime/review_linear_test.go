package runtime

import "testing"

// Linear with an empty inner dimension (in = 0) is the bias alone (zeros
// without one), as x @ w of a [rows, 0] by [0, out] product is zeros; the
// rows were counted as Size()/in, a division by zero. Its output, from
// newEmpty, must still be written whole.
func TestReviewLinearEmptyInner(t *testing.T) {
	run := func(t *testing.T, device string) {
		for _, withBias := range []bool{false, true} {
			// rows*out = 4096 floats: a pooled size, so reused memory
			// with old values in it is what the output may be given.
			x, w := New(2, 512, 0), New(0, 4)
			var b *Tensor
			want := make([]float32, 2*512*4)
			if withBias {
				b = FromSlice([]float32{1, 2, 3, 4}, 4)
				for i := range want {
					want[i] = float32(i%4 + 1)
				}
			}
			if device == "cuda" {
				x, w = x.To("cuda"), w.To("cuda")
				if b != nil {
					b = b.To("cuda")
				}
			}
			x.RequiresGrad()
			w.RequiresGrad()
			// Dirty pooled buffers of the output's size class first: the
			// output must not show them.
			for range 4 {
				Release(Full(7, 2*512*4))
			}
			var out *Tensor
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("%s, bias %v: Linear panicked: %v", device, withBias, r)
					}
				}()
				out = Linear(x, w, b)
			}()
			if s := out.Shape(); len(s) != 3 || s[0] != 2 || s[1] != 512 || s[2] != 4 {
				t.Fatalf("%s: shape %v, want [2 512 4]", device, s)
			}
			got := out.Data()
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("%s, bias %v: element %d = %g, want %g", device, withBias, i, got[i], want[i])
				}
			}
			if err := out.Sum().Backward(); err != nil {
				t.Fatalf("%s, bias %v: backward: %v", device, withBias, err)
			}
			if x.Grad().Size() != 0 || w.Grad().Size() != 0 {
				t.Fatalf("%s: gradients of sizes %d, %d, want empty", device, x.Grad().Size(), w.Grad().Size())
			}
		}
	}
	t.Run("cpu", func(t *testing.T) { run(t, "cpu") })
	onGPUs(t, func(t *testing.T) { run(t, "cuda") })
}
