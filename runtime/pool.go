package runtime

import (
	"math/bits"
	"sync"
)

// Buffer reuse. Ops allocate their outputs with newData; code that knows a
// tensor is dead (the model's forward pass, when no hook or gradient can
// see its intermediates) gives the memory back with Release, so a steady
// stream of forward passes reuses the same buffers instead of allocating
// and zeroing fresh ones for the garbage collector to find.

// poolMin is the smallest pooled buffer (smaller ones are cheap to
// allocate); classes are powers of two.
const poolMin = 1 << 10

var pools [48]sync.Pool

func sizeClass(n int) int { return bits.Len(uint(n - 1)) }

// newData returns a zeroed buffer of n floats, reused when possible.
func newData(n int) []float32 {
	if n < poolMin {
		return make([]float32, n)
	}
	c := sizeClass(n)
	if b, ok := pools[c].Get().(*[]float32); ok {
		d := (*b)[:n]
		clear(d)
		return d
	}
	return make([]float32, n, 1<<c)
}

// Release returns the memory of tensors nobody will read again to the
// buffer pool. Only tensors that own their memory outright are released:
// not views, not file mappings, nothing on an autograd tape, nor memory a
// recorded op read through any view (its backward may read it again).
// Using a released tensor afterwards is a bug (it sees zero length data).
func Release(ts ...*Tensor) {
	for _, t := range ts {
		if t == nil || t.st == nil || t.view != nil || t.node != nil || t.requiresGrad || t.st.readOnly || t.st.taped || t.off != 0 {
			continue
		}
		if t.st.gpu != nil {
			t.st.gpu.free() // back to the CUDA caching allocator now, not at the next GC
			continue
		}
		d := t.st.data
		if cap(d) < poolMin || cap(d)&(cap(d)-1) != 0 {
			continue
		}
		t.st.data = nil
		d = d[:cap(d)]
		pools[sizeClass(cap(d))].Put(&d)
	}
}

// MemoryKey identifies t's memory: tensors sharing memory (views) have equal
// keys. Usable as a map key.
func (t *Tensor) MemoryKey() any { return t.st }

// SharesMemory reports whether a and b are windows onto the same storage.
func SharesMemory(a, b *Tensor) bool { return a != nil && b != nil && a.st == b.st }
