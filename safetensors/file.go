package safetensors

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sync"
	"unsafe"
)

// File is an open, validated, memory-mapped safetensors file. It is safe
// for concurrent use. Slices returned by Float32 and Bytes may alias the
// mapping and must not be used after Close (nor written to: the mapping is
// read-only and a write faults).
type File struct {
	path string
	hdr  *Header

	mu   sync.RWMutex
	f    *os.File
	data []byte // the whole file, mapped
}

// Open reads and validates the header of the safetensors file at path and
// maps the file read-only. All sizes are checked against the real file size
// before mapping, so no access through File reads past the end of the file.
func Open(path string) (*File, error) {
	fail := func(kind error, msg string, err error) (*File, error) {
		return nil, &Error{File: path, Kind: kind, Msg: msg, Err: err}
	}
	f, err := os.Open(path)
	if err != nil {
		return fail(ErrIO, "open", err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
		}
	}()
	fi, err := f.Stat()
	if err != nil {
		return fail(ErrIO, "stat", err)
	}
	if !fi.Mode().IsRegular() {
		return fail(ErrIO, "not a regular file", nil)
	}
	size := fi.Size()
	var prefix [8]byte
	if size < 8 {
		return fail(ErrHeader, fmt.Sprintf("file is %d bytes, too short for the 8-byte header length", size), nil)
	}
	if _, err := io.ReadFull(f, prefix[:]); err != nil {
		return fail(ErrIO, "reading header length", err)
	}
	n := binary.LittleEndian.Uint64(prefix[:])
	if n > MaxHeaderLen || int64(n) > size-8 {
		_, err := ParseHeader(prefix[:], size) // produces the precise message
		return nil, withFile(err, path)
	}
	buf := make([]byte, 8+n)
	copy(buf, prefix[:])
	if _, err := io.ReadFull(f, buf[8:]); err != nil {
		return fail(ErrIO, "reading header", err)
	}
	hdr, err := ParseHeader(buf, size)
	if err != nil {
		return nil, withFile(err, path)
	}
	data, err := mapFile(f, size)
	if err != nil {
		return fail(ErrIO, "mmap", err)
	}
	ok = true
	// No finalizer: slices handed out may alias the mapping after the
	// *File itself is unreachable, so only an explicit Close unmaps.
	return &File{path: path, hdr: hdr, f: f, data: data}, nil
}

// Path is the path given to Open.
func (f *File) Path() string { return f.path }

// Header is the validated header. Do not modify it.
func (f *File) Header() *Header { return f.hdr }

// Names returns the tensor names, sorted.
func (f *File) Names() []string { return f.hdr.Names() }

// Metadata returns a copy of the header's __metadata__ (nil when absent).
func (f *File) Metadata() map[string]string {
	if f.hdr.Metadata == nil {
		return nil
	}
	m := make(map[string]string, len(f.hdr.Metadata))
	for k, v := range f.hdr.Metadata {
		m[k] = v
	}
	return m
}

// Info describes the named tensor.
func (f *File) Info(name string) (TensorInfo, error) {
	t, ok := f.hdr.Tensors[name]
	if !ok {
		return TensorInfo{}, &Error{File: f.path, Key: name, Kind: ErrNotFound, Msg: fmt.Sprintf("no such tensor (the file has %d)", len(f.hdr.Tensors))}
	}
	t.Shape = append([]int(nil), t.Shape...)
	return t, nil
}

// Bytes returns the raw little-endian bytes of the named tensor, aliasing
// the mapping (read-only).
func (f *File) Bytes(name string) ([]byte, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	_, raw, err := f.raw(name)
	return raw, err
}

// Float32 returns the named tensor as float32 values and its shape. For F32
// data the slice aliases the read-only mapping (no copy) when the data is
// 4-byte aligned in the file; otherwise, and for F16, BF16 and F64, the
// values are converted into a new slice. Other dtypes are an error.
func (f *File) Float32(name string) ([]float32, []int, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	t, raw, err := f.raw(name)
	if err != nil {
		return nil, nil, err
	}
	shape := append([]int(nil), t.Shape...)
	if t.Dtype == F32 && len(raw) > 0 && littleEndian && uintptr(unsafe.Pointer(&raw[0]))%4 == 0 {
		return unsafe.Slice((*float32)(unsafe.Pointer(&raw[0])), len(raw)/4), shape, nil
	}
	var out []float32
	var supported bool
	err = guardFault(func() { out, supported = decodeFloat32(t.Dtype, raw) })
	if err != nil {
		return nil, nil, &Error{File: f.path, Key: name, Kind: ErrIO, Msg: "reading tensor data", Err: err}
	}
	if !supported {
		return nil, nil, &Error{File: f.path, Key: name, Kind: ErrUnsupported, Msg: fmt.Sprintf("dtype %s cannot be read as float32", t.Dtype)}
	}
	return out, shape, nil
}

// raw returns the tensor's bytes after checking that the file still holds
// them (it may have been truncated on disk since Open). f.mu must be held.
func (f *File) raw(name string) (TensorInfo, []byte, error) {
	if f.data == nil {
		return TensorInfo{}, nil, &Error{File: f.path, Key: name, Kind: ErrClosed}
	}
	t, ok := f.hdr.Tensors[name]
	if !ok {
		return TensorInfo{}, nil, &Error{File: f.path, Key: name, Kind: ErrNotFound, Msg: fmt.Sprintf("no such tensor (the file has %d)", len(f.hdr.Tensors))}
	}
	start, end := f.hdr.DataStart+t.Begin, f.hdr.DataStart+t.End
	if fi, err := f.f.Stat(); err != nil {
		return TensorInfo{}, nil, &Error{File: f.path, Key: name, Kind: ErrIO, Msg: "stat", Err: err}
	} else if fi.Size() < end {
		return TensorInfo{}, nil, &Error{File: f.path, Key: name, Kind: ErrIO, Msg: fmt.Sprintf("file shrank to %d bytes since Open; tensor data ends at %d", fi.Size(), end)}
	}
	return t, f.data[start:end:end], nil
}

// guardFault runs fn, turning a memory fault (SIGBUS from a file truncated
// under the mapping) into an error instead of a crash.
func guardFault(fn func()) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			if re, ok := r.(interface{ Addr() uintptr }); ok {
				err = fmt.Errorf("memory fault at %#x (file changed on disk?)", re.Addr())
				return
			}
			panic(r)
		}
	}()
	fn()
	return nil
}

// Close unmaps and closes the file. Slices aliasing the mapping become
// invalid. Close is idempotent.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.data == nil {
		return nil
	}
	err := unmapFile(f.data)
	f.data = nil
	if cerr := f.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return &Error{File: f.path, Kind: ErrIO, Msg: "close", Err: err}
	}
	return nil
}
