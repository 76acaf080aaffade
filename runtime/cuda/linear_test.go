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

// TestGPUGemmSmall checks the small batched product against a float64 one:
// all four transposes, padded leading dimensions, a broadcast operand
// (batch stride 0), an output with gaps between batches, and its limit.
func TestGPUGemmSmall(t *testing.T) {
	d := gpu(t)
	rng := rand.New(rand.NewSource(4))
	for _, c := range []struct{ m, n, k, batch, pad, sbZero int }{
		{1, 1, 1, 1, 0, 0}, {10, 10, 64, 12, 0, 0}, {10, 64, 10, 12, 3, 0}, {1, 37, 64, 5, 1, 1}, {7, 5, 3, 4, 2, 1},
	} {
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				name := fmt.Sprintf("%dx%dx%d_b%d_pad%d_bcast%d_ta%v_tb%v", c.m, c.n, c.k, c.batch, c.pad, c.sbZero, ta, tb)
				ar, ac := c.m, c.k
				if ta {
					ar, ac = c.k, c.m
				}
				br, bc := c.k, c.n
				if tb {
					br, bc = c.n, c.k
				}
				lda, ldb, ldc := ac+c.pad, bc+c.pad, c.n+c.pad
				sa, sb, sc := ar*lda+1, br*ldb, c.m*ldc+2
				if c.sbZero == 1 {
					sb = 0
				}
				a := randn(rng, (c.batch-1)*sa+ar*lda, 1)
				b := randn(rng, (c.batch-1)*sb+br*ldb, 1)
				cn := (c.batch-1)*sc + c.m*ldc
				want := make([]float32, cn)
				for i := range want {
					want[i] = -7 // the gaps stay as they were
				}
				for bb := 0; bb < c.batch; bb++ {
					for i := 0; i < c.m; i++ {
						for j := 0; j < c.n; j++ {
							s := 0.0
							for l := 0; l < c.k; l++ {
								ai, bi := bb*sa+i*lda+l, bb*sb+l*ldb+j
								if ta {
									ai = bb*sa + l*lda + i
								}
								if tb {
									bi = bb*sb + j*ldb + l
								}
								x, y := a[ai], b[bi]
								s += float64(x) * float64(y)
							}
							want[bb*sc+i*ldc+j] = float32(s)
						}
					}
				}
				ab, bb, cb := up(t, d, a), up(t, d, b), up(t, d, make([]float32, cn))
				must(t, d.Memset(cb, -7))
				must(t, d.GemmSmall(ta, tb, c.m, c.n, c.k, ab, lda, sa, bb, ldb, sb, cb, ldc, sc, c.batch))
				got := down(t, d, cb, cn)
				d.Free(ab)
				d.Free(bb)
				d.Free(cb)
				for i := range want {
					if want[i] == -7 && got[i] != -7 {
						t.Fatalf("%s: element %d between outputs written: %v", name, i, got[i])
					}
				}
				closeTo(t, name, got, want, 1e-5, 1e-5)
			}
		}
	}
	x := alloc(t, d, 1<<20)
	defer d.Free(x)
	if err := d.GemmSmall(false, false, 1024, 1024, 2, x, 2, 0, x, 1024, 0, x, 1024, 0, 1); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("a product past the limit: %v, want an error naming the limit", err)
	}
}

// TestSmallKernelChoice: the few-row and small batched kernels are chosen
// only where one thread's sum is short; GPT-2's lm_head backward (k = the
// vocabulary) and a generation step's P.V over a long context stay with
// cuBLAS.
func TestSmallKernelChoice(t *testing.T) {
	for _, c := range []struct {
		m, n, k int
		want    bool
	}{
		{10, 2304, 768, true}, {10, 768, 3072, true}, {1, 50257, 768, true}, {16, 768, 4096, true},
		{17, 768, 768, false}, {0, 768, 768, false}, {1, 768, 50257, false}, {10, 768, 6400, false},
	} {
		if got := cuda.LinearSmallFits(c.m, c.n, c.k); got != c.want {
			t.Errorf("LinearSmallFits(%d, %d, %d) = %v, want %v", c.m, c.n, c.k, got, c.want)
		}
	}
	for _, c := range []struct {
		m, n, k, batch int
		want           bool
	}{
		{10, 10, 64, 12, true}, {10, 64, 10, 12, true}, {1, 30, 64, 12, true}, {1, 64, 30, 12, true},
		{1, 64, 1024, 12, false}, {1, 1, 4096, 1, false}, {128, 128, 64, 384, false},
	} {
		if got := cuda.GemmSmallFits(c.m, c.n, c.k, c.batch); got != c.want {
			t.Errorf("GemmSmallFits(%d, %d, %d, %d) = %v, want %v", c.m, c.n, c.k, c.batch, got, c.want)
		}
	}
}
