package cuda

import (
	"fmt"
	"math/bits"
)

// memBackend is what the caching allocator needs from the device:
// cuMemAlloc, cuMemFree and a wait for the work issued so far
// (cuStreamSynchronize). Tests use a fake.
type memBackend interface {
	memAlloc(bytes uint64) (uint64, error)
	memFree(ptr uint64) error
	sync() error
}

// Stats reports the caching allocator's counters.
type Stats struct {
	Allocs      int    // backend allocations (cuMemAlloc calls that succeeded)
	Reuses      int    // requests served from the cache without cuMemAlloc
	Frees       int    // buffers returned to the cache
	Releases    int    // backend frees (cuMemFree), by EmptyCache or an out-of-memory retry
	OOMRetries  int    // times an out-of-memory cuMemAlloc emptied the cache and retried
	BytesInUse  uint64 // bytes (rounded to size classes) held by live buffers
	BytesCached uint64 // bytes in the free lists
	PeakInUse   uint64 // high-water mark of BytesInUse
}

// minBlock is the smallest size class in bytes. Every block is its own
// cuMemAlloc, so it is aligned to at least 256 bytes.
const minBlock = 512

// sizeClass rounds a request up to its class: 512 bytes, then four classes
// per power of two (1, 1.25, 1.5, 1.75 times 2^k), so at most 25% is
// wasted and freed blocks are reused by requests of similar size.
func sizeClass(bytes uint64) uint64 {
	if bytes <= minBlock {
		return minBlock
	}
	p := uint64(1) << (63 - bits.LeadingZeros64(bytes-1)) // largest power of two < bytes
	step := p / 4
	return (bytes + step - 1) / step * step
}

// allocator is a caching allocator: freed blocks go to a free list per size
// class and are handed out again. It is not safe for concurrent use (the
// Device's mutex guards it).
type allocator struct {
	be    memBackend
	free  map[uint64][]uint64 // class -> free block addresses
	inUse map[uint64]uint64   // block address -> class
	stats Stats
}

func newAllocator(be memBackend) *allocator {
	return &allocator{be: be, free: map[uint64][]uint64{}, inUse: map[uint64]uint64{}}
}

// cached returns a cached block of at least bytes bytes, if there is one:
// no backend call, so the device needs no current context for it.
func (a *allocator) cached(bytes uint64) (ptr, class uint64, ok bool) {
	class = sizeClass(bytes)
	l := a.free[class]
	if len(l) == 0 {
		return 0, class, false
	}
	ptr = l[len(l)-1]
	a.free[class] = l[:len(l)-1]
	a.stats.Reuses++
	a.stats.BytesCached -= class
	a.take(ptr, class)
	return ptr, class, true
}

// alloc returns a block of at least bytes bytes and its class size.
func (a *allocator) alloc(bytes uint64) (ptr, class uint64, err error) {
	ptr, class, ok := a.cached(bytes)
	if ok {
		return ptr, class, nil
	}
	ptr, err = a.be.memAlloc(class)
	if err != nil && IsOutOfMemory(err) {
		a.stats.OOMRetries++
		if rerr := a.release(); rerr != nil {
			return 0, 0, rerr
		}
		ptr, err = a.be.memAlloc(class)
	}
	if err != nil {
		if IsOutOfMemory(err) {
			return 0, 0, fmt.Errorf("cuda: out of memory allocating %d bytes (size class %d; %d bytes in use by live buffers, cache emptied and retried): %w",
				bytes, class, a.stats.BytesInUse, err)
		}
		return 0, 0, fmt.Errorf("cuda: allocating %d bytes: %w", bytes, err)
	}
	a.stats.Allocs++
	a.take(ptr, class)
	return ptr, class, nil
}

func (a *allocator) take(ptr, class uint64) {
	a.inUse[ptr] = class
	a.stats.BytesInUse += class
	a.stats.PeakInUse = max(a.stats.PeakInUse, a.stats.BytesInUse)
}

// put returns the block at ptr to its free list.
func (a *allocator) put(ptr uint64) error {
	class, ok := a.inUse[ptr]
	if !ok {
		return fmt.Errorf("cuda: free of device address %#x that is not a live buffer (double free?)", ptr)
	}
	delete(a.inUse, ptr)
	a.free[class] = append(a.free[class], ptr)
	a.stats.Frees++
	a.stats.BytesInUse -= class
	a.stats.BytesCached += class
	return nil
}

// release frees every cached block with the backend, after waiting for
// the work issued so far: a block is cached as soon as its buffer is
// freed, while kernels issued before may still use it (reuse is ordered
// on the stream, cuMemFree is not: the driver says it "may perform
// implicit synchronization", not that it does).
func (a *allocator) release() error {
	if a.stats.BytesCached == 0 {
		return nil
	}
	if err := a.be.sync(); err != nil {
		return err
	}
	return a.freeCached()
}

// freeCached frees every cached block with the backend (work using them
// must have finished).
func (a *allocator) freeCached() error {
	var first error
	for class, l := range a.free {
		done := len(l)
		for i, p := range l {
			if err := a.be.memFree(p); err != nil {
				if first == nil {
					first = err
				}
				done = i
				break
			}
			a.stats.Releases++
			a.stats.BytesCached -= class
		}
		if done == len(l) {
			delete(a.free, class)
		} else {
			a.free[class] = l[done:]
		}
	}
	return first
}

// releaseAll frees every block, live or cached (device shutdown).
func (a *allocator) releaseAll() error {
	err := a.be.sync()
	if e := a.freeCached(); err == nil {
		err = e
	}
	for p := range a.inUse {
		if e := a.be.memFree(p); e != nil && err == nil {
			err = e
		}
		delete(a.inUse, p)
	}
	a.stats.BytesInUse = 0
	return err
}
