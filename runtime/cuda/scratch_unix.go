//go:build unix

package cuda

import (
	"syscall"
	"unsafe"
)

// newScratch returns a Device's scratch area outside the Go heap: C reads
// it during every call, and pinning Go memory for the device's lifetime
// made the runtime panic ("found leaking pinned pointer") when a Device
// was dropped without Close. It is a few KiB per Open, kept for the life
// of the process (a closed Device refuses calls before touching it).
func newScratch() *scratch {
	b, err := syscall.Mmap(-1, 0, int(unsafe.Sizeof(scratch{})), syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return newPinnedScratch()
	}
	return (*scratch)(unsafe.Pointer(&b[0]))
}
