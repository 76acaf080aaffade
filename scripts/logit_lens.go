//go:build ignore

// Logit lens: decode every layer's hidden state at the last position with
// the final LayerNorm and the unembedding, and show the top tokens.
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

	hidden := make([]*nnscope.Tensor, n)
	model.Trace("The Eiffel Tower is in the city of", func(tr *nnscope.Tracer) {
		for l := 0; l < n; l++ {
			hidden[l] = model.Transformer.H.At(l).Output().Slice("0, -1, :").Save()
		}
	})
	for l, h := range hidden {
		// The final LayerNorm and the unembedding, called on the state.
		logits := model.LMHead.Call(model.Transformer.LnF.Call(h))
		vals, ids := logits.Softmax().TopK(3)
		fmt.Printf("layer %2d:", l)
		for i, id := range ids.Ints() {
			fmt.Printf(" %q %.3f", model.Decode(id), vals.At(i))
		}
		fmt.Println()
	}
}
