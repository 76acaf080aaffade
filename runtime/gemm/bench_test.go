package gemm

import (
	"fmt"
	"math/rand"
	"testing"
	"time"

	"nnscope/runtime/parallel"
)

type benchShape struct {
	name    string
	tA, tB  bool
	m, n, k int
	copies  int // rotate among this many B copies (defeats the L3 cache); < 0: use PackB
}

var benchShapes = []benchShape{
	{"NN_128x768x3072", false, false, 128, 3072, 768, 1},
	{"NN_m10_n2304_k768", false, false, 10, 2304, 768, 1},
	{"NN_m10_n768_k768", false, false, 10, 768, 768, 1},
	{"NN_m10_n3072_k768", false, false, 10, 3072, 768, 1},
	{"NN_m10_n3072_k768_cold", false, false, 10, 3072, 768, 8},
	{"NN_m10_n2304_k768_cold", false, false, 10, 2304, 768, 8},
	{"NT_m10_n50257_k768_lmhead", false, true, 10, 50257, 768, 1},
	{"NT_m10_n256_k768_hot", false, true, 10, 256, 768, 1},
	{"TN_m768_n3072_k10", true, false, 768, 3072, 10, 1},
	{"TN_m768_n3072_k128", true, false, 768, 3072, 128, 1},
	{"NN_m10_n768_k50257", false, false, 10, 768, 50257, 1},
	{"NT_m128_n128_k64", false, true, 128, 128, 64, 1},
	{"NN_m1_n3072_k768", false, false, 1, 3072, 768, 8},
	{"PK_m10_n3072_k768_cold", false, false, 10, 3072, 768, -8},
	{"PK_m1_n3072_k768_cold", false, false, 1, 3072, 768, -8},
	{"PK_128x768x3072", false, false, 128, 3072, 768, -1},
	{"PKT_m10_n50257_k768_lmhead", false, true, 10, 50257, 768, -1},
}

func BenchmarkSgemm(b *testing.B) {
	r := rand.New(rand.NewSource(1))
	for _, s := range benchShapes {
		b.Run(s.name, func(b *testing.B) {
			sh := shape{s.tA, s.tB, s.m, s.n, s.k, 1, 0, 0}
			lda, ldb, ldc, lenA, lenB, lenC := dims(sh)
			a := randSlice(r, lenA)
			bs := make([][]float32, max(s.copies, -s.copies))
			for i := range bs {
				bs[i] = randSlice(r, lenB)
			}
			var pbs []*PackedB
			if s.copies < 0 {
				for _, bb := range bs {
					pbs = append(pbs, PackB(s.tB, s.k, s.n, bb, ldb))
				}
			}
			c := randSlice(r, lenC)
			Sgemm(s.tA, s.tB, s.m, s.n, s.k, 1, a, lda, bs[0], ldb, 0, c, ldc)
			b.ResetTimer()
			best := time.Duration(1 << 62)
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if pbs != nil {
					SgemmPacked(s.tA, s.m, 1, a, lda, pbs[i%len(pbs)], 0, c, ldc)
				} else {
					Sgemm(s.tA, s.tB, s.m, s.n, s.k, 1, a, lda, bs[i%len(bs)], ldb, 0, c, ldc)
				}
				best = min(best, time.Since(t0))
			}
			// Mean and best iteration (the machine may be shared).
			mean := b.Elapsed().Seconds() / float64(b.N)
			flop := 2 * float64(s.m) * float64(s.n) * float64(s.k)
			bbytes := 4 * float64(s.n) * float64(s.k)
			b.ReportMetric(flop/mean/1e9, "GFLOP/s")
			b.ReportMetric(flop/best.Seconds()/1e9, "best-GFLOP/s")
			b.ReportMetric(bbytes/mean/1e9, "GB/s(B)")
			b.ReportMetric(bbytes/best.Seconds()/1e9, "best-GB/s(B)")
		})
	}
}

func BenchmarkSgemmBatchedAttention(b *testing.B) {
	r := rand.New(rand.NewSource(1))
	const batch, T, d = 12, 128, 64
	q, k, c := randSlice(r, batch*T*d), randSlice(r, batch*T*d), randSlice(r, batch*T*T)
	for i := 0; i < b.N; i++ {
		SgemmBatched(batch, false, true, T, T, d, 1, q, d, T*d, k, d, T*d, 0, c, T, T*T)
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(2*batch*T*T*d/sec/1e9, "GFLOP/s")
}

// BenchmarkMemBandwidth streams a 256 MiB buffer (sum) on 1 and all threads.
func BenchmarkMemBandwidth(b *testing.B) {
	x := make([]float32, 64<<20)
	for i := range x {
		x[i] = 1
	}
	for _, th := range []int{1, parallel.Threads()} {
		b.Run(fmt.Sprintf("threads=%d", th), func(b *testing.B) {
			fn := func(lo, hi int) { streamSum(x[lo:hi]) }
			best := time.Duration(1 << 62)
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if th == 1 {
					streamSum(x)
				} else {
					parallel.For(len(x), len(x)/th, fn)
				}
				best = min(best, time.Since(t0))
			}
			b.ReportMetric(float64(4*len(x))*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
			b.ReportMetric(float64(4*len(x))/best.Seconds()/1e9, "best-GB/s")
		})
	}
}

func BenchmarkPeak(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.ReportMetric(PeakGFLOPS(1), "GFLOP/s-1T")
		b.ReportMetric(PeakGFLOPS(parallel.Threads()), "GFLOP/s-allT")
	}
}
