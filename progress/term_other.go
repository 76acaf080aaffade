//go:build !linux

package progress

import (
	"io"
	"os"
)

// IsTerminal reports whether w is a character device (a terminal, usually).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
