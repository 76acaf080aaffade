package runtime

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"nnscope/runtime/cuda"
)

// Devices. A tensor lives on the CPU (storage.data) or on the GPU
// (storage.gpu, memory from runtime/cuda's caching allocator). Every op
// checks its inputs' device first: GPU tensors take the GPU path (gpu*.go,
// kernels in runtime/cuda), CPU tensors the CPU code, and mixing them is a
// clear error. The CUDA libraries are loaded at run time, so one binary
// builds and runs without them.

// gpuMem is a tensor storage's device memory. It is freed when the storage
// is garbage collected (a cleanup), or at once by Release.
type gpuMem struct {
	buf     cuda.Buffer
	dev     GPUBackend // the backend that allocated buf, which frees it even after SetGPUBackend
	mu      sync.Mutex
	freed   bool
	scoped  bool // allocated while a GPU scope was open
	escaped bool // kept when its GPU scope closes (Escape)
}

func (m *gpuMem) free() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.freed && m.dev != nil {
		m.dev.Free(m.buf)
		gpuLive.Add(-int64(m.buf.Len()) * 4)
	}
	m.freed = true
	m.buf = cuda.Buffer{} // a use after free fails loudly ("no buffer")
}

// GPUBackend is what the engine needs from a GPU: runtime/cuda's Device,
// or an emulator of it (package runtime/cuda/emu) that lets the GPU code
// paths run in tests on machines without one.
type GPUBackend interface {
	Alloc(n int) (cuda.Buffer, error)
	Free(b cuda.Buffer) error
	Upload(dst cuda.Buffer, src []float32) error
	UploadInt32(dst cuda.Buffer, src []int32) error
	Download(dst []float32, src cuda.Buffer) error
	Memset(dst cuda.Buffer, v float32) error
	Sync() error
	SetTF32(on bool) error
	Fill(out cuda.Strided, v float32) error
	Copy(dst, src cuda.Strided) error
	SumTo(out cuda.Buffer, g cuda.Strided, shape []int, alpha, beta float32) error
	Binary(op cuda.BinaryOp, out, a, b cuda.Strided) error
	Unary(op cuda.UnaryOp, out, x cuda.Buffer, n int, p float32) error
	UnaryBackward(op cuda.UnaryOp, gi, g, x, y cuda.Buffer, n int, p float32) error
	Softmax(out, x cuda.Buffer, rows, n int) error
	SoftmaxBackward(gi, g, y cuda.Buffer, rows, n int) error
	LogSoftmax(out, x cuda.Buffer, rows, n int) error
	LogSoftmaxBackward(gi, g, y cuda.Buffer, rows, n int) error
	LayerNorm(out, mean, rstd, x, w, b cuda.Buffer, rows, n int, eps float32) error
	LayerNormBackward(dx, dw, db, g, x, w, mean, rstd cuda.Buffer, rows, n int) error
	Embedding(out, w, ids cuda.Buffer, n, C, V int) error
	EmbeddingBackward(gw, g, ids cuda.Buffer, n, C, V int, accumulate bool) error
	CausalSoftmax(out, x, mask cuda.Buffer, B, H, Tq, Tk int, scale float32) error
	CausalSoftmaxBackward(gi, g, y cuda.Buffer, rows, Tk int, scale float32) error
	CrossEntropy(loss, lse, logits, targets cuda.Buffer, N, V int) error
	CrossEntropyBackward(dlogits, logits, lse, targets, loss, dloss cuda.Buffer, N, V int) error
	Sgemm(transA, transB bool, m, n, k int, alpha float32, a cuda.Buffer, lda int, b cuda.Buffer, ldb int, beta float32, c cuda.Buffer, ldc int) error
	LinearSmall(out, x, w, bias cuda.Buffer, m, n, k int, transW bool, ldw int) error
	GemmSmall(transA, transB bool, m, n, k int, a cuda.Buffer, lda, strideA int, b cuda.Buffer, ldb, strideB int, c cuda.Buffer, ldc, strideC int, batch int) error
	SgemmStridedBatched(transA, transB bool, m, n, k int, alpha float32, a cuda.Buffer, lda, strideA int, b cuda.Buffer, ldb, strideB int, beta float32, c cuda.Buffer, ldc, strideC int, batch int) error
}

var (
	gpuOnce sync.Once
	gpuDev  GPUBackend
	gpuErr  error
)

// GPU returns the GPU backend, opening the CUDA device on first use.
func GPU() (GPUBackend, error) {
	gpuOnce.Do(func() {
		if gpuDev != nil {
			return // an emulator installed by SetGPUBackend
		}
		d, err := cuda.Open()
		if err != nil {
			gpuErr = err
			return
		}
		gpuDev = counted{d}
	})
	return gpuDev, gpuErr
}

// SetGPUBackend installs b (an emulator, in tests) as the GPU; nil goes
// back to "not opened yet". Tensors made on one backend must not be used
// after switching.
func SetGPUBackend(b GPUBackend) {
	gpuEpoch.Add(1)
	gpuOnce = sync.Once{}
	gpuDev, gpuErr = nil, nil
	if c, ok := b.(counted); ok {
		b = c.b
	}
	if b != nil {
		gpuDev = counted{b}
		gpuOnce.Do(func() {})
	}
}

// GPUProfiler times each kernel and cuBLAS call on the GPU's clock (the
// CUDA device has one; the emulator does not).
type GPUProfiler interface {
	SetProfiling(on bool) error
	KernelTimes() ([]cuda.KernelTime, error)
}

// Profiler returns the open GPU backend's profiler, if it has one.
func Profiler() (GPUProfiler, bool) {
	b, err := GPU()
	if err != nil {
		return nil, false
	}
	c, ok := b.(counted)
	if !ok {
		return nil, false
	}
	p, ok := c.b.(GPUProfiler)
	return p, ok
}

var gpuEpoch atomic.Int64

// GPUEpoch changes whenever SetGPUBackend replaces the GPU backend: caches
// of GPU tensors (loaded models) key on it, since tensors of one backend
// are invalid on another.
func GPUEpoch() int64 { return gpuEpoch.Load() }

// DeviceName normalizes a device name: "cpu" or "cuda".
func DeviceName(name string) (string, error) {
	switch strings.ToLower(name) {
	case "", "cpu":
		return "cpu", nil
	case "cuda", "gpu", "cuda:0":
		return "cuda", nil
	}
	return "", fmt.Errorf("unknown device %q (want \"cpu\" or \"cuda\")", name)
}

// SetTF32 lets GEMMs on the GPU use TF32 tensor cores (faster, ~1e-3
// relative error); the default is strict FP32.
func SetTF32(on bool) error {
	d, err := GPU()
	if err != nil {
		return err
	}
	return d.SetTF32(on)
}

func (t *Tensor) onGPU() bool { return t.st.gpu != nil }

// Device returns "cpu" or "cuda".
func (t *Tensor) Device() string {
	if t.onGPU() {
		return "cuda"
	}
	return "cpu"
}

// check turns a CUDA error into the engine's error (out-of-memory errors
// name the size asked for).
func check(op string, err error) {
	if err != nil {
		panic(errorf("%s on cuda: %v", op, err))
	}
}

// gpuNew allocates a zeroed tensor on the GPU.
func gpuNew(shape ...int) *Tensor {
	t := gpuEmpty(shape...)
	check("zeros", gpuDev.Memset(t.st.gpu.buf, 0))
	return t
}

// Device memory of tensors the program dropped comes back when the Go
// garbage collector finds them, but the collector only watches host memory,
// where a GPU tensor is a few bytes. So allocations count device bytes and
// ask for a collection every gpuGCEvery bytes, and an allocation that runs
// out of memory collects and retries once before failing.
var (
	gpuLive      atomic.Int64 // bytes held by live GPU tensors
	gpuSinceGC   atomic.Int64 // bytes allocated since the last collection we asked for
	gpuGCEvery   int64        = 1 << 30
	gpuRetrySlep              = 20 * time.Millisecond
)

func gpuAlloc(d GPUBackend, n int) (cuda.Buffer, error) {
	// What an open GPU scope allocates comes back when it closes, without
	// the collector (End counts it here if the scope could not release).
	if !scopeOpen.Load() && gpuSinceGC.Add(int64(n)*4) > gpuGCEvery {
		gpuSinceGC.Store(0)
		runtime.GC()
	}
	buf, err := d.Alloc(n)
	if err != nil && cuda.IsOutOfMemory(err) {
		runtime.GC()
		time.Sleep(gpuRetrySlep) // cleanups run on their own goroutine
		buf, err = d.Alloc(n)
	}
	if err == nil {
		gpuLive.Add(int64(n) * 4)
	}
	return buf, err
}

// gpuEmpty allocates a GPU tensor whose contents the caller overwrites.
func gpuEmpty(shape ...int) *Tensor {
	d, err := GPU()
	if err != nil {
		panic(errorf("cuda is not available: %v", err))
	}
	n := numel(shape)
	buf, err := gpuAlloc(d, n)
	if err != nil && cuda.IsOutOfMemory(err) {
		panic(errorf("out of GPU memory: a tensor of shape %v needs %d bytes (%s), and live tensors hold %s: free tensors you no longer use (save fewer in traces) or use smaller inputs (%v)",
			shape, 4*n, byteSize(4*int64(n)), byteSize(gpuLive.Load()), err))
	}
	check(fmt.Sprintf("allocating %d floats (%d bytes)", n, 4*n), err)
	m := &gpuMem{buf: buf, dev: d}
	scopeAdd(m)
	st := freshStorage(nil, m)
	runtime.AddCleanup(st, func(m *gpuMem) { m.free() }, m)
	return fromStorage(st, 0, cloneInts(shape), contiguousStrides(shape))
}

// newLike allocates zeros of shape on like's device.
func newLike(like *Tensor, shape ...int) *Tensor {
	if like.onGPU() {
		return gpuNew(shape...)
	}
	return New(shape...)
}

// emptyLike allocates on like's device a tensor the caller overwrites
// whole (no zeroing kernel on the GPU).
func emptyLike(like *Tensor, shape ...int) *Tensor {
	if like.onGPU() {
		return gpuEmpty(shape...)
	}
	return newEmpty(shape...)
}

// gbuf is a contiguous GPU tensor's memory.
func (t *Tensor) gbuf() cuda.Buffer {
	if !t.IsContiguous() {
		panic(errorf("internal: gbuf of a non-contiguous tensor"))
	}
	return t.liveBuf().Slice(t.off, t.Size())
}

// liveBuf is the tensor's device memory, or a clear error when it was
// released: by the end of the trace that made it (it was not saved), or by
// Release.
func (t *Tensor) liveBuf() cuda.Buffer {
	if t.st.gpu == nil { // a device check missing before a GPU kernel: an error, not a nil dereference
		panic(errorf("internal: a cpu tensor of shape %v where a cuda one was expected (move it with .To(\"cuda\"))", t.shape))
	}
	b := t.st.gpu.buf
	if b.IsNil() {
		panic(errorf("tensor of shape %v: its GPU memory was released when the trace that computed it ended (save it with .Save() to use it afterwards)", t.shape))
	}
	// The buffer keeps the storage reachable: an operand used for the last
	// time is otherwise collectable while the backend still reads it, and
	// the storage's cleanup would free the memory under the call.
	return b.Keep(t.st)
}

// gs describes a GPU tensor (any view) for the kernels.
func (t *Tensor) gs() cuda.Strided {
	b := t.liveBuf()
	return cuda.Strided{Buf: b.Slice(t.off, b.Len()-t.off), Shape: cloneInts(t.shape), Strides: cloneInts(t.stride)}
}

// gpuContig returns t as a contiguous GPU tensor (t itself if it is one).
func gpuContig(t *Tensor) *Tensor {
	if t.IsContiguous() {
		return t
	}
	return t.Contiguous()
}

// sameDevice reports whether the op runs on the GPU, failing if its
// tensors are on different devices. Number constants (Size-1 CPU scalars
// made from Go numbers) go anywhere.
func sameDevice(op string, ts ...*Tensor) bool {
	gpu, cpu := false, false
	for _, t := range ts {
		if t == nil || t.constant {
			continue
		}
		if t.onGPU() {
			gpu = true
		} else {
			cpu = true
		}
	}
	if gpu && cpu {
		panic(errorf("%s: tensors on different devices, %s: move one with .To(\"cuda\") or .To(\"cpu\")", op, devicesOf(op, ts)))
	}
	return gpu
}

// operandNames names the operands of the ops that check their devices,
// in order, for the error that says which is where (others: "tensor i").
var operandNames = map[string][]string{
	"Add": {"the tensor", "the operand"}, "Sub": {"the tensor", "the operand"},
	"Mul": {"the tensor", "the operand"}, "Div": {"the tensor", "the operand"},
	"MatMul": {"the tensor", "the argument"}, "Copy": {"the destination", "the source"},
	"LayerNorm": {"x", "the weight", "the bias"}, "Linear": {"x", "the weight", "the bias"},
	"Where": {"cond", "a", "b"}, "MaskedFill": {"the tensor", "the mask"},
	"gradient accumulation": {"one gradient", "the other"},
}

// devicesOf says where each operand of op is: "the tensor on cuda and the
// operand on cpu" (numbers, which go anywhere, left out).
func devicesOf(op string, ts []*Tensor) string {
	names := operandNames[op]
	var parts []string
	for i, t := range ts {
		if t == nil || t.constant {
			continue
		}
		if len(parts) == 8 {
			parts = append(parts, "...")
			break
		}
		name := fmt.Sprintf("tensor %d", i)
		if i < len(names) {
			name = names[i]
		}
		parts = append(parts, name+" on "+t.Device())
	}
	if n := len(parts); n > 1 && parts[n-1] != "..." {
		return strings.Join(parts[:n-1], ", ") + " and " + parts[n-1]
	}
	return strings.Join(parts, ", ")
}

// To returns the tensor on device ("cpu" or "cuda"): t itself if it is
// there already, else a copy. The copy is differentiable.
func (t *Tensor) To(device string) *Tensor {
	dev, err := DeviceName(device)
	if err != nil {
		panic(errorf("To: %v", err))
	}
	if dev == t.Device() {
		return t
	}
	var out *Tensor
	if dev == "cpu" {
		out = New(t.shape...)
		check("download", gpuDev.Download(out.raw(), gpuContig(t).gbuf()))
		record(out, "to_cpu", []*Tensor{t}, func(g *Tensor) []*Tensor { return []*Tensor{g.To("cuda")} })
		return out
	}
	out = gpuEmpty(t.shape...)
	check("upload", gpuDev.Upload(out.gbuf(), t.Contiguous().raw()))
	record(out, "to_cuda", []*Tensor{t}, func(g *Tensor) []*Tensor { return []*Tensor{g.To("cpu")} })
	return out
}

// hostCopy returns t's values on the host (a download for GPU tensors).
func (t *Tensor) hostCopy() []float32 {
	out := make([]float32, t.Size())
	check("download", gpuDev.Download(out, gpuContig(t).gbuf()))
	return out
}

// Sync waits for queued GPU work to finish (a no-op without a GPU); timing
// code calls it, since kernels run asynchronously.
func Sync() error {
	if gpuDev == nil {
		return nil
	}
	return gpuDev.Sync()
}

// GPUMemoryInUse returns the bytes of device memory held by live tensors.
func GPUMemoryInUse() int64 { return gpuLive.Load() }

// byteSize formats a byte count for people: "1.5 GiB".
func byteSize(b int64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%d bytes", b)
	}
	v, i := float64(b)/unit, 0
	for v >= unit && i < 3 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %s", v, []string{"KiB", "MiB", "GiB", "TiB"}[i])
}
