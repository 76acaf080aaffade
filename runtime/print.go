package runtime

import (
	"fmt"
	"math"
	"strings"
)

// String prints like numpy: nested brackets, aligned columns, and at most
// 3 leading and trailing entries per dimension once a tensor has more than
// 1000 elements.
func (t *Tensor) String() string {
	if t == nil {
		return "<nil tensor>"
	}
	if t.onGPU() {
		s := t.Detach().To("cpu").String()
		s = s[:len(s)-1] + ", device=cuda"
		if t.requiresGrad {
			s += ", requires_grad" // as on the CPU
		}
		return s + ")"
	}
	var b strings.Builder
	b.WriteString("tensor(")
	t.format(&b, 7)
	fmt.Fprintf(&b, ", shape=%v", t.shape)
	if t.requiresGrad {
		b.WriteString(", requires_grad")
	}
	b.WriteString(")")
	return b.String()
}

// Format writes the values only (no wrapper), indenting nested rows.
func (t *Tensor) format(b *strings.Builder, indent int) {
	summarize := t.Size() > 1000
	const edge = 3
	if len(t.shape) == 0 {
		v := t.st.data[t.off]
		b.WriteString(formatFloat(v, numberStyle([]float32{v})))
		return
	}
	// Like PyTorch: one format for the whole tensor (integers, fixed point
	// with 4 decimals, or scientific when magnitudes span too much), right
	// aligned to a common width.
	var raw []float32
	walkPrinted(t, summarize, edge, func(v float32) { raw = append(raw, v) })
	style := numberStyle(raw)
	vals := make([]string, len(raw))
	w := 0
	for i, v := range raw {
		vals[i] = formatFloat(v, style)
		w = max(w, len(vals[i]))
	}
	i := 0
	var rec func(d, off int)
	rec = func(d, off int) {
		b.WriteString("[")
		n := t.shape[d]
		first := true
		for k := 0; k < n; k++ {
			if summarize && n > 2*edge && k == edge {
				if d == len(t.shape)-1 {
					b.WriteString(", ...")
				} else {
					b.WriteString(",\n" + strings.Repeat(" ", indent+d+1) + "...")
				}
				k = n - edge - 1
				continue
			}
			if !first {
				if d == len(t.shape)-1 {
					b.WriteString(", ")
				} else {
					b.WriteString(",\n" + strings.Repeat("\n", len(t.shape)-d-2) + strings.Repeat(" ", indent+d+1))
				}
			}
			first = false
			o := off + k*t.stride[d]
			if d == len(t.shape)-1 {
				fmt.Fprintf(b, "%*s", w, vals[i])
				i++
			} else {
				rec(d+1, o)
			}
		}
		b.WriteString("]")
	}
	rec(0, t.off)
}

func walkPrinted(t *Tensor, summarize bool, edge int, fn func(float32)) {
	var rec func(d, off int)
	rec = func(d, off int) {
		n := t.shape[d]
		for k := 0; k < n; k++ {
			if summarize && n > 2*edge && k == edge {
				k = n - edge - 1
				continue
			}
			o := off + k*t.stride[d]
			if d == len(t.shape)-1 {
				fn(t.st.data[o])
			} else {
				rec(d+1, o)
			}
		}
	}
	rec(0, t.off)
}

// numberStyle picks how a tensor's values print: 'i' all integers, 'f'
// fixed point, 'e' scientific.
func numberStyle(vals []float32) byte {
	allInt := true
	lo, hi := math.Inf(1), 0.0
	for _, v := range vals {
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		if f != math.Trunc(f) {
			allInt = false
		}
		a := math.Abs(f)
		hi = math.Max(hi, a)
		if a > 0 {
			lo = math.Min(lo, a)
		}
	}
	switch {
	case allInt && hi < 1e8:
		return 'i'
	case hi >= 1e8 || (lo < 1e-4) || (hi/lo > 1e3 && lo < 1e-2):
		return 'e'
	}
	return 'f'
}

func formatFloat(v float32, style byte) string {
	f := float64(v)
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	switch style {
	case 'i':
		return fmt.Sprintf("%.0f.", f)
	case 'e':
		return fmt.Sprintf("%.4e", f)
	}
	return fmt.Sprintf("%.4f", f)
}
