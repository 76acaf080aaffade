package safetensors

import (
	"encoding/binary"
	"math"
	"unsafe"
)

// HalfToFloat32 converts an IEEE 754 binary16 value (exact: every half is a
// float32), including subnormals, infinities and NaNs.
func HalfToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	man := uint32(h) & 0x3ff
	switch exp {
	case 0x1f: // inf or nan (payload kept)
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case 0:
		if man == 0 {
			return math.Float32frombits(sign)
		}
		f := float32(man) * (1.0 / (1 << 24)) // subnormal: man x 2^-24, exact
		if sign != 0 {
			f = -f
		}
		return f
	default:
		return math.Float32frombits(sign | (exp+127-15)<<23 | man<<13)
	}
}

// Float32ToHalf converts to binary16 with round-to-nearest-even; values too
// large become infinities, tiny ones subnormals or zero, NaN stays NaN.
func Float32ToHalf(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	man := b & 0x7fffff
	if exp == 0xff {
		if man != 0 {
			return sign | 0x7e00 | uint16(man>>13)
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		if exp == 0 {
			return sign // float32 subnormals are far below half's range
		}
		m := man | 0x800000
		shift := uint32(126 - exp) // >= 14
		if shift > 24 {
			return sign
		}
		q := m >> shift
		rem := m & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && q&1 == 1) {
			q++
		}
		return sign | uint16(q)
	}
	q := uint32(e)<<10 | man>>13
	rem := man & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && q&1 == 1) {
		q++ // may carry into the exponent, up to infinity: correct
	}
	return sign | uint16(q)
}

// BFloat16ToFloat32 converts a bfloat16 value (exact).
func BFloat16ToFloat32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// Float32ToBFloat16 converts with round-to-nearest-even; NaN stays NaN.
func Float32ToBFloat16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// decodeFloat32 converts raw little-endian bytes of dtype d into a new slice.
func decodeFloat32(d Dtype, raw []byte) ([]float32, bool) {
	switch d {
	case F32:
		out := make([]float32, len(raw)/4)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		return out, true
	case F16:
		out := make([]float32, len(raw)/2)
		for i := range out {
			out[i] = HalfToFloat32(binary.LittleEndian.Uint16(raw[2*i:]))
		}
		return out, true
	case BF16:
		out := make([]float32, len(raw)/2)
		for i := range out {
			out[i] = BFloat16ToFloat32(binary.LittleEndian.Uint16(raw[2*i:]))
		}
		return out, true
	case F64:
		out := make([]float32, len(raw)/8)
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:])))
		}
		return out, true
	}
	return nil, false
}
