package runtime

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// GPU memory of a pass. Go frees a GPU tensor's memory when the collector
// finds the tensor unreachable, and the collector watches host memory,
// where a GPU tensor is a few bytes. Left at that, every traced pass
// allocated all its intermediates afresh from the driver (cuMemAlloc, and
// device memory held until the next collection): measured on fakecuda, 50
// cuMemAlloc calls and no reuse per pass of a 2-layer model, every pass.
// A pass knows better. nnsight's contract is that values not saved are
// gone when the trace ends, so a trace opens a GPU scope: every device
// buffer allocated while it is open goes back to the caching allocator
// when it closes, except the buffers of tensors that escaped (saved
// values, cached outputs, gradients accumulated into leaves).

// GPUScope collects the device buffers allocated while it is open.
type GPUScope struct {
	mems    []*gpuMem
	leaves  []*Tensor // escaped without history: an in-place write may give them some
	tainted bool      // release nothing: a second scope tried to open meanwhile, or an escaped value has history
}

var (
	scopeMu   sync.Mutex
	curScope  *GPUScope
	scopeOpen atomic.Bool // curScope != nil, read without the lock by gpuAlloc
)

// BeginGPUScope opens a scope. While one is open (another trace running
// concurrently), it returns nil and marks the open one so that it releases
// nothing: it cannot tell whose buffers are whose. End on nil is a no-op.
func BeginGPUScope() *GPUScope {
	scopeMu.Lock()
	defer scopeMu.Unlock()
	if curScope != nil {
		curScope.tainted = true
		return nil
	}
	curScope = &GPUScope{}
	scopeOpen.Store(true)
	return curScope
}

// End closes the scope and releases the buffers allocated in it that did
// not escape; tensors using them fail loudly afterwards (their GPU memory
// "was released when the trace that computed it ended"). It returns the
// bytes released.
func (s *GPUScope) End() int64 {
	if s == nil {
		return 0
	}
	scopeMu.Lock()
	if curScope == s {
		curScope = nil
		scopeOpen.Store(false)
	}
	mems, tainted, leaves := s.mems, s.tainted, s.leaves
	s.mems, s.leaves = nil, nil
	scopeMu.Unlock()
	// A value saved without history and written in place afterwards (saved,
	// then edited with a source computed in the pass) now has a graph
	// through the pass: keep the pass for a backward after it.
	seen := map[*node]bool{}
	for _, t := range leaves {
		if !tainted && writtenHistory(t, seen) {
			tainted = true
		}
	}
	var n, kept int64
	for _, m := range mems {
		m.mu.Lock()
		size := int64(m.buf.Len()) * 4 // 0 once freed
		release := !tainted && !m.escaped && !m.freed
		m.mu.Unlock()
		if release {
			n += size
			m.free()
		} else {
			kept += size
		}
	}
	// What is kept (escaped, or all of a tainted scope) is the collector's
	// again once the program drops it (saved values and caches of a loop
	// of traces): count it towards the next collection gpuAlloc asks for,
	// as if allocated outside a scope.
	countTowardsGC(kept)
	return n
}

// countTowardsGC adds n bytes left to the collector at the end of a scope
// and asks for a collection once gpuGCEvery bytes have accumulated: a
// loop of traces allocates only inside scopes, where gpuAlloc does not
// ask.
func countTowardsGC(n int64) {
	if n > 0 && gpuSinceGC.Add(n) > gpuGCEvery {
		gpuSinceGC.Store(0)
		runtime.GC()
	}
}

// scopeAdd puts a new device buffer in the open scope, if any.
func scopeAdd(m *gpuMem) {
	if !scopeOpen.Load() { // no lock per allocation outside traces
		return
	}
	scopeMu.Lock()
	if curScope != nil {
		curScope.mems = append(curScope.mems, m)
		m.scoped = true
	}
	scopeMu.Unlock()
}

// Escape keeps t's memory (and that of every view sharing it) when the
// GPU scope it was allocated in closes. A no-op for CPU tensors.
//
// A tensor with gradient history may be differentiated after the scope
// (a saved loss, backward after the trace), and its graph holds buffers
// that cannot all be named here: escaping one keeps the whole scope.
//
// That holds for a CPU tensor too: its graph may lead back to GPU tensors
// of the scope (out.To("cpu"), an op run on host copies like TopK).
func Escape(t *Tensor) {
	if t == nil {
		return
	}
	scopeMu.Lock()
	if curScope != nil {
		if t.node != nil {
			curScope.tainted = true
		} else {
			curScope.leaves = append(curScope.leaves, t)
		}
	}
	scopeMu.Unlock()
	if t.st == nil || t.st.gpu == nil {
		return
	}
	m := t.st.gpu
	m.mu.Lock()
	m.escaped = true
	m.mu.Unlock()
	// The gradient a leaf accumulated so far (a backward pass in the trace
	// before Save) is part of what was saved: AccumulatedGrad reads it.
	if t.grad != nil && t.grad != t {
		Escape(t.grad)
	}
}

// noteWrittenOutside tells the open GPU scope that t, or the tensor it
// views, was written with gradient history during the scope: when that
// tensor outlives the scope (made before the trace, or saved), its new
// graph may hold buffers of the pass, which End must then keep for a
// backward after the trace (acc.Copy(h) in a body, acc.Sum().Backward()
// after it read freed memory on the GPU).
func noteWrittenOutside(t *Tensor) {
	if !scopeOpen.Load() {
		return
	}
	base := t
	if t.view != nil {
		base = t.view.base
	}
	if !outlivesScope(base) {
		return
	}
	scopeMu.Lock()
	if curScope != nil {
		curScope.leaves = append(curScope.leaves, base)
	}
	scopeMu.Unlock()
}

func (m *gpuMem) isFreed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.freed
}

// outlivesScope reports whether t can be reached after the GPU scope it
// may belong to closes: it lives on the CPU, was allocated outside a scope
// (a parameter, a tensor made before the trace) or escaped. The gradient
// accumulated into a leaf escapes only then.
func outlivesScope(t *Tensor) bool {
	if t.st == nil || t.st.gpu == nil {
		return true
	}
	m := t.st.gpu
	m.mu.Lock()
	defer m.mu.Unlock()
	return !m.scoped || m.escaped
}

// writtenHistory reports whether t gained, by in-place writes, a graph that
// may hold buffers of the pass: anything beyond the write nodes themselves
// (whose backward keeps no tensor) over leaves and constants. Saving a
// value, then ablating it (out.Fill(0)), keeps the scope releasable.
func writtenHistory(t *Tensor, seen map[*node]bool) bool {
	n := t.node
	if n == nil || seen[n] {
		return false
	}
	seen[n] = true
	if n.op != "copy_" && n.op != "view_after_write" {
		return true
	}
	for _, in := range n.inputs {
		if in != nil && writtenHistory(in, seen) {
			return true
		}
	}
	return false
}
