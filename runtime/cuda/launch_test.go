package cuda

import (
	"encoding/binary"
	"math"
	"strings"
	"testing"
)

func TestPackArgs(t *testing.T) {
	buf := make([]byte, 256)
	b := Buffer{base: 0x7f0000001000, off: 3, n: 10}
	var dm dims
	for i := range dm {
		dm[i] = int32(10*i - 7)
	}
	args := []any{b, int(-5), devPtr(0xdeadbeef00), float32(1.5), int32(7), dm, float64(0.25), int64(-2), uint32(9), Buffer{}}
	offs, err := packArgs(buf, args)
	if err != nil {
		t.Fatal(err)
	}
	// int after a pointer sits at 8, the next pointer is realigned to 16.
	want := []int{0, 8, 16, 24, 28, 32, 56, 64, 72, 80}
	for i := range want {
		if offs[i] != want[i] {
			t.Fatalf("offsets %v, want %v", offs, want)
		}
	}
	le := binary.LittleEndian
	if got := le.Uint64(buf[0:]); got != 0x7f0000001000+12 {
		t.Errorf("Buffer address %#x (offset not applied)", got)
	}
	if got := int32(le.Uint32(buf[8:])); got != -5 {
		t.Errorf("int %d", got)
	}
	if got := le.Uint64(buf[16:]); got != 0xdeadbeef00 {
		t.Errorf("devPtr %#x", got)
	}
	if got := math.Float32frombits(le.Uint32(buf[24:])); got != 1.5 {
		t.Errorf("float32 %v", got)
	}
	if got := int32(le.Uint32(buf[28:])); got != 7 {
		t.Errorf("int32 %d", got)
	}
	for i := range dm {
		if got := int32(le.Uint32(buf[32+4*i:])); got != dm[i] {
			t.Errorf("dims[%d] = %d", i, got)
		}
	}
	if got := math.Float32frombits(le.Uint32(buf[56:])); got != 0.25 {
		t.Errorf("float64 as float %v", got)
	}
	if got := int64(le.Uint64(buf[64:])); got != -2 {
		t.Errorf("int64 %d", got)
	}
	if got := le.Uint32(buf[72:]); got != 9 {
		t.Errorf("uint32 %d", got)
	}
	if got := le.Uint64(buf[80:]); got != 0 {
		t.Errorf("nil Buffer gives %#x, want NULL", got)
	}
	for i, o := range offs {
		align := 4
		switch args[i].(type) {
		case Buffer, devPtr, int64:
			align = 8
		}
		if o%align != 0 {
			t.Errorf("argument %d at %d is not %d-aligned", i, o, align)
		}
	}
}

func TestPackArgsErrors(t *testing.T) {
	buf := make([]byte, 16)
	if _, err := packArgs(buf, []any{"x"}); err == nil || !strings.Contains(err.Error(), "unsupported type string") {
		t.Errorf("string: %v", err)
	}
	if _, err := packArgs(buf, []any{1 << 40}); err == nil || !strings.Contains(err.Error(), "C int") {
		t.Errorf("big int: %v", err)
	}
	if _, err := packArgs(buf, []any{dims{}}); err == nil || !strings.Contains(err.Error(), "exceed") {
		t.Errorf("overflow: %v", err)
	}
}

func TestGridFor(t *testing.T) {
	if gridFor(0, 256) != 1 || gridFor(256, 256) != 1 || gridFor(257, 256) != 2 || gridFor(1<<40, 256) != 65535*8 {
		t.Error("gridFor")
	}
	if rowBlock(1) != 32 || rowBlock(768) != 768 || rowBlock(50257) != 1024 || rowBlock(33) != 64 {
		t.Error("rowBlock")
	}
}
