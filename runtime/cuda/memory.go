package cuda

import (
	"fmt"
	"math"
	"os"
	"unsafe"
)

// elemSize is the size of every element: float32, or int32 for ids.
const elemSize = 4

// Buffer is a window onto device memory: an allocation's base address, an
// element offset into it and a length in elements (4 bytes each). Slicing
// a Buffer makes a view without a copy; all views share the allocation.
// The zero Buffer is "no buffer" (a NULL pointer for kernels that take an
// optional operand).
type Buffer struct {
	base uint64 // device address of the allocation
	off  int    // first element of the view
	n    int    // elements in the view
	keep any    // kept reachable with the buffer (see Keep)
}

// Addr returns the device address of the view's first element.
func (b Buffer) Addr() uint64 {
	if b.base == 0 {
		return 0
	}
	return b.base + uint64(b.off)*elemSize
}

// Len returns the number of elements in the view.
func (b Buffer) Len() int { return b.n }

// Offset returns the view's element offset from the start of its allocation.
func (b Buffer) Offset() int { return b.off }

// IsNil reports whether b is the zero Buffer.
func (b Buffer) IsNil() bool { return b.base == 0 }

// Slice returns the view of n elements starting at element off of b. It
// panics when the range is outside b (a programming error).
func (b Buffer) Slice(off, n int) Buffer {
	if off < 0 || n < 0 || off+n > b.n {
		panic(fmt.Sprintf("cuda: Buffer.Slice(%d, %d) out of range for a buffer of %d elements", off, n, b.n))
	}
	return Buffer{base: b.base, off: b.off + off, n: n, keep: b.keep}
}

// Keep returns b holding x reachable for as long as b (or a slice of it)
// is: the owner whose collection frees the memory, handed to a kernel with
// the buffer, so that the memory cannot be freed while the call that was
// given it runs.
func (b Buffer) Keep(x any) Buffer {
	b.keep = x
	return b
}

func (b Buffer) String() string {
	return fmt.Sprintf("Buffer{%#x+%d, %d elems}", b.base, b.off, b.n)
}

// Alloc returns a buffer of n float32 (or int32) elements from the caching
// allocator; its contents are undefined. In steady state it does not call
// cuMemAlloc. On out-of-memory the cache is emptied and the allocation
// retried once; the error names the bytes requested.
func (d *Device) Alloc(n int) (Buffer, error) {
	if n < 0 {
		return Buffer{}, fmt.Errorf("cuda: Alloc of %d elements", n)
	}
	// Served from the cache (the steady state), an allocation needs only
	// the mutex, not the context made current (a driver call). Poisoned
	// blocks are filled on the stream, so they take the full path.
	if bytes, err := allocSize(n); err == nil && !poison {
		if err := d.lock(); err != nil {
			return Buffer{}, err
		}
		p, _, ok := d.alloc.cached(bytes)
		d.mu.Unlock()
		if ok {
			return Buffer{base: p, n: n}, nil
		}
	}
	if err := d.enter(); err != nil {
		return Buffer{}, err
	}
	defer d.exit()
	return d.allocLocked(n)
}

// allocSize is the size in bytes of an allocation of n elements (at least one).
func allocSize(n int) (uint64, error) {
	if n > math.MaxInt/elemSize {
		return 0, fmt.Errorf("cuda: out of memory allocating %d elements", n)
	}
	return uint64(max(n, 1)) * elemSize, nil
}

func (d *Device) allocLocked(n int) (Buffer, error) {
	bytes, err := allocSize(n)
	if err != nil {
		return Buffer{}, err
	}
	p, class, err := d.alloc.alloc(bytes)
	if err != nil {
		return Buffer{}, err
	}
	if poison {
		// Every block handed out holds NaNs, so a kernel that reads what
		// nobody wrote shows it in its results instead of reading the last
		// user's data.
		if err := d.memsetLocked(Buffer{base: p, n: int(class / elemSize)}, poisonValue); err != nil {
			return Buffer{}, err
		}
		if d.poisoned == nil {
			d.poisoned = map[uint64]int{}
		}
		d.poisoned[p] = n
	}
	return Buffer{base: p, n: n}, nil
}

// poison (NNSCOPE_CUDA_POISON=1, set by fakecuda.Run and gpu_all.sh)
// fills every allocation with NaNs, checks at Free that the rest of its
// block (the size class's slack past the elements asked for) still holds
// them, and fills the block with NaNs again: a kernel that writes past its
// buffer fails the check even where the slack keeps it off the next
// allocation (it would land in another buffer on a GPU whose allocator
// packs blocks tighter), and work that uses a buffer after its Free reads
// NaNs instead of the values it had.
var poison = os.Getenv("NNSCOPE_CUDA_POISON") == "1"

var poisonValue = math.Float32frombits(0x7fc0dead) // a quiet NaN

// freePoisonedLocked is Free in poison mode: it checks that the slack of
// the live block at base (past the elements asked for) still holds
// poisonValue, poisons the whole block and returns it to the cache. What
// the check finds fails this call and every later one (Free's callers may
// drop its error; a GPU's faults are sticky too). The check downloads the
// slack, a host synchronization: poison mode is for tests.
func (d *Device) freePoisonedLocked(base uint64) error {
	class, live := d.alloc.inUse[base]
	n, asked := d.poisoned[base]
	if !live || !asked {
		return d.alloc.put(base) // not a live block: put says so
	}
	delete(d.poisoned, base)
	size := int(class / elemSize)
	if size > n {
		tail := make([]float32, size-n)
		var p pinner
		p.pin(unsafe.Pointer(&tail[0]))
		err := d.drv.call("cuMemcpyDtoH_v2", d.drv.cuMemcpyDtoH, uintptr(unsafe.Pointer(&tail[0])),
			uintptr(base+uint64(n)*elemSize), uintptr(len(tail)*elemSize))
		p.unpin()
		if err != nil { // a fault, reported by the call that waits for it
			return d.alloc.put(base)
		}
		for i, v := range tail {
			if math.Float32bits(v) != math.Float32bits(poisonValue) {
				d.poisonErr = fmt.Errorf("cuda: a kernel or copy wrote past the end of a buffer of %d elements (found %v at its element %d, in its size class's slack, at Free)",
					n, v, n+i)
				d.alloc.put(base)
				return d.poisonErr
			}
		}
	}
	if err := d.alloc.put(base); err != nil {
		return err
	}
	return d.memsetLocked(Buffer{base: base, n: size}, poisonValue) // on the stream: before any reuse
}

// Free returns b's allocation (whichever view of it b is) to the cache.
// Work already issued that uses it is unaffected: later work on the stream
// runs after it.
func (d *Device) Free(b Buffer) error {
	if b.base == 0 {
		return nil
	}
	if poison {
		if err := d.enter(); err != nil {
			return err
		}
		defer d.exit()
		return d.freeLocked(b.base)
	}
	// Back to the cache: no driver call, so no context needed.
	if err := d.lock(); err != nil {
		return err
	}
	defer d.mu.Unlock()
	return d.alloc.put(b.base)
}

// freeLocked returns the block at base to the cache, through the poison
// checks in poison mode (the device entered: they call the driver).
func (d *Device) freeLocked(base uint64) error {
	if poison {
		return d.freePoisonedLocked(base)
	}
	return d.alloc.put(base)
}

// Stats returns the caching allocator's counters.
func (d *Device) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.alloc == nil {
		return Stats{}
	}
	return d.alloc.stats
}

// EmptyCache returns every cached (free) block to the driver.
func (d *Device) EmptyCache() error {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.exit()
	return d.alloc.release()
}

// Upload copies src into the first len(src) elements of dst. It waits for
// earlier work and returns once src may be reused.
func (d *Device) Upload(dst Buffer, src []float32) error {
	if len(src) == 0 {
		return nil
	}
	return d.htod("Upload", dst, unsafe.Pointer(&src[0]), len(src))
}

// UploadInt32 copies int32 values (token ids, targets) into dst.
func (d *Device) UploadInt32(dst Buffer, src []int32) error {
	if len(src) == 0 {
		return nil
	}
	return d.htod("UploadInt32", dst, unsafe.Pointer(&src[0]), len(src))
}

func (d *Device) htod(what string, dst Buffer, src unsafe.Pointer, n int) error {
	if n > dst.n {
		return fmt.Errorf("cuda: %s of %d elements into a buffer of %d", what, n, dst.n)
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.exit()
	var p pinner
	p.pin(src)
	defer p.unpin()
	return d.drv.call("cuMemcpyHtoD_v2", d.drv.cuMemcpyHtoD, uintptr(dst.Addr()), uintptr(src), uintptr(n*elemSize))
}

// Download copies the first len(dst) elements of src to the host, after
// all earlier work has finished (a host synchronization point).
func (d *Device) Download(dst []float32, src Buffer) error {
	if len(dst) == 0 {
		return nil
	}
	return d.dtoh("Download", unsafe.Pointer(&dst[0]), len(dst), src)
}

// DownloadInt32 is Download for int32 data.
func (d *Device) DownloadInt32(dst []int32, src Buffer) error {
	if len(dst) == 0 {
		return nil
	}
	return d.dtoh("DownloadInt32", unsafe.Pointer(&dst[0]), len(dst), src)
}

func (d *Device) dtoh(what string, dst unsafe.Pointer, n int, src Buffer) error {
	if n > src.n {
		return fmt.Errorf("cuda: %s of %d elements from a buffer of %d", what, n, src.n)
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.exit()
	var p pinner
	p.pin(dst)
	defer p.unpin()
	return d.drv.call("cuMemcpyDtoH_v2", d.drv.cuMemcpyDtoH, uintptr(dst), uintptr(src.Addr()), uintptr(n*elemSize))
}

// CopyDtoD copies n elements from src to dst on the stream (no host wait).
// The ranges must not overlap (the result is undefined).
func (d *Device) CopyDtoD(dst, src Buffer, n int) error {
	if n > dst.n || n > src.n || n < 0 {
		return fmt.Errorf("cuda: CopyDtoD of %d elements between buffers of %d and %d", n, dst.n, src.n)
	}
	if n == 0 {
		return nil
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.exit()
	ev := d.profBegin()
	err := d.drv.call("cuMemcpyDtoDAsync_v2", d.drv.cuMemcpyDtoDAsync, uintptr(dst.Addr()), uintptr(src.Addr()),
		uintptr(n*elemSize), d.stream)
	d.profEnd(ev, func() string { return "memcpy" })
	return err
}

// Memset sets every element of dst to v (contiguous; see Fill for views).
func (d *Device) Memset(dst Buffer, v float32) error {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.exit()
	return d.memsetLocked(dst, v)
}

func (d *Device) memsetLocked(dst Buffer, v float32) error {
	if dst.n == 0 {
		return nil
	}
	ev := d.profBegin()
	err := d.drv.call("cuMemsetD32Async", d.drv.cuMemsetD32Async, uintptr(dst.Addr()),
		uintptr(math.Float32bits(v)), uintptr(dst.n), d.stream)
	d.profEnd(ev, func() string { return "memset" })
	return err
}

// HostBuffer makes a Buffer for a device emulator (package cuda/emu): base
// names an allocation of n elements in the emulator's own memory.
func HostBuffer(base uint64, n int) Buffer { return Buffer{base: base, n: n} }
