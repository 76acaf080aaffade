//go:build !amd64 || purego

package gemm

func init() { active = kernelGo }

func availableKernels() []int { return []int{kernelGo} }

func callKernel(id, mr int, k int, a, b *float32, bs int, c *float32, ldc int, alpha, beta float32, pf uintptr, pfs, pf2 int) {
	kernGo(k, a, b, bs, c, ldc, alpha, beta)
}

func callDot(k int, a *float32, lda, rows int, b *float32, ldb, cols int, c *float32, ldc int, alpha, beta float32) {
	panic("gemm: no dot kernel")
}

func peakLoop(id int, iters int) float64 { return peakGo(iters) }

func streamSum(x []float32) float32 { return sumGo(x) }

func packBTFast(kid int, dst, src *float32, ldb, kc int) int { return 0 }

func packAFast(kid, mr int, dst, src *float32, lda, kc int) int { return 0 }
