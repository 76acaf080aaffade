package runtime

import (
	"math"
	"math/rand"
	"strings"
	"testing"
)

// Release must not give back memory a recorded op will read in its
// backward, even when the tensor released needs no gradient itself and the
// op read it through a view: the model frees qkv after probs @ v (v a view
// of qkv) and a layer's input after the layer, which broke the gradient of
// an attention pattern and of a single weight (slice bounds out of range).
func TestReleaseKeepsTapedMemory(t *testing.T) {
	r := rand.New(rand.NewSource(1))

	qkv := randTensor(r, 16, 3*64) // pooled size
	v := qkv.Narrow(1, 128, 64)
	probs := randTensor(r, 8, 16).RequiresGrad()
	out := probs.MatMul(v)
	want := Ones(8, 64).MatMul(v.T()).Data()
	Release(qkv)
	if qkv.st.data == nil {
		t.Fatal("Release freed the memory of v, which probs @ v needs for its backward")
	}
	if err := out.Sum().Backward(); err != nil {
		t.Fatal(err)
	}
	for i, g := range probs.Grad().Data() {
		if math.Abs(float64(g-want[i])) > 1e-4 {
			t.Fatalf("grad[%d] = %g, want %g", i, g, want[i])
		}
	}

	x := randTensor(r, 16, 128) // a layer input that needs no gradient
	w := randTensor(r, 128, 8).RequiresGrad()
	y := Linear(x, w, nil)
	wantW := x.T().MatMul(Ones(16, 8)).Data()
	Release(x)
	if err := y.Sum().Backward(); err != nil {
		t.Fatal(err)
	}
	for i, g := range w.Grad().Data() {
		if math.Abs(float64(g-wantW[i])) > 1e-3 {
			t.Fatalf("weight grad[%d] = %g, want %g", i, g, wantW[i])
		}
	}

	// Memory no recorded op read is still released.
	free := randTensor(r, 16, 128)
	Release(free)
	if free.st.data != nil {
		t.Error("an untaped tensor was not released")
	}
}

// An op saves for the in-place check only the operands its backward reads
// (as PyTorch): h.Copy(h.Mul(2)) or h.Copy(h.MatMul(W)) with a constant W
// leave the backward valid; an operand another input's gradient needs is
// still guarded.
func TestInPlaceAfterUseSavesOnlyWhatBackwardReads(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	x := randTensor(r, 4, 5).RequiresGrad()
	h := x.Add(0)
	h.Copy(h.Mul(2).Add(1))
	if err := h.Sum().Backward(); err != nil {
		t.Fatalf("h.Copy(h.Mul(2).Add(1)): %v", err)
	}
	for i, g := range x.Grad().Data() {
		if g != 2 {
			t.Fatalf("grad[%d] = %g, want 2", i, g)
		}
	}

	x.ZeroGrad()
	w := randTensor(r, 5, 5)
	h = x.Add(0)
	h.Copy(h.MatMul(w))
	if err := h.Sum().Backward(); err != nil {
		t.Fatalf("h.Copy(h.MatMul(w)): %v", err)
	}
	want := Ones(4, 5).MatMul(w.T()).Data()
	for i, g := range x.Grad().Data() {
		if math.Abs(float64(g-want[i])) > 1e-5 {
			t.Fatalf("grad[%d] = %g, want %g", i, g, want[i])
		}
	}

	// w's gradient reads h: writing h after the product is an error.
	wg := randTensor(r, 4, 5).RequiresGrad()
	h = x.Add(0)
	y := h.Mul(wg)
	h.Fill(0)
	if err := y.Sum().Backward(); err == nil || !strings.Contains(err.Error(), "modified in place") {
		t.Errorf("backward after writing an operand the other's gradient reads: %v, want the in-place error", err)
	}
}

// An op that read a tensor before an in-place write sends its gradient to
// the tensor's history before the write, as PyTorch does; views follow the
// write. h.Copy(h.Add(1)) used to make a cycle and a zero gradient.
func TestInPlaceWriteKeepsEarlierReadersHistory(t *testing.T) {
	x := Ones(2, 3).RequiresGrad()
	h := x.Add(0)
	h.Copy(h.Add(1))
	if err := h.Sum().Backward(); err != nil {
		t.Fatal(err)
	}
	for i, g := range x.Grad().Data() {
		if g != 1 {
			t.Fatalf("h.Copy(h.Add(1)): grad[%d] = %g, want 1", i, g)
		}
	}

	x = Ones(3, 2).RequiresGrad()
	h = x.Mul(1)
	y := h.Mul(3)           // reads h before the write
	v := h.Slice("0, :")    // a view: sees the write (row 0 is not written)
	h.Slice("1, :").Fill(0) // the write
	loss := y.Sum().Add(v.Sum()).Add(h.Sum())
	if err := loss.Backward(); err != nil {
		t.Fatal(err)
	}
	want := []float32{5, 5, 3, 3, 4, 4}
	for i, g := range x.Grad().Data() {
		if g != want[i] {
			t.Fatalf("grad %v, want %v", x.Grad().Data(), want)
		}
	}
}

// An op that read a view before a write to the same memory sends its
// gradient to the history before the write, as one that read the tensor
// itself does; a view used after the write follows it. Views used to
// follow the write in both cases: v.Mul(3) before h.Fill(0) through v lost
// its gradient, and a copy from an overlapping view of the destination
// (y[0:4] = y[1:5], y = y.T) sent gradients around a cycle.
func TestViewReadBeforeWriteKeepsHistory(t *testing.T) {
	check := func(name string, x *Tensor, want []float32) {
		t.Helper()
		got := x.Grad().Data()
		for i := range want {
			if math.Abs(float64(got[i]-want[i])) > 1e-5 {
				t.Errorf("%s: grad %v, want %v", name, got, want)
				return
			}
		}
	}
	backward := func(loss *Tensor) {
		t.Helper()
		if err := loss.Backward(); err != nil {
			t.Fatal(err)
		}
	}

	// Read through a view, then write through the same view.
	x := FromSlice([]float32{1, 2, 3, 4}, 2, 2).RequiresGrad()
	y := x.Mul(1)
	h := y.Slice("0")
	s := h.Mul(3)
	h.Fill(0)
	backward(s.Sum().Add(y.Sum()))
	check("write through the view read", x, []float32{3, 3, 1, 1})

	// Read through one view, write through another of the same region;
	// a view made before the write and used after it sees the write.
	x = FromSlice([]float32{1, 2, 3, 4}, 2, 2).RequiresGrad()
	y = x.Mul(1)
	v, col := y.Slice("0"), y.Slice(":, 0")
	s = v.Mul(3)
	y.Slice("0, :").Fill(0)
	backward(s.Sum().Add(col.Mul(5).Sum()))
	check("write through another view", x, []float32{3, 3, 5, 0})

	// A clone of a view kept before ablating it (orig := h.Clone(); h.Fill(0)).
	x = FromSlice([]float32{1, 2, 3, 4}, 2, 2).RequiresGrad()
	y = x.Mul(2)
	orig := y.Slice(":, -1").Clone()
	y.Slice(":, -1").Fill(0)
	backward(orig.Sum())
	check("clone before fill", x, []float32{0, 2, 0, 2})

	// Copies from overlapping views of the destination.
	x = FromSlice([]float32{1, 2, 3, 4, 5}, 5).RequiresGrad()
	y = x.Mul(1)
	y.Slice("0:4").Copy(y.Slice("1:5")) // y = [2 3 4 5 5]
	backward(y.Mul(y).Sum())
	check("y[0:4] = y[1:5]", x, []float32{0, 4, 6, 8, 20})

	x = FromSlice([]float32{1, 2, 3, 4}, 2, 2).RequiresGrad()
	y = x.Mul(1)
	y.Copy(y.T()) // y = [[1 3] [2 4]]
	w := FromSlice([]float32{1, 10, 100, 1000}, 2, 2)
	backward(y.Mul(w).Sum())
	check("y = y.T", x, []float32{1, 100, 10, 1000})

	x = FromSlice([]float32{1, 2, 3}, 3).RequiresGrad()
	y = x.Mul(1)
	y.Copy(y.Slice("::-1"))
	backward(y.Mul(FromSlice([]float32{1, 10, 100}, 3)).Sum())
	check("y = y[::-1]", x, []float32{100, 10, 1})

	// A view made before a write whose source needs grad, on a tensor
	// that did not, follows the write.
	src := FromSlice([]float32{7, 8}, 2).RequiresGrad()
	z := New(2, 2)
	row := z.Slice("1")
	z.Slice("1").Copy(src)
	backward(row.Mul(3).Sum())
	check("view of a written constant", src, []float32{3, 3})
}
