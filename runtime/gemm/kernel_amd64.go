//go:build amd64 && !purego

package gemm

import "golang.org/x/sys/cpu"

//go:noescape
func kernAVX512(k int, a, b *float32, bs int, c *float32, ldc int, alpha, beta float32, pf uintptr, pfs, pf2 int)

//go:noescape
func kernAVX512x1(k int, a, b *float32, bs int, c *float32, ldc int, alpha, beta float32, pf uintptr, pfs, pf2 int)

//go:noescape
func kernAVX512x2(k int, a, b *float32, bs int, c *float32, ldc int, alpha, beta float32, pf uintptr, pfs, pf2 int)

//go:noescape
func kernAVX512x4(k int, a, b *float32, bs int, c *float32, ldc int, alpha, beta float32, pf uintptr, pfs, pf2 int)

//go:noescape
func kernAVX512x8(k int, a, b *float32, bs int, c *float32, ldc int, alpha, beta float32, pf uintptr, pfs, pf2 int)

//go:noescape
func kernAVX2(k int, a, b *float32, bs int, c *float32, ldc int, alpha, beta float32, pf uintptr, pfs, pf2 int)

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

// callKernel runs micro-kernel id with mr rows (mr must be one of the
// kernel's row variants).
func callKernel(id, mr int, k int, a, b *float32, bs int, c *float32, ldc int, alpha, beta float32, pf uintptr, pfs, pf2 int) {
	switch id {
	case kernelAVX512:
		switch mr {
		case 12:
			kernAVX512(k, a, b, bs, c, ldc, alpha, beta, pf, pfs, pf2)
		case 8:
			kernAVX512x8(k, a, b, bs, c, ldc, alpha, beta, pf, pfs, pf2)
		case 4:
			kernAVX512x4(k, a, b, bs, c, ldc, alpha, beta, pf, pfs, pf2)
		case 2:
			kernAVX512x2(k, a, b, bs, c, ldc, alpha, beta, pf, pfs, pf2)
		default:
			kernAVX512x1(k, a, b, bs, c, ldc, alpha, beta, pf, pfs, pf2)
		}
	case kernelAVX2:
		kernAVX2(k, a, b, bs, c, ldc, alpha, beta, pf, pfs, pf2)
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

//go:noescape
func sumAVX512(x *float32, n int) float32

// streamSum sums x (used by the bandwidth benchmark).
func streamSum(x []float32) float32 {
	n := len(x) &^ 63
	var s float32
	if n > 0 && hasAVX512() {
		s = sumAVX512(&x[0], n)
	} else {
		n = 0
	}
	return s + sumGo(x[n:])
}

//go:noescape
func packBTAVX512(dst, src *float32, ldb, kc int)

// packBTFast packs the first kc&^15 rows of a full transposed 32-wide
// B strip with the assembly transposer; it returns how many rows it did.
func packBTFast(kid int, dst, src *float32, ldb, kc int) int {
	if kid != kernelAVX512 || kc < 16 {
		return 0
	}
	kc16 := kc &^ 15
	packBTAVX512(dst, src, ldb, kc16)
	return kc16
}

//go:noescape
func packAAVX512(dst, src *float32, lda, kc int)

// packAFast packs the first kc&^15 columns of a full 12-row panel of a
// non-transposed A with the assembly transposer; it returns how many
// columns it did.
func packAFast(kid, mr int, dst, src *float32, lda, kc int) int {
	if kid != kernelAVX512 || mr != 12 || kc < 16 {
		return 0
	}
	kc16 := kc &^ 15
	packAAVX512(dst, src, lda, kc16)
	return kc16
}
