//go:build unix

package safetensors

import (
	"os"

	"golang.org/x/sys/unix"
)

const zeroCopy = true

func mapFile(f *os.File, size int64) ([]byte, error) {
	return unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
}

func unmapFile(b []byte) error { return unix.Munmap(b) }
