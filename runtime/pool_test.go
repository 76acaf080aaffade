package runtime

import "testing"

// PoolStats counts what Release gives back and what allocation takes
// again (the soak tests sample it).
func TestPoolStats(t *testing.T) {
	a := New(4096)
	before := PoolStats()
	Release(a)
	mid := PoolStats()
	if mid.Puts != before.Puts+1 || mid.Pooled != before.Pooled+4096*4 {
		t.Fatalf("after Release: %+v, before %+v", mid, before)
	}
	b := New(4000) // same size class; a GC may have emptied the pool
	after := PoolStats()
	if after.Hits+after.Misses != mid.Hits+mid.Misses+1 {
		t.Fatalf("after New: %+v, before %+v", after, mid)
	}
	if after.Hits == mid.Hits+1 && after.Pooled != mid.Pooled-4096*4 {
		t.Fatalf("reused buffer not counted out: %+v", after)
	}
	_ = b
}
