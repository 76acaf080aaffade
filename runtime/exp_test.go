package runtime

import (
	"math"
	"math/rand"
	"testing"
)

// TestExpShift checks the vectorized exp against math.Exp: relative error
// within a few float32 ulps, exact zeros for -Inf and far below the shift,
// and the sum, for lengths around the vector width and chunk size.
func TestExpShift(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for _, n := range []int{0, 1, 15, 16, 17, 100, expChunk - 1, expChunk, expChunk + 33, 50257} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64() * 30)
		}
		if n > 20 {
			x[3] = float32(math.Inf(-1))
			x[7] = -3000
		}
		for _, scale := range []float32{1, 0.125} {
			shift := float32(math.Inf(-1))
			for _, v := range x {
				shift = max(shift, v*scale)
			}
			if n == 0 {
				shift = 0
			}
			o := make([]float32, n)
			s := expShift(o, x, scale, shift)
			var want float64
			for i, v := range x {
				w := math.Exp(float64(v*scale - shift))
				want += float64(float32(w))
				if w == 0 && o[i] != 0 {
					t.Fatalf("n=%d: exp(%g) = %g, want 0", n, v*scale-shift, o[i])
				}
				if w > 1e-30 && math.Abs(float64(o[i])-w) > 4e-7*w {
					t.Fatalf("n=%d scale=%g: exp(%g) = %g, want %g (rel %.2g)", n, scale, v*scale-shift, o[i], w, math.Abs(float64(o[i])-w)/w)
				}
			}
			if math.Abs(s-want) > 1e-6*want {
				t.Errorf("n=%d: sum %g, want %g", n, s, want)
			}
		}
	}
}

func BenchmarkExpShift(b *testing.B) {
	x := make([]float32, 1024)
	for i := range x {
		x[i] = -float32(i) / 100
	}
	o := make([]float32, len(x))
	b.SetBytes(int64(4 * len(x)))
	b.Run("avx512", func(b *testing.B) {
		for b.Loop() {
			expShift(o, x, 1, 0)
		}
	})
	b.Run("math.Exp", func(b *testing.B) { // the scalar loop it replaces
		for b.Loop() {
			for i, v := range x {
				o[i] = float32(math.Exp(float64(v - 1)))
			}
		}
	})
}
