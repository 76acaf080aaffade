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
		poolHits.Add(1)
		poolBytes.Add(-int64(cap(*b)) * 4)
		d := (*b)[:n]
		clear(d)
		return d
	}
	poolMisses.Add(1)
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
