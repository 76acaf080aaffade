package cuda

import "testing"

// A view with negative strides (x[::-1]) is checked against the part of
// its allocation before the buffer's first element.
func TestStridedCheckNegativeStrides(t *testing.T) {
	alloc := Buffer{base: 1, n: 12}
	rev := Strided{Buf: alloc.Slice(11, 1), Shape: []int{3, 4}, Strides: []int{-4, -1}} // all of it, reversed
	if err := rev.Check("x"); err != nil {
		t.Error(err)
	}
	cols := Strided{Buf: alloc.Slice(3, 9), Shape: []int{3, 4}, Strides: []int{4, -1}} // columns reversed
	if err := cols.Check("x"); err != nil {
		t.Error(err)
	}
	if err := (Strided{Buf: alloc.Slice(10, 2), Shape: []int{3, 4}, Strides: []int{-4, -1}}).Check("x"); err == nil {
		t.Error("a reversed view reaching before its allocation accepted")
	}
	if err := (Strided{Buf: alloc.Slice(3, 9), Shape: []int{3, 4}, Strides: []int{4, 1}}).Check("x"); err == nil {
		t.Error("a view reaching past its buffer accepted")
	}
	if err := (Strided{Buf: alloc, Shape: []int{-1}, Strides: []int{1}}).Check("x"); err == nil {
		t.Error("a negative size accepted")
	}
}
