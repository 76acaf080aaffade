package cuda_test

import (
	"strings"
	"testing"

	"nnscope/runtime/cuda"
)

// TestGPUProfile: with profiling on, each launch, cuBLAS call and memset
// is counted under its name (GEMMs by shape); reading the times starts
// the counts again, and with profiling off nothing is counted.
func TestGPUProfile(t *testing.T) {
	d := gpu(t)
	x := up(t, d, make([]float32, 16))
	defer d.Free(x)
	y := alloc(t, d, 16)
	defer d.Free(y)
	must(t, d.SetProfiling(true))
	for range 3 {
		must(t, d.Unary(cuda.OpScale, y, x, 16, 2))
	}
	must(t, d.Sgemm(false, true, 2, 4, 3, 1, x, 3, x, 3, 0, y, 4))
	must(t, d.LinearSmall(y, x, x, cuda.Buffer{}, 2, 4, 3, false, 4)) // named by its shape
	must(t, d.Memset(y, 0))
	times, err := d.KernelTimes()
	must(t, err)
	calls := map[string]int{}
	for _, k := range times {
		name := k.Name
		if strings.HasPrefix(name, "unary_fwd") { // unary_fwd4 for aligned buffers
			name = "unary_fwd"
		}
		calls[name] = k.Calls
		if k.Ms < 0 {
			t.Errorf("%s: %v ms", k.Name, k.Ms)
		}
	}
	for name, want := range map[string]int{"unary_fwd": 3, "sgemm NT 2x4x3": 1, "linear_small NN 2x4x3": 1, "memset": 1} {
		if calls[name] != want {
			t.Errorf("%s: %d calls, want %d (profile %v)", name, calls[name], want, times)
		}
	}
	if len(calls) != 4 {
		t.Errorf("profile %v: want 4 entries", times)
	}
	must(t, d.SetProfiling(false))
	must(t, d.Unary(cuda.OpScale, y, x, 16, 2))
	if times, err := d.KernelTimes(); err != nil || len(times) != 0 {
		t.Errorf("after reading and with profiling off: %v, %v; want nothing", times, err)
	}
}
