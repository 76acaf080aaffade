//go:build !unix

package safetensors

import (
	"io"
	"os"
)

// Without mmap the file is read into memory; F32 tensors still alias that
// buffer, so the API behaves the same.
const zeroCopy = false

func mapFile(f *os.File, size int64) ([]byte, error) {
	b := make([]byte, size)
	_, err := io.ReadFull(io.NewSectionReader(f, 0, size), b)
	return b, err
}

func unmapFile(b []byte) error { return nil }
