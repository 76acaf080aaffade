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
		b.WriteString(formatFloat(float32(t.Item())))
		return
	}
	// Collect the printed values to find a common width.
	var vals []string
	walkPrinted(t, summarize, edge, func(v float32) { vals = append(vals, formatFloat(v)) })
	w := 0
	for _, v := range vals {
		w = max(w, len(v))
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

func formatFloat(v float32) string {
	f := float64(v)
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case f == math.Trunc(f) && math.Abs(f) < 1e7:
		return fmt.Sprintf("%.0f.", f)
	case math.Abs(f) >= 1e5 || math.Abs(f) < 1e-4:
		return fmt.Sprintf("%.4e", f)
	}
	return fmt.Sprintf("%.4f", f)
}
