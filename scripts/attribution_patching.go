//go:build ignore

// Attribution patching: a linear approximation of activation patching
// from one forward and one backward pass on the corrupt prompt:
// sum over hidden of (clean - corrupt) * d metric / d activation.
package main

import (
	"flag"
	"fmt"
	"strings"

	"nnscope"
)

func main() {
	path := flag.String("model", "openai-community/gpt2", "model id or folder")
	flag.Parse()
	model := nnscope.LanguageModel(*path)
	paris, rome := model.Token(" Paris"), model.Token(" Rome")
	n := model.Transformer.H.Len()

	clean := make([]*nnscope.Tensor, n)
	model.Trace("The Eiffel Tower is in the city of", func(tr *nnscope.Tracer) {
		for l := 0; l < n; l++ {
			clean[l] = model.Transformer.H.At(l).Output().Save()
		}
	})

	attr := make([]*nnscope.Tensor, n)
	model.Trace("The Colosseum is in the city of", func(tr *nnscope.Tracer) {
		acts := make([]*nnscope.Tensor, n)
		for l := 0; l < n; l++ {
			acts[l] = model.Transformer.H.At(l).Output()
		}
		last := model.LMHead.Output().Slice("0, -1, :")
		metric := last.Select(0, paris).Sub(last.Select(0, rome))
		metric.Backward(func() {
			for l := n - 1; l >= 0; l-- {
				g := acts[l].Grad()
				attr[l] = clean[l].Sub(acts[l]).Mul(g).Sum(2).Select(0, 0).Save()
			}
		})
	})
	for l := 0; l < n; l++ {
		vals := attr[l].Data()
		row := make([]string, len(vals))
		for i, v := range vals {
			row[i] = fmt.Sprintf("%.6g", v)
		}
		fmt.Printf("layer %d: %s\n", l, strings.Join(row, " "))
	}
}
