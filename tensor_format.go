package nnscope

import (
	"fmt"
	"io"
	"strings"
)

// Format makes fmt's verbs work on tensors: %v and %s print the tensor
// (like String), %q quotes that, and the float verbs (%f, %.3f, %g, %e...)
// format the values: a one-element tensor as a number (like Python's
// f"{loss:.3f}"), a larger one as nested lists like a Go [][]float32.
// Values are formatted as the float32s they are: %g prints 0.1, not the
// float64 expansion 0.10000000149011612.
func (x *Tensor) Format(f fmt.State, verb rune) {
	switch verb {
	case 'e', 'E', 'f', 'F', 'g', 'G':
		if x == nil || x.t == nil || x.expired() {
			io.WriteString(f, x.String())
			return
		}
		spec := fmt.FormatString(f, verb)
		if x.t.Size() == 1 {
			fmt.Fprintf(f, spec, float32(x.t.Item()))
			return
		}
		var b strings.Builder
		formatNested(&b, spec, x.t.Data(), x.t.Shape())
		io.WriteString(f, b.String())
	case 'q':
		fmt.Fprintf(f, "%q", x.String())
	case 'v', 's':
		io.WriteString(f, x.String())
	default:
		fmt.Fprintf(f, "%%!%c(*nnscope.Tensor=%s)", verb, x.String())
	}
}

// formatNested writes values of the given shape as nested brackets, each
// value formatted with spec.
func formatNested(b *strings.Builder, spec string, vals []float32, shape []int) {
	if len(shape) == 0 {
		fmt.Fprintf(b, spec, vals[0])
		return
	}
	inner := 1
	for _, n := range shape[1:] {
		inner *= n
	}
	b.WriteByte('[')
	for i := 0; i < shape[0]; i++ {
		if i > 0 {
			b.WriteByte(' ')
		}
		formatNested(b, spec, vals[i*inner:(i+1)*inner], shape[1:])
	}
	b.WriteByte(']')
}
