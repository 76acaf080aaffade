// Package gpt2 is GPT-2 on nnscope's engine: config, weights from
// safetensors, the GPT-2 tokenizer, the model with Hugging Face's module
// tree, and generation with a KV cache.
package gpt2

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
)

// Config mirrors the fields of a Hugging Face GPT-2 config.json that the
// model needs.
type Config struct {
	VocabSize          int     `json:"vocab_size"`
	NPositions         int     `json:"n_positions"`
	NEmbd              int     `json:"n_embd"`
	NLayer             int     `json:"n_layer"`
	NHead              int     `json:"n_head"`
	NInner             *int    `json:"n_inner"`
	LayerNormEpsilon   float64 `json:"layer_norm_epsilon"`
	ActivationFunction string  `json:"activation_function"`
	BosTokenID         int     `json:"bos_token_id"`
	EosTokenID         int     `json:"eos_token_id"`
	ModelType          string  `json:"model_type"`
	TieWordEmbeddings  *bool   `json:"tie_word_embeddings"`

	// Attention scaling variants of GPT2Attention.
	ScaleAttnWeights           *bool `json:"scale_attn_weights"`              // divide scores by sqrt(head dim); default true
	ScaleAttnByInverseLayerIdx bool  `json:"scale_attn_by_inverse_layer_idx"` // also divide by layer index + 1
	ReorderAndUpcastAttn       bool  `json:"reorder_and_upcast_attn"`         // numerically the same in float32
}

// attnScale returns the factor scores are multiplied by in layer i.
func (c Config) attnScale(layer int) float64 {
	s := 1.0
	if c.ScaleAttnWeights == nil || *c.ScaleAttnWeights {
		s /= math.Sqrt(float64(c.NEmbd / c.NHead))
	}
	if c.ScaleAttnByInverseLayerIdx {
		s /= float64(layer + 1)
	}
	return s
}

// Inner returns the MLP width (n_inner, default 4*n_embd).
func (c Config) Inner() int {
	if c.NInner != nil && *c.NInner > 0 {
		return *c.NInner
	}
	return 4 * c.NEmbd
}

// GPT2Small is openai-community/gpt2's shape (124M parameters).
func GPT2Small() Config {
	return Config{VocabSize: 50257, NPositions: 1024, NEmbd: 768, NLayer: 12, NHead: 12,
		LayerNormEpsilon: 1e-5, ActivationFunction: "gelu_new", BosTokenID: 50256, EosTokenID: 50256, ModelType: "gpt2"}
}

// ConfigError names the file and key of a bad config.
type ConfigError struct {
	File, Key, Msg string
}

func (e *ConfigError) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s: key %q: %s", e.File, e.Key, e.Msg)
}

// LoadConfig reads and validates a config.json.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	return ParseConfig(filepath.Base(path), data)
}

// ParseConfig parses config.json bytes; name is used in errors.
func ParseConfig(name string, data []byte) (Config, error) {
	c := Config{LayerNormEpsilon: 1e-5, ActivationFunction: "gelu_new", BosTokenID: 50256, EosTokenID: 50256}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return Config{}, &ConfigError{File: name, Msg: "not valid JSON: " + err.Error()}
	}
	for _, k := range []string{"vocab_size", "n_positions", "n_embd", "n_layer", "n_head", "n_inner", "layer_norm_epsilon", "activation_function", "bos_token_id", "eos_token_id", "model_type", "tie_word_embeddings", "scale_attn_weights", "scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn"} {
		v, ok := raw[k]
		if !ok || string(v) == "null" {
			continue
		}
		one := map[string]json.RawMessage{k: v}
		b, _ := json.Marshal(one)
		if err := json.Unmarshal(b, &c); err != nil {
			return Config{}, &ConfigError{File: name, Key: k, Msg: fmt.Sprintf("bad value %s", v)}
		}
	}
	for _, k := range []string{"vocab_size", "n_positions", "n_embd", "n_layer", "n_head"} {
		if _, ok := raw[k]; !ok {
			return Config{}, &ConfigError{File: name, Key: k, Msg: "missing"}
		}
	}
	pos := map[string]int{"vocab_size": c.VocabSize, "n_positions": c.NPositions, "n_embd": c.NEmbd, "n_layer": c.NLayer, "n_head": c.NHead}
	for k, v := range pos {
		if v <= 0 {
			return Config{}, &ConfigError{File: name, Key: k, Msg: fmt.Sprintf("must be positive, got %d", v)}
		}
	}
	if c.NEmbd%c.NHead != 0 {
		return Config{}, &ConfigError{File: name, Key: "n_head", Msg: fmt.Sprintf("n_embd %d is not divisible by n_head %d", c.NEmbd, c.NHead)}
	}
	if c.LayerNormEpsilon <= 0 {
		return Config{}, &ConfigError{File: name, Key: "layer_norm_epsilon", Msg: "must be positive"}
	}
	switch c.ActivationFunction {
	case "gelu_new", "gelu_pytorch_tanh", "gelu", "relu":
	default:
		return Config{}, &ConfigError{File: name, Key: "activation_function", Msg: fmt.Sprintf("unsupported %q (want gelu_new, gelu_pytorch_tanh, gelu or relu)", c.ActivationFunction)}
	}
	if c.ModelType != "" && c.ModelType != "gpt2" {
		return Config{}, &ConfigError{File: name, Key: "model_type", Msg: fmt.Sprintf("%q is not a GPT-2 model", c.ModelType)}
	}
	return c, nil
}
