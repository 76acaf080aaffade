package safetensors

import (
	"errors"
	"strings"
)

// Error classes. Every error returned by this package is an *Error whose
// Kind is one of these, so callers can test with errors.Is.
var (
	ErrHeader      = errors.New("bad header length")                // length prefix missing, too large or past the end of the file
	ErrJSON        = errors.New("invalid JSON header")              // header is not a JSON object of the expected form
	ErrDtype       = errors.New("unknown dtype")                    // dtype is not a safetensors dtype
	ErrShape       = errors.New("invalid shape")                    // negative, non-integer or overflowing dimensions
	ErrOffsets     = errors.New("invalid data_offsets")             // begin > end, or outside the data section
	ErrSize        = errors.New("byte length does not match shape") // data_offsets length != shape x dtype size
	ErrOverlap     = errors.New("overlapping tensors")              // two tensors share bytes
	ErrNotFound    = errors.New("no such tensor")                   // name not in the file
	ErrUnsupported = errors.New("unsupported dtype conversion")     // dtype cannot be converted to float32
	ErrClosed      = errors.New("file is closed")                   // File used after Close
	ErrIO          = errors.New("I/O error")                        // open, stat, read, mmap, or file changed on disk
)

// Error describes a problem with a safetensors file. File is the path given
// to Open (empty for ParseHeader), Key the tensor name when one is involved.
type Error struct {
	File string
	Key  string
	Kind error // one of the Err* values above
	Msg  string
	Err  error // underlying cause, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	if e.Key != "" {
		if e.Key == metadataKey {
			b.WriteString(metadataKey + ": ")
		} else {
			b.WriteString("tensor ")
			b.WriteString(quote(e.Key))
			b.WriteString(": ")
		}
	}
	msg := e.Msg
	if msg == "" && e.Kind != nil {
		msg = e.Kind.Error()
	}
	b.WriteString(msg)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap exposes both the class (Kind) and the underlying cause.
func (e *Error) Unwrap() []error {
	var out []error
	if e.Kind != nil {
		out = append(out, e.Kind)
	}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

// withFile returns err with File set when it is an *Error without one.
func withFile(err error, file string) error {
	var e *Error
	if errors.As(err, &e) && e.File == "" {
		c := *e
		c.File = file
		return &c
	}
	return err
}
