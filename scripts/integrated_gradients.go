//go:build ignore

// Integrated gradients on the token embeddings (zero baseline, m steps,
// right Riemann sum) for the logit of " Paris" at the last position.
package main

import (
	"flag"
	"fmt"
	"strings"

	"nnscope"
)

func main() {
	path := flag.String("model", "openai-community/gpt2", "model id or folder")
	steps := flag.Int("steps", 16, "Riemann steps")
	flag.Parse()
	model := nnscope.LanguageModel(*path)
	prompt := "The Eiffel Tower is in the city of"
	target := model.Token(" Paris")

	var emb, total *nnscope.Tensor
	for k := 1; k <= *steps; k++ {
		alpha := float64(k) / float64(*steps)
		model.Trace(prompt, func(tr *nnscope.Tracer) {
			e := model.Transformer.WTE.Output()
			emb = e.Clone().Save()
			scaled := e.Mul(alpha).RequiresGrad()
			model.Transformer.WTE.SetOutput(scaled)
			logit := model.LMHead.Output().Slice("0, -1, :").Select(0, target)
			logit.Backward(func() {
				g := scaled.Grad()
				if total == nil {
					total = g.Clone().Save()
				} else {
					total = total.Add(g).Save()
				}
			})
		})
	}
	ig := emb.Mul(total.Div(float64(*steps))).Sum(2).Select(0, 0)
	ids := model.Encode(prompt)
	parts := make([]string, len(ids))
	for i, v := range ig.Data() {
		parts[i] = fmt.Sprintf("%q=%.6g", model.Decode(ids[i]), v)
	}
	fmt.Println("attribution per token:", strings.Join(parts, " "))
	vals := make([]string, len(ids))
	for i, v := range ig.Data() {
		vals[i] = fmt.Sprintf("%.6g", v)
	}
	fmt.Println("values:", strings.Join(vals, " "))
}
