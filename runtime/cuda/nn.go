package cuda

import (
	"fmt"
	"math"
)

// rowsArgs checks the buffers of a [rows, n] row op.
func rowsArgs(what string, rows, n int, bufs ...Buffer) error {
	if rows < 0 || n < 0 {
		return fmt.Errorf("cuda: %s: negative size rows=%d n=%d", what, rows, n)
	}
	for i, b := range bufs {
		if err := need(fmt.Sprintf("%s operand %d", what, i), b, rows*n); err != nil {
			return err
		}
	}
	return nil
}

// rowKernel launches a one-block-per-row kernel over [rows, n].
func (d *Device) rowKernel(name string, rows, n int, args ...any) error {
	if rows == 0 || n == 0 {
		return nil
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.exit()
	return d.launch(name, dim3{x: rowGrid(rows)}, dim3{x: rowBlock(n)}, 0, args...)
}

// Softmax computes out = softmax(x) over the last axis of contiguous
// [rows, n] data.
func (d *Device) Softmax(out, x Buffer, rows, n int) error {
	if err := rowsArgs("Softmax", rows, n, out, x); err != nil {
		return err
	}
	return d.rowKernel("softmax_fwd", rows, n, out, x, rows, n)
}

// SoftmaxBackward computes gi = y * (g - sum(g*y)) per row, y being
// Softmax's output.
func (d *Device) SoftmaxBackward(gi, g, y Buffer, rows, n int) error {
	if err := rowsArgs("SoftmaxBackward", rows, n, gi, g, y); err != nil {
		return err
	}
	return d.rowKernel("softmax_bwd", rows, n, gi, g, y, rows, n)
}

// LogSoftmax computes out = log softmax(x) over the last axis.
func (d *Device) LogSoftmax(out, x Buffer, rows, n int) error {
	if err := rowsArgs("LogSoftmax", rows, n, out, x); err != nil {
		return err
	}
	return d.rowKernel("log_softmax_fwd", rows, n, out, x, rows, n)
}

// LogSoftmaxBackward computes gi = g - exp(y) * sum(g) per row, y being
// LogSoftmax's output.
func (d *Device) LogSoftmaxBackward(gi, g, y Buffer, rows, n int) error {
	if err := rowsArgs("LogSoftmaxBackward", rows, n, gi, g, y); err != nil {
		return err
	}
	return d.rowKernel("log_softmax_bwd", rows, n, gi, g, y, rows, n)
}

// LayerNorm normalizes contiguous rows [rows, n] over the last axis and
// applies gain w [n] and bias b [n] (either may be the zero Buffer),
// saving each row's mean and 1/std into mean [rows] and rstd [rows].
func (d *Device) LayerNorm(out, mean, rstd, x, w, b Buffer, rows, n int, eps float32) error {
	if err := rowsArgs("LayerNorm", rows, n, out, x); err != nil {
		return err
	}
	if err := rowsArgs("LayerNorm mean/rstd", rows, 1, mean, rstd); err != nil {
		return err
	}
	if err := optional("LayerNorm w", w, n); err != nil {
		return err
	}
	if err := optional("LayerNorm b", b, n); err != nil {
		return err
	}
	return d.rowKernel("layernorm_fwd", rows, n, out, mean, rstd, x, w, b, rows, n, eps)
}

// LayerNormBackward computes, from the upstream gradient g and LayerNorm's
// saved mean and rstd: dx [rows, n], dw [n] and db [n]. Any of dx, dw, db
// may be the zero Buffer (not wanted); w may be zero (no gain). dw and db
// are overwritten, not accumulated.
func (d *Device) LayerNormBackward(dx, dw, db, g, x, w, mean, rstd Buffer, rows, n int) error {
	if err := rowsArgs("LayerNormBackward", rows, n, g, x); err != nil {
		return err
	}
	if err := rowsArgs("LayerNormBackward mean/rstd", rows, 1, mean, rstd); err != nil {
		return err
	}
	for _, c := range []struct {
		name string
		b    Buffer
		n    int
	}{{"dx", dx, rows * n}, {"dw", dw, n}, {"db", db, n}, {"w", w, n}} {
		if err := optional("LayerNormBackward "+c.name, c.b, c.n); err != nil {
			return err
		}
	}
	if rows == 0 || n == 0 {
		return nil
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.exit()
	if !dx.IsNil() {
		if err := d.launch("layernorm_bwd_dx", dim3{x: rowGrid(rows)}, dim3{x: rowBlock(n)}, 0,
			dx, g, x, w, mean, rstd, rows, n); err != nil {
			return err
		}
	}
	if dw.IsNil() && db.IsNil() {
		return nil
	}
	for _, b := range []Buffer{dw, db} {
		if !b.IsNil() {
			if err := d.memsetLocked(b.Slice(0, n), 0); err != nil {
				return err
			}
		}
	}
	gx := ceilDiv(n, blk)
	splits := max(1, min(ceilDiv(4*max(d.info.SMs, 1), gx), ceilDiv(rows, 16), 65535))
	chunk := ceilDiv(rows, splits)
	splits = ceilDiv(rows, chunk)
	return d.launch("layernorm_bwd_dwdb", dim3{x: gx, y: splits}, dim3{x: blk}, 0, dw, db, g, x, mean, rstd, rows, n, chunk)
}

// Embedding gathers rows of w [V, C] for the n int32 ids in ids into out
// [n, C]. Check ids on the host: an id outside [0, V) gives a zero row.
func (d *Device) Embedding(out, w, ids Buffer, n, C, V int) error {
	if err := need("Embedding out", out, n*C); err != nil {
		return err
	}
	if err := need("Embedding w", w, V*C); err != nil {
		return err
	}
	if err := need("Embedding ids", ids, n); err != nil {
		return err
	}
	if n*C == 0 {
		return nil
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.exit()
	return d.launch("embedding_fwd", dim3{x: gridFor(n*C, blk)}, dim3{x: blk}, 0, out, w, ids, n, C, V)
}

// EmbeddingBackward scatters g [n, C] into gw [V, C] by ids (repeated ids
// add up, with atomicAdd). With accumulate false gw is zeroed first.
func (d *Device) EmbeddingBackward(gw, g, ids Buffer, n, C, V int, accumulate bool) error {
	if err := need("EmbeddingBackward gw", gw, V*C); err != nil {
		return err
	}
	if err := need("EmbeddingBackward g", g, n*C); err != nil {
		return err
	}
	if err := need("EmbeddingBackward ids", ids, n); err != nil {
		return err
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.exit()
	if !accumulate && V*C > 0 {
		if err := d.memsetLocked(gw.Slice(0, V*C), 0); err != nil {
			return err
		}
	}
	if n*C == 0 {
		return nil
	}
	return d.launch("embedding_bwd", dim3{x: gridFor(n*C, blk)}, dim3{x: blk}, 0, gw, g, ids, n, C, V)
}

// CausalSoftmax turns contiguous attention scores x [B, H, Tq, Tk] into
// probabilities out, as runtime.CausalSoftmax: scores are multiplied by
// scale, key j is visible to query i when j <= i + (Tk - Tq) (queries are
// the last Tq positions, so Tk - Tq is the KV-cache's past length) and
// mask[b*Tk + j] != 0 (mask [B, Tk] may be the zero Buffer). A query that
// sees no key gets all-zero probabilities.
func (d *Device) CausalSoftmax(out, x, mask Buffer, B, H, Tq, Tk int, scale float32) error {
	rows := B * H * Tq
	if Tq > Tk {
		return fmt.Errorf("cuda: CausalSoftmax: Tq=%d > Tk=%d", Tq, Tk)
	}
	if err := rowsArgs("CausalSoftmax", rows, Tk, out, x); err != nil {
		return err
	}
	if err := optional("CausalSoftmax mask", mask, B*Tk); err != nil {
		return err
	}
	return d.rowKernel("causal_softmax_fwd", rows, Tk, out, x, mask, rows, H, Tq, Tk, scale)
}

// CausalSoftmaxBackward computes gi = scale * y * (g - sum(g*y)) per row of
// [rows, Tk] (rows = B*H*Tq), y being CausalSoftmax's output.
func (d *Device) CausalSoftmaxBackward(gi, g, y Buffer, rows, Tk int, scale float32) error {
	if err := rowsArgs("CausalSoftmaxBackward", rows, Tk, gi, g, y); err != nil {
		return err
	}
	return d.rowKernel("causal_softmax_bwd", rows, Tk, gi, g, y, rows, Tk, scale)
}

// CrossEntropy computes the mean over rows of logits [N, V] of
// -log softmax(logits)[target] with int32 targets [N] (-100 ignores a row;
// check the others are in [0, V) on the host). loss needs 2 elements:
// loss[0] is the mean (a view loss.Slice(0, 1) is the scalar) and loss[1]
// the number of rows counted, read by CrossEntropyBackward; lse [N]
// receives each row's log-sum-exp. No host synchronization.
func (d *Device) CrossEntropy(loss, lse, logits, targets Buffer, N, V int) error {
	if err := need("CrossEntropy loss", loss, 2); err != nil {
		return err
	}
	if err := need("CrossEntropy lse", lse, N); err != nil {
		return err
	}
	if err := need("CrossEntropy logits", logits, N*V); err != nil {
		return err
	}
	if err := need("CrossEntropy targets", targets, N); err != nil {
		return err
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.exit()
	if N == 0 || V == 0 {
		// No row counted (with V = 0 every target is -100): the mean is
		// NaN, as ce_mean gives and the CPU's CrossEntropy (it was 0).
		if err := d.memsetLocked(loss.Slice(0, 1), float32(math.NaN())); err != nil {
			return err
		}
		return d.memsetLocked(loss.Slice(1, 1), 0)
	}
	rowLoss, err := d.allocLocked(N)
	if err != nil {
		return err
	}
	// Freed right after the launches: later work on the stream that reuses
	// the block runs after them.
	defer d.freeLocked(rowLoss.base)
	if err := d.launch("ce_fwd", dim3{x: rowGrid(N)}, dim3{x: rowBlock(V)}, 0, rowLoss, lse, logits, targets, N, V); err != nil {
		return err
	}
	return d.launch("ce_mean", dim3{x: 1}, dim3{x: 1024}, 0, loss, rowLoss, targets, N, V)
}

// CrossEntropyBackward computes dlogits [N, V] = (softmax - onehot(target))
// * dloss[0] / loss[1] (zero rows for ignored targets) from CrossEntropy's
// loss and lse; dloss is the upstream gradient of the mean, on the device.
func (d *Device) CrossEntropyBackward(dlogits, logits, lse, targets, loss, dloss Buffer, N, V int) error {
	if err := rowsArgs("CrossEntropyBackward", N, V, dlogits, logits); err != nil {
		return err
	}
	if err := need("CrossEntropyBackward lse", lse, N); err != nil {
		return err
	}
	if err := need("CrossEntropyBackward targets", targets, N); err != nil {
		return err
	}
	if err := need("CrossEntropyBackward loss", loss, 2); err != nil {
		return err
	}
	if err := need("CrossEntropyBackward dloss", dloss, 1); err != nil {
		return err
	}
	return d.rowKernel("ce_bwd", N, V, dlogits, logits, lse, targets, loss, dloss, N, V)
}

// TopKRows writes the k largest values of each row of contiguous x
// [rows, n] to values [rows, k], largest first, and their indices, as
// floats (exact below 2^24), to indices [rows, k]. NaN ranks above every
// number and equal values keep the lower index first, as in
// runtime.TopK. One block a row makes k passes over it (a pass picks the
// best element ranking after the previous pick): no host synchronization,
// no scratch memory.
func (d *Device) TopKRows(values, indices, x Buffer, rows, n, k int) error {
	if err := rowsArgs("TopKRows", rows, n, x); err != nil {
		return err
	}
	if k < 1 || k > n {
		return fmt.Errorf("cuda: TopKRows: k=%d out of range for rows of %d", k, n)
	}
	if err := rowsArgs("TopKRows out", rows, k, values, indices); err != nil {
		return err
	}
	return d.rowKernel("topk_rows", rows, n, values, indices, x, rows, n, k)
}

// TopKBackward is TopKRows's backward: gi [rows, n] gets g [rows, k] at
// the indices TopKRows gave, and zeros elsewhere.
func (d *Device) TopKBackward(gi, g, indices Buffer, rows, n, k int) error {
	if k < 1 || k > n {
		return fmt.Errorf("cuda: TopKBackward: k=%d out of range for rows of %d", k, n)
	}
	if err := rowsArgs("TopKBackward gi", rows, n, gi); err != nil {
		return err
	}
	if err := rowsArgs("TopKBackward", rows, k, g, indices); err != nil {
		return err
	}
	if rows == 0 {
		return nil
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.exit()
	if err := d.memsetLocked(gi.Slice(0, rows*n), 0); err != nil {
		return err
	}
	return d.launch("topk_bwd", dim3{x: gridFor(rows*k, blk)}, dim3{x: blk}, 0, gi, g, indices, rows, n, k)
}
