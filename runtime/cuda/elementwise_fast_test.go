package cuda_test

// Tests of the elementwise kernel variants Binary, Copy, Unary and
// UnaryBackward choose among (elementwise_fast.go): float4 kernels for
// aligned operands, binary_row for a row broadcast, and the scalar
// kernels they fall back to, each checked bit for bit against a plain Go
// computation, and with every element of the output's allocation outside
// the view checked untouched. Each runs once with the usual grid and once
// with a grid of 2 blocks, so that the grid-stride loops take many steps.

import (
	"fmt"
	"math"
	"math/rand"
	"slices"
	"testing"

	"nnscope/runtime/cuda"
)

// hostView is a tensor view on the host as a cuda.Strided is on the
// device: the allocation's data, the view's first element and its shape
// and strides.
type hostView struct {
	data           []float32
	off            int
	shape, strides []int
}

// at returns the element of v at index idx of shape (v broadcast to it,
// right-aligned).
func (v hostView) at(shape, idx []int) float32 {
	o := v.off
	k := len(shape) - len(v.shape)
	for i, n := range v.shape {
		if n != 1 {
			o += idx[k+i] * v.strides[i]
		}
	}
	return v.data[o]
}

// eachIndex calls f with every index of shape in row-major order.
func eachIndex(shape []int, f func(idx []int)) {
	idx := make([]int, len(shape))
	for {
		f(idx)
		d := len(shape) - 1
		for ; d >= 0; d-- {
			if idx[d]++; idx[d] < shape[d] {
				break
			}
			idx[d] = 0
		}
		if d < 0 {
			return
		}
	}
}

func hostBinary(op cuda.BinaryOp, x, y float32) float32 {
	switch op {
	case cuda.OpAdd:
		return x + y
	case cuda.OpSub:
		return x - y
	case cuda.OpMul:
		return x * y
	}
	return x / y
}

// elemOperand is a view and its allocation, on the host and the device.
type elemOperand struct {
	host hostView
	buf  cuda.Buffer // the whole allocation
}

func (o elemOperand) dev() cuda.Strided {
	return cuda.Strided{Buf: o.buf.Slice(o.host.off, len(o.host.data)-o.host.off), Shape: o.host.shape, Strides: o.host.strides}
}

// span is the elements from a view's first to one past its last (strides
// not negative).
func span(shape, strides []int) int {
	s := 1
	for i, n := range shape {
		s += (n - 1) * strides[i]
	}
	return s
}

// newOperand uploads random values (away from 0: they divide) for a view
// at element off of an allocation with 3 elements of slack after it;
// strides nil means contiguous.
func newOperand(t *testing.T, d *cuda.Device, rng *rand.Rand, off int, shape, strides []int) elemOperand {
	t.Helper()
	if strides == nil {
		strides = contiguous(shape)
	}
	x := randn(rng, off+span(shape, strides)+3, 1)
	for i := range x {
		x[i] += float32(math.Copysign(0.5, float64(x[i])))
	}
	return elemOperand{hostView{x, off, shape, strides}, up(t, d, x)}
}

func contiguous(shape []int) []int {
	st := make([]int, len(shape))
	s := 1
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = s
		s *= shape[i]
	}
	return st
}

// permuted returns the strides of the view of a contiguous tensor of shape
// base seen through perm (view dimension i is base dimension perm[i]) and
// the view's shape.
func permuted(base []int, perm ...int) (shape, strides []int) {
	bs := contiguous(base)
	for _, p := range perm {
		shape, strides = append(shape, base[p]), append(strides, bs[p])
	}
	return shape, strides
}

// launched runs f with kernel profiling on and returns the kernels it ran.
func launched(t *testing.T, d *cuda.Device, f func()) []string {
	t.Helper()
	must(t, d.SetProfiling(true))
	if _, err := d.KernelTimes(); err != nil { // start the sums afresh
		t.Fatal(err)
	}
	f()
	ks, err := d.KernelTimes()
	must(t, err)
	must(t, d.SetProfiling(false))
	var names []string
	for _, k := range ks {
		names = append(names, k.Name)
	}
	slices.Sort(names)
	return names
}

// checkOut compares out's whole allocation with want inside the view and
// bg (the allocation before) outside it, bit for bit.
func checkOut(t *testing.T, name string, d *cuda.Device, out elemOperand, shape []int, want, bg []float32) {
	t.Helper()
	got := down(t, d, out.buf, len(out.host.data))
	exp := slices.Clone(bg)
	i := 0
	eachIndex(shape, func(idx []int) {
		o := out.host.off
		for k, x := range idx {
			o += x * out.host.strides[k]
		}
		exp[o] = want[i]
		i++
	})
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(exp[i]) {
			t.Errorf("%s: element %d of the allocation = %v, want %v", name, i, got[i], exp[i])
			return
		}
	}
}

// gridCaps runs f with the usual grid and with a grid of 2 blocks.
func gridCaps(t *testing.T, f func(grid string)) {
	for _, c := range []int{0, 2} {
		if c == 0 {
			f("full grid")
			continue
		}
		restore := cuda.SetGridCap(c)
		f(fmt.Sprintf("%d blocks", c))
		restore()
	}
}

func TestGPUElementwiseBinary(t *testing.T) {
	d := gpu(t)
	rng := rand.New(rand.NewSource(11))
	type tc struct {
		name   string
		out    func() elemOperand // nil: contiguous at element 0
		a, b   elemOperand
		kernel string // the kernel expected to run
		inA    bool   // out is a (in place)
	}
	op := func(off int, shape []int) elemOperand { return newOperand(t, d, rng, off, shape, nil) }
	var cases []tc
	// Row broadcast (Linear's bias add), the row on either side.
	for _, n := range []int{768, 12, 13, 6} {
		for _, offs := range [][3]int{{0, 0, 0}, {1, 0, 0}, {0, 2, 0}, {0, 0, 1}, {4, 8, 4}} {
			vec := n%4 == 0 && offs[0]%4 == 0 && offs[1]%4 == 0 && offs[2]%4 == 0
			k := map[bool]string{true: "binary_row4", false: "binary_row"}[vec]
			shape := []int{3, 5, n}
			o := offs[0]
			mkOut := func() elemOperand { return op(o, shape) }
			name := fmt.Sprintf("row n=%d offsets %v", n, offs)
			cases = append(cases,
				tc{name: name + " row b", out: mkOut, a: op(offs[1], shape), b: op(offs[2], []int{n}), kernel: k},
				tc{name: name + " row a", out: mkOut, a: op(offs[2], []int{1, n}), b: op(offs[1], shape), kernel: k})
		}
	}
	x := op(0, []int{7, 12})
	cases = append(cases,
		tc{name: "row in place", a: x, b: op(0, []int{12}), kernel: "binary_row4", inA: true},
		tc{name: "row in place misaligned", a: op(1, []int{7, 12}), b: op(0, []int{12}), kernel: "binary_row", inA: true})
	// Contiguous operands, with tails and misaligned starts.
	for _, n := range []int{1, 3, 4, 5, 1030} {
		for _, offs := range [][3]int{{0, 0, 0}, {1, 0, 0}, {0, 1, 0}, {0, 0, 3}, {4, 4, 8}} {
			vec := n >= 4 && offs[0]%4 == 0 && offs[1]%4 == 0 && offs[2]%4 == 0
			k := map[bool]string{true: "binary_contig4", false: "binary_contig"}[vec]
			o := offs[0]
			cases = append(cases, tc{name: fmt.Sprintf("contiguous n=%d offsets %v", n, offs), out: func() elemOperand { return op(o, []int{n}) },
				a: op(offs[1], []int{n}), b: op(offs[2], []int{n}), kernel: k})
		}
		cases = append(cases,
			tc{name: fmt.Sprintf("scalar b n=%d", n), a: op(0, []int{n}), b: op(0, nil), kernel: "binary_contig"},
			tc{name: fmt.Sprintf("scalar a n=%d", n), a: op(0, []int{1}), b: op(0, []int{n}), kernel: "binary_contig"})
	}
	cases = append(cases, tc{name: "in place contiguous", a: x, b: op(0, []int{7, 12}), kernel: "binary_contig4", inA: true})
	// Strided operands with a contiguous last dimension: heads [2,4,3,D]
	// seen as [2,3,4,D], plus a contiguous or broadcast operand.
	for _, dh := range []int{8, 6} {
		shape, st := permuted([]int{2, 4, 3, dh}, 0, 2, 1, 3)
		perm := func(off int) elemOperand { return newOperand(t, d, rng, off, shape, st) }
		k := map[bool]string{true: "binary_strided4", false: "binary_strided"}[dh%4 == 0]
		name := fmt.Sprintf("heads D=%d", dh)
		cases = append(cases,
			tc{name: name + " + contiguous", a: perm(0), b: op(0, shape), kernel: k},
			tc{name: name + " aligned offset", a: perm(4), b: op(8, shape), kernel: k},
			tc{name: name + " misaligned a", a: perm(1), b: op(0, shape), kernel: "binary_strided"},
			tc{name: name + " misaligned b", a: perm(0), b: op(2, shape), kernel: "binary_strided"},
			tc{name: name + " column b", a: perm(0), b: op(0, []int{2, 3, 4, 1}), kernel: k},
			tc{name: name + " column a, misaligned", a: op(3, []int{3, 4, 1}), b: perm(4), kernel: k},
			tc{name: name + " strided out", out: func() elemOperand { return perm(0) }, a: op(0, shape), b: op(0, []int{dh}), kernel: k},
			tc{name: name + " strided out misaligned", out: func() elemOperand { return perm(1) }, a: op(0, shape), b: op(0, []int{dh}),
				kernel: "binary_strided"})
	}
	// Transposed: the last dimension is not contiguous.
	cases = append(cases, tc{name: "transposed", a: newOperand(t, d, rng, 0, []int{8, 12}, []int{1, 8}), b: op(0, []int{8, 12}),
		kernel: "binary_strided"})
	ops := []cuda.BinaryOp{cuda.OpAdd, cuda.OpSub, cuda.OpMul, cuda.OpDiv}
	gridCaps(t, func(grid string) {
		for _, c := range cases {
			for _, o := range ops {
				shape, ok := cuda.BroadcastShapes(c.a.host.shape, c.b.host.shape)
				if !ok {
					t.Fatalf("%s: shapes %v %v", c.name, c.a.host.shape, c.b.host.shape)
				}
				var want []float32
				eachIndex(shape, func(idx []int) {
					want = append(want, hostBinary(o, c.a.host.at(shape, idx), c.b.host.at(shape, idx)))
				})
				out := c.a
				if !c.inA {
					if c.out != nil {
						out = c.out()
					} else {
						out = op(0, shape)
					}
					must(t, d.Upload(out.buf, slices.Repeat([]float32{-12345}, len(out.host.data))))
				}
				bg := down(t, d, out.buf, len(out.host.data))
				name := fmt.Sprintf("%s op %d, %s", c.name, o, grid)
				ks := launched(t, d, func() { must(t, d.Binary(o, out.dev(), c.a.dev(), c.b.dev())) })
				if !slices.Equal(ks, []string{c.kernel}) {
					t.Errorf("%s: ran %v, want %s", name, ks, c.kernel)
				}
				checkOut(t, name, d, out, shape, want, bg)
				if c.inA {
					must(t, d.Upload(out.buf, c.a.host.data))
				} else {
					must(t, d.Free(out.buf))
				}
			}
		}
	})
}

func TestGPUElementwiseCopy(t *testing.T) {
	d := gpu(t)
	rng := rand.New(rand.NewSource(12))
	type tc struct {
		name     string
		dst, src func() elemOperand
		kernel   string
	}
	opnd := func(off int, shape, strides []int) func() elemOperand {
		return func() elemOperand { return newOperand(t, d, rng, off, shape, strides) }
	}
	var cases []tc
	for _, dh := range []int{64, 8, 6} {
		// Heads [B,T,H,D] seen as [B,H,T,D] made contiguous, and written
		// back through the permuted view.
		base := []int{2, 3, 4, dh}
		shape, st := permuted(base, 0, 2, 1, 3)
		k := map[bool]string{true: "copy_strided4", false: "copy_strided"}[dh%4 == 0]
		name := fmt.Sprintf("heads D=%d", dh)
		cases = append(cases,
			tc{name + " to contiguous", opnd(0, shape, nil), opnd(0, shape, st), k},
			tc{name + " aligned offsets", opnd(4, shape, nil), opnd(8, shape, st), k},
			tc{name + " misaligned src", opnd(0, shape, nil), opnd(1, shape, st), "copy_strided"},
			tc{name + " misaligned dst", opnd(2, shape, nil), opnd(0, shape, st), "copy_strided"},
			tc{name + " through a view", opnd(0, shape, st), opnd(0, shape, nil), k},
			tc{name + " through a misaligned view", opnd(3, shape, st), opnd(0, shape, nil), "copy_strided"})
		// Rank 7 after merging: split over launches of rank 6.
		shape7, st7 := permuted([]int{2, 2, 2, 2, 2, 3, dh}, 5, 4, 3, 2, 1, 0, 6)
		cases = append(cases, tc{fmt.Sprintf("rank 7 D=%d", dh), opnd(0, shape7, nil), opnd(4, shape7, st7), k})
	}
	cases = append(cases,
		tc{"expand column", opnd(0, []int{5, 8}, nil), opnd(1, []int{5, 1}, nil), "copy_strided4"},
		tc{"expand row", opnd(0, []int{6, 8}, nil), opnd(0, []int{8}, nil), "copy_strided4"},
		tc{"expand misaligned row", opnd(0, []int{6, 8}, nil), opnd(1, []int{8}, nil), "copy_strided"},
		tc{"expand row n=7", opnd(0, []int{6, 7}, nil), opnd(0, []int{7}, nil), "copy_strided"},
		tc{"transpose", opnd(0, []int{8, 12}, nil), opnd(0, []int{8, 12}, []int{1, 8}), "copy_strided"})
	gridCaps(t, func(grid string) {
		for _, c := range cases {
			dst, src := c.dst(), c.src()
			shape := dst.host.shape
			var want []float32
			eachIndex(shape, func(idx []int) { want = append(want, src.host.at(shape, idx)) })
			bg := dst.host.data
			name := c.name + ", " + grid
			ks := launched(t, d, func() { must(t, d.Copy(dst.dev(), src.dev())) })
			if !slices.Equal(ks, []string{c.kernel}) {
				t.Errorf("%s: ran %v, want %s", name, ks, c.kernel)
			}
			checkOut(t, name, d, dst, shape, want, bg)
			must(t, d.Free(dst.buf))
			must(t, d.Free(src.buf))
		}
	})
}

// padded returns x at element off of an allocation with 3 elements after
// it, on the device, and the view.
func padded(t *testing.T, d *cuda.Device, x []float32, off int) (all, view cuda.Buffer) {
	t.Helper()
	v := slices.Repeat([]float32{-777}, off+len(x)+3)
	copy(v[off:], x)
	all = up(t, d, v)
	return all, all.Slice(off, len(x))
}

func TestGPUElementwiseUnary(t *testing.T) {
	d := gpu(t)
	rng := rand.New(rand.NewSource(13))
	type opCase struct {
		op  cuda.UnaryOp
		p   float32
		pos bool                    // inputs > 0
		f   func(x float32) float32 // exact on the host, where not nil
	}
	ops := []opCase{
		{cuda.OpNeg, 0, false, func(x float32) float32 { return -x }},
		{cuda.OpAbs, 0, false, func(x float32) float32 { return float32(math.Abs(float64(x))) }},
		{cuda.OpExp, 0, false, nil},
		{cuda.OpLog, 0, true, nil},
		{cuda.OpTanh, 0, false, nil},
		{cuda.OpSqrt, 0, true, func(x float32) float32 { return float32(math.Sqrt(float64(x))) }},
		{cuda.OpRelu, 0, false, func(x float32) float32 { return max(x, 0) }},
		{cuda.OpGeluNew, 0, false, nil},
		{cuda.OpGelu, 0, false, nil},
		{cuda.OpPow, 3, false, nil},
		{cuda.OpScale, 2.5, false, func(x float32) float32 { return 2.5 * x }},
		{cuda.OpAddScalar, 1.5, false, func(x float32) float32 { return x + 1.5 }},
		{cuda.OpRSubScalar, 1.5, false, func(x float32) float32 { return 1.5 - x }},
		{cuda.OpRDivScalar, 3, true, func(x float32) float32 { return 3 / x }},
	}
	const sentinel = -777
	gridCaps(t, func(grid string) {
		for _, n := range []int{1, 3, 4, 5, 1027} {
			for _, oc := range ops {
				x, g := randn(rng, n, 2), randn(rng, n, 1)
				if oc.pos {
					for i := range x {
						x[i] = float32(math.Abs(float64(x[i]))) + 0.1
					}
				}
				name := fmt.Sprintf("op %d n=%d, %s", oc.op, n, grid)
				var free []cuda.Buffer
				pad := func(v []float32, off int) cuda.Buffer {
					all, view := padded(t, d, v, off)
					free = append(free, all)
					return view
				}
				// The scalar kernels (misaligned buffers) as the reference.
				yRef := pad(make([]float32, n), 1)
				must(t, d.Unary(oc.op, yRef, pad(x, 1), n, oc.p))
				wantY := down(t, d, yRef, n)
				giRef := pad(make([]float32, n), 1)
				must(t, d.UnaryBackward(oc.op, giRef, pad(g, 1), pad(x, 1), yRef, n, oc.p))
				wantG := down(t, d, giRef, n)
				if oc.f != nil {
					for i, v := range x {
						if w := oc.f(v); math.Float32bits(w) != math.Float32bits(wantY[i]) {
							t.Fatalf("%s: unary_fwd [%d] = %v, want %v", name, i, wantY[i], w)
						}
					}
				}
				for _, offs := range [][2]int{{0, 0}, {4, 8}, {0, 1}, {3, 0}} {
					vec := n >= 4 && offs[0]%4 == 0 && offs[1]%4 == 0
					k := map[bool]string{true: "unary_fwd4", false: "unary_fwd"}[vec]
					outAll, out := padded(t, d, make([]float32, n), offs[0])
					xv := pad(x, offs[1])
					ks := launched(t, d, func() { must(t, d.Unary(oc.op, out, xv, n, oc.p)) })
					if !slices.Equal(ks, []string{k}) {
						t.Errorf("%s offsets %v: ran %v, want %s", name, offs, ks, k)
					}
					bg := slices.Repeat([]float32{sentinel}, offs[0]+n+3)
					checkOut(t, fmt.Sprintf("%s forward offsets %v", name, offs), d, elemOperand{hostView{bg, offs[0], []int{n}, []int{1}}, outAll},
						[]int{n}, wantY, bg)
					must(t, d.Free(outAll))
				}
				readsX, readsY := oc.op.BackwardReads()
				for _, offs := range [][4]int{{0, 0, 0, 0}, {4, 8, 4, 0}, {1, 0, 0, 0}, {0, 2, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 3}} {
					vec := n >= 4 && offs[0]%4 == 0 && offs[1]%4 == 0 && (!readsX || offs[2]%4 == 0) && (!readsY || offs[3]%4 == 0)
					k := map[bool]string{true: "unary_bwd4", false: "unary_bwd"}[vec]
					giAll, gi := padded(t, d, make([]float32, n), offs[0])
					gv, xv, yv := pad(g, offs[1]), pad(x, offs[2]), pad(down(t, d, yRef, n), offs[3])
					ks := launched(t, d, func() { must(t, d.UnaryBackward(oc.op, gi, gv, xv, yv, n, oc.p)) })
					if !slices.Equal(ks, []string{k}) {
						t.Errorf("%s offsets %v: ran %v, want %s", name, offs, ks, k)
					}
					bg := slices.Repeat([]float32{sentinel}, offs[0]+n+3)
					checkOut(t, fmt.Sprintf("%s backward offsets %v", name, offs), d, elemOperand{hostView{bg, offs[0], []int{n}, []int{1}}, giAll},
						[]int{n}, wantG, bg)
					must(t, d.Free(giAll))
				}
				for _, b := range free {
					must(t, d.Free(b))
				}
			}
		}
	})
}
