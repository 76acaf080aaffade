package runtime

import (
	"math"
	"sort"
)

// Sum adds up all elements (no axes: a 0-d tensor) or along the given axes,
// which are removed from the shape.
func (t *Tensor) Sum(axes ...int) *Tensor {
	keep, shape := reducedShapes(t.shape, axes)
	var out *Tensor
	if len(axes) == 0 && t.onGPU() {
		out = gpuSumTo(t, nil)
	} else if len(axes) == 0 {
		out = Scalar(float32(sumAll(t)))
	} else {
		s := sumTo(t, keep)
		if s == t {
			s = t.Detach().Clone()
		}
		out = s.Reshape(shape...).Detach()
	}
	record(out, "sum", []*Tensor{t}, func(g *Tensor) []*Tensor {
		return []*Tensor{g.Reshape(keep...).Expand(t.shape...)}
	})
	return out
}

// Mean averages all elements or along the given axes.
func (t *Tensor) Mean(axes ...int) *Tensor {
	keep, _ := reducedShapes(t.shape, axes)
	n := t.Size() / max(numel(keep), 1)
	if len(axes) == 0 {
		n = t.Size()
	}
	return t.Sum(axes...).Mul(1 / float64(n))
}

// reducedShapes returns the shape with reduced axes kept as 1 and the
// shape with them removed.
func reducedShapes(shape []int, axes []int) (keep, out []int) {
	keep = cloneInts(shape)
	if len(axes) == 0 {
		for i := range keep {
			keep[i] = 1
		}
		return keep, nil
	}
	red := make([]bool, len(shape))
	for _, a := range axes {
		red[normAxis(a, len(shape))] = true
	}
	for i, r := range red {
		if r {
			keep[i] = 1
		} else {
			out = append(out, shape[i])
		}
	}
	return keep, out
}

// sumAll sums in float64 so large reductions (logits.sum()) stay exact to
// float32 precision.
func sumAll(t *Tensor) float64 {
	var s float64
	for _, v := range t.Data() {
		s += float64(v)
	}
	return s
}

// Max returns the largest element.
func (t *Tensor) Max() float64 {
	t.needElements("Max")
	m := math.Inf(-1)
	for _, v := range t.Data() {
		if v != v {
			return math.NaN() // as torch.max (math.Max prefers +Inf to NaN)
		}
		m = math.Max(m, float64(v))
	}
	return m
}

// Min returns the smallest element.
func (t *Tensor) Min() float64 {
	t.needElements("Min")
	m := math.Inf(1)
	for _, v := range t.Data() {
		if v != v {
			return math.NaN() // as torch.min (math.Min prefers -Inf to NaN)
		}
		m = math.Min(m, float64(v))
	}
	return m
}

// Norm returns the Euclidean norm of all elements.
func (t *Tensor) Norm() float64 {
	var s float64
	for _, v := range t.Data() {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s)
}

// Argmax returns the indices of the largest values along the last axis
// (a tensor of shape t.shape[:-1]; a 0-d tensor for a vector).
func (t *Tensor) Argmax() *Tensor {
	if len(t.shape) == 0 { // one element, at index 0 (as torch.argmax), on t's device
		return newLike(t)
	}
	if t.shape[len(t.shape)-1] == 0 {
		panic(errorf("Argmax: the last dimension is empty (shape %v)", t.shape))
	}
	_, idx := t.TopK(1)
	return idx.Squeeze(-1).Detach()
}

// TopK returns the k largest values along the last axis and their indices,
// largest first (ties keep the lower index first, as PyTorch's CPU does).
func (t *Tensor) TopK(k int) (values, indices *Tensor) {
	if len(t.shape) == 0 {
		panic(errorf("TopK on a 0-d tensor"))
	}
	n := t.shape[len(t.shape)-1]
	if k < 1 || k > n {
		panic(errorf("TopK: k=%d out of range for last dimension %d", k, n))
	}
	if t.onGPU() {
		return gpuTopK(t, k)
	}
	src := t.Contiguous()
	rows := t.Size() / max(n, 1)
	outShape := append(cloneInts(t.shape[:len(t.shape)-1]), k)
	values, indices = New(outShape...), New(outShape...)
	d, vd, id := src.raw(), values.raw(), indices.raw()
	order := make([]int, n)
	for r := 0; r < rows; r++ {
		row := d[r*n : (r+1)*n]
		for i := range order {
			order[i] = i
		}
		if k == 1 {
			best := 0
			for i, v := range row {
				if v > row[best] || (math.IsNaN(float64(v)) && !math.IsNaN(float64(row[best]))) {
					best = i
				}
			}
			order[0] = best
		} else {
			// NaN ranks above every number, as in PyTorch (a plain >
			// is no ordering with NaNs: they stayed where they were).
			sort.SliceStable(order, func(a, b int) bool {
				x, y := row[order[a]], row[order[b]]
				return x > y || (x != x && y == y)
			})
		}
		for j := 0; j < k; j++ {
			vd[r*k+j] = row[order[j]]
			id[r*k+j] = float32(order[j])
		}
	}
	// Gradient of values: scatter into the selected positions. The
	// backward reads indices, which the caller holds: saved, so that an
	// edit of it is an error, not a scatter to other (or no) positions.
	recordNeeds(values, "topk", []*Tensor{t}, func(g *Tensor, _ []bool) []*Tensor {
		gi := New(t.shape...)
		gd, gg := gi.raw(), g.Contiguous().raw()
		for r := 0; r < rows; r++ {
			for j := 0; j < k; j++ {
				gd[r*n+int(id[r*k+j])] += gg[r*k+j]
			}
		}
		return []*Tensor{gi}
	}, indices)
	return values, indices
}

// Ints returns the elements rounded to ints (for index tensors).
func (t *Tensor) Ints() []int {
	d := t.Data()
	out := make([]int, len(d))
	for i, v := range d {
		out[i] = int(math.Round(float64(v)))
	}
	return out
}

// needElements panics for an empty tensor: its largest or smallest element
// does not exist (PyTorch raises too).
func (t *Tensor) needElements(op string) {
	if t.Size() == 0 {
		panic(errorf("%s: the tensor is empty (shape %v)", op, t.shape))
	}
}
