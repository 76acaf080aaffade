//go:build ignore

// Seed example 4: two backward passes through one graph. The first keeps
// the graph with RetainGraph; each pass reports its own gradient.
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

	var first, second *nnscope.Tensor
	model.Trace("The Eiffel Tower is in the city of", func(tr *nnscope.Tracer) {
		hs := model.Transformer.H.At(-1).Output().RequiresGrad()
		logits := model.LMHead.Output()
		logits.Sum().Backward(func() {
			first = hs.Grad().Save()
		}, nnscope.RetainGraph)
		logits.Mul(2).Sum().Backward(func() {
			second = hs.Grad().Save()
		})
	})
	fmt.Printf("First pass gradient mean: %.6g\n", first.Abs().Mean().Item())
	fmt.Printf("Second pass gradient mean: %.6g\n", second.Abs().Mean().Item())
}
