package emu

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"nnscope/runtime/cuda"
)

func upload(t *testing.T, d *Device, v []float32) cuda.Buffer {
	t.Helper()
	b, err := d.Alloc(len(v))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Upload(b, v); err != nil {
		t.Fatal(err)
	}
	return b
}

func download(t *testing.T, d *Device, b cuda.Buffer) []float32 {
	t.Helper()
	out := make([]float32, b.Len())
	if err := d.Download(out, b); err != nil {
		t.Fatal(err)
	}
	return out
}

func iota(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(i)
	}
	return v
}

// Every strided op takes negative strides as cuda.Device does: a view's
// elements may lie before its buffer's first element, down to its
// allocation's start, and none before.
func TestNegativeStrides(t *testing.T) {
	d := New()
	x := upload(t, d, iota(12)) // [3, 4]
	rev := cuda.Strided{Buf: x.Slice(11, 1), Shape: []int{3, 4}, Strides: []int{-4, -1}}
	cols := cuda.Strided{Buf: x.Slice(3, 9), Shape: []int{3, 4}, Strides: []int{4, -1}}
	out, _ := d.Alloc(12)
	o := cuda.Contig(out, 3, 4)

	if err := d.Copy(o, rev); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(download(t, d, out)); got != "[11 10 9 8 7 6 5 4 3 2 1 0]" {
		t.Errorf("Copy of x[::-1, ::-1]: %s", got)
	}
	if err := d.Binary(cuda.OpSub, o, cols, rev); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(download(t, d, out)); got != "[-8 -8 -8 -8 0 0 0 0 8 8 8 8]" {
		t.Errorf("x[:, ::-1] - x[::-1, ::-1]: %s", got)
	}
	if err := d.SumTo(out, rev, []int{4}, 1, 0); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(download(t, d, out)[:4]); got != "[21 18 15 12]" {
		t.Errorf("sum over rows of x[::-1, ::-1]: %s", got)
	}
	// Writes through reversed views.
	y := upload(t, d, iota(12))
	yrev := cuda.Strided{Buf: y.Slice(8, 4), Shape: []int{3, 2}, Strides: []int{-4, 2}} // y[::-1, ::2]
	if err := d.Fill(yrev, -1); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(download(t, d, y)); got != "[-1 1 -1 3 -1 5 -1 7 -1 9 -1 11]" {
		t.Errorf("Fill of y[::-1, ::2]: %s", got)
	}
	if err := d.Copy(cuda.Strided{Buf: y.Slice(11, 1), Shape: []int{4}, Strides: []int{-1}}, cuda.Contig(x, 4)); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(download(t, d, y)[8:]); got != "[3 2 1 0]" {
		t.Errorf("Copy into y[-1:-5:-1]: %s", got)
	}
	c := upload(t, d, []float32{1, 0, float32(math.NaN())})
	if err := d.Where(cuda.Contig(out, 3, 4), cuda.Strided{Buf: c.Slice(2, 1), Shape: []int{3, 1}, Strides: []int{-1, 0}}, rev, cuda.Strided{}, 0, -7); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(download(t, d, out)); got != "[11 10 9 8 -7 -7 -7 -7 3 2 1 0]" {
		t.Errorf("Where(c[::-1], x[::-1, ::-1], -7): %s", got)
	}

	// Reaching before the allocation is an error, as on the device.
	bad := cuda.Strided{Buf: x.Slice(10, 2), Shape: []int{3, 4}, Strides: []int{-4, -1}}
	for name, err := range map[string]error{
		"Copy":   d.Copy(o, bad),
		"Fill":   d.Fill(bad, 0),
		"Binary": d.Binary(cuda.OpAdd, o, bad, rev),
		"SumTo":  d.SumTo(out, bad, nil, 1, 0),
		"Where":  d.Where(o, bad, rev, rev, 0, 0),
	} {
		if err == nil || !strings.Contains(err.Error(), "reaches elements") {
			t.Errorf("%s of a view reaching before its allocation: %v", name, err)
		}
	}
}

// The races a GPU kernel would run into are errors: overlapping views in
// Copy, an out that aliases an input other than element for element, an
// out whose elements overlap.
func TestOverlapIsAnError(t *testing.T) {
	d := New()
	x := upload(t, d, iota(8))
	all := cuda.Contig(x, 8)
	head, tail := cuda.Contig(x.Slice(0, 4), 4), cuda.Contig(x.Slice(2, 4), 4)
	rev := cuda.Strided{Buf: x.Slice(7, 1), Shape: []int{8}, Strides: []int{-1}}
	other := upload(t, d, iota(8))
	for _, c := range []struct {
		name string
		err  error
		want string // "" for no error
	}{
		{"Copy of a view onto an overlapping one", d.Copy(head, tail), "overlaps"},
		{"Copy of a reversed view onto itself", d.Copy(all, rev), "overlaps"},
		{"Copy between allocations", d.Copy(all, cuda.Contig(other, 8)), ""},
		{"Copy between disjoint views", d.Copy(head, cuda.Contig(x.Slice(4, 4), 4)), ""},
		{"Binary in place", d.Binary(cuda.OpAdd, all, all, cuda.Contig(other, 8)), ""},
		{"Binary in place through a reversed view", d.Binary(cuda.OpMul, rev, rev, rev), ""},
		{"Binary into a shifted view of its input", d.Binary(cuda.OpAdd, head, tail, head), "overlaps"},
		{"Binary into the reverse of its input", d.Binary(cuda.OpAdd, all, rev, cuda.Contig(other, 8)), "overlaps"},
		{"Binary into a broadcast view", d.Binary(cuda.OpAdd, cuda.Strided{Buf: other, Shape: []int{2, 4}, Strides: []int{0, 1}},
			cuda.Contig(x, 2, 4), cuda.Contig(x, 1)), "overlapping elements"},
		{"SumTo into its input", d.SumTo(x, all, []int{1}, 1, 0), "overlaps"},
		{"Where into a shifted view of its input", d.Where(head, cuda.Contig(other, 4), tail, cuda.Strided{}, 0, 0), "overlaps"},
	} {
		switch {
		case c.want == "" && c.err != nil:
			t.Errorf("%s: %v", c.name, c.err)
		case c.want != "" && (c.err == nil || !strings.Contains(c.err.Error(), c.want)):
			t.Errorf("%s: %v, want an error saying %q", c.name, c.err, c.want)
		}
	}
}

// Memory nobody wrote reads as NaN, not zero: cuda.Device's Alloc leaves
// it undefined (a reused block holds its last user's data).
func TestAllocIsNotZeroed(t *testing.T) {
	d := New()
	b, err := d.Alloc(3)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range download(t, d, b) {
		if !math.IsNaN(float64(v)) {
			t.Errorf("element %d of a fresh allocation is %v, want NaN", i, v)
		}
	}
	if err := d.Upload(b, make([]float32, 4)); err == nil {
		t.Error("an upload past the buffer's end accepted")
	}
	if err := d.Download(make([]float32, 4), b); err == nil {
		t.Error("a download past the buffer's end accepted")
	}
}

// TopKRows and TopKBackward in runtime.TopK's order: NaN first, ties by
// lower index.
func TestTopKRows(t *testing.T) {
	d := New()
	nan := float32(math.NaN())
	x := upload(t, d, []float32{1, 3, nan, 3, 0, -1, 2, 2})
	v, _ := d.Alloc(6)
	i, _ := d.Alloc(6)
	if err := d.TopKRows(v, i, x, 2, 4, 3); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(download(t, d, v), download(t, d, i)); got != "[NaN 3 3 2 2 0] [2 1 3 2 3 0]" {
		t.Errorf("TopKRows: %s", got)
	}
	g := upload(t, d, []float32{1, 2, 3, 4, 5, 6})
	gi, _ := d.Alloc(8)
	if err := d.TopKBackward(gi, g, i, 2, 4, 3); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(download(t, d, gi)); got != "[0 2 1 3 6 0 4 5]" {
		t.Errorf("TopKBackward: %s", got)
	}
	if err := d.TopKRows(v, i, x, 2, 4, 5); err == nil {
		t.Error("k above the row length accepted")
	}
}

// Sgemm checks what cuda.Device and cuBLAS check, and refuses what cuBLAS
// leaves undefined: C overlapping A or B, C's batches overlapping.
func TestSgemmChecks(t *testing.T) {
	d := New()
	a := upload(t, d, []float32{1, 2, 3, 4, 5, 6}) // [2, 3]
	b := upload(t, d, []float32{1, 0, 0, 1, 1, 1}) // [3, 2]
	c, _ := d.Alloc(8)
	if err := d.Sgemm(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(download(t, d, c)[:4]); got != "[4 5 10 11]" {
		t.Errorf("A·B = %s", got)
	}
	if err := d.SgemmStridedBatched(false, true, 2, 2, 3, 1, a, 3, 0, a, 3, 0, 0, c, 2, 4, 2); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(download(t, d, c)); got != "[14 32 32 77 14 32 32 77]" {
		t.Errorf("A·A^T twice (a shared A and B) = %s", got)
	}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"lda below k", d.Sgemm(false, false, 2, 2, 3, 1, a, 2, b, 2, 0, c, 2), "leading dimensions"},
		{"A past its buffer", d.Sgemm(false, false, 3, 2, 3, 1, a, 3, b, 2, 0, c, 2), "Sgemm A: buffer of 6 elements, need 9"},
		{"C over A", d.Sgemm(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, a.Slice(2, 4), 2), "overlaps"},
		{"C's batches overlapping", d.SgemmStridedBatched(false, false, 2, 2, 3, 1, a, 3, 0, b, 2, 0, 0, c, 2, 2, 2), "overlapping elements"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", tc.name, tc.err, tc.want)
		}
	}
}
