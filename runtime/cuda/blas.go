package cuda

import (
	"fmt"
	"math"
	"strings"
	"unsafe"

	"github.com/ebitengine/purego"
)

// cublasAPI holds cuBLAS's entry points.
type cublasAPI struct {
	lib                                     *library
	create, destroy, setStream, setMathMode uintptr
	sgemm, sgemmStridedBatched              uintptr
}

// loadCUBLAS loads cuBLAS, preferring a release the driver (of version
// driverVersion, 0 if unknown) supports, with its libcublasLt loaded first.
func loadCUBLAS(dirs []string, driverVersion int) (*cublasAPI, error) {
	lib, err := openLibraryWithDep("cuBLAS (libcublas.so.13 or .12)", namesForDriver(cublasNames, driverVersion), dirs,
		cublasLtName)
	if err != nil {
		return nil, err
	}
	b := &cublasAPI{lib: lib}
	err = lib.bind(map[string]*uintptr{
		"cublasCreate_v2": &b.create, "cublasDestroy_v2": &b.destroy,
		"cublasSetStream_v2": &b.setStream, "cublasSetMathMode": &b.setMathMode,
		"cublasSgemm_v2": &b.sgemm, "cublasSgemmStridedBatched": &b.sgemmStridedBatched,
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}

// cublasLtName maps a cuBLAS file name to that of the cuBLASLt it needs
// (DT_NEEDED): libcublas.so.13 -> libcublasLt.so.13.
func cublasLtName(name string) string { return strings.Replace(name, "libcublas.", "libcublasLt.", 1) }

var cublasStatusNames = map[int]string{
	1: "CUBLAS_STATUS_NOT_INITIALIZED", 3: "CUBLAS_STATUS_ALLOC_FAILED",
	7: "CUBLAS_STATUS_INVALID_VALUE", 8: "CUBLAS_STATUS_ARCH_MISMATCH",
	11: "CUBLAS_STATUS_MAPPING_ERROR", 13: "CUBLAS_STATUS_EXECUTION_FAILED",
	14: "CUBLAS_STATUS_INTERNAL_ERROR", 15: "CUBLAS_STATUS_NOT_SUPPORTED",
}

func (b *cublasAPI) call(name string, fn uintptr, args ...uintptr) error {
	r, _, _ := purego.SyscallN(fn, args...)
	if code := int32(r); code != 0 {
		return &Error{Lib: "cublas", Call: name, Code: int(code), Name: cublasStatusNames[int(code)]}
	}
	return nil
}

// cuBLAS constants.
const (
	cublasOpN      = 0
	cublasOpT      = 1
	cublasMathFP32 = 0 // CUBLAS_DEFAULT_MATH: strict FP32
	cublasMathTF32 = 3 // CUBLAS_TF32_TENSOR_OP_MATH
)

// colMajorGemm is the column-major cuBLAS call that computes a row-major
// product. A row-major matrix X [r, c] with leading dimension ld is the
// column-major X^T [c, r] with the same ld, so row-major C = op(A) op(B)
// is column-major C^T = op(B)^T op(A)^T: the call swaps the operands
// (first = row-major B, second = row-major A) and m with n, and keeps the
// transpose flags and leading dimensions.
type colMajorGemm struct {
	opFirst, opSecond int // cuBLAS ops for the call's A (row-major B) and B (row-major A)
	m, n, k           int // the call's m, n, k
	ldFirst, ldSecond int // leading dimensions of the call's A (= ldb) and B (= lda)
	ldc               int
}

// rowMajorGemm checks a row-major GEMM's shape and returns the cuBLAS call.
// op(A) is [m, k]: A is stored [m, k] (lda >= k) or, transposed, [k, m]
// (lda >= m); likewise op(B) is [k, n]; C is [m, n] with ldc >= n.
func rowMajorGemm(transA, transB bool, m, n, k, lda, ldb, ldc int) (colMajorGemm, error) {
	if m < 0 || n < 0 || k < 0 {
		return colMajorGemm{}, fmt.Errorf("cuda: Sgemm: negative size m=%d n=%d k=%d", m, n, k)
	}
	// cuBLAS takes sizes and leading dimensions as 32-bit ints (purego
	// passes the low half of a larger Go int: a wrong product, not an
	// error).
	for _, v := range []int{m, n, k, lda, ldb, ldc} {
		if v > math.MaxInt32 {
			return colMajorGemm{}, fmt.Errorf("cuda: Sgemm: size or leading dimension %d is past cuBLAS's 32-bit limit (m=%d n=%d k=%d lda=%d ldb=%d ldc=%d)",
				v, m, n, k, lda, ldb, ldc)
		}
	}
	aCols, bCols := k, n
	if transA {
		aCols = m
	}
	if transB {
		bCols = k
	}
	if lda < max(1, aCols) || ldb < max(1, bCols) || ldc < max(1, n) {
		return colMajorGemm{}, fmt.Errorf("cuda: Sgemm: leading dimensions lda=%d ldb=%d ldc=%d too small for transA=%v transB=%v m=%d n=%d k=%d",
			lda, ldb, ldc, transA, transB, m, n, k)
	}
	op := func(t bool) int {
		if t {
			return cublasOpT
		}
		return cublasOpN
	}
	return colMajorGemm{opFirst: op(transB), opSecond: op(transA), m: n, n: m, k: k,
		ldFirst: ldb, ldSecond: lda, ldc: ldc}, nil
}

// matrixExtent returns how many elements a row-major stored matrix of
// rows x cols with leading dimension ld spans (0 when empty).
func matrixExtent(rows, cols, ld int) int {
	if rows == 0 || cols == 0 {
		return 0
	}
	return (rows-1)*ld + cols
}

// gemmExtents returns the elements A, B and C span.
func gemmExtents(transA, transB bool, m, n, k, lda, ldb, ldc int) (ea, eb, ec int) {
	if transA {
		ea = matrixExtent(k, m, lda)
	} else {
		ea = matrixExtent(m, k, lda)
	}
	if transB {
		eb = matrixExtent(n, k, ldb)
	} else {
		eb = matrixExtent(k, n, ldb)
	}
	return ea, eb, matrixExtent(m, n, ldc)
}

// Sgemm computes the row-major product C = alpha * op(A) * op(B) + beta * C
// with cuBLAS, where op(A) is [m, k], op(B) is [k, n] and C is [m, n]. A
// is stored row-major as [m, k] with leading dimension lda (elements
// between rows; lda >= k), or, when transA, as [k, m] (lda >= m); B
// likewise with ldb; ldc >= n. Buffers may be views (their offsets are
// applied). Strict FP32 unless SetTF32(true).
func (d *Device) Sgemm(transA, transB bool, m, n, k int, alpha float32, a Buffer, lda int, b Buffer, ldb int,
	beta float32, c Buffer, ldc int) error {
	cm, err := rowMajorGemm(transA, transB, m, n, k, lda, ldb, ldc)
	if err != nil {
		return err
	}
	ea, eb, ec := gemmExtents(transA, transB, m, n, k, lda, ldb, ldc)
	if err := gemmBounds(a, b, c, ea, eb, ec, 0, 0, 0, 1); err != nil {
		return err
	}
	if m == 0 || n == 0 {
		return nil
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.exit()
	d.sc.alpha, d.sc.beta = alpha, beta
	ev := d.profBegin()
	err = d.blas.call("cublasSgemm_v2", d.blas.sgemm, d.handle, uintptr(cm.opFirst), uintptr(cm.opSecond),
		uintptr(cm.m), uintptr(cm.n), uintptr(cm.k), uintptr(unsafe.Pointer(&d.sc.alpha)),
		uintptr(b.Addr()), uintptr(cm.ldFirst), uintptr(a.Addr()), uintptr(cm.ldSecond),
		uintptr(unsafe.Pointer(&d.sc.beta)), uintptr(c.Addr()), uintptr(cm.ldc))
	d.profEnd(ev, func() string { return gemmName(transA, transB, m, n, k, 1) })
	return err
}

// SgemmStridedBatched computes batch row-major products C_i = alpha *
// op(A_i) * op(B_i) + beta * C_i, where X_i starts strideX elements after
// X_{i-1} (a stride of 0 reuses one matrix for every batch: broadcasting).
// Shapes and leading dimensions are as in Sgemm. Attention's Q·K^T and
// P·V over [B*H] heads are one call each.
func (d *Device) SgemmStridedBatched(transA, transB bool, m, n, k int, alpha float32, a Buffer, lda, strideA int,
	b Buffer, ldb, strideB int, beta float32, c Buffer, ldc, strideC int, batch int) error {
	cm, err := rowMajorGemm(transA, transB, m, n, k, lda, ldb, ldc)
	if err != nil {
		return err
	}
	if batch < 0 || strideA < 0 || strideB < 0 || strideC < 0 {
		return fmt.Errorf("cuda: SgemmStridedBatched: negative batch %d or stride", batch)
	}
	if batch > math.MaxInt32 {
		return fmt.Errorf("cuda: SgemmStridedBatched: batch %d is past cuBLAS's 32-bit limit", batch)
	}
	ea, eb, ec := gemmExtents(transA, transB, m, n, k, lda, ldb, ldc)
	if err := gemmBounds(a, b, c, ea, eb, ec, strideA, strideB, strideC, batch); err != nil {
		return err
	}
	if m == 0 || n == 0 || batch == 0 {
		return nil
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.exit()
	d.sc.alpha, d.sc.beta = alpha, beta
	ev := d.profBegin()
	err = d.blas.call("cublasSgemmStridedBatched", d.blas.sgemmStridedBatched, d.handle,
		uintptr(cm.opFirst), uintptr(cm.opSecond), uintptr(cm.m), uintptr(cm.n), uintptr(cm.k),
		uintptr(unsafe.Pointer(&d.sc.alpha)),
		uintptr(b.Addr()), uintptr(cm.ldFirst), uintptr(strideB),
		uintptr(a.Addr()), uintptr(cm.ldSecond), uintptr(strideA),
		uintptr(unsafe.Pointer(&d.sc.beta)),
		uintptr(c.Addr()), uintptr(cm.ldc), uintptr(strideC), uintptr(batch))
	d.profEnd(ev, func() string { return gemmName(transA, transB, m, n, k, batch) })
	return err
}

// gemmBounds checks that each operand's last batch fits its buffer.
func gemmBounds(a, b, c Buffer, ea, eb, ec, sa, sb, sc, batch int) error {
	for _, x := range []struct {
		name           string
		buf            Buffer
		extent, stride int
	}{{"A", a, ea, sa}, {"B", b, eb, sb}, {"C", c, ec, sc}} {
		if x.extent == 0 || batch == 0 {
			continue
		}
		needN := (batch-1)*x.stride + x.extent
		if err := need("Sgemm "+x.name, x.buf, needN); err != nil {
			return err
		}
	}
	return nil
}
