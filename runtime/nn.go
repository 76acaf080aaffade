package runtime

import "math"

// rowsOf views a contiguous tensor as rows of its last dimension (a 0-d
// tensor is one row of one element, as PyTorch's softmax takes it).
func rowsOf(t *Tensor) (data []float32, rows, n int) {
	n = 1
	if len(t.shape) > 0 {
		n = t.shape[len(t.shape)-1]
	}
	return t.raw(), t.Size() / max(n, 1), n
}

// Softmax over the last axis.
func (t *Tensor) Softmax() *Tensor {
	if t.onGPU() {
		return gpuSoftmax(t, false)
	}
	src := t.Contiguous()
	out := New(t.shape...)
	x, rows, n := rowsOf(src)
	o := out.raw()
	parallelRange(rows, 8, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			softmaxRow(o[r*n:(r+1)*n], x[r*n:(r+1)*n])
		}
	})
	recordNeeds(out, "softmax", []*Tensor{t}, func(g *Tensor, _ []bool) []*Tensor {
		// dx = y * (g - sum(g*y))
		gi := New(t.shape...)
		gd, gg := gi.raw(), g.Contiguous().raw()
		for r := 0; r < rows; r++ {
			y, gr, dr := o[r*n:(r+1)*n], gg[r*n:(r+1)*n], gd[r*n:(r+1)*n]
			var dot float64
			for i := range y {
				dot += float64(y[i]) * float64(gr[i])
			}
			for i := range y {
				dr[i] = y[i] * (gr[i] - float32(dot))
			}
		}
		return []*Tensor{gi}
	}, out)
	return out
}

// expShiftScalar is expShift one element at a time, in float64.
func expShiftScalar(o, x []float32, scale, shift float32) float64 {
	var s float64
	for i, v := range x {
		e := float32(math.Exp(float64(v*scale - shift)))
		o[i] = e
		s += float64(e)
	}
	return s
}

// expChunk is how many elements expShift's vector code sums in float32
// lanes (32 a lane) before adding them up in float64.
const expChunk = 512

// finite reports whether v is neither infinite nor NaN.
func finite(v float32) bool { return v-v == 0 }

// softmaxRow writes the softmax of x into o and returns log(sum(exp(x))).
func softmaxRow(o, x []float32) (lse float64) {
	m, s := expRow(o, x)
	inv := float32(1 / s)
	for i := range o {
		o[i] *= inv
	}
	return float64(m) + math.Log(s)
}

// expRow sets o[i] = exp(x[i] - m) for x's maximum m and returns m and the
// sum of o. A row holding NaN or +Inf (m not finite) takes the scalar
// path, whose NaNs and infinities are the ones PyTorch gives.
func expRow(o, x []float32) (m float32, s float64) {
	m = float32(math.Inf(-1))
	for _, v := range x {
		m = max(m, v)
	}
	if !finite(m) {
		return m, expShiftScalar(o, x, 1, m)
	}
	return m, expShift(o, x, 1, m)
}

// LogSoftmax over the last axis.
func (t *Tensor) LogSoftmax() *Tensor {
	if t.onGPU() {
		return gpuSoftmax(t, true)
	}
	src := t.Contiguous()
	out := New(t.shape...)
	x, rows, n := rowsOf(src)
	o := out.raw()
	parallelRange(rows, 8, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, or := x[r*n:(r+1)*n], o[r*n:(r+1)*n]
			m, s := expRow(or, xr) // or is scratch here
			lse := m + float32(math.Log(s))
			for i, v := range xr {
				or[i] = v - lse
			}
		}
	})
	recordNeeds(out, "log_softmax", []*Tensor{t}, func(g *Tensor, _ []bool) []*Tensor {
		// dx = g - softmax * sum(g)
		gi := New(t.shape...)
		gd, gg := gi.raw(), g.Contiguous().raw()
		for r := 0; r < rows; r++ {
			y, gr, dr := o[r*n:(r+1)*n], gg[r*n:(r+1)*n], gd[r*n:(r+1)*n]
			var s float64
			for _, v := range gr {
				s += float64(v)
			}
			for i := range y {
				dr[i] = gr[i] - float32(math.Exp(float64(y[i])))*float32(s)
			}
		}
		return []*Tensor{gi}
	}, out)
	return out
}

// LayerNorm normalizes over the last axis and applies gain w and bias b
// (either may be nil).
func LayerNorm(x, w, b *Tensor, eps float64) *Tensor {
	if sameDevice("LayerNorm", x, w, b) {
		return gpuLayerNorm(x, w, b, eps)
	}
	src := x.Contiguous()
	xd, rows, n := rowsOf(src)
	out := New(x.shape...)
	o := out.raw()
	mean, rstd := make([]float32, rows), make([]float32, rows)
	var wd, bd []float32
	if w != nil {
		wd = w.Contiguous().raw()
	}
	if b != nil {
		bd = b.Contiguous().raw()
	}
	parallelRange(rows, 16, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, or := xd[r*n:(r+1)*n], o[r*n:(r+1)*n]
			var s float64
			for _, v := range xr {
				s += float64(v)
			}
			mu := s / float64(n)
			var vs float64
			for _, v := range xr {
				d := float64(v) - mu
				vs += d * d
			}
			rs := 1 / math.Sqrt(vs/float64(n)+eps)
			mean[r], rstd[r] = float32(mu), float32(rs)
			for i, v := range xr {
				y := float32((float64(v) - mu) * rs)
				if wd != nil {
					y *= wd[i]
				}
				if bd != nil {
					y += bd[i]
				}
				or[i] = y
			}
		}
	})
	recordNeeds(out, "layer_norm", []*Tensor{x, w, b}, func(g *Tensor, needs []bool) []*Tensor {
		gg := g.Contiguous().raw()
		gs := make([]*Tensor, 3)
		var gx, gw, gb []float32
		if needs[0] {
			gs[0] = New(x.shape...)
			gx = gs[0].raw()
		}
		if w != nil && needs[1] {
			gs[1] = New(n)
			gw = gs[1].raw()
		}
		if b != nil && needs[2] {
			gs[2] = New(n)
			gb = gs[2].raw()
		}
		for r := 0; r < rows; r++ {
			xr, gr := xd[r*n:(r+1)*n], gg[r*n:(r+1)*n]
			mu, rs := mean[r], rstd[r]
			// dnorm = g * w; dx = rstd * (dnorm - mean(dnorm) - norm * mean(dnorm*norm))
			var m1, m2 float64
			for i, v := range xr {
				nm := (v - mu) * rs
				dn := gr[i]
				if wd != nil {
					dn *= wd[i]
				}
				m1 += float64(dn)
				m2 += float64(dn * nm)
				if gw != nil {
					gw[i] += gr[i] * nm
				}
				if gb != nil {
					gb[i] += gr[i]
				}
			}
			if gx == nil {
				continue
			}
			m1 /= float64(n)
			m2 /= float64(n)
			dr := gx[r*n : (r+1)*n]
			for i, v := range xr {
				nm := (v - mu) * rs
				dn := gr[i]
				if wd != nil {
					dn *= wd[i]
				}
				dr[i] = rs * (dn - float32(m1) - nm*float32(m2))
			}
		}
		return gs
	}, x, w, b)
	return out
}

// Embedding looks up rows of weight [V, C] for ids, giving shape
// idsShape + [C].
func Embedding(weight *Tensor, ids []int, idsShape ...int) *Tensor {
	if len(idsShape) == 0 {
		idsShape = []int{len(ids)}
	}
	if numel(idsShape) != len(ids) {
		panic(errorf("Embedding: shape %v does not hold %d ids", idsShape, len(ids)))
	}
	if weight.onGPU() {
		return gpuEmbedding(weight, ids, idsShape)
	}
	V, C := weight.shape[0], weight.shape[1]
	w := weight.Contiguous()
	wd := w.raw()
	out := New(append(cloneInts(idsShape), C)...)
	o := out.raw()
	for i, id := range ids {
		if id < 0 || id >= V {
			panic(errorf("Embedding: token id %d out of range [0, %d)", id, V))
		}
		copy(o[i*C:(i+1)*C], wd[id*C:(id+1)*C])
	}
	ids = append([]int(nil), ids...)
	record(out, "embedding", []*Tensor{weight}, func(g *Tensor) []*Tensor {
		gw := New(V, C)
		gd, gg := gw.raw(), g.Contiguous().raw()
		for i, id := range ids {
			vadd(gd[id*C:(id+1)*C], gd[id*C:(id+1)*C], gg[i*C:(i+1)*C])
		}
		return []*Tensor{gw}
	})
	return out
}

// CausalSoftmax turns attention scores [B, H, Tq, Tk] into probabilities:
// scores are scaled, key j is visible to query i when j <= i + (Tk - Tq)
// (queries are the last Tq positions) and keyMask[b][j] != 0 (keyMask may
// be nil). A query that sees no key gets all-zero probabilities.
func CausalSoftmax(scores *Tensor, scale float32, keyMask [][]float32) *Tensor {
	if len(scores.shape) != 4 {
		panic(errorf("CausalSoftmax: want [B,H,Tq,Tk] scores, got %v", scores.shape))
	}
	if scores.onGPU() {
		return gpuCausalSoftmax(scores, scale, keyMask)
	}
	src := scores.Contiguous()
	B, H, Tq, Tk := src.shape[0], src.shape[1], src.shape[2], src.shape[3]
	past := Tk - Tq
	out := New(src.shape...)
	x, o := src.raw(), out.raw()
	// first[b] is where row b's keys start when its mask is left padding
	// (zeros, then ones: a batch of prompts of different lengths), so
	// that its rows take the vectorized path over [first, lim); -1 for
	// any other mask.
	first := make([]int, B)
	for b := range first {
		if keyMask == nil {
			continue
		}
		k := 0
		for k < Tk && keyMask[b][k] == 0 {
			k++
		}
		first[b] = k
		for j := k; j < Tk; j++ {
			if keyMask[b][j] == 0 {
				first[b] = -1
				break
			}
		}
	}
	parallelRange(B*H, 1, func(lo, hi int) {
		for bh := lo; bh < hi; bh++ {
			b := bh / H
			for i := 0; i < Tq; i++ {
				row := (bh*Tq + i) * Tk
				xr, or := x[row:row+Tk], o[row:row+Tk]
				m := float32(math.Inf(-1))
				visible := func(j int) bool {
					return j <= i+past && (keyMask == nil || keyMask[b][j] != 0)
				}
				lim := max(0, min(i+past+1, Tk)) // keys after the query are hidden
				k := first[b]
				if k >= 0 {
					for _, v := range xr[min(k, lim):lim] {
						m = max(m, v*scale)
					}
				} else {
					for j := 0; j < lim; j++ {
						if visible(j) {
							m = max(m, xr[j]*scale)
						}
					}
				}
				var s float64
				if k >= 0 && k < lim && finite(m) {
					clear(or[:k])
					s = expShift(or[k:lim], xr[k:lim], scale, m)
					clear(or[lim:])
				} else {
					for j := 0; j < Tk; j++ {
						if visible(j) {
							e := float32(math.Exp(float64(xr[j]*scale - m)))
							or[j] = e
							s += float64(e)
						} else {
							or[j] = 0
						}
					}
				}
				if s > 0 {
					inv := float32(1 / s)
					for j := range or {
						or[j] *= inv
					}
				}
			}
		}
	})
	recordNeeds(out, "causal_softmax", []*Tensor{scores}, func(g *Tensor, _ []bool) []*Tensor {
		gi := New(src.shape...)
		gd, gg := gi.raw(), g.Contiguous().raw()
		rows := B * H * Tq
		parallelRange(rows, 64, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				y, gr, dr := o[r*Tk:(r+1)*Tk], gg[r*Tk:(r+1)*Tk], gd[r*Tk:(r+1)*Tk]
				var dot float32
				for j := range y {
					dot += y[j] * gr[j]
				}
				for j := range y {
					dr[j] = scale * y[j] * (gr[j] - dot)
				}
			}
		})
		return []*Tensor{gi}
	}, out)
	return out
}

// CrossEntropy is the mean of -log softmax(logits)[target] over rows of
// logits [N, V]; targets equal to -100 are ignored (as in PyTorch).
func CrossEntropy(logits *Tensor, targets []int) *Tensor {
	if len(logits.shape) != 2 || logits.shape[0] != len(targets) {
		panic(errorf("CrossEntropy: want logits [N, V] and N targets, got %v and %d", logits.shape, len(targets)))
	}
	if logits.onGPU() {
		return gpuCrossEntropy(logits, targets)
	}
	src := logits.Contiguous()
	x, N, V := rowsOf(src)
	probs := make([]float32, len(x))
	var loss float64
	count := 0
	for r := 0; r < N; r++ {
		lse := softmaxRow(probs[r*V:(r+1)*V], x[r*V:(r+1)*V])
		tg := targets[r]
		if tg == -100 {
			continue
		}
		if tg < 0 || tg >= V {
			panic(errorf("CrossEntropy: target %d out of range [0, %d)", tg, V))
		}
		// log p computed from the logits for accuracy.
		loss += lse - float64(x[r*V+tg])
		count++
	}
	// The mean over no counted rows (every target -100) is NaN, as in
	// PyTorch; its gradient is zero.
	loss /= float64(count)
	out := Scalar(float32(loss))
	targets = append([]int(nil), targets...)
	record(out, "cross_entropy", []*Tensor{logits}, func(g *Tensor) []*Tensor {
		gi := New(N, V)
		gd := gi.raw()
		if count == 0 {
			return []*Tensor{gi}
		}
		scale := float32(g.Item()) / float32(count)
		for r := 0; r < N; r++ {
			if targets[r] == -100 {
				continue
			}
			pr, dr := probs[r*V:(r+1)*V], gd[r*V:(r+1)*V]
			for j, p := range pr {
				dr[j] = p * scale
			}
			dr[targets[r]] -= scale
		}
		return []*Tensor{gi}
	})
	return out
}
