package parallel

import (
	"sync"
	"sync/atomic"
	"testing"
)

func checkCover(t *testing.T, n, grain int) {
	t.Helper()
	hits := make([]int32, n)
	var calls atomic.Int32
	For(n, grain, func(lo, hi int) {
		calls.Add(1)
		if lo >= hi {
			t.Errorf("empty chunk [%d,%d)", lo, hi)
		}
		if n >= grain && hi-lo < grain {
			t.Errorf("n=%d grain=%d: chunk [%d,%d) smaller than grain", n, grain, lo, hi)
		}
		for i := lo; i < hi; i++ {
			atomic.AddInt32(&hits[i], 1)
		}
	})
	for i, h := range hits {
		if h != 1 {
			t.Fatalf("n=%d grain=%d: index %d visited %d times", n, grain, i, h)
		}
	}
}

func TestForCoverage(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 7, 16, 100, 1000, 12345} {
		for _, g := range []int{0, 1, 2, 5, 64, 5000} {
			checkCover(t, n, g)
		}
	}
}

func TestForInlineSingleChunk(t *testing.T) {
	// grain >= n: must run inline exactly once with the whole range.
	calls := 0
	For(10, 10, func(lo, hi int) {
		calls++
		if lo != 0 || hi != 10 {
			t.Fatalf("got [%d,%d)", lo, hi)
		}
	})
	if calls != 1 {
		t.Fatalf("calls=%d", calls)
	}
}

func TestForNested(t *testing.T) {
	var total atomic.Int64
	For(64, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			For(32, 1, func(lo2, hi2 int) {
				For(8, 1, func(lo3, hi3 int) {
					total.Add(int64((hi2 - lo2) * (hi3 - lo3)))
				})
			})
		}
	})
	if got := total.Load(); got != 64*32*8 {
		t.Fatalf("total=%d", got)
	}
}

func TestForConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := 0; it < 300; it++ {
				var sum atomic.Int64
				For(1000, 7, func(lo, hi int) {
					s := 0
					for i := lo; i < hi; i++ {
						s += i
					}
					sum.Add(int64(s))
				})
				if sum.Load() != 999*1000/2 {
					t.Errorf("bad sum %d", sum.Load())
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestForPanic(t *testing.T) {
	defer func() {
		if r := recover(); r != "boom" {
			t.Fatalf("recovered %v", r)
		}
		// Pool must still work afterwards.
		checkCover(t, 100, 1)
	}()
	For(100, 1, func(lo, hi int) {
		if lo <= 50 && 50 < hi {
			panic("boom")
		}
	})
}

var sink atomic.Int64

func TestForNoAlloc(t *testing.T) {
	fn := func(lo, hi int) { sink.Add(int64(hi - lo)) }
	For(1000, 1, fn) // warm up the pool
	allocs := testing.AllocsPerRun(200, func() { For(1000, 1, fn) })
	if allocs != 0 {
		t.Fatalf("For allocates %v times per call", allocs)
	}
}

func BenchmarkForOverhead(b *testing.B) {
	fn := func(lo, hi int) { sink.Add(int64(hi - lo)) }
	for i := 0; i < b.N; i++ {
		For(Threads(), 1, fn)
	}
}
