package runtime

import (
	"fmt"
	"sync/atomic"

	"nnscope/runtime/cuda"
)

// GPUCounts tallies the calls the engine made to the GPU backend. On the
// GPU a pass of a small model is bound by launch latency and host syncs,
// not arithmetic, so these counts are what to cut (bench prints them per
// run; tests pin them down on the emulated GPU).
type GPUCounts struct {
	Kernels   int64 // kernel launches (elementwise, reductions, fused ops)
	Gemms     int64 // cuBLAS calls
	Uploads   int64 // host-to-device copies: from pageable memory each waits for queued work
	Downloads int64 // device-to-host copies: each waits for all queued work
	Syncs     int64 // explicit waits
	Allocs    int64 // allocator calls (the caching allocator rarely reaches cuMemAlloc)
}

// HostSyncs is the number of calls that made the host wait for the GPU.
func (c GPUCounts) HostSyncs() int64 { return c.Uploads + c.Downloads + c.Syncs }

// Sub returns c - d, the calls made between two readings.
func (c GPUCounts) Sub(d GPUCounts) GPUCounts {
	return GPUCounts{c.Kernels - d.Kernels, c.Gemms - d.Gemms, c.Uploads - d.Uploads,
		c.Downloads - d.Downloads, c.Syncs - d.Syncs, c.Allocs - d.Allocs}
}

func (c GPUCounts) String() string {
	return fmt.Sprintf("%d kernels, %d GEMMs, %d uploads, %d downloads, %d syncs, %d allocations",
		c.Kernels, c.Gemms, c.Uploads, c.Downloads, c.Syncs, c.Allocs)
}

var gpuCounts struct{ kernels, gemms, uploads, downloads, syncs, allocs atomic.Int64 }

// GPUCallCounts returns the calls made to the GPU backend so far.
func GPUCallCounts() GPUCounts {
	c := &gpuCounts
	return GPUCounts{c.kernels.Load(), c.gemms.Load(), c.uploads.Load(), c.downloads.Load(), c.syncs.Load(), c.allocs.Load()}
}

// counted wraps the GPU backend and counts its calls (an atomic add each,
// nothing beside a launch).
type counted struct{ b GPUBackend }

func (c counted) String() string { return fmt.Sprint(c.b) }

func kernel() { gpuCounts.kernels.Add(1) }

func (c counted) Alloc(n int) (cuda.Buffer, error) { gpuCounts.allocs.Add(1); return c.b.Alloc(n) }
func (c counted) Free(b cuda.Buffer) error         { return c.b.Free(b) }
func (c counted) Upload(dst cuda.Buffer, src []float32) error {
	gpuCounts.uploads.Add(1)
	return c.b.Upload(dst, src)
}
func (c counted) UploadInt32(dst cuda.Buffer, src []int32) error {
	gpuCounts.uploads.Add(1)
	return c.b.UploadInt32(dst, src)
}
func (c counted) Download(dst []float32, src cuda.Buffer) error {
	gpuCounts.downloads.Add(1)
	return c.b.Download(dst, src)
}
func (c counted) Memset(dst cuda.Buffer, v float32) error { kernel(); return c.b.Memset(dst, v) }
func (c counted) Sync() error                             { gpuCounts.syncs.Add(1); return c.b.Sync() }
func (c counted) SetTF32(on bool) error                   { return c.b.SetTF32(on) }
func (c counted) Fill(out cuda.Strided, v float32) error  { kernel(); return c.b.Fill(out, v) }
func (c counted) Copy(dst, src cuda.Strided) error        { kernel(); return c.b.Copy(dst, src) }
func (c counted) SumTo(out cuda.Buffer, g cuda.Strided, shape []int, alpha, beta float32) error {
	kernel()
	return c.b.SumTo(out, g, shape, alpha, beta)
}
func (c counted) Binary(op cuda.BinaryOp, out, a, b cuda.Strided) error {
	kernel()
	return c.b.Binary(op, out, a, b)
}
func (c counted) Unary(op cuda.UnaryOp, out, x cuda.Buffer, n int, p float32) error {
	kernel()
	return c.b.Unary(op, out, x, n, p)
}
func (c counted) UnaryBackward(op cuda.UnaryOp, gi, g, x, y cuda.Buffer, n int, p float32) error {
	kernel()
	return c.b.UnaryBackward(op, gi, g, x, y, n, p)
}
func (c counted) Softmax(out, x cuda.Buffer, rows, n int) error {
	kernel()
	return c.b.Softmax(out, x, rows, n)
}
func (c counted) SoftmaxBackward(gi, g, y cuda.Buffer, rows, n int) error {
	kernel()
	return c.b.SoftmaxBackward(gi, g, y, rows, n)
}
func (c counted) LogSoftmax(out, x cuda.Buffer, rows, n int) error {
	kernel()
	return c.b.LogSoftmax(out, x, rows, n)
}
func (c counted) LogSoftmaxBackward(gi, g, y cuda.Buffer, rows, n int) error {
	kernel()
	return c.b.LogSoftmaxBackward(gi, g, y, rows, n)
}
func (c counted) LayerNorm(out, mean, rstd, x, w, b cuda.Buffer, rows, n int, eps float32) error {
	kernel()
	return c.b.LayerNorm(out, mean, rstd, x, w, b, rows, n, eps)
}
func (c counted) LayerNormBackward(dx, dw, db, g, x, w, mean, rstd cuda.Buffer, rows, n int) error {
	kernel()
	return c.b.LayerNormBackward(dx, dw, db, g, x, w, mean, rstd, rows, n)
}
func (c counted) Embedding(out, w, ids cuda.Buffer, n, C, V int) error {
	kernel()
	return c.b.Embedding(out, w, ids, n, C, V)
}
func (c counted) EmbeddingBackward(gw, g, ids cuda.Buffer, n, C, V int, accumulate bool) error {
	kernel()
	return c.b.EmbeddingBackward(gw, g, ids, n, C, V, accumulate)
}
func (c counted) CausalSoftmax(out, x, mask cuda.Buffer, B, H, Tq, Tk int, scale float32) error {
	kernel()
	return c.b.CausalSoftmax(out, x, mask, B, H, Tq, Tk, scale)
}
func (c counted) CausalSoftmaxBackward(gi, g, y cuda.Buffer, rows, Tk int, scale float32) error {
	kernel()
	return c.b.CausalSoftmaxBackward(gi, g, y, rows, Tk, scale)
}
func (c counted) CrossEntropy(loss, lse, logits, targets cuda.Buffer, N, V int) error {
	kernel()
	return c.b.CrossEntropy(loss, lse, logits, targets, N, V)
}
func (c counted) CrossEntropyBackward(dlogits, logits, lse, targets, loss, dloss cuda.Buffer, N, V int) error {
	kernel()
	return c.b.CrossEntropyBackward(dlogits, logits, lse, targets, loss, dloss, N, V)
}
func (c counted) Sgemm(transA, transB bool, m, n, k int, alpha float32, a cuda.Buffer, lda int, b cuda.Buffer, ldb int, beta float32, cc cuda.Buffer, ldc int) error {
	gpuCounts.gemms.Add(1)
	return c.b.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, cc, ldc)
}
func (c counted) LinearSmall(out, x, w, bias cuda.Buffer, m, n, k int, transW bool, ldw int) error {
	kernel()
	return c.b.LinearSmall(out, x, w, bias, m, n, k, transW, ldw)
}
func (c counted) GemmSmall(transA, transB bool, m, n, k int, a cuda.Buffer, lda, strideA int, b cuda.Buffer, ldb, strideB int, cc cuda.Buffer, ldc, strideC int, batch int) error {
	kernel()
	return c.b.GemmSmall(transA, transB, m, n, k, a, lda, strideA, b, ldb, strideB, cc, ldc, strideC, batch)
}
func (c counted) SgemmStridedBatched(transA, transB bool, m, n, k int, alpha float32, a cuda.Buffer, lda, strideA int, b cuda.Buffer, ldb, strideB int, beta float32, cc cuda.Buffer, ldc, strideC int, batch int) error {
	gpuCounts.gemms.Add(1)
	return c.b.SgemmStridedBatched(transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, cc, ldc, strideC, batch)
}

// GPUAllocatorStats returns the CUDA caching allocator's counters (how
// often cuMemAlloc was reached), false when the backend has no such
// allocator (the emulator).
func GPUAllocatorStats() (cuda.Stats, bool) {
	c, ok := gpuDev.(counted)
	if !ok {
		return cuda.Stats{}, false
	}
	s, ok := c.b.(interface{ Stats() cuda.Stats })
	if !ok {
		return cuda.Stats{}, false
	}
	return s.Stats(), true
}
