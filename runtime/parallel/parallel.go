// Package parallel provides a tiny persistent worker pool and a
// fork-join parallel-for built on it.
//
// The pool is started lazily on first use with runtime.GOMAXPROCS(0)-1
// helper goroutines; the calling goroutine always participates in the
// work, so a call uses up to GOMAXPROCS goroutines in total.
//
// For is safe to call concurrently from several goroutines and may be
// nested (called from inside fn). A call never waits for a helper that
// has not started working on it, so nested calls cannot deadlock: if all
// helpers are busy, the caller simply does all chunks itself.
//
// In steady state For performs no heap allocation and creates no
// goroutines.
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// maxChunksPerThread bounds how finely For splits work: at most this many
// chunks per pool thread (more chunks balance load better, fewer chunks
// cost less synchronisation).
const maxChunksPerThread = 4

// task state word layout: generation in the high 32 bits, a "closed" flag
// in bit 31 and the number of helpers currently inside the task in the
// low 31 bits.
const (
	closedBit = 1 << 31
	refMask   = closedBit - 1
)

type task struct {
	fn     func(lo, hi int)
	n      int
	chunks int64
	next   atomic.Int64  // next chunk index to claim
	state  atomic.Uint64 // gen<<32 | closed | refs
	done   chan struct{} // signalled by the last helper to leave a closed task
	panicV atomic.Pointer[panicBox]
}

type panicBox struct{ v any }

type notice struct {
	t   *task
	gen uint32
}

type pool struct {
	threads int
	work    chan notice

	mu   sync.Mutex
	free []*task
}

var (
	poolOnce sync.Once
	thePool  *pool
)

func getPool() *pool {
	poolOnce.Do(func() {
		n := runtime.GOMAXPROCS(0)
		if n < 1 {
			n = 1
		}
		p := &pool{threads: n, work: make(chan notice, 4*n)}
		for i := 0; i < n-1; i++ {
			go p.worker()
		}
		thePool = p
	})
	return thePool
}

// Threads reports the number of goroutines (helpers plus the caller) that
// a For call can use.
func Threads() int { return getPool().threads }

func (p *pool) worker() {
	for nt := range p.work {
		t := nt.t
		// Join the task only if it is still the same generation and not
		// yet closed; otherwise the notice is stale and ignored.
		joined := false
		for {
			s := t.state.Load()
			if uint32(s>>32) != nt.gen || s&closedBit != 0 {
				break
			}
			if t.state.CompareAndSwap(s, s+1) {
				joined = true
				break
			}
		}
		if !joined {
			continue
		}
		t.runChunks()
		s := t.state.Add(^uint64(0)) // refs--
		if s&closedBit != 0 && s&refMask == 0 {
			t.done <- struct{}{}
		}
	}
}

func (t *task) runChunks() {
	defer func() {
		if r := recover(); r != nil {
			t.panicV.CompareAndSwap(nil, &panicBox{r})
			// Make sure nobody claims further chunks.
			t.next.Store(t.chunks)
		}
	}()
	for {
		c := t.next.Add(1) - 1
		if c >= t.chunks {
			return
		}
		// Even split: every chunk has floor(n/chunks) or one more items.
		lo := int(c) * t.n / int(t.chunks)
		hi := int(c+1) * t.n / int(t.chunks)
		t.fn(lo, hi)
	}
}

func (p *pool) getTask() *task {
	p.mu.Lock()
	var t *task
	if k := len(p.free); k > 0 {
		t = p.free[k-1]
		p.free[k-1] = nil
		p.free = p.free[:k-1]
	}
	p.mu.Unlock()
	if t == nil {
		t = &task{done: make(chan struct{}, 1)}
	}
	return t
}

func (p *pool) putTask(t *task) {
	t.fn = nil
	p.mu.Lock()
	p.free = append(p.free, t)
	p.mu.Unlock()
}

// For calls fn on disjoint consecutive sub-ranges [lo,hi) covering [0,n)
// and returns when all calls have finished. Each chunk has at least grain
// items (except when n < grain, in which case there is a single chunk).
// When there is only one chunk fn runs inline on the calling goroutine.
// fn must be safe to call concurrently. A panic in fn is re-raised in the
// caller after all chunks have stopped.
func For(n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	p := getPool()
	chunks := n / grain
	if limit := p.threads * maxChunksPerThread; chunks > limit {
		chunks = limit
	}
	if chunks <= 1 || p.threads == 1 {
		fn(0, n)
		return
	}
	t := p.getTask()
	t.fn = fn
	t.n = n
	t.chunks = int64(chunks)
	t.next.Store(0)
	t.panicV.Store(nil)
	// New generation, open, no refs.
	gen := uint32(t.state.Load()>>32) + 1
	t.state.Store(uint64(gen) << 32)

	// Wake up to (chunks-1) helpers, never blocking.
	helpers := chunks - 1
	if helpers > p.threads-1 {
		helpers = p.threads - 1
	}
	for i := 0; i < helpers; i++ {
		select {
		case p.work <- notice{t, gen}:
		default:
			i = helpers
		}
	}

	t.runChunks()

	// Close the task: no helper may join from now on. Wait for the ones
	// that joined to leave.
	var s uint64
	for {
		s = t.state.Load()
		if t.state.CompareAndSwap(s, s|closedBit) {
			break
		}
	}
	if s&refMask != 0 {
		<-t.done
	}
	pv := t.panicV.Load()
	p.putTask(t)
	if pv != nil {
		panic(pv.v)
	}
}
