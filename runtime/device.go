package runtime

import (
	"fmt"
	"runtime"
	"strings"
	"sync"

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
	buf   cuda.Buffer
	mu    sync.Mutex
	freed bool
}

func (m *gpuMem) free() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.freed && gpuDev != nil {
		gpuDev.Free(m.buf)
	}
	m.freed = true
	m.buf = cuda.Buffer{} // a use after free fails loudly ("no buffer")
}

var (
	gpuOnce sync.Once
	gpuDev  *cuda.Device
	gpuErr  error
)

// GPU returns the CUDA device, opening it on first use.
func GPU() (*cuda.Device, error) {
	gpuOnce.Do(func() { gpuDev, gpuErr = cuda.Open() })
	return gpuDev, gpuErr
}

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

// gpuEmpty allocates a GPU tensor whose contents the caller overwrites.
func gpuEmpty(shape ...int) *Tensor {
	d, err := GPU()
	if err != nil {
		panic(errorf("cuda is not available: %v", err))
	}
	n := numel(shape)
	buf, err := d.Alloc(n)
	check(fmt.Sprintf("allocating %d floats (%d bytes)", n, 4*n), err)
	m := &gpuMem{buf: buf}
	st := &storage{gpu: m}
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

// gbuf is a contiguous GPU tensor's memory.
func (t *Tensor) gbuf() cuda.Buffer {
	if !t.IsContiguous() {
		panic(errorf("internal: gbuf of a non-contiguous tensor"))
	}
	return t.st.gpu.buf.Slice(t.off, t.Size())
}

// gs describes a GPU tensor (any view) for the kernels.
func (t *Tensor) gs() cuda.Strided {
	b := t.st.gpu.buf
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
		panic(errorf("%s: tensors on different devices (cuda and cpu): move one with .To(\"cuda\") or .To(\"cpu\")", op))
	}
	return gpu
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
