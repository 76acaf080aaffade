package runtime

import (
	"fmt"
	"strings"
	"testing"
)

// TestSliceLikeNumpy checks Slice against numpy's results on
// a = arange(24).reshape(2, 3, 4) (values worked out from numpy's rules).
func TestSliceLikeNumpy(t *testing.T) {
	a := Arange(24).Reshape(2, 3, 4)
	cases := []struct {
		spec  string
		shape []int
		vals  string
	}{
		{":, -1, :", []int{2, 4}, "[8 9 10 11 20 21 22 23]"},
		{"1", []int{3, 4}, "[12 13 14 15 16 17 18 19 20 21 22 23]"},
		{"..., 0", []int{2, 3}, "[0 4 8 12 16 20]"},
		{"0, ..., ::2", []int{3, 2}, "[0 2 4 6 8 10]"},
		{"0, 1, ::-1", []int{4}, "[7 6 5 4]"},
		{"0, 1, -2::-2", []int{2}, "[6 4]"},
		{"1, 1:, 1:3", []int{2, 2}, "[17 18 21 22]"},
		{"0, None, 2", []int{1, 4}, "[8 9 10 11]"},
		{"-1, -1, -1", nil, "[23]"},
		{"0, 5:, :", []int{0, 4}, "[]"},
		{":, :, 10:", []int{2, 3, 0}, "[]"},
		{"0, -100:100, 3", []int{3}, "[3 7 11]"},
	}
	for _, c := range cases {
		v := a.Slice(c.spec)
		got := fmt.Sprint(v.Data())
		if !slicesEqualInts(v.Shape(), c.shape) || got != c.vals {
			t.Errorf("Slice(%q) = %v %s, want %v %s", c.spec, v.Shape(), got, c.shape, c.vals)
		}
	}
	// Writes through a view reach the owner.
	b := Arange(6).Reshape(2, 3)
	b.Slice(":, -1").Fill(-1)
	b.Slice("0, ::2").Copy(FromSlice([]float32{7, 8}, 2))
	if got := fmt.Sprint(b.Data()); got != "[7 1 8 3 4 -1]" {
		t.Errorf("after writes: %s", got)
	}
	for _, bad := range []string{"0, 0, 0, 0", "3", "::0", "a", "..., ..."} {
		func() {
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(fmt.Sprint(r), "Slice") {
					t.Errorf("Slice(%q): got %v, want an error naming Slice", bad, r)
				}
			}()
			a.Slice(bad)
		}()
	}
}

func slicesEqualInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestPrintLikeNumpy(t *testing.T) {
	s := Arange(6).Reshape(2, 3).Mul(0.5).String()
	want := "tensor([[0.0000, 0.5000, 1.0000],\n        [1.5000, 2.0000, 2.5000]], shape=[2 3])"
	if s != want {
		t.Errorf("got\n%s\nwant\n%s", s, want)
	}
	big := Arange(2000).String()
	if !strings.Contains(big, "[   0.,    1.,    2., ..., 1997., 1998., 1999.]") {
		t.Errorf("long vector not truncated: %s", big)
	}
}

func TestPrintStyles(t *testing.T) {
	for _, c := range []struct {
		vals []float32
		want string
	}{
		{[]float32{1e-6, 1}, "tensor([1.0000e-06, 1.0000e+00], shape=[2])"},
		{[]float32{-2, 3}, "tensor([-2.,  3.], shape=[2])"},
		{[]float32{0.25, -13.5}, "tensor([  0.2500, -13.5000], shape=[2])"},
	} {
		if got := FromSlice(c.vals, len(c.vals)).String(); got != c.want {
			t.Errorf("got %s, want %s", got, c.want)
		}
	}
	if got := Scalar(3.5).String(); got != "tensor(3.5000, shape=[])" {
		t.Errorf("scalar: %s", got)
	}
}
