package emu

import (
	"fmt"
	"slices"

	"nnscope/runtime/cuda"
)

// operand is a strided view checked as the device checks it and seen with
// an op's shape (stride 0 on broadcast dimensions). Its strides may be
// negative (a reversed view): indices are into the whole allocation.
type operand struct {
	name    string
	id      uint64    // the allocation's id
	mem     []float32 // the whole allocation (nil for a view of no elements)
	off     int       // index in mem of the view's first element
	shape   []int
	strides []int
}

// operand checks s (bounds, negative strides included, with
// cuda.Strided.Check) and returns it seen as shape.
func (d *Device) operand(what string, s cuda.Strided, shape []int) (operand, error) {
	if err := s.Check(what); err != nil {
		return operand{}, err
	}
	st, ok := broadcastTo(s, shape)
	if !ok {
		return operand{}, fmt.Errorf("cuda: %s: shape %v does not broadcast to %v", what, s.Shape, shape)
	}
	o := operand{name: what, shape: shape, strides: st}
	if numel(shape) > 0 {
		o.mem, o.id, o.off = d.alloc(s.Buf)
	}
	return o, nil
}

// each calls fn with the index in the allocation of each element, in
// row-major order of the shape, and its position k in that order.
func (o operand) each(fn func(i, k int)) {
	n := numel(o.shape)
	idx := make([]int, len(o.shape))
	i := o.off
	for k := 0; k < n; k++ {
		fn(i, k)
		for dim := len(idx) - 1; dim >= 0; dim-- {
			idx[dim]++
			i += o.strides[dim]
			if idx[dim] < o.shape[dim] {
				break
			}
			i -= o.strides[dim] * o.shape[dim]
			idx[dim] = 0
		}
	}
}

// values reads the view into a dense slice.
func (o operand) values() []float32 {
	out := make([]float32, numel(o.shape))
	o.each(func(i, k int) { out[k] = o.mem[i] })
	return out
}

// span returns the lowest and highest index in the allocation the view
// reaches.
func (o operand) span() (lo, hi int) {
	lo, hi = o.off, o.off
	for d, n := range o.shape {
		if st := o.strides[d]; st < 0 {
			lo += (n - 1) * st
		} else {
			hi += (n - 1) * st
		}
	}
	return lo, hi
}

// mayOverlap reports whether two elements of the view might be one
// element of memory: false is certain (each dimension, by increasing
// stride, steps past all the elements of the smaller ones).
func (o operand) mayOverlap() bool {
	type dim struct{ n, st int }
	var ds []dim
	for d, n := range o.shape {
		if n > 1 {
			ds = append(ds, dim{n, abs(o.strides[d])})
		}
	}
	slices.SortFunc(ds, func(a, b dim) int { return a.st - b.st })
	ext := 0 // the span of the dimensions so far
	for _, d := range ds {
		if d.st <= ext {
			return true
		}
		ext += d.st * (d.n - 1)
	}
	return false
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// checkOverlap fails where a GPU kernel would race: two elements of out
// are one element of memory (two threads write it), or an input shares
// memory with out other than element for element (a thread reads what
// another writes), or, exclusive, at all.
func checkOverlap(op string, out operand, exclusive bool, ins ...operand) error {
	if out.mem == nil {
		return nil
	}
	lo, hi := out.span()
	var owner []int // owner[i-lo]: 1 + the position of out's element at index i, 0 if none
	var err error
	mark := func() error {
		if owner != nil {
			return nil
		}
		owner = make([]int, hi-lo+1)
		out.each(func(i, k int) {
			if owner[i-lo] != 0 && err == nil {
				err = fmt.Errorf("emu: %s: %s (shape %v, strides %v) has overlapping elements: the kernel's threads would write one element twice",
					op, out.name, out.shape, out.strides)
			}
			owner[i-lo] = k + 1
		})
		return err
	}
	if out.mayOverlap() {
		if err := mark(); err != nil {
			return err
		}
	}
	for _, in := range ins {
		if in.mem == nil || in.id != out.id {
			continue
		}
		if ilo, ihi := in.span(); ihi < lo || ilo > hi {
			continue
		}
		if !exclusive && in.off == out.off && slices.Equal(in.strides, out.strides) {
			continue // element for element
		}
		if err := mark(); err != nil {
			return err
		}
		in.each(func(i, k int) {
			if i >= lo && i <= hi && owner[i-lo] != 0 && (exclusive || owner[i-lo] != k+1) && err == nil {
				err = fmt.Errorf("emu: %s: %s (offset %d, shape %v, strides %v) overlaps %s (offset %d, strides %v): the kernel's threads would read elements others write",
					op, in.name, in.off, in.shape, in.strides, out.name, out.off, out.strides)
			}
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func numel(shape []int) int {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return n
}

// broadcast returns the numpy broadcast of two shapes.
func broadcast(a, b []int) ([]int, bool) {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := 0; i < n; i++ {
		x, y := 1, 1
		if j := len(a) - n + i; j >= 0 {
			x = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			y = b[j]
		}
		if x != y && x != 1 && y != 1 {
			return nil, false
		}
		out[i] = x
		if x == 1 {
			out[i] = y
		}
	}
	return out, true
}

// broadcastTo returns s's strides seen as shape (right-aligned, stride 0
// on broadcast dimensions and those of size 1).
func broadcastTo(s cuda.Strided, shape []int) ([]int, bool) {
	if len(s.Shape) > len(shape) {
		return nil, false
	}
	st := make([]int, len(shape))
	off := len(shape) - len(s.Shape)
	for i, n := range s.Shape {
		switch {
		case n == shape[off+i]:
			if n != 1 {
				st[off+i] = s.Strides[i]
			}
		case n != 1:
			return nil, false
		}
	}
	return st, true
}
