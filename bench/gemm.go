package bench

import (
	goruntime "runtime"

	rt "nnscope/runtime"
)

func threads() int { return goruntime.GOMAXPROCS(0) }

// rtGemm runs the engine's counted GEMM kernel on row-major A [m,k] and
// B [k,n], without tensor overhead.
func rtGemm(m, n, k int, a, b, c []float32) {
	rt.Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
}

// gemmWorkload multiplies (128x768)·(768x3072): our CPU kernel, or
// cuBLAS through a tensor MatMul on the GPU.
func gemmWorkload(dev string, a, b, c []float32) func() {
	if dev == "cpu" {
		return func() { rtGemm(128, 3072, 768, a, b, c) }
	}
	x := rt.FromSlice(a, 128, 768).To("cuda")
	y := rt.FromSlice(b, 768, 3072).To("cuda")
	return func() { rt.Release(x.MatMul(y)) }
}
