package cuda

import (
	"math"
	"math/rand"
	"strings"
	"testing"
)

// refColMajor is BLAS sgemm: column-major C = alpha op(A) op(B) + beta C,
// element (i, j) of a column-major X at X[i + j*ld].
func refColMajor(opA, opB, m, n, k int, alpha float32, A []float32, lda int, B []float32, ldb int, beta float32, C []float32, ldc int) {
	for j := 0; j < n; j++ {
		for i := 0; i < m; i++ {
			var s float64
			for p := 0; p < k; p++ {
				var a, b float32
				if opA == cublasOpN {
					a = A[i+p*lda]
				} else {
					a = A[p+i*lda]
				}
				if opB == cublasOpN {
					b = B[p+j*ldb]
				} else {
					b = B[j+p*ldb]
				}
				s += float64(a) * float64(b)
			}
			c := &C[i+j*ldc]
			*c = alpha*float32(s) + beta**c
		}
	}
}

// refRowMajor is the row-major product Sgemm promises.
func refRowMajor(transA, transB bool, m, n, k int, alpha float32, A []float32, lda int, B []float32, ldb int, beta float32, C []float32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				var a, b float32
				if transA {
					a = A[p*lda+i]
				} else {
					a = A[i*lda+p]
				}
				if transB {
					b = B[j*ldb+p]
				} else {
					b = B[p*ldb+j]
				}
				s += float64(a) * float64(b)
			}
			C[i*ldc+j] = alpha*float32(s) + beta*C[i*ldc+j]
		}
	}
}

func randSlice(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

// TestRowMajorGemmMapping runs the column-major call rowMajorGemm returns
// through a CPU BLAS and compares with the row-major product, for all four
// transpose combinations and padded leading dimensions.
func TestRowMajorGemmMapping(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	for it := 0; it < 200; it++ {
		m, n, k := 1+rng.Intn(7), 1+rng.Intn(7), 1+rng.Intn(7)
		transA, transB := it%2 == 1, it/2%2 == 1
		aCols, bCols := k, n
		if transA {
			aCols = m
		}
		if transB {
			bCols = k
		}
		lda, ldb, ldc := aCols+rng.Intn(3), bCols+rng.Intn(3), n+rng.Intn(3)
		ea, eb, ec := gemmExtents(transA, transB, m, n, k, lda, ldb, ldc)
		A, B, C := randSlice(rng, ea), randSlice(rng, eb), randSlice(rng, ec)
		alpha, beta := float32(0.5+rng.Float64()), float32(rng.Intn(2))
		want := append([]float32(nil), C...)
		refRowMajor(transA, transB, m, n, k, alpha, A, lda, B, ldb, beta, want, ldc)
		cm, err := rowMajorGemm(transA, transB, m, n, k, lda, ldb, ldc)
		if err != nil {
			t.Fatal(err)
		}
		got := append([]float32(nil), C...)
		// The call's first operand is the row-major B, the second the row-major A.
		refColMajor(cm.opFirst, cm.opSecond, cm.m, cm.n, cm.k, alpha, B, cm.ldFirst, A, cm.ldSecond, beta, got, cm.ldc)
		for i := range want {
			if math.Abs(float64(got[i]-want[i])) > 1e-4 {
				t.Fatalf("transA=%v transB=%v m=%d n=%d k=%d: C[%d] = %v, want %v", transA, transB, m, n, k, i, got[i], want[i])
			}
		}
	}
}

func TestRowMajorGemmErrors(t *testing.T) {
	if _, err := rowMajorGemm(false, false, 4, 5, 6, 5, 5, 5); err == nil {
		t.Error("lda < k accepted")
	}
	if _, err := rowMajorGemm(true, false, 4, 5, 6, 3, 5, 5); err == nil {
		t.Error("transposed lda < m accepted")
	}
	if _, err := rowMajorGemm(false, true, 4, 5, 6, 6, 5, 5); err == nil {
		t.Error("transposed ldb < k accepted")
	}
	if _, err := rowMajorGemm(false, false, 4, 5, 6, 6, 5, 4); err == nil {
		t.Error("ldc < n accepted")
	}
	if _, err := rowMajorGemm(false, false, -1, 5, 6, 6, 5, 5); err == nil {
		t.Error("negative m accepted")
	}
	if _, err := rowMajorGemm(false, false, 1<<31, 5, 6, 6, 5, 5); err == nil || !strings.Contains(err.Error(), "32-bit") {
		t.Errorf("m = 2^31: %v", err)
	}
	if _, err := rowMajorGemm(false, false, 4, 5, 6, 1<<32+6, 5, 5); err == nil {
		t.Error("lda = 2^32+6 accepted (cuBLAS would read lda 6)")
	}
	ea, eb, ec := gemmExtents(false, true, 4, 5, 6, 8, 7, 5)
	if ea != 3*8+6 || eb != 4*7+6 || ec != 3*5+5 {
		t.Errorf("extents %d %d %d", ea, eb, ec)
	}
	buf := Buffer{base: 1, n: 29}
	if err := gemmBounds(buf, Buffer{base: 1, n: 100}, Buffer{base: 1, n: 100}, 30, 10, 10, 0, 0, 0, 1); err == nil {
		t.Error("A too small accepted")
	}
	if err := gemmBounds(Buffer{base: 1, n: 100}, Buffer{base: 1, n: 100}, Buffer{base: 1, n: 100}, 30, 10, 10, 40, 0, 0, 3); err == nil {
		t.Error("batched A too small accepted")
	}
}
