package cuda

import (
	"runtime"
	"unsafe"
)

// pinner wraps runtime.Pinner: Go memory whose address is handed to C stays
// put (and alive) until unpin.
type pinner struct{ p runtime.Pinner }

func (p *pinner) pin(ptr unsafe.Pointer) { p.p.Pin(ptr) }
func (p *pinner) unpin()                 { p.p.Unpin() }

// addr returns the address of b's first byte (0 for an empty slice) and pins it.
func (p *pinner) bytes(b []byte) uintptr {
	if len(b) == 0 {
		return 0
	}
	p.p.Pin(&b[0])
	return uintptr(unsafe.Pointer(&b[0]))
}
