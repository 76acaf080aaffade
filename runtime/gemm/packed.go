package gemm

import "fmt"

// PackedB is a k x n right-hand operand op(B) packed once into the layout
// the micro-kernel reads (column strips of NR values, each strip k rows,
// contiguous), so that repeated products with it (weights) stream memory
// sequentially and skip per-call packing. It is immutable and may be used
// by several goroutines at once.
type PackedB struct {
	k, n    int
	kid, nr int
	data    []float32
}

// K returns the number of rows of op(B).
func (p *PackedB) K() int { return p.k }

// N returns the number of columns of op(B).
func (p *PackedB) N() int { return p.n }

// PackB packs op(B) (k x n; B is k x n row-major with stride ldb, or n x k
// when transB) for use with SgemmPacked. It uses the kernel active at the
// time of the call.
func PackB(transB bool, k, n int, b []float32, ldb int) *PackedB {
	if k < 0 || n < 0 {
		panic(fmt.Sprintf("gemm: negative dimension k=%d n=%d", k, n))
	}
	if transB {
		needMat("b", b, n, k, ldb, 0, 1)
	} else {
		needMat("b", b, k, n, ldb, 0, 1)
	}
	kid := active
	nr := kernels[kid].nr
	strips := (n + nr - 1) / nr
	pb := &PackedB{k: k, n: n, kid: kid, nr: nr, data: make([]float32, strips*k*nr)}
	if k == 0 || n == 0 {
		return pb
	}
	j := &job{kid: kid, mr: kernels[kid].mr, nr: nr, transB: transB, n: n, k: k, b: b, ldb: ldb}
	for s := 0; s < strips; s += groupStrips {
		s1 := min(s+groupStrips, strips)
		j.packB(pb.data[s*k*nr:], 0, k, s, s1)
	}
	return pb
}

// SgemmPacked computes C = alpha*op(A)*B + beta*C with a pre-packed B
// (op(A) is m x B.K(), C is m x B.N()). Same conventions as Sgemm.
func SgemmPacked(transA bool, m int, alpha float32, a []float32, lda int, pb *PackedB, beta float32, c []float32, ldc int) {
	if pb == nil {
		panic("gemm: nil PackedB")
	}
	n, k := pb.n, pb.k
	check(transA, false, m, n, k, a, lda, 0, nil, -1, 0, c, ldc, 0, 1)
	sgemmPacked(transA, m, alpha, a, lda, pb, beta, c, ldc, true)
}

func sgemmPacked(transA bool, m int, alpha float32, a []float32, lda int, pb *PackedB, beta float32, c []float32, ldc int, par bool) {
	n, k := pb.n, pb.k
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	j := getJob()
	j.kid = pb.kid
	j.pb = pb
	j.run(transA, false, m, n, k, alpha, a, lda, nil, n, beta, c, ldc, par)
}

func (p *PackedB) String() string {
	return fmt.Sprintf("PackedB(%dx%d, %s)", p.k, p.n, kernels[p.kid].name)
}
