package runtime

import (
	"strings"
	"testing"
)

// A host tensor larger than the machine is an error naming both sizes,
// not the Go runtime's fatal out-of-memory that ends the process.
func TestHostTensorLargerThanMemory(t *testing.T) {
	total := hostMemory()
	if total == 0 {
		t.Skip("the machine's memory is not known here (no /proc/meminfo)")
	}
	n := int(total/4) + 1<<20 // floats
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err, _ = r.(error)
			}
		}()
		New(n/(1<<10), 1<<10)
		return nil
	}()
	if err == nil || !strings.Contains(err.Error(), "does not fit this machine's") {
		t.Fatalf("a %d-float tensor on a %d-byte machine: %v", n, total, err)
	}
}
