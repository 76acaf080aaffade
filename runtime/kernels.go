package runtime

import (
	"sync/atomic"

	"nnscope/runtime/gemm"
	"nnscope/runtime/parallel"
)

// gemmFlops counts the floating-point operations of every GEMM, so
// benchmarks report GFLOP/s from what actually ran.
var gemmFlops atomic.Int64

// GemmFlops returns the GEMM flops performed so far.
func GemmFlops() int64 { return gemmFlops.Load() }

// sgemm is the engine's one GEMM: our own packed AVX-512/AVX2 kernels in
// runtime/gemm (gonum's Sgemm reached ~25 GFLOP/s on this machine; ours is
// several times faster, see BENCHMARKS.md).
func sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemmFlops.Add(2 * int64(m) * int64(n) * int64(k))
	gemm.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// parallelRange splits [0,n) over the worker pool in chunks of at least
// grain items.
func parallelRange(n, grain int, fn func(lo, hi int)) { parallel.For(n, grain, fn) }

// Sgemm exposes the counted GEMM for benchmarks.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
