package runtime

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// Edge cases of ops against numpy's and PyTorch's results (worked out by
// hand from their rules).

// TopK ranks NaN above every number, as torch.topk does; a plain > is no
// ordering with NaNs and left them where they were.
func TestTopKRanksNaNFirst(t *testing.T) {
	nan := float32(math.NaN())
	x := FromSlice([]float32{1, 5, nan, 3, 0, nan, -1, 7}, 8)
	v, i := x.TopK(4)
	if got := fmt.Sprint(v.Data(), i.Data()); got != "[NaN NaN 7 5] [2 5 7 1]" {
		t.Errorf("TopK(4) of %v = %s, want [NaN NaN 7 5] [2 5 7 1]", x.Data(), got)
	}
	if got := x.Argmax().Item(); got != 2 {
		t.Errorf("Argmax = %v, want 2 (the first NaN)", got)
	}
}

// x^0 is 1 with gradient 0 everywhere, also at 0 (p x^(p-1) gave NaN).
func TestPowZeroAtZero(t *testing.T) {
	x := FromSlice([]float32{0, 2, -1}, 3).RequiresGrad()
	y := x.Pow(0)
	if got := fmt.Sprint(y.Data()); got != "[1 1 1]" {
		t.Errorf("x^0 = %s", got)
	}
	if err := y.Sum().Backward(); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(x.Grad().Data()); got != "[0 0 0]" {
		t.Errorf("gradient of x^0 = %s, want [0 0 0]", got)
	}
}

// Reducing over a dimension of size 0 gives zeros (a mean NaN), as in
// numpy; it used to index out of range.
func TestReduceOverEmptyDimension(t *testing.T) {
	x := New(0, 3).RequiresGrad()
	s := x.Sum(0)
	if got := fmt.Sprint(s.Shape(), s.Data()); got != "[3] [0 0 0]" {
		t.Errorf("Sum(0) of [0 3] = %s", got)
	}
	if m := x.Mean(0).Data(); !math.IsNaN(float64(m[0])) {
		t.Errorf("Mean(0) of [0 3] = %v, want NaN", m)
	}
	if err := s.Sum().Backward(); err != nil {
		t.Fatal(err)
	}
	if g := x.Grad(); g == nil || fmt.Sprint(g.Shape()) != "[0 3]" {
		t.Errorf("gradient %v", g)
	}
}

// Softmax of a 0-d tensor is 1 (LogSoftmax 0), as in PyTorch.
func TestSoftmaxOfScalar(t *testing.T) {
	if got := Scalar(3).Softmax().Item(); got != 1 {
		t.Errorf("Softmax = %v", got)
	}
	if got := Scalar(3).LogSoftmax().Item(); got != 0 {
		t.Errorf("LogSoftmax = %v", got)
	}
}

// Axes out of range are errors, not another axis.
func TestStackAndUnsqueezeCheckTheAxis(t *testing.T) {
	a := New(2, 3)
	if got := Stack(-3, a, a).Shape(); fmt.Sprint(got) != "[2 2 3]" {
		t.Errorf("Stack(-3) shape %v", got)
	}
	if got := Stack(2, a, a).Shape(); fmt.Sprint(got) != "[2 3 2]" {
		t.Errorf("Stack(2) shape %v", got)
	}
	for name, f := range map[string]func(){
		"Stack(-4)":     func() { Stack(-4, a, a) },
		"Stack(3)":      func() { Stack(3, a, a) },
		"Unsqueeze(3)":  func() { a.Unsqueeze(3) },
		"Unsqueeze(-4)": func() { a.Unsqueeze(-4) },
	} {
		func() {
			defer func() {
				r := recover()
				if e, ok := r.(*Error); !ok || !strings.Contains(e.Msg, "out of range") {
					t.Errorf("%s: got %v, want an out of range error", name, r)
				}
			}()
			f()
		}()
	}
}

// MatMul takes 1-d operands like torch.matmul.
func TestMatMulVectors(t *testing.T) {
	v := FromSlice([]float32{1, 2}, 2)
	m := FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	for _, c := range []struct {
		got  *Tensor
		want string
	}{
		{v.MatMul(m), "[3] [9 12 15]"},
		{m.T().MatMul(v), "[3] [9 12 15]"},
		{v.MatMul(v), "[] [5]"},
		{Stack(0, m.T(), m.T()).MatMul(v), "[2 3] [9 12 15 9 12 15]"},
		{v.MatMul(Stack(0, m, m)), "[2 3] [9 12 15 9 12 15]"},
	} {
		if got := fmt.Sprint(c.got.Shape(), c.got.Data()); got != c.want {
			t.Errorf("got %s, want %s", got, c.want)
		}
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "inner dimensions") {
			t.Errorf("[2] x [3 2]: %v", r)
		}
	}()
	v.MatMul(m.T().T().Narrow(0, 0, 1).Reshape(3, 1).T().Reshape(3, 1).Expand(3, 2))
}

// Sums over an axis accumulate in float64 like the sum of all elements: a
// float32 running sum of 2^20 times 0.1 was off by 4%.
func TestSumOverAxisAccumulatesInFloat64(t *testing.T) {
	n := 1 << 20
	want := float64(float32(0.1)) * float64(n)
	x := Full(0.1, 2, n)
	for _, s := range []*Tensor{x.Sum(-1), x.T().Sum(0), x.Mean(1).Mul(float64(n))} {
		for _, v := range s.Data() {
			if math.Abs(float64(v)-want) > 1e-6*want {
				t.Fatalf("sum over %d elements of 0.1 = %v, want %v", n, v, want)
			}
		}
	}
}

// TestCrossEntropyNothingCounted: every target ignored gives the mean of
// nothing, NaN, as in PyTorch (it was 0), and a zero gradient.
func TestCrossEntropyNothingCounted(t *testing.T) {
	x := FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3).RequiresGrad()
	loss := CrossEntropy(x, []int{-100, -100})
	if v := loss.Item(); v == v {
		t.Errorf("loss %v, want NaN", v)
	}
	if err := loss.Backward(); err != nil {
		t.Fatal(err)
	}
	for i, g := range x.Grad().Data() {
		if g != 0 {
			t.Errorf("gradient[%d] = %v, want 0", i, g)
		}
	}
}

func TestMaxMinOfEmptyTensor(t *testing.T) {
	for _, f := range []func(*Tensor) float64{(*Tensor).Max, (*Tensor).Min} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "the tensor is empty") {
					t.Errorf("Max/Min of an empty tensor: %v, want an error", r)
				}
			}()
			f(New(0, 3))
		}()
	}
}

func TestArgmaxEdges(t *testing.T) {
	if got := Scalar(7).Argmax(); got.Dim() != 0 || got.Item() != 0 {
		t.Errorf("Argmax of a 0-d tensor: %v, want 0", got)
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "Argmax: the last dimension is empty") {
			t.Errorf("Argmax over an empty dimension: %v", r)
		}
	}()
	New(2, 0).Argmax()
}

// TestReshapeIsAViewWhenStridesAllow: as PyTorch's view, a reshape that
// only splits or merges dimensions contiguous with each other shares
// memory even when the tensor is not contiguous (a slice of the last
// dimension split into heads); others copy.
func TestReshapeIsAViewWhenStridesAllow(t *testing.T) {
	x := Arange(2*3*12).Reshape(2, 3, 12)
	heads := x.Narrow(2, 4, 8).Reshape(2, 3, 2, 4) // not contiguous, but viewable
	heads.Select(2, 1).Fill(-1)
	want := Arange(2*3*12).Reshape(2, 3, 12)
	want.Narrow(2, 8, 4).Fill(-1)
	if fmt.Sprint(x.Data()) != fmt.Sprint(want.Data()) {
		t.Errorf("a write through the reshaped slice did not reach x:\n%v\nwant\n%v", x.Data(), want.Data())
	}
	for _, c := range []struct {
		name  string
		t     *Tensor
		shape []int
		view  bool
	}{
		{"transposed, merged", Arange(12).Reshape(3, 4).T(), []int{12}, false},
		{"transposed, split a dim", Arange(24).Reshape(2, 3, 4).Transpose(0, 1), []int{3, 2, 2, 2}, true},
		{"stepped, unit dims", Arange(12).Reshape(3, 4).Slice("::2"), []int{2, 1, 4}, true},
		{"stepped, merged", Arange(12).Reshape(3, 4).Slice("::2"), []int{8}, false},
		{"expanded", Arange(3).Reshape(1, 3).Expand(4, 3), []int{2, 2, 3}, true},
		{"empty", New(0, 3), []int{3, 0}, true},
	} {
		y := c.t.Reshape(c.shape...)
		if got := y.st == c.t.st; got != c.view {
			t.Errorf("%s: view %v, want %v", c.name, got, c.view)
		}
		if fmt.Sprint(y.Data()) != fmt.Sprint(c.t.Contiguous().Data()) {
			t.Errorf("%s: values %v, want %v", c.name, y.Data(), c.t.Contiguous().Data())
		}
	}
}
