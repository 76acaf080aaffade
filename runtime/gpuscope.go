package runtime

import (
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
	tainted bool // a second scope tried to open meanwhile: release nothing
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
// not escape; tensors using them fail loudly afterwards ("no buffer"). It
// returns the bytes released.
func (s *GPUScope) End() int64 {
	if s == nil {
		return 0
	}
	scopeMu.Lock()
	if curScope == s {
		curScope = nil
		scopeOpen.Store(false)
	}
	mems, tainted := s.mems, s.tainted
	s.mems = nil
	scopeMu.Unlock()
	if tainted {
		// Left to the collector after all: count it towards the next
		// collection gpuAlloc asks for.
		var n int64
		for _, m := range mems {
			m.mu.Lock()
			n += int64(m.buf.Len()) * 4
			m.mu.Unlock()
		}
		gpuSinceGC.Add(n)
		return 0
	}
	var n int64
	for _, m := range mems {
		m.mu.Lock()
		keep, size := m.escaped || m.freed, int64(m.buf.Len())*4
		m.mu.Unlock()
		if !keep {
			n += size
			m.free()
		}
	}
	return n
}

// scopeAdd puts a new device buffer in the open scope, if any.
func scopeAdd(m *gpuMem) {
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
func Escape(t *Tensor) {
	if t == nil || t.st == nil || t.st.gpu == nil {
		return
	}
	if t.node != nil {
		scopeMu.Lock()
		if curScope != nil {
			curScope.tainted = true
		}
		scopeMu.Unlock()
	}
	m := t.st.gpu
	m.mu.Lock()
	m.escaped = true
	m.mu.Unlock()
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
