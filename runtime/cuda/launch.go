package cuda

import (
	"encoding/binary"
	"fmt"
	"math"
)

// MaxRank is the largest rank the strided kernels take (after dimensions
// that can be merged have been merged); a view of higher rank is split
// over launches, one per index of its leading dimensions (eachLaunch),
// and SumTo sums a contiguous copy of it.
const MaxRank = 6

// dims is a kernel's by-value `struct Dims { int d[MAX_RANK]; }`.
type dims [MaxRank]int32

// devPtr is a raw device address passed to a kernel.
type devPtr uint64

// dim3 is a CUDA grid or block size.
type dim3 struct{ x, y, z int }

// argArena is the memory launch parameters are packed into: each argument
// at its natural alignment, in order (so the same bytes also form the
// `extra` CU_LAUNCH_PARAM_BUFFER layout), and ptrs[i] holds the address
// of argument i (the kernelParams array). It lives pinned in the Device.
type argArena struct {
	buf  [4096]byte
	ptrs [64]uintptr
}

// packArgs writes args into buf and returns each argument's byte offset.
// Supported: Buffer and devPtr (8-byte pointers), int and int32 (C int),
// uint32, int64 (long long), float32 and float64 (C float), dims.
func packArgs(buf []byte, args []any) ([]int, error) {
	offs := make([]int, len(args))
	pos := 0
	put := func(i, size, align int) ([]byte, error) {
		pos = (pos + align - 1) / align * align
		if pos+size > len(buf) {
			return nil, fmt.Errorf("cuda: kernel arguments exceed %d bytes", len(buf))
		}
		offs[i] = pos
		b := buf[pos : pos+size]
		pos += size
		return b, nil
	}
	le := binary.LittleEndian
	for i, a := range args {
		var b []byte
		var err error
		switch v := a.(type) {
		case Buffer:
			if b, err = put(i, 8, 8); err == nil {
				le.PutUint64(b, v.Addr())
			}
		case devPtr:
			if b, err = put(i, 8, 8); err == nil {
				le.PutUint64(b, uint64(v))
			}
		case int:
			if v < math.MinInt32 || v > math.MaxInt32 {
				return nil, fmt.Errorf("cuda: kernel argument %d: %d does not fit a C int", i, v)
			}
			if b, err = put(i, 4, 4); err == nil {
				le.PutUint32(b, uint32(int32(v)))
			}
		case int32:
			if b, err = put(i, 4, 4); err == nil {
				le.PutUint32(b, uint32(v))
			}
		case uint32:
			if b, err = put(i, 4, 4); err == nil {
				le.PutUint32(b, v)
			}
		case int64:
			if b, err = put(i, 8, 8); err == nil {
				le.PutUint64(b, uint64(v))
			}
		case float32:
			if b, err = put(i, 4, 4); err == nil {
				le.PutUint32(b, math.Float32bits(v))
			}
		case float64:
			if b, err = put(i, 4, 4); err == nil {
				le.PutUint32(b, math.Float32bits(float32(v)))
			}
		case dims:
			if b, err = put(i, 4*MaxRank, 4); err == nil {
				for j, x := range v {
					le.PutUint32(b[4*j:], uint32(x))
				}
			}
		default:
			return nil, fmt.Errorf("cuda: kernel argument %d has unsupported type %T", i, a)
		}
		if err != nil {
			return nil, err
		}
	}
	return offs, nil
}

// gridCap is the most blocks gridFor returns (tests lower it, so that the
// grid-stride loops take more than one step).
var gridCap = 65535 * 8

// gridFor returns a 1-d grid of blocks of size block covering n threads,
// capped (kernels loop with a grid stride beyond the cap).
func gridFor(n, block int) int {
	g := (n + block - 1) / block
	return max(1, min(g, gridCap))
}
