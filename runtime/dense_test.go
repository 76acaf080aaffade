package runtime

import (
	"testing"

	"gorgonia.org/tensor"
)

func TestDenseRoundTrip(t *testing.T) {
	x := Arange(6).Reshape(2, 3)
	d := x.Dense()
	if got := d.Shape(); got[0] != 2 || got[1] != 3 {
		t.Fatalf("shape %v", got)
	}
	// Zero copy: a write through the Dense shows in the tensor.
	d.Data().([]float32)[0] = 42
	if x.At(0, 0) != 42 {
		t.Error("Dense of a contiguous tensor copied its data")
	}
	// A view is copied.
	v := x.T().Dense()
	if v.Shape()[0] != 3 || v.Data().([]float32)[1] != 3 {
		t.Errorf("transposed dense %v", v.Data())
	}
	back, err := FromDense(tensor.New(tensor.WithShape(2, 2), tensor.WithBacking([]float64{1, 2, 3, 4})))
	if err != nil || back.At(1, 0) != 3 {
		t.Fatalf("FromDense float64: %v %v", back, err)
	}
	f32 := tensor.New(tensor.WithShape(3), tensor.WithBacking([]float32{1, 2, 3}))
	w, _ := FromDense(f32)
	w.Fill(5)
	if f32.Data().([]float32)[2] != 5 {
		t.Error("FromDense of float32 copied its data")
	}
	if _, err := FromDense(tensor.New(tensor.WithShape(2), tensor.WithBacking([]int{1, 2}))); err == nil {
		t.Error("FromDense accepted ints")
	}
	ro := FromReadOnly([]float32{1, 2}, 2)
	rd := ro.Dense()
	rd.Data().([]float32)[0] = 9
	if ro.At(0) != 1 {
		t.Error("Dense of read-only memory was not copied")
	}
}
