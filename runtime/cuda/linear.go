package cuda

import "fmt"

// SmallRows is the most rows LinearSmall takes (SMALL_ROWS in
// kernels/linear.cu).
const SmallRows = 16

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
	if transW {
		return d.launch("linear_small_nt", grid, block, 0, out, x, w, bias, m, n, k, ldw)
	}
	return d.launch("linear_small_nn", grid, block, 0, out, x, w, bias, m, n, k, ldw)
}
