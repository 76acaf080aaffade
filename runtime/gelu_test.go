package runtime

import (
	"math"
	"testing"
)

// TestGeluVectorMatchesScalar compares the vectorized GELU with the
// float64 formula over the whole useful range, including both tails and
// lengths that leave a scalar remainder.
func TestGeluVectorMatchesScalar(t *testing.T) {
	var x []float32
	for v := -30.0; v <= 30; v += 0.00173 {
		x = append(x, float32(v))
	}
	x = append(x, 0, -0, 1e-30, -1e-30, 100, -100, float32(math.Inf(1)), float32(math.Inf(-1)))
	for _, n := range []int{len(x), len(x) - 5, 16, 15, 1} {
		o, want := make([]float32, n), make([]float32, n)
		geluBlock(o, x[:n])
		geluScalar(want, x[:n])
		for i := range o {
			d := math.Abs(float64(o[i]) - float64(want[i]))
			bothNaN := math.IsNaN(float64(o[i])) && math.IsNaN(float64(want[i]))
			if !(d <= 2e-6*math.Abs(float64(want[i]))+1e-7) && !bothNaN && !(math.IsInf(float64(x[i]), 0) && (o[i] == want[i] || (x[i] < 0 && o[i] == 0))) {
				t.Fatalf("n=%d: gelu(%v) = %v, want %v", n, x[i], o[i], want[i])
			}
		}
	}
}

func TestGeluGradVectorMatchesScalar(t *testing.T) {
	var x, g []float32
	for v := -30.0; v <= 30; v += 0.00173 {
		x = append(x, float32(v))
		g = append(g, float32(math.Sin(v)))
	}
	for _, n := range []int{len(x), len(x) - 3, 17} {
		o, want := make([]float32, n), make([]float32, n)
		geluGradBlock(o, g[:n], x[:n])
		geluGradScalar(want, g[:n], x[:n])
		for i := range o {
			if d := math.Abs(float64(o[i]) - float64(want[i])); d > 3e-6*math.Abs(float64(want[i]))+2e-7 {
				t.Fatalf("n=%d: gelu'(%v) * %v = %v, want %v", n, x[i], g[i], o[i], want[i])
			}
		}
	}
}

func BenchmarkGelu(b *testing.B) {
	x := make([]float32, 1<<16)
	for i := range x {
		x[i] = float32(i%2000)*0.005 - 5
	}
	o := make([]float32, len(x))
	b.Run("block", func(b *testing.B) {
		b.SetBytes(int64(4 * len(x)))
		for i := 0; i < b.N; i++ {
			geluBlock(o, x)
		}
	})
	b.Run("scalar", func(b *testing.B) {
		b.SetBytes(int64(4 * len(x)))
		for i := 0; i < b.N; i++ {
			geluScalar(o, x)
		}
	})
}
