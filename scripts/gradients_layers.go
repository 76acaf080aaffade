//go:build ignore

// Seed example 2: gradients at several layers, read in reverse order (the
// order the backward pass produces them), plus the token embeddings.
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
	n := model.Transformer.H.Len()

	grads := make([]*nnscope.Tensor, n)
	var embGrad *nnscope.Tensor
	model.Trace("The Eiffel Tower is in the city of", func(tr *nnscope.Tracer) {
		emb := model.Transformer.WTE.Output().RequiresGrad()
		hs := make([]*nnscope.Tensor, n)
		for i := 0; i < n; i++ {
			hs[i] = model.Transformer.H.At(i).Output()
		}
		loss := model.LMHead.Output().Sum()
		loss.Backward(func() {
			for i := n - 1; i >= 0; i-- {
				grads[i] = hs[i].Grad().Save()
			}
			embGrad = emb.Grad().Save()
		})
	})
	for i, g := range grads {
		fmt.Printf("Layer %d gradient mean: %.6g\n", i, g.Abs().Mean().Item())
	}
	fmt.Printf("Embedding gradient mean: %.6g\n", embGrad.Abs().Mean().Item())
}
