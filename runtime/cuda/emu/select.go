package emu

import (
	"fmt"
	"slices"

	"nnscope/runtime/cuda"
)

// Where is cuda.Device.Where: out = cond != 0 ? a : b with broadcasting,
// any operand a strided view; a or b given as Strided{} stands for the
// scalar av or bv. A NaN in cond picks a.
func (d *Device) Where(out, cond, a, b cuda.Strided, av, bv float32) error {
	o, err := d.operand("Where out", out, out.Shape)
	if err != nil {
		return err
	}
	c, err := d.operand("Where cond", cond, out.Shape)
	if err != nil {
		return err
	}
	side := func(what string, s cuda.Strided, v float32) (func(k int) float32, *operand, error) {
		if s.Buf.IsNil() && len(s.Shape) == 0 {
			return func(int) float32 { return v }, nil, nil
		}
		x, err := d.operand(what, s, out.Shape)
		if err != nil {
			return nil, nil, err
		}
		vals := x.values()
		return func(k int) float32 { return vals[k] }, &x, nil
	}
	fa, xa, err := side("Where a", a, av)
	if err != nil {
		return err
	}
	fb, xb, err := side("Where b", b, bv)
	if err != nil {
		return err
	}
	ins := []operand{c}
	for _, x := range []*operand{xa, xb} {
		if x != nil {
			ins = append(ins, *x)
		}
	}
	if err := checkOverlap("Where", o, false, ins...); err != nil {
		return err
	}
	cv := c.values()
	o.each(func(i, k int) {
		if cv[k] != 0 {
			o.mem[i] = fa(k)
		} else {
			o.mem[i] = fb(k)
		}
	})
	return nil
}

// ranksBefore is runtime.TopK's order: NaN above every number, equal
// values by lower index.
func ranksBefore(a float32, ia int, b float32, ib int) bool {
	na, nb := a != a, b != b
	if na != nb {
		return na
	}
	if !na && a != b {
		return a > b
	}
	return ia < ib
}

// rows checks that each buffer holds rows*n elements, as cuda's row ops do.
func rows(what string, rows, n int, bufs ...cuda.Buffer) error {
	if rows < 0 || n < 0 {
		return fmt.Errorf("cuda: %s: negative size (rows %d, n %d)", what, rows, n)
	}
	for _, b := range bufs {
		if rows*n > 0 && (b.IsNil() || b.Len() < rows*n) {
			return fmt.Errorf("cuda: %s: buffer of %d elements, need %d", what, b.Len(), rows*n)
		}
	}
	return nil
}

// TopKRows is cuda.Device.TopKRows: the k largest values of each row of x
// [rows, n] in runtime.TopK's order, and their indices as floats.
func (d *Device) TopKRows(values, indices, x cuda.Buffer, nrows, n, k int) error {
	if err := rows("TopKRows", nrows, n, x); err != nil {
		return err
	}
	if k < 1 || k > n {
		return fmt.Errorf("cuda: TopKRows: k=%d out of range for rows of %d", k, n)
	}
	if err := rows("TopKRows out", nrows, k, values, indices); err != nil {
		return err
	}
	if nrows == 0 {
		return nil
	}
	xs, vs, is := d.slice(x), d.slice(values), d.slice(indices)
	order := make([]int, n)
	for r := range nrows {
		row := xs[r*n : (r+1)*n]
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(i, j int) int {
			if ranksBefore(row[i], i, row[j], j) {
				return -1
			}
			return 1
		})
		for j, i := range order[:k] {
			vs[r*k+j], is[r*k+j] = row[i], float32(i)
		}
	}
	return nil
}

// TopKBackward is cuda.Device.TopKBackward: gi [rows, n] is g [rows, k]
// at TopKRows's indices and zero elsewhere.
func (d *Device) TopKBackward(gi, g, indices cuda.Buffer, nrows, n, k int) error {
	if k < 1 || k > n {
		return fmt.Errorf("cuda: TopKBackward: k=%d out of range for rows of %d", k, n)
	}
	if err := rows("TopKBackward gi", nrows, n, gi); err != nil {
		return err
	}
	if err := rows("TopKBackward", nrows, k, g, indices); err != nil {
		return err
	}
	if nrows == 0 {
		return nil
	}
	o, gs, is := d.slice(gi), d.slice(g), d.slice(indices)
	clear(o[:nrows*n])
	for r := range nrows {
		for j := range k {
			i := int(is[r*k+j])
			if i < 0 || i >= n {
				return fmt.Errorf("emu: TopKBackward: index %d out of range for rows of %d", i, n)
			}
			o[r*n+i] = gs[r*k+j]
		}
	}
	return nil
}
