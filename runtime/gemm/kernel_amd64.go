//go:build amd64 && !purego

package gemm

import "golang.org/x/sys/cpu"

//go:noescape
func kernAVX512(k int, a, b *float32, bs int, c *float32, ldc int, alpha, beta float32, pf uintptr)

//go:noescape
func kernAVX2(k int, a, b *float32, bs int, c *float32, ldc int, alpha, beta float32, pf uintptr)

//go:noescape
func dotAVX512(k int, a *float32, lda, rows int, b *float32, ldb, cols int, c *float32, ldc int, alpha, beta float32)

//go:noescape
func peakAVX512(iters int)

//go:noescape
func peakAVX2(iters int)

func hasAVX512() bool { return cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL }
func hasAVX2() bool   { return cpu.X86.HasAVX2 && cpu.X86.HasFMA }

func init() {
	switch {
	case hasAVX512():
		active = kernelAVX512
	case hasAVX2():
		active = kernelAVX2
	default:
		active = kernelGo
	}
}

// availableKernels lists the kernels this machine can run (for tests).
func availableKernels() []int {
	ks := []int{kernelGo}
	if hasAVX2() {
		ks = append(ks, kernelAVX2)
	}
	if hasAVX512() {
		ks = append(ks, kernelAVX512)
	}
	return ks
}

func callKernel(id int, k int, a, b *float32, bs int, c *float32, ldc int, alpha, beta float32, pf uintptr) {
	switch id {
	case kernelAVX512:
		kernAVX512(k, a, b, bs, c, ldc, alpha, beta, pf)
	case kernelAVX2:
		kernAVX2(k, a, b, bs, c, ldc, alpha, beta, pf)
	default:
		kernGo(k, a, b, bs, c, ldc, alpha, beta)
	}
}

func callDot(k int, a *float32, lda, rows int, b *float32, ldb, cols int, c *float32, ldc int, alpha, beta float32) {
	dotAVX512(k, a, lda, rows, b, ldb, cols, c, ldc, alpha, beta)
}

// peakLoop runs iters iterations of the FMA throughput loop of the active
// kernel's instruction set and returns the flops per iteration.
func peakLoop(id int, iters int) float64 {
	switch id {
	case kernelAVX512:
		peakAVX512(iters)
		return 2 * 16 * 16 * 2
	case kernelAVX2:
		peakAVX2(iters)
		return 2 * 12 * 8 * 2
	default:
		return peakGo(iters)
	}
}
