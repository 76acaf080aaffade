package runtime

import (
	"math/bits"
	"sync"
	"sync/atomic"
)

// Buffer reuse. Ops allocate their outputs with newData; code that knows a
// tensor is dead (the model's forward pass, when no hook or gradient can
// see its intermediates) gives the memory back with Release, so a steady
// stream of forward passes reuses the same buffers instead of allocating
// and zeroing fresh ones for the garbage collector to find.

// poolMin is the smallest pooled buffer (smaller ones are cheap to
// allocate). Classes step by a quarter of a power of two (1024, 1280,
// 1536, 1792, 2048, 2560, ...): a buffer is at most 25% larger than asked
// for. Powers of two wasted up to half of every large tensor (a
// 50257x768 gradient took 268 MB instead of 154, all of it zeroed).
const poolMin = 1 << 10

const classSteps = 4 // classes per power of two

var pools [64 * classSteps]sync.Pool

// sizeClass returns the class of the smallest buffer that holds n floats
// (n >= poolMin).
func sizeClass(n int) int {
	k := bits.Len(uint(n-1)) - 1 // 2^k < n <= 2^(k+1)
	step := 1 << (k - 2)         // a quarter of 2^k
	s := (n - 1<<k + step - 1) / step
	return k*classSteps + s - 1
}

// classSize is the capacity of class c's buffers.
func classSize(c int) int {
	k, s := c/classSteps, c%classSteps+1
	return 1<<k + s<<(k-2)
}

// newData returns a zeroed buffer of n floats, reused when possible.
func newData(n int) []float32 {
	d, reused := takeData(n)
	if reused {
		clear(d) // make's memory is zero already
	}
	return d
}

// newDataDirty returns a buffer of n floats that may hold old values: for
// outputs written whole.
func newDataDirty(n int) []float32 {
	d, _ := takeData(n)
	return d
}

// takeData returns a buffer of n floats from the pool (reused) or made.
func takeData(n int) (d []float32, reused bool) {
	if n < poolMin {
		return make([]float32, n), false
	}
	c := sizeClass(n)
	if b, ok := pools[c].Get().(*[]float32); ok {
		poolHits.Add(1)
		poolBytes.Add(-int64(cap(*b)) * 4)
		return (*b)[:n], true
	}
	poolMisses.Add(1)
	checkHostMemory(int64(classSize(c)) * 4)
	return make([]float32, n, classSize(c)), false
}

// Release returns the memory of tensors nobody will read again to the
// buffer pool. Only tensors that own their memory outright are released:
// not memory the engine did not allocate (FromSlice: the caller's), not
// views, not file mappings, nothing on an autograd tape, nor memory a
// recorded op read through any view (its backward may read it again).
// Using a released tensor afterwards is a bug (it sees zero length data).
func Release(ts ...*Tensor) {
	for _, t := range ts {
		if t == nil || t.st == nil || t.st.seq == 0 || t.view != nil || t.node != nil || t.requiresGrad || t.st.readOnly || t.st.taped || t.off != 0 {
			continue
		}
		if t.st.gpu != nil {
			t.st.gpu.free() // back to the CUDA caching allocator now, not at the next GC
			continue
		}
		d := t.st.data
		if cap(d) < poolMin || classSize(sizeClass(cap(d))) != cap(d) {
			continue // not from newData
		}
		t.st.data = nil
		d = d[:cap(d)]
		poolPuts.Add(1)
		poolBytes.Add(int64(cap(d)) * 4)
		pools[sizeClass(cap(d))].Put(&d)
	}
}

// MemoryKey identifies t's memory: tensors sharing memory (views) have equal
// keys. Usable as a map key.
func (t *Tensor) MemoryKey() any { return t.st }

// SharesMemory reports whether a and b are windows onto the same storage.
func SharesMemory(a, b *Tensor) bool { return a != nil && b != nil && a.st == b.st }

// BufferPoolStats counts the buffer pool's traffic since the process
// started. The pool is a set of sync.Pools, which the garbage collector
// empties, so it cannot grow without bound; Pooled is the bytes given back
// and not yet taken again (an upper bound on what the pool holds, since a
// GC drops buffers without telling).
type BufferPoolStats struct {
	Puts, Hits, Misses int64 // buffers given back; requests served from the pool; requests that allocated
	Pooled             int64
}

var poolPuts, poolHits, poolMisses, poolBytes atomic.Int64

// PoolStats returns the buffer pool's counters.
func PoolStats() BufferPoolStats {
	return BufferPoolStats{Puts: poolPuts.Load(), Hits: poolHits.Load(), Misses: poolMisses.Load(), Pooled: poolBytes.Load()}
}
