package cuda

import (
	"errors"
	"fmt"
	"os"
)

func writeFile(p, s string) error { return os.WriteFile(p, []byte(s), 0o644) }

func wrapf(err error) error { return fmt.Errorf("outer: %w", err) }

// skipMessage is what GPU tests print when they skip.
func skipMessage(err error) string {
	switch {
	case errors.Is(err, ErrNoDriver):
		return "no GPU: the NVIDIA driver (libcuda.so.1) is not installed here: " + err.Error()
	case errors.Is(err, ErrNoDevice):
		return "no GPU: the driver reports no CUDA device: " + err.Error()
	}
	return "no GPU usable: " + err.Error()
}
