package runtime

import (
	"math"
	"math/rand"
	"testing"
)

func randTensor(r *rand.Rand, shape ...int) *Tensor {
	t := New(shape...)
	for i := range t.raw() {
		t.raw()[i] = float32(r.NormFloat64())
	}
	return t
}

// gradCheck compares the gradients autograd computes for f's inputs with
// central finite differences of sum(f(inputs) * w) for a random w.
func gradCheck(t *testing.T, name string, f func(in []*Tensor) *Tensor, inputs ...*Tensor) {
	t.Helper()
	r := rand.New(rand.NewSource(1))
	for _, in := range inputs {
		in.RequiresGrad()
		in.ZeroGrad()
	}
	out := f(inputs)
	w := randTensor(r, out.shape...)
	loss := func() float64 {
		o := f(inputs).Detach()
		s := 0.0
		od, wd := o.Data(), w.raw()
		for i := range od {
			s += float64(od[i]) * float64(wd[i])
		}
		return s
	}
	if err := out.Mul(w).Sum().Backward(); err != nil {
		t.Fatalf("%s: backward: %v", name, err)
	}
	for k, in := range inputs {
		if in.grad == nil {
			t.Fatalf("%s: input %d got no gradient", name, k)
		}
		g := in.grad.Data()
		d := in.st.data
		var maxErr, maxRef float64
		for i := range d {
			const eps = 1e-2
			old := d[i]
			d[i] = old + eps
			lp := loss()
			d[i] = old - eps
			lm := loss()
			d[i] = old
			num := (lp - lm) / (2 * eps)
			maxErr = math.Max(maxErr, math.Abs(num-float64(g[i])))
			maxRef = math.Max(maxRef, math.Abs(num))
		}
		if maxErr > 2e-2*math.Max(1, maxRef) {
			t.Errorf("%s: input %d: max |analytic - numeric| = %g (max |numeric| %g)", name, k, maxErr, maxRef)
		}
	}
}

type opCase struct {
	name string
	f    func(in []*Tensor) *Tensor
	in   []*Tensor
}

// opCases is the op-level suite: every backend runs it (gradients against
// finite differences on the CPU, and the GPU against the CPU).
func opCases() []opCase {
	r := rand.New(rand.NewSource(42))
	rt := func(s ...int) *Tensor { return randTensor(r, s...) }
	pos := func(s ...int) *Tensor {
		x := rt(s...)
		for i, v := range x.raw() {
			x.raw()[i] = float32(math.Abs(float64(v))) + 0.5
		}
		return x
	}
	return []opCase{
		{"add broadcast", func(in []*Tensor) *Tensor { return in[0].Add(in[1]) }, []*Tensor{rt(3, 4), rt(4)}},
		{"sub broadcast", func(in []*Tensor) *Tensor { return in[0].Sub(in[1]) }, []*Tensor{rt(2, 3, 4), rt(3, 1)}},
		{"mul broadcast", func(in []*Tensor) *Tensor { return in[0].Mul(in[1]) }, []*Tensor{rt(3, 4), rt(1, 4)}},
		{"div", func(in []*Tensor) *Tensor { return in[0].Div(in[1]) }, []*Tensor{rt(3, 4), pos(3, 4)}},
		{"scalar ops", func(in []*Tensor) *Tensor { return in[0].Mul(3).Add(1).Sub(0.5).Div(2) }, []*Tensor{rt(5)}},
		{"abs", func(in []*Tensor) *Tensor { return in[0].Abs() }, []*Tensor{rt(7)}},
		{"exp", func(in []*Tensor) *Tensor { return in[0].Exp() }, []*Tensor{rt(7)}},
		{"log", func(in []*Tensor) *Tensor { return in[0].Log() }, []*Tensor{pos(7)}},
		{"tanh", func(in []*Tensor) *Tensor { return in[0].Tanh() }, []*Tensor{rt(7)}},
		{"sqrt", func(in []*Tensor) *Tensor { return in[0].Sqrt() }, []*Tensor{pos(7)}},
		{"pow", func(in []*Tensor) *Tensor { return in[0].Pow(3) }, []*Tensor{rt(7)}},
		{"gelu_new", func(in []*Tensor) *Tensor { return in[0].GeluNew() }, []*Tensor{rt(3, 5)}},
		{"gelu", func(in []*Tensor) *Tensor { return in[0].Gelu() }, []*Tensor{rt(3, 5)}},
		{"sum all", func(in []*Tensor) *Tensor { return in[0].Sum() }, []*Tensor{rt(3, 4)}},
		{"sum axis", func(in []*Tensor) *Tensor { return in[0].Sum(1) }, []*Tensor{rt(2, 3, 4)}},
		{"mean axes", func(in []*Tensor) *Tensor { return in[0].Mean(0, 2) }, []*Tensor{rt(2, 3, 4)}},
		{"softmax", func(in []*Tensor) *Tensor { return in[0].Softmax() }, []*Tensor{rt(3, 6)}},
		{"log_softmax", func(in []*Tensor) *Tensor { return in[0].LogSoftmax() }, []*Tensor{rt(3, 6)}},
		{"layernorm", func(in []*Tensor) *Tensor { return LayerNorm(in[0], in[1], in[2], 1e-5) }, []*Tensor{rt(4, 8), rt(8), rt(8)}},
		{"layernorm without gain or bias", func(in []*Tensor) *Tensor { return LayerNorm(in[0], nil, nil, 1e-5) }, []*Tensor{rt(4, 8)}},
		{"layernorm with gain only", func(in []*Tensor) *Tensor { return LayerNorm(in[0], in[1], nil, 1e-5) }, []*Tensor{rt(4, 8), rt(8)}},
		{"matmul", func(in []*Tensor) *Tensor { return in[0].MatMul(in[1]) }, []*Tensor{rt(3, 4), rt(4, 5)}},
		{"matmul batched broadcast", func(in []*Tensor) *Tensor { return in[0].MatMul(in[1]) }, []*Tensor{rt(2, 3, 4), rt(4, 5)}},
		{"matmul transposed views", func(in []*Tensor) *Tensor { return in[0].T().MatMul(in[1].T()) }, []*Tensor{rt(4, 3), rt(5, 4)}},
		{"linear", func(in []*Tensor) *Tensor { return Linear(in[0], in[1], in[2]) }, []*Tensor{rt(2, 3, 4), rt(4, 5), rt(5)}},
		{"tied embedding and unembedding", func(in []*Tensor) *Tensor { // GPT-2's wte and lm_head
			return Linear(Embedding(in[0], []int{3, 0, 3, 6}, 1, 4), in[0].T(), nil)
		}, []*Tensor{rt(7, 5)}},
		{"embedding", func(in []*Tensor) *Tensor { return Embedding(in[0], []int{2, 0, 2, 1}, 2, 2) }, []*Tensor{rt(3, 4)}},
		{"causal softmax", func(in []*Tensor) *Tensor {
			return CausalSoftmax(in[0], 0.5, [][]float32{{0, 1, 1, 1}, {1, 1, 1, 1}})
		}, []*Tensor{rt(2, 2, 4, 4)}},
		{"causal softmax with past", func(in []*Tensor) *Tensor { return CausalSoftmax(in[0], 0.7, nil) }, []*Tensor{rt(1, 2, 2, 5)}},
		{"cross entropy", func(in []*Tensor) *Tensor { return CrossEntropy(in[0], []int{1, 4, -100}) }, []*Tensor{rt(3, 5)}},
		{"causal self-attention", func(in []*Tensor) *Tensor {
			// As GPT-2 does it: qkv [B,T,3*H*D] viewed as heads, scores,
			// masked softmax, weighted values, heads merged back.
			B, T, H, D := 2, 3, 2, 2
			heads := Linear(in[0], in[1], nil).Reshape(B, T, 3, H, D)
			q := heads.Select(2, 0).Permute(0, 2, 1, 3)
			k := heads.Select(2, 1).Permute(0, 2, 1, 3)
			v := heads.Select(2, 2).Permute(0, 2, 1, 3)
			p := CausalSoftmax(q.MatMul(k.T()), 0.7, [][]float32{{1, 1, 1}, {0, 1, 1}})
			return p.MatMul(v).Permute(0, 2, 1, 3).Reshape(B, T, H*D)
		}, []*Tensor{rt(2, 3, 4), rt(4, 12)}},
		{"causal self-attention, batch of 4", func(in []*Tensor) *Tensor {
			// Four batch rows: on the GPU, Q, K and V views whose batch
			// and head strides do not merge are copied for one batched GEMM.
			B, T, H, D := 4, 3, 2, 2
			heads := Linear(in[0], in[1], nil).Reshape(B, T, 3, H, D)
			q := heads.Select(2, 0).Permute(0, 2, 1, 3)
			k := heads.Select(2, 1).Permute(0, 2, 1, 3)
			v := heads.Select(2, 2).Permute(0, 2, 1, 3)
			p := CausalSoftmax(q.MatMul(k.T()), 0.7, nil)
			return p.MatMul(v).Permute(0, 2, 1, 3).Reshape(B, T, H*D)
		}, []*Tensor{rt(4, 3, 4), rt(4, 12)}},
		{"matmul broadcast over the batch, not the heads", func(in []*Tensor) *Tensor { return in[0].MatMul(in[1]) }, []*Tensor{rt(4, 2, 3, 4), rt(2, 4, 5)}},
		{"slice", func(in []*Tensor) *Tensor { return in[0].Slice(":, -1, 1::2") }, []*Tensor{rt(2, 3, 5)}},
		{"select narrow", func(in []*Tensor) *Tensor { return in[0].Select(1, 2).Narrow(0, 1, 2) }, []*Tensor{rt(3, 4)}},
		{"permute reshape", func(in []*Tensor) *Tensor { return in[0].Permute(2, 0, 1).Reshape(4, -1) }, []*Tensor{rt(2, 3, 4)}},
		{"expand", func(in []*Tensor) *Tensor { return in[0].Expand(3, 4) }, []*Tensor{rt(1, 4)}},
		{"concat", func(in []*Tensor) *Tensor { return Concat(1, in[0], in[1]) }, []*Tensor{rt(2, 3), rt(2, 2)}},
		{"stack", func(in []*Tensor) *Tensor { return Stack(0, in[0], in[1]) }, []*Tensor{rt(2, 3), rt(2, 3)}},
		{"where", func(in []*Tensor) *Tensor {
			return Where(FromSlice([]float32{1, 0, 1}, 3).To(in[0].Device()), in[0], in[1])
		}, []*Tensor{rt(2, 3), rt(3)}},
		{"topk values", func(in []*Tensor) *Tensor { v, _ := in[0].TopK(2); return v }, []*Tensor{rt(3, 5)}},
		{"where, cond and both sides broadcast", func(in []*Tensor) *Tensor {
			return Where(FromSlice([]float32{0, 1}, 2, 1).To(in[0].Device()), in[0], in[1])
		}, []*Tensor{rt(1, 3), rt(2, 1)}},
		{"masked fill of a view", func(in []*Tensor) *Tensor {
			return in[0].T().MaskedFill(FromSlice([]float32{1, 0, 0}, 3).To(in[0].Device()), 2)
		}, []*Tensor{rt(3, 4)}},
		{"topk of a view, all of a row", func(in []*Tensor) *Tensor { v, _ := in[0].T().TopK(3); return v }, []*Tensor{rt(3, 4)}},
		{"copy into view", func(in []*Tensor) *Tensor {
			x := in[0].Mul(1)
			x.Slice(":, 1").Copy(in[1])
			return x.Mul(x)
		}, []*Tensor{rt(3, 4), rt(3)}},
		{"fill view", func(in []*Tensor) *Tensor {
			x := in[0].Mul(2)
			x.Slice("0").Fill(0)
			return x.Exp()
		}, []*Tensor{rt(2, 3)}},
		// torch.matmul's 1-d operands: a row on the left, a column on the
		// right, their dimension dropped.
		{"matmul vector @ matrix", func(in []*Tensor) *Tensor { return in[0].MatMul(in[1]) }, []*Tensor{rt(4), rt(4, 5)}},
		{"matmul batch @ vector", func(in []*Tensor) *Tensor { return in[0].MatMul(in[1]) }, []*Tensor{rt(2, 3, 4), rt(4)}},
		{"matmul dot", func(in []*Tensor) *Tensor { return in[0].MatMul(in[1]) }, []*Tensor{rt(4), rt(4)}},
		{"matmul over an empty inner dimension", func(in []*Tensor) *Tensor { return in[0].MatMul(in[1]) }, []*Tensor{rt(3, 0), rt(0, 2)}},
		{"batched matmul over an empty inner dimension, strided", func(in []*Tensor) *Tensor {
			return in[0].MatMul(in[1].Permute(0, 2, 1, 3)).Add(1)
		}, []*Tensor{rt(1, 4, 0, 0), rt(1, 0, 4, 8)}},
		{"batched matmul, empty inner dimension, rows kept", func(in []*Tensor) *Tensor {
			return in[0].MatMul(in[1].Permute(0, 2, 1, 3)).Add(in[2])
		}, []*Tensor{rt(1, 4, 3, 0), rt(1, 0, 4, 8), rt(1, 4, 3, 8)}},
		// Negative steps: negative strides (the CUDA kernels take them; the
		// emulator goes through host copies).
		{"reversed views", func(in []*Tensor) *Tensor {
			return in[0].Slice("::-1, ::-2").Mul(in[1].Slice("::-1")).Add(in[0].Slice("1:, ::-1").Sum(0).Slice("::-2"))
		}, []*Tensor{rt(3, 4), rt(2)}},
		{"reversed view contiguous", func(in []*Tensor) *Tensor { return in[0].Slice("::-1").T().Softmax() }, []*Tensor{rt(3, 4)}},
		{"matmul of reversed views", func(in []*Tensor) *Tensor {
			// A reversed batch (one GEMM per matrix would repeat the first)
			// and reversed rows and columns.
			return in[0].Slice("::-1, :, :").MatMul(in[1]).Add(in[0].Slice(":, ::-1, ::-1").MatMul(in[1].Slice("::-1, :")))
		}, []*Tensor{rt(2, 3, 4), rt(4, 2)}},
		{"batched matmul of a reversed batch", func(in []*Tensor) *Tensor {
			return in[0].Slice("::-1").MatMul(in[1].Slice("::-1"))
		}, []*Tensor{rt(4, 2, 3), rt(4, 3, 2)}},
		{"write to the input of exp, tanh, sqrt and neg", func(in []*Tensor) *Tensor {
			// Their backward reads only the output (or nothing): no
			// "modified in place" error, on any device.
			a := in[0].Mul(1)
			b := in[0].Abs().Add(1)
			e, th, sq, ng := a.Exp(), a.Tanh(), b.Sqrt(), a.Neg()
			a.Fill(2)
			b.Fill(3)
			return e.Add(th).Add(sq).Add(ng).Add(a).Add(b)
		}, []*Tensor{rt(2, 3)}},
		{"reshape of a slice into heads, a view", func(in []*Tensor) *Tensor {
			x := in[0].Mul(1)
			h := x.Narrow(1, 2, 4).Reshape(3, 2, 2)
			h.Select(1, 0).Copy(in[1])
			return x.Mul(x).Add(h.Sum(1).Sum(1).Unsqueeze(1))
		}, []*Tensor{rt(3, 8), rt(3, 2)}},
		{"copy into a reversed view", func(in []*Tensor) *Tensor {
			x := in[0].Mul(1)
			x.Slice("::-1, 0").Copy(in[1].Slice("::-1"))
			x.Slice("0, ::-2").Fill(3)
			return x.Mul(x)
		}, []*Tensor{rt(3, 4), rt(3)}},
	}
}

func TestGradients(t *testing.T) {
	for _, c := range opCases() {
		t.Run(c.name, func(t *testing.T) { gradCheck(t, c.name, c.f, c.in...) })
	}
}
