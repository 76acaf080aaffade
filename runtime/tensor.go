// Package runtime is nnscope's tensor engine: float32 tensors with views,
// a reverse-mode autograd tape with tensor hooks, and the module hook point
// that interventions attach to.
//
// Ops are written the llm.c way: each op's forward and its backward sit side
// by side, so a reader can check one against the other.
package runtime

import (
	"fmt"
	"math"
	"nnscope/runtime/cuda"
	"slices"
	"sync/atomic"
)

// storage is the memory a tensor and all its views share. version counts
// in-place writes so a backward pass can refuse to use a value that was
// overwritten after it was saved.
type storage struct {
	data     []float32
	version  int
	readOnly bool    // data is a read-only file mapping: copy before the first write
	gpu      *gpuMem // device memory instead of data (see device.go)
	taped    bool    // an input of a recorded op: its backward may read it, so Release keeps it
	seq      uint64  // allocation order (see freshStorage); 0 for memory the engine did not allocate
}

// storageSeq numbers the storages the engine allocates, so a backward pass
// can tell a gradient an op's backward just allocated (nothing else can
// see it) from one it passed through or took from elsewhere.
var storageSeq atomic.Uint64

// freshStorage is engine-allocated storage for data (or GPU memory m).
func freshStorage(data []float32, m *gpuMem) *storage {
	return &storage{data: data, gpu: m, seq: storageSeq.Add(1)}
}

// writable makes the storage safe to write, copying a read-only mapping
// once; every view shares the storage, so all of them see the copy.
func (s *storage) writable() []float32 {
	if s.readOnly {
		s.data = append([]float32(nil), s.data...)
		s.readOnly = false
	}
	return s.data
}

// Tensor is an n-dimensional float32 array: a window (offset, shape, strides)
// onto a storage. Views share storage; ops return new tensors.
type Tensor struct {
	st     *storage
	off    int
	shape  []int
	stride []int

	requiresGrad bool
	node         *node   // the op that produced this tensor, nil for leaves
	grad         *Tensor // accumulated gradient of a leaf that requires grad
	hooks        []GradHook
	view         *viewOf // set when this tensor is a view of another one
	constant     bool    // a Go number made into a scalar: usable on any device

	// In-place writes give the tensor a new autograd history; ops that
	// read it before keep the old one: olds[k] is the tensor as it was
	// before write k+1, so len(olds) is its write generation (see
	// rebaseAfterWrite). It grows by one per recorded write, as the graph
	// does: a base's olds are the inputs of its write nodes.
	olds []*Tensor
}

// viewOf records how a view maps onto its base, so an in-place write through
// the view can be replayed on the base's autograd history.
type viewOf struct {
	base  *Tensor
	apply func(*Tensor) *Tensor // the view's geometry, applied to base's shape
	gen   int                   // base's write generation (len(base.olds)) the view's history reads
}

// New returns a zero tensor of the given shape.
func New(shape ...int) *Tensor {
	n := numel(shape)
	return fromStorage(freshStorage(newData(n), nil), 0, cloneInts(shape), contiguousStrides(shape))
}

// newEmpty returns a host tensor whose elements the caller overwrites
// (reused memory is not zeroed first).
func newEmpty(shape ...int) *Tensor {
	return fromStorage(freshStorage(newDataDirty(numel(shape)), nil), 0, cloneInts(shape), contiguousStrides(shape))
}

// FromSlice wraps data (not copied) as a contiguous tensor of the given shape.
func FromSlice(data []float32, shape ...int) *Tensor {
	if numel(shape) != len(data) {
		panic(errorf("FromSlice: shape %v needs %d values, got %d", shape, numel(shape), len(data)))
	}
	return fromStorage(&storage{data: data}, 0, cloneInts(shape), contiguousStrides(shape))
}

// FromReadOnly wraps memory that must not be written (a read-only file
// mapping, for weights). An in-place write first copies it.
func FromReadOnly(data []float32, shape ...int) *Tensor {
	t := FromSlice(data, shape...)
	t.st.readOnly = true
	return t
}

// FromFloat64s copies data into a new tensor of the given shape.
func FromFloat64s(data []float64, shape ...int) *Tensor {
	out := make([]float32, len(data))
	for i, v := range data {
		out[i] = float32(v)
	}
	return FromSlice(out, shape...)
}

// Scalar returns a 0-d tensor holding v.
func Scalar(v float32) *Tensor { return FromSlice([]float32{v}) }

// Full returns a tensor of the given shape filled with v.
func Full(v float32, shape ...int) *Tensor {
	t := New(shape...)
	fill(t.st.data, v)
	return t
}

// Ones returns a tensor of ones.
func Ones(shape ...int) *Tensor { return Full(1, shape...) }

// Arange returns [0, 1, ..., n-1].
func Arange(n int) *Tensor {
	t := New(n)
	for i := range t.st.data {
		t.st.data[i] = float32(i)
	}
	return t
}

func fromStorage(st *storage, off int, shape, stride []int) *Tensor {
	return &Tensor{st: st, off: off, shape: shape, stride: stride}
}

// Shape returns a copy of the tensor's shape.
func (t *Tensor) Shape() []int { return cloneInts(t.shape) }

// Strides returns a copy of the strides, in elements.
func (t *Tensor) Strides() []int { return cloneInts(t.stride) }

// Dim returns the number of dimensions.
func (t *Tensor) Dim() int { return len(t.shape) }

// Size returns the number of elements.
func (t *Tensor) Size() int { return numel(t.shape) }

// Len returns the size of dimension 0 (1 for a scalar).
func (t *Tensor) Len() int {
	if len(t.shape) == 0 {
		return 1
	}
	return t.shape[0]
}

// IsContiguous reports whether the elements lie densely in row-major order.
func (t *Tensor) IsContiguous() bool {
	s := 1
	for i := len(t.shape) - 1; i >= 0; i-- {
		if t.shape[i] != 1 && t.stride[i] != s {
			return false
		}
		s *= t.shape[i]
	}
	return true
}

// raw returns the contiguous backing slice of a contiguous tensor.
func (t *Tensor) raw() []float32 {
	return t.st.data[t.off : t.off+t.Size()]
}

// Data returns the elements in row-major order. For a contiguous tensor the
// slice aliases the tensor's memory; otherwise it is a copy.
func (t *Tensor) Data() []float32 {
	if t.onGPU() {
		return t.hostCopy()
	}
	if t.IsContiguous() {
		return t.raw()
	}
	return t.Contiguous().raw()
}

// Float64s returns a row-major copy of the elements as float64.
func (t *Tensor) Float64s() []float64 {
	d := t.Data()
	out := make([]float64, len(d))
	for i, v := range d {
		out[i] = float64(v)
	}
	return out
}

// Item returns the value of a one-element tensor.
func (t *Tensor) Item() float64 {
	if t.Size() != 1 {
		panic(errorf("Item: tensor of shape %v has %d elements, want 1", t.shape, t.Size()))
	}
	if t.onGPU() {
		return float64(t.hostCopy()[0])
	}
	return float64(t.st.data[t.off])
}

// At returns the element at the given index (negative indices count from the end).
func (t *Tensor) At(idx ...int) float64 {
	o := t.offsetOf(idx)
	if t.onGPU() {
		v := make([]float32, 1)
		check("download", gpuDev.Download(v, t.liveBuf().Slice(o, 1)))
		return float64(v[0])
	}
	return float64(t.st.data[o])
}

// SetAt writes one element in place.
func (t *Tensor) SetAt(v float64, idx ...int) {
	o := t.offsetOf(idx)
	if t.onGPU() {
		check("SetAt", gpuDev.Fill(cuda.Contig(t.liveBuf().Slice(o, 1), 1), float32(v)))
	} else {
		t.st.writable()[o] = float32(v)
	}
	t.st.version++
}

func (t *Tensor) offsetOf(idx []int) int {
	if len(idx) != len(t.shape) {
		panic(errorf("index %v has %d indices for a tensor of shape %v", idx, len(idx), t.shape))
	}
	o := t.off
	for d, i := range idx {
		if i < 0 {
			i += t.shape[d]
		}
		if i < 0 || i >= t.shape[d] {
			panic(errorf("index %d out of range for dimension %d of size %d", idx[d], d, t.shape[d]))
		}
		o += i * t.stride[d]
	}
	return o
}

// Contiguous returns t if it is already contiguous, else a dense copy
// (differentiable).
func (t *Tensor) Contiguous() *Tensor {
	if t.IsContiguous() {
		return t
	}
	out := emptyLike(t, t.shape...)
	copyStrided(out, t)
	record(out, "contiguous", []*Tensor{t}, func(g *Tensor) []*Tensor { return []*Tensor{g} })
	return out
}

// Clone returns a copy with its own memory (differentiable).
func (t *Tensor) Clone() *Tensor {
	out := emptyLike(t, t.shape...)
	copyStrided(out, t)
	record(out, "clone", []*Tensor{t}, func(g *Tensor) []*Tensor { return []*Tensor{g} })
	return out
}

// Detach returns a tensor sharing t's memory with no autograd history.
func (t *Tensor) Detach() *Tensor {
	return fromStorage(t.st, t.off, cloneInts(t.shape), cloneInts(t.stride))
}

// AllClose reports whether a and b have the same shape and every element
// satisfies |a-b| <= atol + rtol*|b|.
func AllClose(a, b *Tensor, rtol, atol float64) bool {
	if !slices.Equal(a.shape, b.shape) {
		return false
	}
	x, y := a.Data(), b.Data()
	for i := range x {
		d := math.Abs(float64(x[i]) - float64(y[i]))
		if !(d <= atol+rtol*math.Abs(float64(y[i]))) {
			return false
		}
	}
	return true
}

// Error is the error every engine op panics with; the script layer turns it
// into a message pointing at the user's line.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

func errorf(format string, args ...any) *Error { return &Error{fmt.Sprintf(format, args...)} }

func numel(shape []int) int {
	n := 1
	for _, s := range shape {
		if s < 0 {
			panic(errorf("negative dimension in shape %v", shape))
		}
		n *= s
	}
	return n
}

func contiguousStrides(shape []int) []int {
	st := make([]int, len(shape))
	s := 1
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = s
		s *= shape[i]
	}
	return st
}

func cloneInts(x []int) []int { return append([]int(nil), x...) }

func fill(d []float32, v float32) {
	for i := range d {
		d[i] = v
	}
}

// normAxis maps a possibly negative axis into [0, n).
func normAxis(axis, n int) int {
	if axis < 0 {
		axis += n
	}
	if axis < 0 || axis >= n {
		panic(errorf("axis %d out of range for a %d-d tensor", axis, n))
	}
	return axis
}
