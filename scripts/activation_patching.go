//go:build ignore

// Activation patching: run the corrupt prompt with one position of one
// layer's output replaced by the clean run's, and measure
// logit(" Paris") - logit(" Rome") at the last position.
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
	clean := "The Eiffel Tower is in the city of"
	corrupt := "The Colosseum is in the city of"
	paris, rome := model.Token(" Paris"), model.Token(" Rome")
	n := model.Transformer.H.Len()

	metric := func(logits *nnscope.Tensor) *nnscope.Tensor {
		last := logits.Slice("0, -1, :")
		return last.Select(0, paris).Sub(last.Select(0, rome))
	}

	// Save every layer's clean output.
	acts := make([]*nnscope.Tensor, n)
	var cleanMetric, corruptMetric float64
	model.Trace(clean, func(tr *nnscope.Tracer) {
		for l := 0; l < n; l++ {
			acts[l] = model.Transformer.H.At(l).Output().Save()
		}
		cleanMetric = metric(model.LMHead.Output()).Item()
	})
	model.Trace(corrupt, func(tr *nnscope.Tracer) {
		corruptMetric = metric(model.LMHead.Output()).Item()
	})
	fmt.Printf("clean metric: %.6g\ncorrupt metric: %.6g\n", cleanMetric, corruptMetric)

	T := len(model.Encode(corrupt))
	for l := 0; l < n; l++ {
		row := make([]string, T)
		for p := 0; p < T; p++ {
			var m float64
			model.Trace(corrupt, func(tr *nnscope.Tracer) {
				idx := fmt.Sprintf(":, %d, :", p)
				model.Transformer.H.At(l).Output().Slice(idx).Copy(acts[l].Slice(idx))
				m = metric(model.LMHead.Output()).Item()
			})
			row[p] = fmt.Sprintf("%.6g", m)
		}
		fmt.Printf("layer %d: %s\n", l, strings.Join(row, " "))
	}
}
