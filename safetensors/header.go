// Package safetensors reads and writes the safetensors format
// (https://huggingface.co/docs/safetensors): an 8-byte little-endian header
// length N, N bytes of JSON describing every tensor, then the raw data.
//
// Open validates the whole header against the real file size and memory-maps
// the file read-only, so F32 tensors are returned without copying.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/bits"
	"sort"
	"strconv"
	"strings"
)

// MaxHeaderLen caps the JSON header length (the reference implementation
// uses the same 100 MB limit).
const MaxHeaderLen = 100_000_000

const metadataKey = "__metadata__"

// Dtype is a safetensors element type, as spelled in the header ("F32", ...).
type Dtype string

// The dtypes of the safetensors format.
const (
	BOOL   Dtype = "BOOL"
	U8     Dtype = "U8"
	I8     Dtype = "I8"
	F8E5M2 Dtype = "F8_E5M2"
	F8E4M3 Dtype = "F8_E4M3"
	I16    Dtype = "I16"
	U16    Dtype = "U16"
	F16    Dtype = "F16"
	BF16   Dtype = "BF16"
	I32    Dtype = "I32"
	U32    Dtype = "U32"
	F32    Dtype = "F32"
	F64    Dtype = "F64"
	I64    Dtype = "I64"
	U64    Dtype = "U64"
)

var dtypeSizes = map[Dtype]int{
	BOOL: 1, U8: 1, I8: 1, F8E5M2: 1, F8E4M3: 1,
	I16: 2, U16: 2, F16: 2, BF16: 2,
	I32: 4, U32: 4, F32: 4,
	F64: 8, I64: 8, U64: 8,
}

// Size is the size of one element in bytes, or 0 for an unknown dtype.
func (d Dtype) Size() int { return dtypeSizes[d] }

// Valid reports whether d is a known safetensors dtype.
func (d Dtype) Valid() bool { return dtypeSizes[d] != 0 }

// TensorInfo describes one tensor of a file.
type TensorInfo struct {
	Name  string
	Dtype Dtype
	Shape []int
	// Begin and End are the header's data_offsets: byte offsets relative to
	// the start of the data section (Header.DataStart).
	Begin, End int64
}

// NumElements is the product of the shape (1 for a scalar).
func (t TensorInfo) NumElements() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= int64(d)
	}
	return n
}

// ByteLen is End - Begin.
func (t TensorInfo) ByteLen() int64 { return t.End - t.Begin }

// Header is a validated safetensors header.
type Header struct {
	HeaderLen int64 // N, the JSON header length
	DataStart int64 // 8 + N: file offset of the data section
	DataLen   int64 // bytes in the data section (file size - DataStart)
	Tensors   map[string]TensorInfo
	Metadata  map[string]string // __metadata__ (nil when absent)
	// Uncovered counts bytes of the data section that no tensor uses
	// (padding or trailing bytes). The format's reference implementation
	// rejects such files; this package accepts them.
	Uncovered int64
}

// Names returns the tensor names, sorted.
func (h *Header) Names() []string {
	names := make([]string, 0, len(h.Tensors))
	for n := range h.Tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ParseHeader parses and validates the start of a safetensors file.
// data must begin at the first byte of the file and hold at least the 8-byte
// length prefix and the whole JSON header (more bytes are ignored). fileSize
// is the total size of the file: every tensor's data_offsets are checked
// against it, so a File built from a valid Header never reads past the end.
// Errors are *Error with an empty File.
func ParseHeader(data []byte, fileSize int64) (*Header, error) {
	if fileSize < 8 || int64(len(data)) < 8 {
		return nil, &Error{Kind: ErrHeader, Msg: fmt.Sprintf("file is %d bytes, too short for the 8-byte header length", min(fileSize, int64(len(data))))}
	}
	n64 := binary.LittleEndian.Uint64(data[:8])
	if n64 > MaxHeaderLen {
		return nil, &Error{Kind: ErrHeader, Msg: fmt.Sprintf("header length %d exceeds the %d-byte limit (not a safetensors file?)", n64, MaxHeaderLen)}
	}
	n := int64(n64)
	if n > fileSize-8 {
		return nil, &Error{Kind: ErrHeader, Msg: fmt.Sprintf("header length %d runs past the end of the %d-byte file", n, fileSize)}
	}
	if n > int64(len(data))-8 {
		return nil, &Error{Kind: ErrHeader, Msg: fmt.Sprintf("header length %d but only %d header bytes given", n, len(data)-8)}
	}
	h := &Header{HeaderLen: n, DataStart: 8 + n, DataLen: fileSize - 8 - n, Tensors: map[string]TensorInfo{}}
	if err := h.parseJSON(data[8 : 8+n]); err != nil {
		return nil, err
	}
	if err := h.checkLayout(); err != nil {
		return nil, err
	}
	return h, nil
}

type rawEntry struct {
	Dtype       *string           `json:"dtype"`
	Shape       []json.RawMessage `json:"shape"`
	DataOffsets []json.RawMessage `json:"data_offsets"`
}

func (h *Header) parseJSON(js []byte) error {
	dec := json.NewDecoder(bytes.NewReader(js))
	jsonErr := func(err error, msg string) error {
		return &Error{Kind: ErrJSON, Msg: msg, Err: err}
	}
	tok, err := dec.Token()
	if err != nil {
		return jsonErr(err, "invalid JSON header")
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return jsonErr(nil, "JSON header is not an object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return jsonErr(err, "invalid JSON header")
		}
		key, ok := tok.(string)
		if !ok {
			return jsonErr(nil, "invalid JSON header: key is not a string")
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return &Error{Key: key, Kind: ErrJSON, Msg: "invalid JSON value", Err: err}
		}
		if key == metadataKey {
			if h.Metadata != nil {
				return &Error{Key: key, Kind: ErrJSON, Msg: "duplicate key"}
			}
			var md map[string]string
			if err := json.Unmarshal(raw, &md); err != nil {
				return &Error{Key: key, Kind: ErrJSON, Msg: "must be an object of strings", Err: err}
			}
			if md == nil {
				md = map[string]string{}
			}
			h.Metadata = md
			continue
		}
		if _, dup := h.Tensors[key]; dup {
			return &Error{Key: key, Kind: ErrJSON, Msg: "duplicate key"}
		}
		t, err := parseEntry(key, raw)
		if err != nil {
			return err
		}
		h.Tensors[key] = t
	}
	if _, err := dec.Token(); err != nil { // closing '}'
		return jsonErr(err, "invalid JSON header")
	}
	// Only whitespace may follow (writers pad the header with spaces).
	rest := js[dec.InputOffset():]
	if len(bytes.TrimLeft(rest, " \t\r\n")) != 0 {
		return jsonErr(nil, "invalid JSON header: trailing data after the object")
	}
	return nil
}

func parseEntry(key string, raw json.RawMessage) (TensorInfo, error) {
	t := TensorInfo{Name: key}
	fail := func(kind error, format string, args ...any) (TensorInfo, error) {
		return TensorInfo{}, &Error{Key: key, Kind: kind, Msg: fmt.Sprintf(format, args...)}
	}
	var e rawEntry
	if err := json.Unmarshal(raw, &e); err != nil {
		return TensorInfo{}, &Error{Key: key, Kind: ErrJSON, Msg: "entry must be an object {dtype, shape, data_offsets}", Err: err}
	}
	if e.Dtype == nil {
		return fail(ErrJSON, "missing dtype")
	}
	t.Dtype = Dtype(*e.Dtype)
	if !t.Dtype.Valid() {
		return fail(ErrDtype, "unknown dtype %s", quote(*e.Dtype))
	}
	if e.Shape == nil {
		return fail(ErrJSON, "missing shape")
	}
	t.Shape = make([]int, len(e.Shape))
	for i, r := range e.Shape {
		v, err := parseInt(r)
		if err != nil {
			return fail(ErrShape, "shape %s: dimension %d: %v", rawList(e.Shape), i, err)
		}
		if v < 0 {
			return fail(ErrShape, "shape %s: negative dimension %d", rawList(e.Shape), v)
		}
		if uint64(v) > uint64(maxInt) {
			return fail(ErrShape, "shape %s: dimension %d overflows int", rawList(e.Shape), v)
		}
		t.Shape[i] = int(v)
	}
	if e.DataOffsets == nil {
		return fail(ErrJSON, "missing data_offsets")
	}
	if len(e.DataOffsets) != 2 {
		return fail(ErrOffsets, "data_offsets %s must be [begin, end]", rawList(e.DataOffsets))
	}
	var off [2]int64
	for i, r := range e.DataOffsets {
		v, err := parseInt(r)
		if err != nil {
			return fail(ErrOffsets, "data_offsets %s: %v", rawList(e.DataOffsets), err)
		}
		if v < 0 {
			return fail(ErrOffsets, "data_offsets %s: negative offset", rawList(e.DataOffsets))
		}
		off[i] = v
	}
	t.Begin, t.End = off[0], off[1]
	return t, nil
}

const maxInt = int(^uint(0) >> 1)

// parseInt parses a JSON number that must be an integer.
func parseInt(r json.RawMessage) (int64, error) {
	s := strings.TrimSpace(string(r))
	digits := strings.TrimPrefix(s, "-")
	if digits == "" {
		return 0, fmt.Errorf("%s is not a number", clip(s))
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%s is not an integer", clip(s))
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s overflows int64", clip(s))
	}
	return v, nil
}

// checkLayout checks sizes, bounds and overlaps of all tensors.
func (h *Header) checkLayout() error {
	names := h.Names()
	for _, name := range names {
		t := h.Tensors[name]
		if t.Begin > t.End {
			return &Error{Key: name, Kind: ErrOffsets, Msg: fmt.Sprintf("data_offsets [%d %d]: begin > end", t.Begin, t.End)}
		}
		if t.End > h.DataLen {
			return &Error{Key: name, Kind: ErrOffsets, Msg: fmt.Sprintf("data_offsets [%d %d] run past the %d-byte data section (file truncated?)", t.Begin, t.End, h.DataLen)}
		}
		need, ok := byteSize(t.Shape, t.Dtype.Size())
		if !ok {
			return &Error{Key: name, Kind: ErrShape, Msg: fmt.Sprintf("shape %v x %s overflows", t.Shape, t.Dtype)}
		}
		if have := t.End - t.Begin; uint64(have) != need {
			return &Error{Key: name, Kind: ErrSize, Msg: fmt.Sprintf("data_offsets [%d %d] hold %d bytes but shape %v x %s needs %d", t.Begin, t.End, have, t.Shape, t.Dtype, need)}
		}
	}
	// Overlaps: sort non-empty ranges by begin; each must start at or after
	// the previous end.
	type span struct {
		name       string
		begin, end int64
	}
	spans := make([]span, 0, len(names))
	for _, name := range names {
		t := h.Tensors[name]
		if t.End > t.Begin {
			spans = append(spans, span{name, t.Begin, t.End})
		}
	}
	sort.SliceStable(spans, func(i, j int) bool { return spans[i].begin < spans[j].begin })
	var covered, prevEnd int64
	for i, s := range spans {
		if i > 0 && s.begin < prevEnd {
			p := spans[i-1]
			return &Error{Key: s.name, Kind: ErrOverlap, Msg: fmt.Sprintf("data_offsets [%d %d] overlap tensor %s at [%d %d]", s.begin, s.end, quote(p.name), p.begin, p.end)}
		}
		covered += s.end - s.begin
		prevEnd = s.end
	}
	h.Uncovered = h.DataLen - covered
	return nil
}

// byteSize returns prod(shape)*elem, or ok=false on overflow of int64.
func byteSize(shape []int, elem int) (uint64, bool) {
	for _, d := range shape {
		if d == 0 {
			return 0, true
		}
	}
	n := uint64(elem)
	for _, d := range shape {
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > 1<<63-1 {
			return 0, false
		}
		n = lo
	}
	return n, true
}

func quote(s string) string { return strconv.Quote(clip(s)) }

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

func rawList(rs []json.RawMessage) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = clip(strings.TrimSpace(string(r)))
	}
	return clip("[" + strings.Join(parts, " ") + "]")
}
