//go:build ignore

// Seed example 5: save tensors in a trace, then run a backward pass on them
// after the trace has ended.
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

	var hs, logits *nnscope.Tensor
	model.Trace("The Eiffel Tower is in the city of", func(tr *nnscope.Tracer) {
		hs = model.Transformer.H.At(-1).Output().RequiresGrad().Save()
		logits = model.LMHead.Output().Save()
	})

	var grad *nnscope.Tensor
	logits.Sum().Backward(func() {
		grad = hs.Grad().Save()
	})
	fmt.Println("Gradient shape:", grad.Shape())
	fmt.Printf("Gradient mean: %.6g\n", grad.Abs().Mean().Item())
}
