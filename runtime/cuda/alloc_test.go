package cuda

import (
	"math/rand"
	"strings"
	"testing"
)

// fakeMem is a device with a fixed capacity that counts calls.
type fakeMem struct {
	capacity, used uint64
	next           uint64
	live           map[uint64]uint64
	allocs, frees  int
	syncs          int
	log            []string // "sync" and "free" calls, in order
}

func (f *fakeMem) sync() error {
	f.syncs++
	f.log = append(f.log, "sync")
	return nil
}

func newFakeMem(capacity uint64) *fakeMem {
	return &fakeMem{capacity: capacity, next: 1 << 20, live: map[uint64]uint64{}}
}

func (f *fakeMem) memAlloc(b uint64) (uint64, error) {
	if f.used+b > f.capacity {
		return 0, &Error{Lib: "cuda", Call: "cuMemAlloc_v2", Code: cudaErrOutOfMemory, Name: "CUDA_ERROR_OUT_OF_MEMORY"}
	}
	p := f.next
	f.next += b
	f.used += b
	f.live[p] = b
	f.allocs++
	return p, nil
}

func (f *fakeMem) memFree(p uint64) error {
	b, ok := f.live[p]
	if !ok {
		return &Error{Lib: "cuda", Call: "cuMemFree_v2", Code: 1}
	}
	delete(f.live, p)
	f.used -= b
	f.frees++
	f.log = append(f.log, "free")
	return nil
}

func TestSizeClass(t *testing.T) {
	prev := uint64(0)
	for b := uint64(1); b < 1<<22; b += 1 + b/7 {
		c := sizeClass(b)
		if c < b || c < minBlock || c%128 != 0 {
			t.Fatalf("sizeClass(%d) = %d", b, c)
		}
		if b > minBlock && float64(c) > 1.25*float64(b)+1 {
			t.Fatalf("sizeClass(%d) = %d wastes more than 25%%", b, c)
		}
		if c < prev {
			t.Fatalf("sizeClass not monotonic at %d", b)
		}
		if sizeClass(c) != c {
			t.Fatalf("sizeClass(sizeClass(%d)) = %d, want %d", b, sizeClass(c), c)
		}
		prev = c
	}
	for _, c := range []struct{ in, want uint64 }{{1, 512}, {512, 512}, {513, 640}, {1000, 1024}, {1025, 1280}, {3 << 20, 3 << 20}, {3<<20 + 1, 3<<20 + 1<<19}} {
		if got := sizeClass(c.in); got != c.want {
			t.Errorf("sizeClass(%d) = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestAllocatorReuseAndSteadyState(t *testing.T) {
	f := newFakeMem(1 << 30)
	a := newAllocator(f)
	sizes := []uint64{4, 3072, 1 << 20, 5000, 4, 768 * 4}
	step := func() {
		var ptrs []uint64
		for _, s := range sizes {
			p, c, err := a.alloc(s)
			if err != nil || c < s {
				t.Fatal(err)
			}
			ptrs = append(ptrs, p)
		}
		seen := map[uint64]bool{}
		for _, p := range ptrs {
			if seen[p] {
				t.Fatal("one block handed out twice")
			}
			seen[p] = true
		}
		for _, p := range ptrs {
			if err := a.put(p); err != nil {
				t.Fatal(err)
			}
		}
	}
	step()
	if f.allocs != len(sizes) || a.stats.Allocs != len(sizes) {
		t.Fatalf("warm-up: %d backend allocs, want %d", f.allocs, len(sizes))
	}
	for range 10 {
		step()
	}
	if f.allocs != len(sizes) {
		t.Fatalf("steady state called the backend: %d allocs", f.allocs)
	}
	if a.stats.Reuses != 10*len(sizes) || a.stats.BytesInUse != 0 || a.stats.BytesCached != f.used {
		t.Fatalf("stats %+v, backend holds %d", a.stats, f.used)
	}
	// A similar size reuses a cached block of its class.
	p, _, _ := a.alloc(3000)
	if f.allocs != len(sizes) {
		t.Fatal("3000 bytes did not reuse the 3072-byte class")
	}
	if err := a.put(p); err != nil {
		t.Fatal(err)
	}
	if err := a.put(p); err == nil || !strings.Contains(err.Error(), "double free") {
		t.Fatalf("double free: %v", err)
	}
	if err := a.release(); err != nil || f.used != 0 || a.stats.BytesCached != 0 || len(a.free) != 0 {
		t.Fatalf("release: %v used=%d stats=%+v", err, f.used, a.stats)
	}
}

func TestAllocatorOOMRetry(t *testing.T) {
	f := newFakeMem(64 << 10)
	a := newAllocator(f)
	// Fill the cache with 16 KiB blocks, then ask for 48 KiB: only fits
	// once the cache is released.
	var ps []uint64
	for range 4 {
		p, _, err := a.alloc(16 << 10)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	for _, p := range ps[:3] {
		a.put(p)
	}
	p, c, err := a.alloc(48 << 10)
	if err != nil {
		t.Fatalf("retry after emptying the cache failed: %v", err)
	}
	if c != 48<<10 || a.stats.OOMRetries != 1 || a.stats.Releases != 3 {
		t.Fatalf("class %d stats %+v", c, a.stats)
	}
	// Still too big with everything released: an error naming the bytes.
	_, _, err = a.alloc(1 << 40)
	if err == nil || !IsOutOfMemory(err) || !strings.Contains(err.Error(), "allocating 1099511627776 bytes") {
		t.Fatalf("absurd allocation: %v", err)
	}
	// The allocator is still usable.
	a.put(p)
	if _, _, err := a.alloc(1000); err != nil {
		t.Fatal(err)
	}
	if err := a.releaseAll(); err != nil || f.used != 0 {
		t.Fatalf("releaseAll: %v, %d bytes left", err, f.used)
	}
}

func TestAllocatorRandom(t *testing.T) {
	f := newFakeMem(1 << 26)
	a := newAllocator(f)
	rng := rand.New(rand.NewSource(1))
	live := map[uint64]uint64{}
	for range 5000 {
		if len(live) > 0 && rng.Intn(2) == 0 {
			for p := range live {
				delete(live, p)
				if err := a.put(p); err != nil {
					t.Fatal(err)
				}
				break
			}
			continue
		}
		s := uint64(rng.Intn(1 << 16))
		p, c, err := a.alloc(s)
		if err != nil {
			t.Fatal(err)
		}
		for q, qc := range live {
			if p < q+qc && q < p+c {
				t.Fatalf("overlap %#x+%d and %#x+%d", p, c, q, qc)
			}
		}
		live[p] = c
	}
	var inUse uint64
	for _, c := range live {
		inUse += c
	}
	if a.stats.BytesInUse != inUse || a.stats.BytesInUse+a.stats.BytesCached != f.used {
		t.Fatalf("accounting: %+v, live %d, backend %d", a.stats, inUse, f.used)
	}
}

// TestReleaseWaitsForTheStream: cached blocks may still be in use by
// kernels issued before their buffers were freed, so EmptyCache, the
// out-of-memory retry and shutdown wait for the stream before cuMemFree.
func TestReleaseWaitsForTheStream(t *testing.T) {
	f := newFakeMem(4 << 20)
	a := newAllocator(f)
	if err := a.release(); err != nil || f.syncs != 0 {
		t.Fatalf("release of an empty cache: %v, %d syncs (want none)", err, f.syncs)
	}
	p, _, err := a.alloc(3 << 20)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.put(p); err != nil {
		t.Fatal(err)
	}
	// 2 MiB does not fit beside the cached 3 MiB block: the retry frees it.
	q, _, err := a.alloc(2 << 20)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.log, ","); got != "sync,free" {
		t.Fatalf("out-of-memory retry: calls %s, want sync,free", got)
	}
	if err := a.put(q); err != nil {
		t.Fatal(err)
	}
	f.log = nil
	if err := a.release(); err != nil || strings.Join(f.log, ",") != "sync,free" {
		t.Fatalf("release: %v, calls %v, want sync,free", err, f.log)
	}
	if _, _, err := a.alloc(1 << 20); err != nil {
		t.Fatal(err)
	}
	f.log = nil
	if err := a.releaseAll(); err != nil || strings.Join(f.log, ",") != "sync,free" {
		t.Fatalf("releaseAll: %v, calls %v, want sync,free", err, f.log)
	}
}
