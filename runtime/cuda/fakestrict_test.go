package cuda

import (
	"math"
	"os"
	"strings"
	"testing"

	"nnscope/runtime/cuda/fakecuda"
)

// TestFakeCUDAPoison runs TestPoisonChild on fakecuda with poisoned
// allocations (NNSCOPE_CUDA_POISON=1, as the engine's fakecuda tests run).
func TestFakeCUDAPoison(t *testing.T) {
	fakecuda.Run(t, "^TestPoisonChild$", "NNSCOPE_CUDA_POISON=1")
}

// TestPoisonChild: in poison mode memory nobody wrote reads as NaN (fresh,
// reused and freed blocks alike), and a write past a buffer's end into its
// size class's slack, which no guard page catches, fails Free and every
// call after it.
func TestPoisonChild(t *testing.T) {
	if os.Getenv(fakecuda.EnvChild) == "" {
		t.Skip("runs on fakecuda, from TestFakeCUDAPoison")
	}
	if !poison {
		t.Fatal("NNSCOPE_CUDA_POISON=1 but poison mode is off")
	}
	d, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	isPoison := func(what string, v []float32) {
		t.Helper()
		for i, x := range v {
			if math.Float32bits(x) != math.Float32bits(poisonValue) {
				t.Fatalf("%s: element %d is %v, want the poison NaN", what, i, x)
			}
		}
	}
	b, err := d.Alloc(5)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]float32, 5)
	if err := d.Download(got, b); err != nil {
		t.Fatal(err)
	}
	isPoison("a fresh buffer", got)
	if err := d.Upload(b, []float32{1, 2, 3, 4, 5}); err != nil {
		t.Fatal(err)
	}
	if err := d.Free(b); err != nil {
		t.Fatal(err)
	}
	// A use after Free reads NaNs, not the values the buffer had.
	if err := d.Download(got, b); err != nil {
		t.Fatal(err)
	}
	isPoison("a freed buffer", got)
	c, err := d.Alloc(5)
	if err != nil {
		t.Fatal(err)
	}
	if c.base != b.base {
		t.Fatalf("the freed block was not reused (%v, then %v)", b, c)
	}
	if err := d.Download(got, c); err != nil {
		t.Fatal(err)
	}
	isPoison("a reused buffer", got)

	// Three elements past c's end, inside its block.
	if err := d.Memset(Buffer{base: c.base, n: 8}, 1); err != nil {
		t.Fatal(err)
	}
	const want = "wrote past the end of a buffer of 5 elements"
	if err := d.Free(c); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Free after a write past the buffer: %v, want an error saying %q", err, want)
	}
	if err := d.Sync(); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("a call after the failed check: %v, want the check's error again", err)
	}
}

// TestFakeCUDAOverlappingCopy runs TestOverlappingCopyChild on fakecuda.
func TestFakeCUDAOverlappingCopy(t *testing.T) {
	fakecuda.Run(t, "^TestOverlappingCopyChild$")
}

// TestOverlappingCopyChild: a device-to-device copy between overlapping
// ranges, undefined on a GPU, is a fault on fakecuda (it did a memmove,
// which made such a copy work), reported at the next synchronization.
func TestOverlappingCopyChild(t *testing.T) {
	if os.Getenv(fakecuda.EnvChild) == "" {
		t.Skip("runs on fakecuda, from TestFakeCUDAOverlappingCopy")
	}
	d, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.Alloc(8)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.CopyDtoD(b.Slice(4, 4), b.Slice(0, 4), 4); err != nil { // adjacent: fine
		t.Fatal(err)
	}
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := d.CopyDtoD(b.Slice(1, 4), b.Slice(0, 4), 4); err != nil {
		t.Fatal(err)
	}
	if err := d.Sync(); err == nil || !strings.Contains(err.Error(), "ILLEGAL_ADDRESS") {
		t.Fatalf("an overlapping copy: %v, want CUDA_ERROR_ILLEGAL_ADDRESS", err)
	}
}
