package gemm

import "unsafe"

// Micro-kernel identifiers.
const (
	kernelGo = iota
	kernelAVX2
	kernelAVX512
)

type kernelInfo struct {
	name   string
	mr, nr int
	dot    bool // has the small-m transposed-B dot kernel
	// smallMR lists row counts (ascending, below mr) of extra kernel
	// variants used when m is small.
	smallMR []int
}

var kernels = [...]kernelInfo{
	kernelGo:     {"go 4x4 (portable)", 4, 4, false, nil},
	kernelAVX2:   {"avx2+fma 6x16", 6, 16, false, nil},
	kernelAVX512: {"avx512 12x32", 12, 32, true, []int{1, 2, 4, 8}},
}

// active is the micro-kernel used by Sgemm. Tests switch it to exercise
// every path; it is not meant to change while GEMMs are running.
var active int

// Kernel names the micro-kernel in use, e.g. "avx512 12x32".
func Kernel() string { return kernels[active].name }

// kernGo is the portable 4x4 micro-kernel: C = alpha*A*B + beta*C for a
// packed 4 x k A panel and a k x 4 B panel with row stride bs.
func kernGo(k int, ap, bp *float32, bs int, cp *float32, ldc int, alpha, beta float32) {
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	var c20, c21, c22, c23, c30, c31, c32, c33 float32
	if k > 0 {
		a := unsafe.Slice(ap, 4*k)
		b := unsafe.Slice(bp, (k-1)*bs+4)
		for p := 0; p < k; p++ {
			av := a[4*p : 4*p+4 : 4*p+4]
			bv := b[p*bs : p*bs+4 : p*bs+4]
			a0, a1, a2, a3 := av[0], av[1], av[2], av[3]
			b0, b1, b2, b3 := bv[0], bv[1], bv[2], bv[3]
			c00 += a0 * b0
			c01 += a0 * b1
			c02 += a0 * b2
			c03 += a0 * b3
			c10 += a1 * b0
			c11 += a1 * b1
			c12 += a1 * b2
			c13 += a1 * b3
			c20 += a2 * b0
			c21 += a2 * b1
			c22 += a2 * b2
			c23 += a2 * b3
			c30 += a3 * b0
			c31 += a3 * b1
			c32 += a3 * b2
			c33 += a3 * b3
		}
	}
	c := unsafe.Slice(cp, 3*ldc+4)
	acc := [16]float32{c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33}
	for i := 0; i < 4; i++ {
		row := c[i*ldc : i*ldc+4 : i*ldc+4]
		for j := 0; j < 4; j++ {
			if beta == 0 {
				row[j] = alpha * acc[4*i+j]
			} else {
				row[j] = alpha*acc[4*i+j] + beta*row[j]
			}
		}
	}
}

// peakGo is a portable stand-in for the FMA throughput loop.
func peakGo(iters int) float64 {
	var a0, a1, a2, a3, a4, a5, a6, a7 float32
	x, y := float32(0.999), float32(1e-7)
	for i := 0; i < iters; i++ {
		a0 = a0*x + y
		a1 = a1*x + y
		a2 = a2*x + y
		a3 = a3*x + y
		a4 = a4*x + y
		a5 = a5*x + y
		a6 = a6*x + y
		a7 = a7*x + y
	}
	peakSink = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7
	return 16
}

var peakSink float32

func sumGo(x []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i]
		s1 += x[i+1]
		s2 += x[i+2]
		s3 += x[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i]
	}
	return s0 + s1 + s2 + s3
}
