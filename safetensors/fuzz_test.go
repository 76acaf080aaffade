package safetensors

import (
	"errors"
	"testing"
)

// FuzzParseHeader feeds arbitrary file prefixes and file sizes to the parser.
// It must never panic, must return *Error on failure, and whatever it accepts
// must be safe to read: every tensor inside the data section, sizes matching
// shape x dtype, no overlaps.
func FuzzParseHeader(f *testing.F) {
	f.Add([]byte("\x02\x00\x00\x00\x00\x00\x00\x00{}"), int64(10))
	f.Fuzz(func(t *testing.T, data []byte, fileSize int64) {
		h, err := ParseHeader(data, fileSize)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Kind == nil {
				t.Fatalf("error %T %v is not a classified *Error", err, err)
			}
			_ = err.Error()
			return
		}
		if h.DataStart != 8+h.HeaderLen || h.DataStart+h.DataLen != fileSize || h.DataLen < 0 || h.DataStart > int64(len(data)) {
			t.Fatalf("inconsistent sizes %+v for file size %d, %d bytes", h, fileSize, len(data))
		}
		var used int64
		for _, name := range h.Names() {
			ti := h.Tensors[name]
			if ti.Begin < 0 || ti.Begin > ti.End || ti.End > h.DataLen {
				t.Fatalf("%s: offsets [%d %d] outside %d-byte data section", name, ti.Begin, ti.End, h.DataLen)
			}
			if ti.NumElements()*int64(ti.Dtype.Size()) != ti.ByteLen() {
				t.Fatalf("%s: %v x %s != %d bytes", name, ti.Shape, ti.Dtype, ti.ByteLen())
			}
			used += ti.ByteLen()
		}
		if used+h.Uncovered != h.DataLen || h.Uncovered < 0 {
			t.Fatalf("overlap not caught: used %d + uncovered %d != %d", used, h.Uncovered, h.DataLen)
		}
	})
}
