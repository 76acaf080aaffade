package runtime

import (
	"fmt"
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

// An expanded tensor is a view: used after a write to the tensor it
// expands, it reads the write's history, as its values are the write's.
// Its gradient went to the history before the write (x), not to z.
func TestExpandUsedAfterWriteFollowsIt(t *testing.T) {
	x := FromSlice([]float32{1, 2, 3}, 1, 3).RequiresGrad()
	z := FromSlice([]float32{4, 5, 6}, 1, 3).RequiresGrad()
	y := x.Mul(1)
	e := y.Expand(2, 3)
	y.Copy(z)
	if err := e.Mul(e).Sum().Backward(); err != nil {
		t.Fatal(err)
	}
	if x.Grad() != nil && x.Grad().Sum().Item() != 0 {
		t.Errorf("x got gradient %v, want none (its values were overwritten)", x.Grad().Data())
	}
	if z.Grad() == nil || fmt.Sprint(z.Grad().Data()) != "[16 20 24]" {
		t.Errorf("z got gradient %v, want [16 20 24]", z.Grad())
	}

	// Writing through an expand that repeats nothing writes the tensor.
	x = FromSlice([]float32{1, 2, 3}, 1, 3).RequiresGrad()
	y = x.Mul(1)
	y.Expand(1, 3).Slice("0, 1").Fill(5)
	if err := y.Mul(y).Sum().Backward(); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(x.Grad().Data()); got != "[2 0 6]" {
		t.Errorf("x got gradient %s, want [2 0 6]", got)
	}
}

// A view made before its base was written with values that require grad
// requires grad too: a copy from it is recorded (it was skipped, losing
// the gradient), and an op reading it keeps what its backward needs for
// the check against in-place writes.
func TestStaleViewRequiresGradAfterWrite(t *testing.T) {
	x := FromSlice([]float32{1, 2, 3, 4}, 2, 2).RequiresGrad()
	h := New(2, 2)
	v, row1 := h.Slice("0"), h.Slice("1")
	h.Copy(x)
	if !v.RequiresGradEnabled() {
		t.Error("view of a written tensor: RequiresGradEnabled false")
	}
	out := New(2)
	out.Copy(row1)
	if err := out.Mul(3).Sum().Backward(); err != nil {
		t.Error(err)
	} else if got := fmt.Sprint(x.Grad().Data()); got != "[0 0 3 3]" {
		t.Errorf("gradient through a copy of a stale view %s, want [0 0 3 3]", got)
	}

	h = New(2)
	v = h.Slice(":")
	h.Copy(x.Slice("0"))
	w := FromSlice([]float32{5, 6}, 2).RequiresGrad().Mul(1)
	y := w.Mul(v)
	w.Fill(0)
	if err := y.Sum().Backward(); err == nil || !strings.Contains(err.Error(), "modified in place") {
		t.Errorf("backward after writing an operand mul saved: %v, want a modified in place error", err)
	}
}

// A hook that writes a tensor of the graph in place during the pass does
// not change the graph the pass runs through (before, the write gave y a
// new history and the pass followed it, so x got no gradient). A write to
// a value an op saved is the error it is before the pass.
func TestHookWritingTheGraphDuringBackward(t *testing.T) {
	x := FromSlice([]float32{1, 2, 3, 4}, 2, 2).RequiresGrad()
	y := x.Mul(2)
	z := y.Mul(3)
	z.RegisterHook(func(g *Tensor) *Tensor { y.Slice("1").Fill(0); return nil })
	if err := z.Sum().Backward(); err != nil {
		t.Fatal(err)
	}
	if g := x.Grad(); g == nil || fmt.Sprint(g.Data()) != "[6 6 6 6]" {
		t.Errorf("x got gradient %v, want [6 6 6 6]", g)
	}

	w := FromSlice([]float32{1, 2}, 2).RequiresGrad().Mul(1)
	z = x.Mul(w)
	z.RegisterHook(func(g *Tensor) *Tensor { w.Fill(0); return nil })
	if err := z.Sum().Backward(); err == nil || !strings.Contains(err.Error(), "modified in place") {
		t.Errorf("a hook writing a saved value: %v, want a modified in place error", err)
	}
}

// In-place writes through views of views, to views and their bases in
// turn, many times, against finite differences: each op's gradient goes to
// the values it read.
func TestInPlaceThroughViewsGradients(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	rt := func(s ...int) *Tensor { return randTensor(r, s...) }
	for _, c := range []opCase{
		{"view of a view written, base read", func(in []*Tensor) *Tensor {
			y := in[0].Mul(1)
			v1 := y.Slice("1:3")
			v2 := v1.Slice(":, 1:3")
			s := v2.Mul(3).Tanh()
			v2.Copy(in[1].Mul(2))
			return y.Mul(y).Sum().Add(v1.Sum()).Add(s.Sum()).Add(v2.Exp().Sum())
		}, []*Tensor{rt(3, 4), rt(2, 2)}},
		{"view read, base written, view read again", func(in []*Tensor) *Tensor {
			y := in[0].Mul(1)
			v := y.Slice("0")
			a := v.Mul(2).Tanh()
			y.Copy(in[1].Tanh())
			b := v.Mul(3)
			y.Slice(":, 0").Fill(2)
			return a.Sum().Add(b.Sum()).Add(v.Exp().Sum()).Add(y.Mul(y).Sum())
		}, []*Tensor{rt(2, 3), rt(2, 3)}},
		{"many writes through two views", func(in []*Tensor) *Tensor {
			y := in[0].Mul(1)
			v, w := y.Slice("1:"), y.T()
			acc := New(1)
			for i := 0; i < 6; i++ {
				acc = acc.Add(v.Mul(1.5).Tanh().Sum()).Add(w.Slice("0").Sum())
				v.Copy(v.Add(in[1]).Mul(0.9))
				if i%2 == 0 {
					y.Slice("0").Copy(w.Slice(":, 1"))
				}
			}
			return acc.Add(y.Sum())
		}, []*Tensor{rt(3, 3), rt(2, 3)}},
		{"sibling views written from each other", func(in []*Tensor) *Tensor {
			y := in[0].Mul(1)
			a, b := y.Slice("0"), y.Slice("1")
			y.Copy(in[1])
			a.Copy(b.Mul(2).Tanh())
			b.Copy(a.Mul(3))
			return y.Mul(y).Sum().Add(a.Sum())
		}, []*Tensor{rt(2, 3), rt(2, 3)}},
		{"reshaped and transposed views", func(in []*Tensor) *Tensor {
			y := in[0].Mul(1)
			v := y.Reshape(6).Slice("::2")
			tr := y.T().Reshape(6)
			o := tr.Mul(2).Tanh()
			v.Copy(in[1])
			return o.Sum().Add(tr.Mul(tr).Sum()).Add(y.Pow(3).Sum())
		}, []*Tensor{rt(2, 3), rt(3)}},
		{"expanded view read after a write", func(in []*Tensor) *Tensor {
			y := in[0].Mul(1)
			e := y.Slice("0:1").Expand(3, 3)
			a := e.Mul(2).Tanh()
			y.Slice("0").Copy(in[1])
			return a.Sum().Add(e.Mul(e).Sum())
		}, []*Tensor{rt(2, 3), rt(3)}},
	} {
		t.Run(c.name, func(t *testing.T) { gradCheck(t, c.name, c.f, c.in...) })
	}
}

// TestBackwardErrorNamesTheOp: an error raised inside an op's backward
// (a GPU out of memory, say) says which op's backward it was.
func TestBackwardErrorNamesTheOp(t *testing.T) {
	x := FromSlice([]float32{1, 2}, 2).RequiresGrad()
	y := New(2)
	recordNeeds(y, "failing_op", []*Tensor{x}, func(g *Tensor, _ []bool) []*Tensor {
		panic(errorf("allocating 12 floats on cuda: out of memory"))
	})
	err := y.Sum().Backward()
	if err == nil || err.Error() != "backward of failing_op: allocating 12 floats on cuda: out of memory" {
		t.Errorf("error %v, want it to name failing_op", err)
	}
}

// A reshape that is a view of a base laid out non-contiguously
// (x.T().Detach()) but would not be one of the contiguous base the
// backward pass replays views on is a copy: the replay panicked ("reshape
// ... is no view") in the backward of the write through it.
func TestReshapeOfNonContiguousBase(t *testing.T) {
	b := FromSlice([]float32{1, 2, 3, 4}, 2, 2).T().Detach() // strides (1, 2)
	r := b.T().Reshape(4)
	src := FromSlice([]float32{5, 6, 7, 8}, 4).RequiresGrad()
	r.Copy(src)
	w := FromSlice([]float32{1, 10, 100, 1000}, 4)
	if err := r.Mul(w).Sum().Backward(); err != nil {
		t.Fatal(err)
	}
	if got := src.Grad().Data(); fmt.Sprint(got) != "[1 10 100 1000]" {
		t.Fatalf("src grad %v, want [1 10 100 1000]", got)
	}
	if got := r.Data(); fmt.Sprint(got) != "[5 6 7 8]" {
		t.Fatalf("r = %v", got)
	}
}
