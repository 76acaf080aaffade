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

// Every request gets a class that holds it, at most 25% larger, and a
// buffer of a class's size maps back to that class (Release relies on it).
func TestSizeClasses(t *testing.T) {
	for n := poolMin; n < 1<<22; n += 1 + n/97 {
		c := sizeClass(n)
		size := classSize(c)
		if size < n || float64(size) > 1.25*float64(n) {
			t.Fatalf("n %d: class %d holds %d", n, c, size)
		}
		if c > 0 && classSize(c-1) >= n {
			t.Fatalf("n %d: class %d (%d) is not the smallest: %d fits", n, c, size, classSize(c-1))
		}
		if sizeClass(size) != c {
			t.Fatalf("class %d size %d maps to class %d", c, size, sizeClass(size))
		}
	}
	if c := sizeClass(38597376); classSize(c) > 42*1024*1024 {
		t.Errorf("a 50257x768 tensor takes %d floats", classSize(c))
	}
}

// Release leaves memory the engine did not allocate alone, even when its
// capacity is a size class: a FromSlice tensor's data is the caller's.
func TestReleaseKeepsCallersMemory(t *testing.T) {
	data := make([]float32, classSize(sizeClass(5000)))
	x := FromSlice(data, len(data))
	Release(x)
	if x.st.data == nil {
		t.Fatal("Release took a FromSlice tensor's memory into the pool")
	}
}
