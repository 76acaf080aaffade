package cuda

import (
	"fmt"
	"math"
	"os"
)

// SmallRows is the most rows LinearSmall takes (SMALL_ROWS in
// kernels/linear.cu).
const SmallRows = 16

// LinearSmallFits says whether LinearSmall beats cuBLAS for out[m, n] =
// x[m, k] . W: few rows, and k short enough for each thread's walk along
// it (k/32 steps, a few loads in flight) to stay short. Past that, as for
// the lm_head's dx (k = 50257 over 768 outputs: 96 blocks), cuBLAS's
// split over k keeps more of the GPU busy.
func LinearSmallFits(m, n, k int) bool {
	return smallKernels && m >= 1 && m <= SmallRows && k <= 4096
}

// smallKernels is false with NNSCOPE_SMALL_KERNELS=0: every product goes
// to cuBLAS (to compare, or to rule the small kernels out).
var smallKernels = os.Getenv("NNSCOPE_SMALL_KERNELS") != "0"

// LinearSmall computes out[m, n] = x[m, k] . op(W) + bias[n] for a few
// rows (1 <= m <= SmallRows) in one kernel launch: op(W)[i, j] is
// W[i*ldw + j], or W[j*ldw + i] when transW (W stored [n, k]). x and out
// are contiguous; bias may be nil. Over a handful of tokens the host's
// time per call sets the speed, and a cuBLAS call costs about three
// launches' worth, the bias add one more. Strict FP32 (no TF32), summed
// in a fixed order.
func (d *Device) LinearSmall(out, x, w, bias Buffer, m, n, k int, transW bool, ldw int) error {
	if m < 1 || m > SmallRows || n < 0 || k < 0 {
		return fmt.Errorf("cuda: LinearSmall: m=%d n=%d k=%d (m must be 1..%d)", m, n, k, SmallRows)
	}
	wr, wc := k, n // W as stored
	if transW {
		wr, wc = n, k
	}
	if ldw < max(1, wc) {
		return fmt.Errorf("cuda: LinearSmall: leading dimension %d for W of %d columns", ldw, wc)
	}
	if err := need("LinearSmall out", out, m*n); err != nil {
		return err
	}
	if err := need("LinearSmall x", x, m*k); err != nil {
		return err
	}
	if err := need("LinearSmall w", w, matrixExtent(wr, wc, ldw)); err != nil {
		return err
	}
	if err := optional("LinearSmall bias", bias, n); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.exit()
	// 8 output columns per block of 256 threads in both kernels.
	grid, block := dim3{x: (n + 7) / 8}, dim3{x: 256}
	shape := func() string {
		layout := "NN"
		if transW {
			layout = "NT"
		}
		return fmt.Sprintf("linear_small %s %dx%dx%d", layout, m, n, k)
	}
	return d.label(shape, func() error {
		if transW {
			return d.launch("linear_small_nt", grid, block, 0, out, x, w, bias, m, n, k, ldw)
		}
		return d.launch("linear_small_nn", grid, block, 0, out, x, w, bias, m, n, k, ldw)
	})
}

// SmallGemmFMAs is the most multiply-adds (batch*m*n*k) a product may take
// to be worth GemmSmall's one thread per output rather than cuBLAS.
const SmallGemmFMAs = 1 << 20

// GemmSmallFits says whether GemmSmall beats cuBLAS for a batch of m x n
// x k products: few multiply-adds in all, and each output's sum short
// (a one-token generation step's P.V over a long context is a few hundred
// threads each walking every key: cuBLAS's).
func GemmSmallFits(m, n, k, batch int) bool {
	return smallKernels && k <= 128 && int64(batch)*int64(m)*int64(n)*int64(k) <= SmallGemmFMAs
}

// GemmSmall computes the row-major products C_b = op(A_b) op(B_b) (alpha
// 1, beta 0) as SgemmStridedBatched does, with the same shapes, leading
// dimensions and batch strides, in one plain kernel launch: for products
// of at most SmallGemmFMAs multiply-adds (attention over a few tokens),
// whose cuBLAS call costs the host more than the GPU's work. Strict FP32.
func (d *Device) GemmSmall(transA, transB bool, m, n, k int, a Buffer, lda, strideA int, b Buffer, ldb, strideB int,
	c Buffer, ldc, strideC int, batch int) error {
	if _, err := rowMajorGemm(transA, transB, m, n, k, lda, ldb, ldc); err != nil {
		return err
	}
	if batch < 0 || strideA < 0 || strideB < 0 || strideC < 0 {
		return fmt.Errorf("cuda: GemmSmall: negative batch %d or stride", batch)
	}
	if fmas := int64(batch) * int64(m) * int64(n) * int64(k); fmas > SmallGemmFMAs {
		return fmt.Errorf("cuda: GemmSmall: %d multiply-adds, past its limit of %d (use Sgemm)", fmas, SmallGemmFMAs)
	}
	ea, eb, ec := gemmExtents(transA, transB, m, n, k, lda, ldb, ldc)
	if err := gemmBounds(a, b, c, ea, eb, ec, strideA, strideB, strideC, batch); err != nil {
		return err
	}
	if m == 0 || n == 0 || batch == 0 {
		return nil
	}
	for _, v := range []int{lda, ldb, ldc, strideA, strideB, strideC} {
		if v > math.MaxInt32 {
			return fmt.Errorf("cuda: GemmSmall: stride %d does not fit a C int", v)
		}
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.exit()
	total := batch * m * n
	return d.launch("gemm_small", dim3{x: gridFor(total, blk)}, dim3{x: blk}, 0, c, a, b, m, n, k, batch,
		b2i(transA), lda, strideA, b2i(transB), ldb, strideB, ldc, strideC)
}
