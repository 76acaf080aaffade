package cuda

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
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

var (
	gpuOnce sync.Once
	gpuDev  *Device
	gpuErr  error
)

// gpu returns the shared test device or skips the test, saying why.
// NNSCOPE_REQUIRE_GPU=1 turns the skip into a failure (for the GPU check).
func gpu(tb testing.TB) *Device {
	tb.Helper()
	gpuOnce.Do(func() { gpuDev, gpuErr = Open() })
	if gpuErr != nil {
		if os.Getenv("NNSCOPE_REQUIRE_GPU") == "1" {
			tb.Fatalf("NNSCOPE_REQUIRE_GPU=1 but %v", gpuErr)
		}
		tb.Skip(skipMessage(gpuErr))
	}
	return gpuDev
}
