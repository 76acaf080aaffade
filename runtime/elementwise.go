package runtime

import (
	"math"
	"nnscope/runtime/cuda"
	"slices"
)

// operand turns the right-hand side of an arithmetic method (a tensor or a
// Go number) into a tensor.
func operand(x any) *Tensor {
	switch v := x.(type) {
	case *Tensor:
		if v == nil {
			panic(errorf("arithmetic with a nil tensor"))
		}
		return v
	case float64:
		return constant(float32(v))
	case float32:
		return constant(v)
	case int:
		return constant(float32(v))
	case int64:
		return constant(float32(v))
	case int32:
		return constant(float32(v))
	}
	panic(errorf("arithmetic operand must be a tensor or a number, got %T", x))
}

// constant is a Go number as a scalar tensor usable with tensors on any
// device.
func constant(v float32) *Tensor {
	t := Scalar(v)
	t.constant = true
	return t
}

// binary applies f elementwise with numpy broadcasting.
func binary(a, b *Tensor, name string, f func(x, y float32) float32, vf func(o, x, y []float32)) *Tensor {
	if sameDevice(name, a, b) {
		return gpuBinary(a, b, name)
	}
	shape, ok := broadcastShapes(a.shape, b.shape)
	if !ok {
		panic(errorf("%s: shapes %v and %v do not broadcast", name, a.shape, b.shape))
	}
	out := New(shape...)
	o := out.raw()
	if len(o) == 0 {
		return out
	}
	switch {
	case slices.Equal(a.shape, b.shape) && a.IsContiguous() && b.IsContiguous():
		vf(o, a.raw(), b.raw())
		return out
	case b.Size() == 1 && slices.Equal(a.shape, shape) && a.IsContiguous():
		y := b.st.data[b.off]
		x := a.raw()
		for i := range o {
			o[i] = f(x[i], y)
		}
		return out
	}
	sa, sb := broadcastStrides(a, shape), broadcastStrides(b, shape)
	nd := len(shape)
	if nd == 0 {
		o[0] = f(a.st.data[a.off], b.st.data[b.off])
		return out
	}
	n := shape[nd-1]
	ia, ib := sa[nd-1], sb[nd-1]
	ad, bd := a.st.data, b.st.data
	pos := 0
	rowIter(shape, [][]int{sa, sb}, []int{a.off, b.off}, func(off []int) {
		row := o[pos : pos+n]
		pos += n
		if ia == 1 && ib == 1 {
			vf(row, ad[off[0]:off[0]+n], bd[off[1]:off[1]+n])
			return
		}
		for i := range row {
			row[i] = f(ad[off[0]+i*ia], bd[off[1]+i*ib])
		}
	})
	return out
}

// Add returns t + x, where x is a tensor (broadcast) or a number.
func (t *Tensor) Add(x any) *Tensor {
	b := operand(x)
	out := binary(t, b, "Add", func(x, y float32) float32 { return x + y }, vadd)
	record(out, "add", []*Tensor{t, b}, func(g *Tensor) []*Tensor {
		return []*Tensor{sumTo(g, t.shape), sumTo(g, b.shape)}
	})
	return out
}

// Sub returns t - x.
func (t *Tensor) Sub(x any) *Tensor {
	b := operand(x)
	out := binary(t, b, "Sub", func(x, y float32) float32 { return x - y }, vsub)
	record(out, "sub", []*Tensor{t, b}, func(g *Tensor) []*Tensor {
		return []*Tensor{sumTo(g, t.shape), sumTo(g.Neg(), b.shape)}
	})
	return out
}

// Mul returns t * x elementwise.
func (t *Tensor) Mul(x any) *Tensor {
	b := operand(x)
	out := binary(t, b, "Mul", func(x, y float32) float32 { return x * y }, vmul)
	recordNeeds(out, "mul", []*Tensor{t, b}, func(g *Tensor, needs []bool) []*Tensor {
		gs := make([]*Tensor, 2)
		if needs[0] {
			gs[0] = sumTo(g.Mul(b), t.shape)
		}
		if needs[1] {
			gs[1] = sumTo(g.Mul(t), b.shape)
		}
		return gs
	}, savedIf(b.needsGrad(), t), savedIf(t.needsGrad(), b))
	return out
}

// Div returns t / x elementwise.
func (t *Tensor) Div(x any) *Tensor {
	b := operand(x)
	out := binary(t, b, "Div", func(x, y float32) float32 { return x / y }, vdiv)
	recordNeeds(out, "div", []*Tensor{t, b}, func(g *Tensor, needs []bool) []*Tensor {
		gs := make([]*Tensor, 2)
		if needs[0] {
			gs[0] = sumTo(g.Div(b), t.shape)
		}
		if needs[1] {
			// d(a/b)/db = -a/b^2
			gs[1] = sumTo(g.Mul(t).Div(b.Mul(b)).Neg(), b.shape)
		}
		return gs
	}, savedIf(b.needsGrad(), t), b)
	return out
}

func vadd(o, x, y []float32) {
	y = y[:len(o)]
	x = x[:len(o)]
	for i := range o {
		o[i] = x[i] + y[i]
	}
}
func vsub(o, x, y []float32) {
	y = y[:len(o)]
	x = x[:len(o)]
	for i := range o {
		o[i] = x[i] - y[i]
	}
}
func vmul(o, x, y []float32) {
	y = y[:len(o)]
	x = x[:len(o)]
	for i := range o {
		o[i] = x[i] * y[i]
	}
}
func vdiv(o, x, y []float32) {
	y = y[:len(o)]
	x = x[:len(o)]
	for i := range o {
		o[i] = x[i] / y[i]
	}
}

// unary maps f over t into a new contiguous tensor.
func unary(t *Tensor, f func(float32) float32) *Tensor {
	src := t.Contiguous()
	out := New(t.shape...)
	o, x := out.raw(), src.raw()
	for i := range o {
		o[i] = f(x[i])
	}
	return out
}

// Neg returns -t.
func (t *Tensor) Neg() *Tensor {
	if t.onGPU() {
		return gpuUnary(t, cuda.OpNeg, 0, "neg")
	}
	out := unary(t, func(x float32) float32 { return -x })
	record(out, "neg", []*Tensor{t}, func(g *Tensor) []*Tensor { return []*Tensor{g.Neg()} })
	return out
}

// Abs returns |t|.
func (t *Tensor) Abs() *Tensor {
	if t.onGPU() {
		return gpuUnary(t, cuda.OpAbs, 0, "abs")
	}
	out := unary(t, func(x float32) float32 { return float32(math.Abs(float64(x))) })
	recordNeeds(out, "abs", []*Tensor{t}, func(g *Tensor, _ []bool) []*Tensor {
		return []*Tensor{g.Mul(unary(t, sign))}
	}, t)
	return out
}

func sign(x float32) float32 {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return 0
}

// Exp returns e^t.
func (t *Tensor) Exp() *Tensor {
	if t.onGPU() {
		return gpuUnary(t, cuda.OpExp, 0, "exp")
	}
	out := unary(t, func(x float32) float32 { return float32(math.Exp(float64(x))) })
	recordNeeds(out, "exp", []*Tensor{t}, func(g *Tensor, _ []bool) []*Tensor {
		return []*Tensor{g.Mul(out.Detach())}
	}, out)
	return out
}

// Log returns the natural logarithm of t.
func (t *Tensor) Log() *Tensor {
	if t.onGPU() {
		return gpuUnary(t, cuda.OpLog, 0, "log")
	}
	out := unary(t, func(x float32) float32 { return float32(math.Log(float64(x))) })
	recordNeeds(out, "log", []*Tensor{t}, func(g *Tensor, _ []bool) []*Tensor {
		return []*Tensor{g.Div(t.Detach())}
	}, t)
	return out
}

// Tanh returns tanh(t).
func (t *Tensor) Tanh() *Tensor {
	if t.onGPU() {
		return gpuUnary(t, cuda.OpTanh, 0, "tanh")
	}
	out := unary(t, func(x float32) float32 { return float32(math.Tanh(float64(x))) })
	recordNeeds(out, "tanh", []*Tensor{t}, func(g *Tensor, _ []bool) []*Tensor {
		y := out.Detach()
		return []*Tensor{g.Mul(Ones(1).Sub(y.Mul(y)))}
	}, out)
	return out
}

// Sqrt returns the square root of t.
func (t *Tensor) Sqrt() *Tensor {
	if t.onGPU() {
		return gpuUnary(t, cuda.OpSqrt, 0, "sqrt")
	}
	out := unary(t, func(x float32) float32 { return float32(math.Sqrt(float64(x))) })
	recordNeeds(out, "sqrt", []*Tensor{t}, func(g *Tensor, _ []bool) []*Tensor {
		return []*Tensor{g.Div(out.Detach().Mul(2))}
	}, out)
	return out
}

// Pow returns t^p for a constant exponent.
func (t *Tensor) Pow(p float64) *Tensor {
	if p == 0 {
		// x^0 is 1 for every x (NaN and 0 included) and its gradient is 0,
		// as in PyTorch; p x^(p-1) would give 0 * inf = NaN at x = 0.
		out := newLike(t, t.shape...)
		copyStrided(out, constant(1).Expand(t.shape...))
		recordNeeds(out, "pow", []*Tensor{t}, func(g *Tensor, _ []bool) []*Tensor {
			return []*Tensor{newLike(g, t.shape...)}
		})
		return out
	}
	if t.onGPU() {
		return gpuUnary(t, cuda.OpPow, float32(p), "pow")
	}
	out := unary(t, func(x float32) float32 { return float32(math.Pow(float64(x), p)) })
	recordNeeds(out, "pow", []*Tensor{t}, func(g *Tensor, _ []bool) []*Tensor {
		d := unary(t, func(x float32) float32 { return float32(p * math.Pow(float64(x), p-1)) })
		return []*Tensor{g.Mul(d)}
	}, t)
	return out
}

// Relu returns max(t, 0).
func (t *Tensor) Relu() *Tensor {
	if t.onGPU() {
		return gpuUnary(t, cuda.OpRelu, 0, "relu")
	}
	out := unary(t, func(x float32) float32 { return max(x, 0) })
	recordNeeds(out, "relu", []*Tensor{t}, func(g *Tensor, _ []bool) []*Tensor {
		return []*Tensor{g.Mul(unary(t, func(x float32) float32 {
			if x > 0 {
				return 1
			}
			return 0
		}))}
	}, t)
	return out
}

// GeluNew is GPT-2's GELU, the tanh approximation:
// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
func (t *Tensor) GeluNew() *Tensor {
	if t.onGPU() {
		return gpuUnary(t, cuda.OpGeluNew, 0, "gelu_new")
	}
	src := t.Contiguous()
	out := New(t.shape...)
	geluForward(out.raw(), src.raw())
	recordNeeds(out, "gelu_new", []*Tensor{t}, func(g *Tensor, _ []bool) []*Tensor {
		gi := New(t.shape...)
		geluBackward(gi.raw(), g.Contiguous().raw(), src.raw())
		return []*Tensor{gi}
	}, src)
	return out
}

const geluScale = 0.7978845608028654 // sqrt(2/pi)

func geluForward(o, x []float32) {
	parallelRange(len(o), 4096, func(lo, hi int) { geluBlock(o[lo:hi], x[lo:hi]) })
}

// geluScalar is the portable GELU (and the reference the vector code is
// tested against).
func geluScalar(o, x []float32) {
	for i := range o {
		v := float64(x[i])
		o[i] = float32(0.5 * v * (1 + math.Tanh(geluScale*(v+0.044715*v*v*v))))
	}
}

func geluBackward(gi, g, x []float32) {
	parallelRange(len(gi), 4096, func(lo, hi int) { geluGradBlock(gi[lo:hi], g[lo:hi], x[lo:hi]) })
}

// geluGradScalar is the portable GELU derivative times g.
func geluGradScalar(gi, g, x []float32) {
	for i := range gi {
		v := float64(x[i])
		u := geluScale * (v + 0.044715*v*v*v)
		th := math.Tanh(u)
		sech2 := 1 - th*th
		d := 0.5*(1+th) + 0.5*v*sech2*geluScale*(1+3*0.044715*v*v)
		gi[i] = g[i] * float32(d)
	}
}

// Gelu is the exact GELU, 0.5 x (1 + erf(x / sqrt 2)).
func (t *Tensor) Gelu() *Tensor {
	if t.onGPU() {
		return gpuUnary(t, cuda.OpGelu, 0, "gelu")
	}
	out := unary(t, func(x float32) float32 {
		v := float64(x)
		return float32(0.5 * v * (1 + math.Erf(v/math.Sqrt2)))
	})
	recordNeeds(out, "gelu", []*Tensor{t}, func(g *Tensor, _ []bool) []*Tensor {
		d := unary(t, func(x float32) float32 {
			v := float64(x)
			return float32(0.5*(1+math.Erf(v/math.Sqrt2)) + v*math.Exp(-v*v/2)/math.Sqrt(2*math.Pi))
		})
		return []*Tensor{g.Mul(d)}
	}, t)
	return out
}
