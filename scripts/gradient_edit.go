//go:build ignore

// Seed example 3: edit a gradient inside the backward pass. Zeroing the
// last layer's gradient stops everything from reaching layer 0.
package main

import (
	"flag"
	"fmt"

	"nnscope"
)

func main() {
	path := flag.String("model", "openai-community/gpt2", "model id or folder")
	flag.Parse()
	model := nnscope.LanguageModel(*path)

	var before, after *nnscope.Tensor
	model.Trace("The Eiffel Tower is in the city of", func(tr *nnscope.Tracer) {
		first := model.Transformer.H.At(0).Output().RequiresGrad()
		last := model.Transformer.H.At(-1).Output()
		loss := model.LMHead.Output().Sum()
		loss.Backward(func() {
			g := last.Grad()
			before = g.Abs().Mean().Save()
			g.Fill(0)
			after = first.Grad().Save()
		})
	})
	fmt.Printf("Last layer gradient mean before the edit: %.6g\n", before.Item())
	fmt.Printf("Layer 0 gradient mean after zeroing the last layer's: %.6g\n", after.Abs().Mean().Item())
}
