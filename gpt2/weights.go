package gpt2

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"nnscope/runtime"
	"nnscope/safetensors"
)

// Weights are the model's parameters by Hugging Face name without the
// "transformer." prefix ("wte.weight", "h.0.attn.c_attn.weight", ...).
type Weights map[string]*runtime.Tensor

// WeightShapes lists every parameter GPT-2 needs with its shape.
func WeightShapes(c Config) map[string][]int {
	C, V, P, I := c.NEmbd, c.VocabSize, c.NPositions, c.Inner()
	s := map[string][]int{
		"wte.weight": {V, C}, "wpe.weight": {P, C},
		"ln_f.weight": {C}, "ln_f.bias": {C},
	}
	for i := 0; i < c.NLayer; i++ {
		p := fmt.Sprintf("h.%d.", i)
		s[p+"ln_1.weight"], s[p+"ln_1.bias"] = []int{C}, []int{C}
		s[p+"ln_2.weight"], s[p+"ln_2.bias"] = []int{C}, []int{C}
		s[p+"attn.c_attn.weight"], s[p+"attn.c_attn.bias"] = []int{C, 3 * C}, []int{3 * C}
		s[p+"attn.c_proj.weight"], s[p+"attn.c_proj.bias"] = []int{C, C}, []int{C}
		s[p+"mlp.c_fc.weight"], s[p+"mlp.c_fc.bias"] = []int{C, I}, []int{I}
		s[p+"mlp.c_proj.weight"], s[p+"mlp.c_proj.bias"] = []int{I, C}, []int{C}
	}
	if c.TieWordEmbeddings != nil && !*c.TieWordEmbeddings {
		s["lm_head.weight"] = []int{V, C}
	}
	return s
}

// LoadWeights reads a safetensors file in either key layout (the Hub's
// bare keys or save_pretrained's "transformer." prefix) and checks every
// tensor against the config. float32 tensors alias the memory-mapped file;
// the returned closer unmaps it.
func LoadWeights(path string, c Config) (Weights, *safetensors.File, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, nil, err
	}
	name := filepath.Base(path)
	want := WeightShapes(c)
	have := map[string]string{} // bare name -> key in file
	for _, k := range f.Names() {
		bare := strings.TrimPrefix(k, "transformer.")
		if _, ok := want[bare]; ok {
			have[bare] = k
		}
	}
	w := Weights{}
	for bare, shape := range want {
		key, ok := have[bare]
		if !ok {
			f.Close()
			return nil, nil, fmt.Errorf("%s: tensor %q is missing (the config asks for %d layers, n_embd %d)", name, bare, c.NLayer, c.NEmbd)
		}
		data, got, err := f.Float32(key)
		if err != nil {
			f.Close()
			return nil, nil, err
		}
		if !slices.Equal(got, shape) {
			f.Close()
			return nil, nil, fmt.Errorf("%s: tensor %q has shape %v, config.json implies %v", name, key, got, shape)
		}
		w[bare] = runtime.FromReadOnly(data, shape...)
	}
	return w, f, nil
}
