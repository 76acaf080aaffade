package runtime

import (
	"gorgonia.org/tensor"
)

// Dense returns t as a gorgonia tensor, the interchange type for Go code.
// A contiguous tensor shares memory (no copy); a view is copied first, and
// so are weights mapped read-only from a file (a write through the Dense
// would otherwise crash the process) and a GPU tensor's values (downloaded
// into host memory: writes to the Dense do not reach the GPU).
func (t *Tensor) Dense() *tensor.Dense {
	c := t.Detach()
	if c.onGPU() {
		c = c.To("cpu")
	}
	if !c.IsContiguous() || c.st.readOnly {
		c = c.Clone()
	}
	shape := c.Shape()
	if len(shape) == 0 {
		shape = []int{1}
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(c.raw()))
}

// FromDense wraps a float32 gorgonia tensor (sharing memory when it is
// contiguous) or converts a float64 one.
func FromDense(d *tensor.Dense) (*Tensor, error) {
	shape := []int(d.Shape().Clone())
	if d.IsScalar() {
		shape = nil
	}
	switch d.Dtype() {
	case tensor.Float32:
		if !d.IsMaterializable() && d.DataOrder().IsRowMajor() {
			if data, ok := d.Data().([]float32); ok && len(data) == numel(shape) {
				return FromSlice(data, shape...), nil
			}
		}
		c := d.Clone().(*tensor.Dense)
		if c.IsMaterializable() {
			c = c.Materialize().(*tensor.Dense)
		}
		data, ok := c.Data().([]float32)
		if !ok {
			if v, ok2 := c.Data().(float32); ok2 {
				return FromSlice([]float32{v}, shape...), nil
			}
		}
		return FromSlice(data, shape...), nil
	case tensor.Float64:
		c := d.Clone().(*tensor.Dense)
		if c.IsMaterializable() {
			c = c.Materialize().(*tensor.Dense)
		}
		switch v := c.Data().(type) {
		case []float64:
			return FromFloat64s(v, shape...), nil
		case float64:
			return FromFloat64s([]float64{v}, shape...), nil
		}
	}
	return nil, errorf("FromDense: unsupported dtype %v (want float32 or float64)", d.Dtype())
}
