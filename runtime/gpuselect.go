package runtime

import "nnscope/runtime/cuda"

// Selection ops on the GPU: Where (and MaskedFill) and TopK (and Argmax).
// They need kernels beyond GPUBackend's; runtime/cuda's Device and the
// emulator (runtime/cuda/emu) have them. A backend without them (one given
// to SetGPUBackend with GPUBackend's methods only) runs these ops on host
// copies, as viaCPU does, with the same results.

// whereBackend is a GPU backend with a Where kernel (cuda.Device.Where).
type whereBackend interface {
	Where(out, cond, a, b cuda.Strided, av, bv float32) error
}

// topKBackend is a GPU backend with TopK kernels (cuda.Device.TopKRows).
type topKBackend interface {
	TopKRows(values, indices, x cuda.Buffer, rows, n, k int) error
	TopKBackward(gi, g, indices cuda.Buffer, rows, n, k int) error
}

// gpuBackend is the installed backend itself, without the call counter.
func gpuBackend() GPUBackend {
	if c, ok := gpuDev.(counted); ok {
		return c.b
	}
	return gpuDev
}

// whereOperand describes an operand of Where for the kernel: a number (a
// constant made from a Go value, which stays on the host) becomes the
// kernel's scalar parameter.
func whereOperand(t *Tensor) (cuda.Strided, float32) {
	if !t.onGPU() {
		return cuda.Strided{}, t.st.data[t.off]
	}
	return t.gs(), 0
}

// gpuWhere is Where on the GPU (shape: the broadcast of the operands').
func gpuWhere(cond, a, b *Tensor, shape []int) *Tensor {
	wb, ok := gpuBackend().(whereBackend)
	if !ok {
		in := viaCPU(cond, a, b)
		return Where(in[0], in[1], in[2]).To("cuda")
	}
	if !cond.onGPU() { // a number as the condition: picks one side
		cond = cond.To("cuda")
	}
	where := func(out *Tensor, a, b *Tensor, c cuda.Strided) {
		as, av := whereOperand(a)
		bs, bv := whereOperand(b)
		kernel()
		check("Where", wb.Where(cuda.Contig(out.gbuf(), out.shape...), c, as, bs, av, bv))
	}
	out := gpuEmpty(shape...)
	where(out, a, b, cond.gs())
	if gradDisabled > 0 || !a.needsGrad() && !b.needsGrad() {
		return out
	}
	// The backward picks with cond as it is now (as the CPU's keeps its
	// mask), whatever is written into it later.
	c := cond.Detach().Clone()
	zero := constant(0)
	recordNeeds(out, "where", []*Tensor{a, b}, func(g *Tensor, needs []bool) []*Tensor {
		gs := make([]*Tensor, 2)
		if needs[0] {
			ga := gpuEmpty(shape...)
			where(ga, g, zero, c.gs())
			gs[0] = sumTo(ga, a.shape)
		}
		if needs[1] {
			gb := gpuEmpty(shape...)
			where(gb, zero, g, c.gs())
			gs[1] = sumTo(gb, b.shape)
		}
		return gs
	})
	return out
}

// topKKernelMax is the largest k the TopK kernel takes: it makes k passes
// over a row, so a large k (TopK(vocabulary size) for top-p, a full sort)
// is k times a row's work (gpt2's fakecuda test went past 10 minutes);
// those sort on the host instead (one download, one upload).
const topKKernelMax = 64

// gpuTopK is TopK on the GPU: values and indices (as floats) along the
// last axis, both on the GPU, with the CPU's order.
func gpuTopK(t *Tensor, k int) (values, indices *Tensor) {
	tb, ok := gpuBackend().(topKBackend)
	if !ok || k > topKKernelMax {
		v, i := viaCPU(t)[0].TopK(k)
		return v.To("cuda"), i.To("cuda")
	}
	x := gpuContig(t)
	rows, n := gpuRows(t)
	outShape := append(cloneInts(t.shape[:len(t.shape)-1]), k)
	values, indices = gpuEmpty(outShape...), gpuEmpty(outShape...)
	kernel()
	check("TopK", tb.TopKRows(values.gbuf(), indices.gbuf(), x.gbuf(), rows, n, k))
	// indices saved as on the CPU: the kernel writes where they say.
	recordNeeds(values, "topk", []*Tensor{t}, func(g *Tensor, _ []bool) []*Tensor {
		gi := gpuEmpty(t.shape...)
		kernel() // and the zeroing
		kernel()
		check("topk backward", tb.TopKBackward(gi.gbuf(), gpuContig(g).gbuf(), indices.gbuf(), rows, n, k))
		return []*Tensor{gi}
	}, indices)
	return values, indices
}
