package safetensors

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"
)

const fixture = "../testdata/gpt2-tiny/model.safetensors"

func inMapping(f *File, s []float32) bool {
	if len(s) == 0 || len(f.data) == 0 {
		return false
	}
	p := uintptr(unsafe.Pointer(&s[0]))
	lo := uintptr(unsafe.Pointer(&f.data[0]))
	return p >= lo && p+uintptr(4*len(s)) <= lo+uintptr(len(f.data))
}

func TestFixture(t *testing.T) {
	f, err := Open(fixture)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names := f.Names()
	if len(names) != 43 {
		t.Errorf("got %d tensors, want 43", len(names))
	}
	if names[0] != "h.0.attn.bias" || names[len(names)-1] != "wte.weight" {
		t.Errorf("names not sorted: first %q last %q", names[0], names[len(names)-1])
	}
	if md := f.Metadata(); md["format"] != "pt" {
		t.Errorf("metadata = %v", md)
	}
	info, err := f.Info("h.0.attn.c_attn.weight")
	if err != nil {
		t.Fatal(err)
	}
	if info.Dtype != F32 || len(info.Shape) != 2 || info.Shape[0] != 32 || info.Shape[1] != 96 || info.Begin != 16768 || info.End != 29056 {
		t.Errorf("info = %+v", info)
	}
	if f.Header().Uncovered != 0 {
		t.Errorf("uncovered = %d", f.Header().Uncovered)
	}

	raw, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		vals, shape, err := f.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		info, _ := f.Info(name)
		if int64(len(vals)) != info.NumElements() || len(shape) != len(info.Shape) {
			t.Fatalf("%s: %d values, shape %v, info %+v", name, len(vals), shape, info)
		}
		if !inMapping(f, vals) {
			t.Errorf("%s: F32 slice was copied, want it to alias the mapping", name)
		}
		base := f.Header().DataStart + info.Begin
		for _, i := range []int{0, len(vals) / 2, len(vals) - 1} {
			want := math.Float32frombits(binary.LittleEndian.Uint32(raw[base+int64(4*i):]))
			if vals[i] != want {
				t.Errorf("%s[%d] = %v, want %v", name, i, vals[i], want)
			}
		}
	}
	wte, shape, _ := f.Float32("wte.weight")
	if len(wte) != 50257*32 || shape[0] != 50257 || shape[1] != 32 {
		t.Errorf("wte: %d values, shape %v", len(wte), shape)
	}
	// The causal mask buffer is lower-triangular ones.
	mask, _, _ := f.Float32("h.0.attn.bias")
	if mask[0] != 1 || mask[1] != 0 || mask[64] != 1 || mask[65] != 1 || mask[66] != 0 {
		t.Errorf("mask starts %v", mask[:3])
	}
}

func TestZeroCopyAndReadOnly(t *testing.T) {
	if !zeroCopy {
		t.Skip("no mmap on this platform")
	}
	f, err := Open(fixture)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a, _, _ := f.Float32("wpe.weight")
	b, _, _ := f.Float32("wpe.weight")
	if &a[0] != &b[0] {
		t.Error("two reads of an F32 tensor should share memory")
	}
	if !inMapping(f, a) {
		t.Error("F32 tensor not inside the mapping")
	}
}

func TestHalf(t *testing.T) {
	cases := []struct {
		h uint16
		f float32
	}{
		{0x0000, 0}, {0x3c00, 1}, {0xc000, -2}, {0x3800, 0.5}, {0x7bff, 65504},
		{0x0001, float32(math.Ldexp(1, -24))}, {0x03ff, float32(math.Ldexp(1023, -24))},
		{0x8001, -float32(math.Ldexp(1, -24))},
		{0x0400, float32(math.Ldexp(1, -14))}, {0x3555, 0.333251953125},
		{0x7c00, float32(math.Inf(1))}, {0xfc00, float32(math.Inf(-1))},
	}
	for _, c := range cases {
		if got := HalfToFloat32(c.h); got != c.f {
			t.Errorf("HalfToFloat32(%#04x) = %v, want %v", c.h, got, c.f)
		}
		if got := Float32ToHalf(c.f); got != c.h {
			t.Errorf("Float32ToHalf(%v) = %#04x, want %#04x", c.f, got, c.h)
		}
	}
	if v := HalfToFloat32(0x8000); v != 0 || !math.Signbit(float64(v)) {
		t.Errorf("-0 decoded as %v", v)
	}
	for _, h := range []uint16{0x7e00, 0x7c01, 0xfe00} {
		if v := HalfToFloat32(h); !math.IsNaN(float64(v)) {
			t.Errorf("HalfToFloat32(%#04x) = %v, want NaN", h, v)
		}
	}
	if h := Float32ToHalf(float32(math.NaN())); h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
		t.Errorf("NaN encoded as %#04x", h)
	}
	// Every half round-trips.
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		f := HalfToFloat32(h)
		if math.IsNaN(float64(f)) {
			continue
		}
		if back := Float32ToHalf(f); back != h {
			t.Fatalf("round trip %#04x -> %v -> %#04x", h, f, back)
		}
	}
	// Rounding: ties to even, overflow to infinity, underflow to zero.
	rounding := []struct {
		f float32
		h uint16
	}{
		{1 + 1.0/2048, 0x3c00}, {1 + 3.0/2048, 0x3c02}, {1 + 1.0/2048 + 1.0/65536, 0x3c01},
		{65519, 0x7bff}, {65520, 0x7c00}, {1e10, 0x7c00}, {-1e10, 0xfc00},
		{float32(math.Ldexp(1, -25)), 0}, {float32(math.Ldexp(1.0001, -25)), 1},
		{float32(math.Ldexp(3, -25)), 2}, {float32(math.Ldexp(1, -30)), 0}, {1e-45, 0},
		{float32(math.Ldexp(2047, -25)), 0x0400}, // rounds up into the first normal
	}
	for _, c := range rounding {
		if got := Float32ToHalf(c.f); got != c.h {
			t.Errorf("Float32ToHalf(%g) = %#04x, want %#04x", c.f, got, c.h)
		}
	}
	// Property: the result is a nearest half.
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 100000; i++ {
		x := float32(math.Ldexp(r.Float64()*2-1, r.Intn(44)-28))
		h := Float32ToHalf(x)
		got := float64(HalfToFloat32(h))
		for _, nb := range []uint16{h - 1, h + 1} {
			o := float64(HalfToFloat32(nb))
			if math.IsNaN(o) || math.IsInf(o, 0) || (nb^h)&0x8000 != 0 {
				continue
			}
			if math.Abs(o-float64(x)) < math.Abs(got-float64(x)) {
				t.Fatalf("Float32ToHalf(%g) = %#04x (%g) but %#04x (%g) is nearer", x, h, got, nb, o)
			}
		}
	}
}

func TestBFloat16(t *testing.T) {
	cases := []struct {
		h uint16
		f float32
	}{
		{0x3f80, 1}, {0xc000, -2}, {0x0000, 0}, {0x4049, 3.140625},
		{0x7f80, float32(math.Inf(1))}, {0xff80, float32(math.Inf(-1))},
		{0x0001, math.Float32frombits(0x00010000)}, // subnormal
	}
	for _, c := range cases {
		if got := BFloat16ToFloat32(c.h); got != c.f {
			t.Errorf("BFloat16ToFloat32(%#04x) = %v, want %v", c.h, got, c.f)
		}
		if got := Float32ToBFloat16(c.f); got != c.h {
			t.Errorf("Float32ToBFloat16(%v) = %#04x, want %#04x", c.f, got, c.h)
		}
	}
	if !math.IsNaN(float64(BFloat16ToFloat32(0x7fc0))) || !math.IsNaN(float64(BFloat16ToFloat32(Float32ToBFloat16(math.Float32frombits(0x7f800001))))) {
		t.Error("NaN lost")
	}
	rounding := []struct {
		f float32
		h uint16
	}{
		{1 + 1.0/256, 0x3f80}, {1 + 3.0/256, 0x3f82}, {1 + 1.0/256 + 1.0/4096, 0x3f81},
		{math.MaxFloat32, 0x7f80}, {math.Float32frombits(0x7f7f7fff), 0x7f7f},
	}
	for _, c := range rounding {
		if got := Float32ToBFloat16(c.f); got != c.h {
			t.Errorf("Float32ToBFloat16(%g) = %#04x, want %#04x", c.f, got, c.h)
		}
	}
}

func TestWriteReadDtypes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	vals := []float32{0, 1, -2, 0.5, 3.140625, 65504, float32(math.Ldexp(1, -24)), float32(math.Inf(1))}
	tensors := map[string]Tensor{
		"a32": {Dtype: F32, Shape: []int{2, 4}, Data: vals},
		"b16": {Dtype: F16, Shape: []int{8}, Data: vals},
		"cbf": {Dtype: BF16, Shape: []int{4, 2}, Data: vals},
		"d64": {Dtype: F64, Shape: []int{1, 8}, Data: vals},
		"odd": {Dtype: F16, Shape: []int{1}, Data: []float32{7}}, // 2 bytes: breaks 4-alignment of what follows
		"e32": {Dtype: F32, Shape: []int{}, Data: []float32{42}},
		"nul": {Dtype: F32, Shape: []int{0, 3}, Data: nil},
		"i32": {Dtype: I32, Shape: []int{1}, Raw: []byte{1, 0, 0, 0}},
	}
	if err := Write(path, tensors, map[string]string{"format": "pt", "k": "v"}); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if md := f.Metadata(); md["k"] != "v" || md["format"] != "pt" {
		t.Errorf("metadata %v", md)
	}
	for _, name := range []string{"a32", "b16", "cbf", "d64"} {
		got, shape, err := f.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(vals) || len(shape) != len(tensors[name].Shape) {
			t.Fatalf("%s: %v %v", name, got, shape)
		}
		for i := range vals {
			want := vals[i]
			if name == "cbf" && i == 5 {
				want = 65536 // 65504 is not a bfloat16: rounds to 65536
			}
			if name == "cbf" && i == 6 {
				want = float32(math.Ldexp(1, -24))
			}
			if got[i] != want {
				t.Errorf("%s[%d] = %v, want %v", name, i, got[i], want)
			}
		}
		if name == "a32" && zeroCopy && !inMapping(f, got) {
			t.Error("a32 copied")
		}
		if name != "a32" && inMapping(f, got) {
			t.Errorf("%s should be a converted copy", name)
		}
	}
	if v, shape, err := f.Float32("e32"); err != nil || len(v) != 1 || v[0] != 42 || len(shape) != 0 {
		t.Errorf("scalar: %v %v %v", v, shape, err)
	}
	if v, shape, err := f.Float32("nul"); err != nil || len(v) != 0 || len(shape) != 2 {
		t.Errorf("empty: %v %v %v", v, shape, err)
	}
	if _, _, err := f.Float32("i32"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("I32: %v", err)
	}
	if b, err := f.Bytes("i32"); err != nil || len(b) != 4 || b[0] != 1 {
		t.Errorf("Bytes: %v %v", b, err)
	}
	if _, _, err := f.Float32("missing"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `tensor "missing"`) {
		t.Errorf("missing: %v", err)
	}
	if _, err := f.Info("missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Info missing: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, _, err := f.Float32("a32"); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}

func TestUnalignedF32IsCopied(t *testing.T) {
	path := filepath.Join(t.TempDir(), "u.safetensors")
	// Header of odd length: the data section starts at an odd offset.
	hdr := `{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	if (8+len(hdr))%4 == 0 {
		hdr += " "
	}
	data := make([]byte, 8)
	binary.LittleEndian.PutUint32(data, math.Float32bits(1.5))
	binary.LittleEndian.PutUint32(data[4:], math.Float32bits(-3))
	if err := WriteRaw(path, []byte(hdr), data); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v, _, err := f.Float32("x")
	if err != nil || len(v) != 2 || v[0] != 1.5 || v[1] != -3 {
		t.Fatalf("%v %v", v, err)
	}
	if inMapping(f, v) {
		t.Error("unaligned data must be copied")
	}
}

func TestUncoveredAllowed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.safetensors")
	hdr := `{"x":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}    `
	if err := WriteRaw(path, []byte(hdr), make([]byte, 20)); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Header().Uncovered != 16 {
		t.Errorf("Uncovered = %d, want 16", f.Header().Uncovered)
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	entry := func(dtype, shape, offs string) string {
		return `{"dtype":"` + dtype + `","shape":` + shape + `,"data_offsets":` + offs + `}`
	}
	cases := []struct {
		name   string
		header string
		data   int // data section size
		kind   error
		key    string
		msg    string
	}{
		{"json", `{"a":`, 0, ErrJSON, "a", "invalid JSON"},
		{"json2", `{1:2}`, 0, ErrJSON, "", "invalid JSON"},
		{"notobject", `[1,2]`, 0, ErrJSON, "", "not an object"},
		{"trailing", `{} {}`, 0, ErrJSON, "", "trailing"},
		{"duplicate", `{"w":` + entry("F32", "[1]", "[0,4]") + `,"w":` + entry("F32", "[1]", "[4,8]") + `}`, 8, ErrJSON, "w", "duplicate"},
		{"metadata", `{"__metadata__":{"a":1}}`, 0, ErrJSON, "__metadata__", "object of strings"},
		{"entry", `{"w":[1]}`, 0, ErrJSON, "w", "entry must be an object"},
		{"nodtype", `{"w":{"shape":[1],"data_offsets":[0,4]}}`, 4, ErrJSON, "w", "missing dtype"},
		{"noshape", `{"w":{"dtype":"F32","data_offsets":[0,4]}}`, 4, ErrJSON, "w", "missing shape"},
		{"nooffsets", `{"w":{"dtype":"F32","shape":[1]}}`, 4, ErrJSON, "w", "missing data_offsets"},
		{"dtype", `{"w":` + entry("F33", "[1]", "[0,4]") + `}`, 4, ErrDtype, "w", `unknown dtype "F33"`},
		{"negative", `{"w":` + entry("F32", "[2,-1]", "[0,4]") + `}`, 4, ErrShape, "w", "negative dimension -1"},
		{"fraction", `{"w":` + entry("F32", "[1.5]", "[0,4]") + `}`, 4, ErrShape, "w", "not an integer"},
		{"string", `{"w":` + entry("F32", `["4"]`, "[0,4]") + `}`, 4, ErrShape, "w", "not an integer"},
		{"hugedim", `{"w":` + entry("F32", "[99999999999999999999]", "[0,4]") + `}`, 4, ErrShape, "w", "overflows int64"},
		{"overflow", `{"w":` + entry("F32", "[4294967296,4294967296,4294967296]", "[0,4]") + `}`, 4, ErrShape, "w", "overflows"},
		{"overflow2", `{"w":` + entry("F64", "[2305843009213693952]", "[0,4]") + `}`, 4, ErrShape, "w", "overflows"},
		{"size", `{"h.0.attn.c_attn.weight":` + entry("F32", "[32,96]", "[0,96]") + `}`, 96, ErrSize, "h.0.attn.c_attn.weight",
			`data_offsets [0 96] hold 96 bytes but shape [32 96] x F32 needs 12288`},
		{"beginend", `{"w":` + entry("F32", "[1]", "[8,4]") + `}`, 8, ErrOffsets, "w", "begin > end"},
		{"pastend", `{"w":` + entry("F32", "[4]", "[0,16]") + `}`, 8, ErrOffsets, "w", "run past the 8-byte data section"},
		{"threeoffs", `{"w":` + entry("F32", "[1]", "[0,4,8]") + `}`, 8, ErrOffsets, "w", "must be [begin, end]"},
		{"negoff", `{"w":` + entry("F32", "[1]", "[-4,0]") + `}`, 8, ErrOffsets, "w", "negative offset"},
		{"overlap", `{"a":` + entry("F32", "[2]", "[0,8]") + `,"b":` + entry("F32", "[2]", "[4,12]") + `}`, 12, ErrOverlap, "b",
			`data_offsets [4 12] overlap tensor "a" at [0 8]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.name+".safetensors")
			if err := WriteRaw(path, []byte(c.header), make([]byte, c.data)); err != nil {
				t.Fatal(err)
			}
			f, err := Open(path)
			if err == nil {
				f.Close()
				t.Fatal("Open succeeded")
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("%T is not *Error: %v", err, err)
			}
			if !errors.Is(err, c.kind) {
				t.Errorf("kind %v, want %v: %v", e.Kind, c.kind, err)
			}
			if e.File != path || e.Key != c.key {
				t.Errorf("file %q key %q, want %q %q", e.File, e.Key, path, c.key)
			}
			if !strings.HasPrefix(err.Error(), path+": ") || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("message %q lacks %q", err, c.msg)
			}
			if c.key != "" && c.key != metadataKey && !strings.Contains(err.Error(), `tensor "`+c.key+`": `) {
				t.Errorf("message %q does not name the tensor", err)
			}
		})
	}
	// The exact message of the brief.
	path := filepath.Join(dir, "size.safetensors")
	_, err := Open(path)
	want := path + `: tensor "h.0.attn.c_attn.weight": data_offsets [0 96] hold 96 bytes but shape [32 96] x F32 needs 12288`
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
}

func TestHeaderLengthErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	le := func(n uint64, rest int) []byte {
		b := make([]byte, 8+rest)
		binary.LittleEndian.PutUint64(b, n)
		return b
	}
	cases := []struct {
		name string
		b    []byte
		msg  string
	}{
		{"empty", nil, "too short"},
		{"short", []byte{1, 2, 3}, "too short"},
		{"pastend", le(1000, 10), "header length 1000 runs past the end of the 18-byte file"},
		{"absurd", le(1<<40, 10), "exceeds the 100000000-byte limit"},
		{"max", le(math.MaxUint64, 10), "exceeds"},
	}
	for _, c := range cases {
		p := write(c.name, c.b)
		_, err := Open(p)
		if !errors.Is(err, ErrHeader) || !strings.HasPrefix(err.Error(), p+": ") || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	if _, err := Open(filepath.Join(dir, "nonexistent")); !errors.Is(err, ErrIO) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("nonexistent: %v", err)
	}
	if _, err := Open(dir); !errors.Is(err, ErrIO) {
		t.Errorf("directory: %v", err)
	}
}

func TestTruncatedAfterOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.safetensors")
	n := 8192
	tensors := map[string]Tensor{
		"a": {Dtype: F32, Shape: []int{n}, Data: make([]float32, n)},
		"b": {Dtype: F16, Shape: []int{n}, Data: make([]float32, n)},
	}
	if err := Write(path, tensors, nil); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := os.Truncate(path, f.Header().DataStart+16); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		if _, _, err := f.Float32(name); !errors.Is(err, ErrIO) || !strings.Contains(err.Error(), "shrank") {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A fault on the truncated mapping becomes an error, not a crash.
	if zeroCopy {
		err := guardFault(func() { sink = f.data[len(f.data)-1] })
		if err == nil || !strings.Contains(err.Error(), "memory fault") {
			t.Errorf("guardFault: %v", err)
		}
	}
}

var sink byte

func TestParseHeaderDirect(t *testing.T) {
	b, err := Marshal(map[string]Tensor{"x": {Dtype: BF16, Shape: []int{3}, Data: []float32{1, 2, 3}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := ParseHeader(b, int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if h.DataStart%8 != 0 || h.DataLen != 6 || h.Tensors["x"].End != 6 || h.Metadata != nil {
		t.Errorf("%+v", h)
	}
	// Header bytes missing from data (the caller gave too few).
	if _, err := ParseHeader(b[:10], int64(len(b))); !errors.Is(err, ErrHeader) {
		t.Errorf("short data: %v", err)
	}
	// The file is shorter than the offsets.
	if _, err := ParseHeader(b, int64(len(b))-1); !errors.Is(err, ErrOffsets) {
		t.Errorf("short file: %v", err)
	}
}

func TestMarshalErrors(t *testing.T) {
	if _, err := Marshal(map[string]Tensor{"x": {Dtype: F32, Shape: []int{3}, Data: []float32{1}}}, nil); err == nil {
		t.Error("wrong count accepted")
	}
	if _, err := Marshal(map[string]Tensor{"x": {Dtype: I8, Shape: []int{1}, Data: []float32{1}}}, nil); err == nil {
		t.Error("I8 from float accepted")
	}
	if _, err := Marshal(map[string]Tensor{"__metadata__": {Dtype: F32, Shape: []int{}, Data: []float32{1}}}, nil); err == nil {
		t.Error("reserved name accepted")
	}
}
