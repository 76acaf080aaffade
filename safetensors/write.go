package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
)

// Tensor is one tensor to write. Data is converted to Dtype (F32, F16, BF16
// or F64) and must hold prod(Shape) values. When Raw is non-nil it is
// written verbatim instead and Dtype may be anything, which lets tests build
// inconsistent files.
type Tensor struct {
	Dtype Dtype
	Shape []int
	Data  []float32
	Raw   []byte
}

// Marshal encodes tensors and metadata as a safetensors file. Tensors are
// laid out by decreasing element size then name, so every tensor is aligned
// to its element size; the header is space-padded to a multiple of 8 bytes.
func Marshal(tensors map[string]Tensor, metadata map[string]string) ([]byte, error) {
	names := make([]string, 0, len(tensors))
	for n := range tensors {
		if n == metadataKey {
			return nil, fmt.Errorf("safetensors: tensor name %q is reserved", n)
		}
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		si, sj := tensors[names[i]].Dtype.Size(), tensors[names[j]].Dtype.Size()
		if si != sj {
			return si > sj
		}
		return names[i] < names[j]
	})
	type entry struct {
		Dtype       Dtype    `json:"dtype"`
		Shape       []int    `json:"shape"`
		DataOffsets [2]int64 `json:"data_offsets"`
	}
	header := map[string]any{}
	if metadata != nil {
		header[metadataKey] = metadata
	}
	var data []byte
	for _, n := range names {
		t := tensors[n]
		raw := t.Raw
		if raw == nil {
			var err error
			if raw, err = encode(n, t); err != nil {
				return nil, err
			}
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		begin := int64(len(data))
		data = append(data, raw...)
		header[n] = entry{t.Dtype, shape, [2]int64{begin, int64(len(data))}}
	}
	js, err := json.Marshal(header)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	for (8+len(js))%8 != 0 {
		js = append(js, ' ')
	}
	out := make([]byte, 8, 8+len(js)+len(data))
	binary.LittleEndian.PutUint64(out, uint64(len(js)))
	out = append(out, js...)
	return append(out, data...), nil
}

func encode(name string, t Tensor) ([]byte, error) {
	n := 1
	for _, d := range t.Shape {
		if d < 0 {
			return nil, fmt.Errorf("safetensors: tensor %q: negative dimension in shape %v", name, t.Shape)
		}
		n *= d
	}
	if n != len(t.Data) {
		return nil, fmt.Errorf("safetensors: tensor %q: shape %v needs %d values, have %d", name, t.Shape, n, len(t.Data))
	}
	out := make([]byte, 0, n*t.Dtype.Size())
	for _, v := range t.Data {
		switch t.Dtype {
		case F32:
			out = binary.LittleEndian.AppendUint32(out, math.Float32bits(v))
		case F16:
			out = binary.LittleEndian.AppendUint16(out, Float32ToHalf(v))
		case BF16:
			out = binary.LittleEndian.AppendUint16(out, Float32ToBFloat16(v))
		case F64:
			out = binary.LittleEndian.AppendUint64(out, math.Float64bits(float64(v)))
		default:
			return nil, fmt.Errorf("safetensors: tensor %q: cannot encode float32 data as %q (use Raw)", name, t.Dtype)
		}
	}
	return out, nil
}

// Write writes tensors and metadata to path as a safetensors file.
func Write(path string, tensors map[string]Tensor, metadata map[string]string) error {
	b, err := Marshal(tensors, metadata)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// WriteRaw writes a file made of the 8-byte little-endian length of header,
// header verbatim (no validation, no padding) and data: a way for tests to
// build corrupt files.
func WriteRaw(path string, header []byte, data []byte) error {
	b := make([]byte, 8, 8+len(header)+len(data))
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	b = append(append(b, header...), data...)
	return os.WriteFile(path, b, 0o644)
}
