package nnscope

import (
	"fmt"
	"reflect"

	"gorgonia.org/tensor"

	rt "nnscope/runtime"
)

// Tensor is the value scripts work with: a float32 tensor on nnscope's
// autograd engine. Arithmetic returns new tensors and is differentiable;
// Slice returns a view, and Fill/Copy write through views in place.
//
// A tensor computed inside a trace (or a backward block) belongs to it and
// can only be used after it ends if Save() was called on it inside.
type Tensor struct {
	t     *rt.Tensor
	scope *scope // the trace or backward pass it was computed in; nil if free
	saved bool
	label string // what it is, for errors: "transformer.h.3.output"

	// A body's rows of a batched activation: the batch tensor and how to
	// cut the rows, so Grad() can ask for the batch tensor's gradient.
	base *rt.Tensor
	rows func(*rt.Tensor) *rt.Tensor

	// viewOf is the tensor a view (Slice, Select, ...) was cut from,
	// following views of views back to the first: Fill and Copy check it
	// to treat a write into a leaf that requires grad as an update.
	viewOf *Tensor
}

// wrap makes a script tensor for an engine tensor produced in scope s.
func wrap(t *rt.Tensor, s *scope) *Tensor {
	if t == nil {
		return nil
	}
	return &Tensor{t: t, scope: s}
}

// derive wraps an op's result: it belongs to the first input that is still
// bound to a live (unsaved) scope.
func derive(t *rt.Tensor, ins ...*Tensor) *Tensor {
	for _, in := range ins {
		if in != nil && in.scope != nil && !in.saved {
			return &Tensor{t: t, scope: in.scope}
		}
	}
	return &Tensor{t: t, scope: current.scopeOrNil()}
}

// use checks that the tensor may be used now and returns the engine tensor.
func (x *Tensor) use(op string) *rt.Tensor {
	if x == nil {
		fail("usage", "%s on a nil tensor (was it assigned inside a trace that did not reach it?)", op)
	}
	if x.expired() {
		fail("not saved", "%s: tensor of shape %v from the %s was not saved: call .Save() on it inside the %s to use it afterwards", op, x.t.Shape(), x.scope.name, x.scope.kind)
	}
	return x.t
}

// arg is use for an argument of op named name: a nil one is reported as
// the argument, not as the tensor the method was called on.
func (x *Tensor) arg(op, name string) *rt.Tensor {
	if x == nil {
		fail("usage", "%s: %s is a nil tensor (was it assigned inside a trace that did not reach it?)", op, name)
	}
	return x.use(op)
}

// expired reports whether x belongs to a trace or backward block that has
// ended without x being saved.
func (x *Tensor) expired() bool { return x.scope != nil && x.scope.ended && !x.saved }

func operand(op string, v any) any {
	switch o := v.(type) {
	case *Tensor:
		return o.arg(op, "the operand")
	case float64, float32, int, int64, int32:
		return o
	case int8, int16, uint, uint8, uint16, uint32, uint64:
		return reflect.ValueOf(o).Convert(reflect.TypeOf(float64(0))).Float()
	}
	fail("usage", "%s: operand must be a *nnscope.Tensor or a number, got %T", op, v)
	return nil
}

func others(v any) *Tensor {
	if t, ok := v.(*Tensor); ok {
		return t
	}
	return nil
}

// Save keeps the tensor usable after its trace or backward block ends.
func (x *Tensor) Save() *Tensor {
	rt.Escape(x.use("Save")) // its GPU memory outlives the trace
	x.saved = true
	return x
}

// Device returns where the tensor lives: "cpu" or "cuda".
func (x *Tensor) Device() string { return x.use("Device").Device() }

// To returns the tensor on device ("cpu" or "cuda"), copying it if it is
// elsewhere; gradients flow through the copy.
func (x *Tensor) To(device string) *Tensor {
	return x.unary("To", func(t *rt.Tensor) *rt.Tensor { return t.To(device) })
}

// Engine returns the underlying engine tensor (for Go programs using the
// runtime package directly).
func (x *Tensor) Engine() *rt.Tensor { return x.use("Engine") }

// Shape returns the dimensions.
func (x *Tensor) Shape() []int { return x.use("Shape").Shape() }

// Dim returns the number of dimensions.
func (x *Tensor) Dim() int { return x.use("Dim").Dim() }

// Size returns the number of elements.
func (x *Tensor) Size() int { return x.use("Size").Size() }

// Item returns the value of a one-element tensor.
func (x *Tensor) Item() float64 {
	defer guard("Item")
	return x.use("Item").Item()
}

// At returns one element (negative indices count from the end).
func (x *Tensor) At(idx ...int) float64 {
	defer guard("At")
	return x.use("At").At(idx...)
}

// Data returns the elements in row-major order as float64.
func (x *Tensor) Data() []float64 {
	defer guard("Data") // a GPU tensor's values are downloaded
	return x.use("Data").Float64s()
}

// Float32s returns the elements in row-major order as float32 (a copy).
func (x *Tensor) Float32s() []float32 {
	defer guard("Float32s")
	return append([]float32(nil), x.use("Float32s").Data()...)
}

// Ints returns the elements rounded to ints (for index tensors).
func (x *Tensor) Ints() []int {
	defer guard("Ints")
	return x.use("Ints").Ints()
}

// String prints the values like numpy, with the shape.
func (x *Tensor) String() string {
	if x == nil {
		return "<nil tensor>"
	}
	if x.expired() {
		return "<tensor not saved>"
	}
	return x.t.String()
}

// Clone returns a copy with its own memory (differentiable).
func (x *Tensor) Clone() *Tensor { return derive(x.use("Clone").Clone(), x) }

// Detach returns the same values without gradient history.
func (x *Tensor) Detach() *Tensor { return derive(x.use("Detach").Detach(), x) }

// RequiresGrad makes backward passes compute gradients for this tensor
// and everything computed from it afterwards.
func (x *Tensor) RequiresGrad() *Tensor {
	x.use("RequiresGrad").RequiresGrad()
	return x
}

// Dense returns the tensor as a gorgonia.org/tensor Dense (no copy when
// contiguous and on the CPU; a GPU tensor's values are copied to the host).
func (x *Tensor) Dense() *tensor.Dense { return x.use("Dense").Dense() }

// FromDense wraps a gorgonia.org/tensor Dense of float32 or float64.
func FromDense(d *tensor.Dense) *Tensor {
	if d == nil {
		fail("usage", "FromDense(nil)")
	}
	t, err := rt.FromDense(d)
	if err != nil {
		fail("usage", "%v", err)
	}
	return wrap(t, nil)
}

// NewTensor makes a tensor from values and a shape (no shape: a vector).
// Like Zeros, Ones, Full and Arange it is made on the CPU: .To("cuda")
// moves it to a model's GPU (an op mixing devices is an error).
func NewTensor(values []float64, shape ...int) *Tensor {
	defer guard("NewTensor")
	if len(shape) == 0 {
		shape = []int{len(values)}
	}
	return wrap(rt.FromFloat64s(values, shape...), current.scopeOrNil())
}

// Zeros makes a tensor of zeros, on the CPU.
func Zeros(shape ...int) *Tensor {
	defer guard("Zeros")
	return wrap(rt.New(shape...), current.scopeOrNil())
}

// Ones makes a tensor of ones, on the CPU.
func Ones(shape ...int) *Tensor {
	defer guard("Ones")
	return wrap(rt.Ones(shape...), current.scopeOrNil())
}

// Full makes a tensor filled with v, on the CPU.
func Full(v float64, shape ...int) *Tensor {
	defer guard("Full")
	return wrap(rt.Full(float32(v), shape...), current.scopeOrNil())
}

// Arange makes [0, 1, ..., n-1], on the CPU.
func Arange(n int) *Tensor {
	defer guard("Arange")
	return wrap(rt.Arange(n), current.scopeOrNil())
}

func (x *Tensor) unary(op string, f func(*rt.Tensor) *rt.Tensor) *Tensor {
	defer guard(op)
	return derive(f(x.use(op)), x)
}

func (x *Tensor) binary(op string, v any, f func(*rt.Tensor, any) *rt.Tensor) *Tensor {
	defer guard(op)
	return derive(f(x.use(op), operand(op, v)), x, others(v))
}

// Add returns x + v (a tensor, broadcast, or a number).
func (x *Tensor) Add(v any) *Tensor { return x.binary("Add", v, (*rt.Tensor).Add) }

// Sub returns x - v.
func (x *Tensor) Sub(v any) *Tensor { return x.binary("Sub", v, (*rt.Tensor).Sub) }

// Mul returns x * v elementwise.
func (x *Tensor) Mul(v any) *Tensor { return x.binary("Mul", v, (*rt.Tensor).Mul) }

// Div returns x / v elementwise.
func (x *Tensor) Div(v any) *Tensor { return x.binary("Div", v, (*rt.Tensor).Div) }

// MatMul multiplies the last two dimensions (batched, broadcasting), as
// torch.matmul: a 1-d operand is a row on the left or a column on the
// right, and its dimension is dropped from the result.
func (x *Tensor) MatMul(y *Tensor) *Tensor {
	defer guard("MatMul")
	return derive(x.use("MatMul").MatMul(y.arg("MatMul", "the argument")), x, y)
}

// Neg returns -x.
func (x *Tensor) Neg() *Tensor { return x.unary("Neg", (*rt.Tensor).Neg) }

// Abs returns |x|.
func (x *Tensor) Abs() *Tensor { return x.unary("Abs", (*rt.Tensor).Abs) }

// Exp returns e^x.
func (x *Tensor) Exp() *Tensor { return x.unary("Exp", (*rt.Tensor).Exp) }

// Log returns ln x.
func (x *Tensor) Log() *Tensor { return x.unary("Log", (*rt.Tensor).Log) }

// Tanh returns tanh x.
func (x *Tensor) Tanh() *Tensor { return x.unary("Tanh", (*rt.Tensor).Tanh) }

// Sqrt returns the square root.
func (x *Tensor) Sqrt() *Tensor { return x.unary("Sqrt", (*rt.Tensor).Sqrt) }

// Relu returns max(x, 0).
func (x *Tensor) Relu() *Tensor { return x.unary("Relu", (*rt.Tensor).Relu) }

// Gelu returns GPT-2's tanh-approximated GELU.
func (x *Tensor) Gelu() *Tensor { return x.unary("Gelu", (*rt.Tensor).GeluNew) }

// Pow returns x^p.
func (x *Tensor) Pow(p float64) *Tensor {
	return x.unary("Pow", func(t *rt.Tensor) *rt.Tensor { return t.Pow(p) })
}

// Sum adds all elements (no axes) or along the given axes.
func (x *Tensor) Sum(axes ...int) *Tensor {
	return x.unary("Sum", func(t *rt.Tensor) *rt.Tensor { return t.Sum(axes...) })
}

// Mean averages all elements (no axes) or along the given axes.
func (x *Tensor) Mean(axes ...int) *Tensor {
	return x.unary("Mean", func(t *rt.Tensor) *rt.Tensor { return t.Mean(axes...) })
}

// Softmax over the last axis.
func (x *Tensor) Softmax() *Tensor { return x.unary("Softmax", (*rt.Tensor).Softmax) }

// LogSoftmax over the last axis.
func (x *Tensor) LogSoftmax() *Tensor { return x.unary("LogSoftmax", (*rt.Tensor).LogSoftmax) }

// Norm returns the Euclidean norm of all elements.
func (x *Tensor) Norm() float64 {
	defer guard("Norm")
	return x.use("Norm").Norm()
}

// Max returns the largest element.
func (x *Tensor) Max() float64 {
	defer guard("Max")
	return x.use("Max").Max()
}

// Min returns the smallest element.
func (x *Tensor) Min() float64 {
	defer guard("Min")
	return x.use("Min").Min()
}

// Argmax returns the indices of the largest values along the last axis.
func (x *Tensor) Argmax() *Tensor { return x.unary("Argmax", (*rt.Tensor).Argmax) }

// TopK returns the k largest values along the last axis and their indices.
func (x *Tensor) TopK(k int) (values, indices *Tensor) {
	defer guard("TopK")
	v, i := x.use("TopK").TopK(k)
	return derive(v, x), derive(i, x)
}

// Slice returns a view selected by a numpy-style index: ":, -1, :",
// "0, 2:5", "..., ::2". Edits through the view change x.
func (x *Tensor) Slice(spec string) *Tensor {
	return x.view("Slice", func(t *rt.Tensor) *rt.Tensor { return t.Slice(spec) })
}

// Select returns the view at index i of dimension dim (dimension removed).
func (x *Tensor) Select(dim, i int) *Tensor {
	return x.view("Select", func(t *rt.Tensor) *rt.Tensor { return t.Select(dim, i) })
}

// Narrow returns the view of n entries from start along dim.
func (x *Tensor) Narrow(dim, start, n int) *Tensor {
	return x.view("Narrow", func(t *rt.Tensor) *rt.Tensor { return t.Narrow(dim, start, n) })
}

// Reshape returns the same elements in a new shape (one -1 allowed): a
// view when x's strides allow, as torch's view (x contiguous, or only
// dimensions contiguous with each other split or merged: a slice of the
// last dimension split into heads stays a view), else a copy (for
// x.Transpose(1, 2).Reshape(...), merging the swapped dimensions).
func (x *Tensor) Reshape(shape ...int) *Tensor {
	return x.view("Reshape", func(t *rt.Tensor) *rt.Tensor { return t.Reshape(shape...) })
}

// Transpose swaps two dimensions (a view).
func (x *Tensor) Transpose(a, b int) *Tensor {
	return x.view("Transpose", func(t *rt.Tensor) *rt.Tensor { return t.Transpose(a, b) })
}

// T swaps the last two dimensions (a view).
func (x *Tensor) T() *Tensor { return x.view("T", (*rt.Tensor).T) }

// Permute reorders dimensions (a view).
func (x *Tensor) Permute(perm ...int) *Tensor {
	return x.view("Permute", func(t *rt.Tensor) *rt.Tensor { return t.Permute(perm...) })
}

// Unsqueeze inserts a dimension of size 1.
func (x *Tensor) Unsqueeze(dim int) *Tensor {
	if n := x.use("Unsqueeze").Dim(); dim < -n-1 || dim > n {
		fail("usage", "Unsqueeze: dim %d out of range for a %d-d tensor (want %d..%d)", dim, n, -n-1, n)
	}
	return x.view("Unsqueeze", func(t *rt.Tensor) *rt.Tensor { return t.Unsqueeze(dim) })
}

// Squeeze removes a dimension of size 1.
func (x *Tensor) Squeeze(dim int) *Tensor {
	return x.view("Squeeze", func(t *rt.Tensor) *rt.Tensor { return t.Squeeze(dim) })
}

// Fill sets every element to v in place (through views too) and returns x.
// Outside a trace, a write into a leaf that requires grad (a parameter
// after model.SetRequiresGrad(true), or a tensor made with RequiresGrad,
// or a view of one) is an update, as under PyTorch's torch.no_grad(): it
// records no history, so the tensor stays a leaf that accumulates
// gradients (see Copy).
func (x *Tensor) Fill(v float64) *Tensor {
	defer guard("Fill")
	t := x.use("Fill")
	x.write(func() { t.Fill(v) })
	return x
}

// Copy writes src (broadcast) into x in place and returns x. Outside a
// trace, a write into a leaf that requires grad (or a view of one) records
// no history, as under PyTorch's torch.no_grad(), so a gradient step on a
// parameter or a probe's weight reads naturally:
//
//	w := nnscope.Zeros(4, 2).RequiresGrad()
//	x := nnscope.Ones(3, 4)
//	for range 3 {
//		nnscope.CrossEntropy(x.MatMul(w), []int{0, 1, 1}).Backward(nil)
//		w.Copy(w.Sub(w.AccumulatedGrad().Mul(0.1)))
//		w.AccumulatedGrad().Fill(0)
//	}
func (x *Tensor) Copy(src *Tensor) *Tensor {
	defer guard("Copy")
	t, s := x.use("Copy"), src.arg("Copy", "the source")
	x.write(func() { t.Copy(s) })
	return x
}

// write runs an in-place write into x: without recording history when it
// is an update, outside a trace, of a leaf that requires grad and was made
// outside a trace or saved from one (as in an optimizer step on a probe
// made inside a trace), else on the tape, so that edits of activations
// reach gradients.
func (x *Tensor) write(f func()) {
	leaf := x.viewOf
	if leaf == nil {
		leaf = x
	}
	if (leaf.scope == nil || leaf.saved) && leaf.t.IsLeaf() && leaf.t.RequiresGradEnabled() {
		if current != nil && leaf.scope == nil {
			// Recorded, the write would make the parameter or probe a
			// non-leaf whose accumulated gradient stays nil from then on
			// (PyTorch refuses such a write too). Values of a trace (its
			// activations require grad) are written on the tape.
			fail("usage", "in-place write inside a %s into a tensor that requires grad and was made outside it (a parameter or a probe's weight): update it after the %s ends, where the write is an update that records no history", current.scope.kind, current.scope.kind)
		}
		if current == nil {
			rt.NoGrad(f)
			return
		}
	}
	f()
}

// view is unary for an op that returns a view of x (Reshape: when it can).
func (x *Tensor) view(op string, f func(*rt.Tensor) *rt.Tensor) *Tensor {
	out := x.unary(op, f)
	if !rt.SharesMemory(out.t, x.t) {
		return out // a copy: writes to it are its own
	}
	out.viewOf = x.viewOf
	if out.viewOf == nil {
		out.viewOf = x
	}
	return out
}

// MaskedFill returns a copy of x with v where mask is non-zero.
func (x *Tensor) MaskedFill(mask *Tensor, v float64) *Tensor {
	defer guard("MaskedFill")
	return derive(x.use("MaskedFill").MaskedFill(mask.arg("MaskedFill", "the mask"), v), x, mask)
}

// Where picks a where cond is non-zero, else b.
func Where(cond, a, b *Tensor) *Tensor {
	defer guard("Where")
	return derive(rt.Where(cond.arg("Where", "cond"), a.arg("Where", "a"), b.arg("Where", "b")), cond, a, b)
}

// Concat joins tensors along an axis.
func Concat(axis int, ts ...*Tensor) *Tensor {
	defer guard("Concat")
	return derive(rt.Concat(axis, unwrapAll("Concat", ts)...), ts...)
}

// Stack joins same-shaped tensors along a new axis.
func Stack(axis int, ts ...*Tensor) *Tensor {
	defer guard("Stack")
	return derive(rt.Stack(axis, unwrapAll("Stack", ts)...), ts...)
}

// CrossEntropy is the mean next-token loss of logits [N, V] for targets.
func CrossEntropy(logits *Tensor, targets []int) *Tensor {
	defer guard("CrossEntropy")
	return derive(rt.CrossEntropy(logits.arg("CrossEntropy", "logits"), targets), logits)
}

func unwrapAll(op string, ts []*Tensor) []*rt.Tensor {
	out := make([]*rt.Tensor, len(ts))
	for i, t := range ts {
		out[i] = t.arg(op, fmt.Sprintf("tensor %d", i))
	}
	return out
}

// LayerNorm normalizes x over its last axis with gain w and bias b (either
// may be nil), as GPT-2's LayerNorms do.
func LayerNorm(x, w, b *Tensor, eps float64) *Tensor {
	defer guard("LayerNorm")
	var wt, bt *rt.Tensor
	if w != nil {
		wt = w.use("LayerNorm")
	}
	if b != nil {
		bt = b.use("LayerNorm")
	}
	xt := x.arg("LayerNorm", "x")
	if xt.Dim() == 0 {
		fail("usage", "LayerNorm: x is a scalar; it needs a last axis to normalize")
	}
	c := xt.Shape()[xt.Dim()-1]
	for _, p := range []struct {
		name string
		t    *rt.Tensor
	}{{"weight", wt}, {"bias", bt}} {
		if p.t != nil && (p.t.Dim() != 1 || p.t.Shape()[0] != c) {
			fail("usage", "LayerNorm: %s has shape %v, want [%d] (the last axis of x %v)", p.name, p.t.Shape(), c, xt.Shape())
		}
	}
	return derive(rt.LayerNorm(xt, wt, bt, eps), x, w, b)
}
