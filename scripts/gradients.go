//go:build ignore

// Seed example 1: the gradient of logits.sum() at the last block's output.
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

	var grad *nnscope.Tensor
	model.Trace("The Eiffel Tower is in the city of", func(tr *nnscope.Tracer) {
		hs := model.Transformer.H.At(-1).Output()
		hs.RequiresGrad()
		logits := model.LMHead.Output()
		loss := logits.Sum()
		loss.Backward(func() {
			grad = hs.Grad().Save()
		})
	})
	fmt.Println("Gradient shape:", grad.Shape())
	fmt.Printf("Gradient mean: %.4f\n", grad.Abs().Mean().Item())
}
