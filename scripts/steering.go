//go:build ignore

// Steering during generation: add a direction (the difference between two
// prompts' hidden states at one layer) to that layer's output at every
// generated token, and compare with the unsteered continuation.
package main

import (
	"flag"
	"fmt"

	"nnscope"
)

func main() {
	path := flag.String("model", "openai-community/gpt2", "model id or folder")
	layer := flag.Int("layer", 1, "layer to steer")
	scale := flag.Float64("scale", 4, "steering strength")
	tokens := flag.Int("tokens", 10, "tokens to generate")
	flag.Parse()
	model := nnscope.LanguageModel(*path)

	mean := func(prompt string) *nnscope.Tensor {
		var v *nnscope.Tensor
		model.Trace(prompt, func(tr *nnscope.Tracer) {
			v = model.Transformer.H.At(*layer).Output().Mean(1).Save()
		})
		return v
	}
	direction := mean("I love this, it is wonderful").Sub(mean("I hate this, it is terrible"))

	prompt := "I think the movie was"
	plain := model.Generate(prompt, nnscope.MaxNewTokens(*tokens))
	fmt.Printf("plain:   %q\n", plain.Text())

	fmt.Print("steered: ")
	steered := model.Generate(prompt, nnscope.MaxNewTokens(*tokens),
		nnscope.Stream(func(s string) { fmt.Print(s) }),
		func(tr *nnscope.Tracer) {
			tr.Iter(func(step int) {
				out := model.Transformer.H.At(*layer).Output()
				out.Copy(out.Add(direction.Mul(*scale)))
			})
		})
	fmt.Println()
	fmt.Printf("steered: %q\n", steered.Text())
	fmt.Println("generated ids:", steered.NewTokens())
}
