//go:build !amd64 || purego

package gemm

func init() { active = kernelGo }

func availableKernels() []int { return []int{kernelGo} }

func callKernel(id int, k int, a, b *float32, bs int, c *float32, ldc int, alpha, beta float32, pf uintptr) {
	kernGo(k, a, b, bs, c, ldc, alpha, beta)
}

func callDot(k int, a *float32, lda, rows int, b *float32, ldb, cols int, c *float32, ldc int, alpha, beta float32) {
	panic("gemm: no dot kernel")
}

func peakLoop(id int, iters int) float64 { return peakGo(iters) }
