package cuda_test

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"nnscope/runtime/cuda"
)

// TestGPULinearSmall checks the few-rows Linear kernels against a float64
// product: both weight layouts, padded leading dimensions, a weight that
// starts inside its buffer, with and without bias, odd sizes that leave
// blocks part-full, and every row count up to SmallRows.
func TestGPULinearSmall(t *testing.T) {
	d := gpu(t)
	rng := rand.New(rand.NewSource(3))
	for _, c := range []struct{ m, n, k, pad, off int }{
		{1, 1, 1, 0, 0}, {1, 768, 96, 0, 0}, {3, 13, 5, 2, 0}, {10, 50, 33, 0, 3},
		{16, 9, 70, 1, 1}, {7, 8, 64, 0, 0}, {2, 40, 0, 0, 0}, {16, 17, 129, 3, 5},
	} {
		for _, transW := range []bool{false, true} {
			for _, withBias := range []bool{false, true} {
				name := fmt.Sprintf("m%d_n%d_k%d_pad%d_off%d_trans%v_bias%v", c.m, c.n, c.k, c.pad, c.off, transW, withBias)
				t.Run(name, func(t *testing.T) {
					rows, cols := c.k, c.n
					if transW {
						rows, cols = c.n, c.k
					}
					ldw := max(1, cols+c.pad)
					x := randn(rng, c.m*c.k, 1)
					wAll := randn(rng, c.off+rows*ldw, 1)
					bias := randn(rng, c.n, 1)
					want := make([]float32, c.m*c.n)
					for r := 0; r < c.m; r++ {
						for j := 0; j < c.n; j++ {
							s := 0.0
							for i := 0; i < c.k; i++ {
								wi := c.off + i*ldw + j
								if transW {
									wi = c.off + j*ldw + i
								}
								s += float64(x[r*c.k+i]) * float64(wAll[wi])
							}
							if withBias {
								s += float64(bias[j])
							}
							want[r*c.n+j] = float32(s)
						}
					}
					xb, wb := up(t, d, append(x, 0)), up(t, d, wAll)
					defer d.Free(xb)
					defer d.Free(wb)
					var bb cuda.Buffer
					if withBias {
						bb = up(t, d, bias)
						defer d.Free(bb)
					}
					out := alloc(t, d, c.m*c.n+1)
					defer d.Free(out)
					must(t, d.LinearSmall(out, xb, wb.Slice(c.off, wb.Len()-c.off), bb, c.m, c.n, c.k, transW, ldw))
					closeTo(t, name, down(t, d, out, c.m*c.n), want, 1e-5, 1e-5)
				})
			}
		}
	}
}

// TestGPULinearSmallRefuses: row counts outside 1..SmallRows and buffers
// too small for the shapes are errors, not out-of-bounds reads.
func TestGPULinearSmallRefuses(t *testing.T) {
	d := gpu(t)
	b := alloc(t, d, 64)
	defer d.Free(b)
	for _, c := range []struct {
		name         string
		m, n, k, ldw int
		transW       bool
		want         string
	}{
		{"no rows", 0, 4, 4, 4, false, "m must be"},
		{"too many rows", cuda.SmallRows + 1, 1, 1, 1, false, "m must be"},
		{"short leading dimension", 2, 8, 4, 7, false, "leading dimension"},
		{"weight past its buffer", 2, 8, 8, 9, true, "LinearSmall w"},
		{"output past its buffer", 16, 8, 2, 8, false, "LinearSmall out"},
	} {
		err := d.LinearSmall(b, b, b, cuda.Buffer{}, c.m, c.n, c.k, c.transW, c.ldw)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.want)
		}
	}
}
