package bench

import (
	goruntime "runtime"

	rt "nnscope/runtime"
)

func threads() int { return goruntime.GOMAXPROCS(0) }

// rtGemm times the engine's GEMM through a tensor MatMul-free path: the
// raw kernel on row-major A [m,k] and B [k,n].
func rtGemm(m, n, k int, a, b, c []float32) {
	rt.Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
}
