// Package gpt2 is GPT-2 on nnscope's engine: config, weights from
// safetensors, the GPT-2 tokenizer, the model with Hugging Face's module
// tree, and generation with a KV cache.
package gpt2

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Config mirrors the fields of a Hugging Face GPT-2 config.json that the
// model needs. A key config.json leaves out takes GPT2Config's default, as
// in Hugging Face (see ParseConfig).
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
	EosTokenID         int     `json:"eos_token_id"` // -1: null in config.json (no end of text)
	// EosTokenIDs are all the ids of an eos_token_id list (EosTokenID is
	// the first); generation stops at any of them. Nil for a single id.
	EosTokenIDs       []int  `json:"-"`
	ModelType         string `json:"model_type"`
	TieWordEmbeddings *bool  `json:"tie_word_embeddings"`

	// Attention scaling variants of GPT2Attention.
	ScaleAttnWeights           *bool `json:"scale_attn_weights"`              // divide scores by sqrt(head dim); default true
	ScaleAttnByInverseLayerIdx bool  `json:"scale_attn_by_inverse_layer_idx"` // also divide by layer index + 1
	ReorderAndUpcastAttn       bool  `json:"reorder_and_upcast_attn"`         // numerically the same in float32

	// Generation holds generation_config.json's decoding settings (Load
	// reads them; ParseConfig leaves them unset).
	Generation GenerationDefaults `json:"-"`

	// defaulted lists the shape keys (vocab_size, n_positions, n_embd,
	// n_layer, n_head) config.json leaves out, which took GPT2Config's
	// defaults: errors about them say so.
	defaulted []string
}

// GenerationDefaults are the decoding settings of a generation_config.json
// that Hugging Face's generate() takes as its defaults. A nil field is not
// set (a JSON null counts as not set, as in transformers 5, where
// GenerationConfig's own default then applies: do_sample false,
// temperature 1, top_k 50, top_p 1, max_length 20).
type GenerationDefaults struct {
	DoSample     *bool    // sample instead of greedy decoding
	Temperature  *float64 // >= 0; 0 is refused when sampling, as Hugging Face refuses it
	TopK         *int     // >= 0; 0 keeps every token
	TopP         *float64 // in [0, 1]; 0 keeps only the most likely token, 1 every token
	MaxNewTokens *int     // > 0; over MaxLength
	MaxLength    *int     // > 0; prompt (padded) and new tokens together
}

// defaultedKey reports whether config.json left key out, so that it took
// GPT2Config's default.
func (c Config) defaultedKey(key string) bool { return slices.Contains(c.defaulted, key) }

// says describes key's value v for an error about the weights: "config.json
// says n_layer 3", or, for a key config.json leaves out, that v is Hugging
// Face's default.
func (c Config) says(key string, v int) string {
	if c.defaultedKey(key) {
		return fmt.Sprintf("config.json does not set %s, so it is Hugging Face's default %d", key, v)
	}
	return fmt.Sprintf("config.json says %s %d", key, v)
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

// GPT2Small is openai-community/gpt2's shape (124M parameters): Hugging
// Face's GPT2Config defaults.
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

// Limits on config sizes. They are far above any real GPT-2 (48 layers,
// n_embd 1600, vocabulary 50257) and keep a corrupt or hostile config.json
// from making the loader enumerate a billion layers or overflow a shape.
const (
	MaxLayers = 10_000
	MaxDim    = 1<<31 - 1 // vocab_size, n_positions, n_embd, n_head, n_inner
)

// LoadConfig reads and validates a config.json. Errors name the file.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Config{}, &ConfigError{File: path, Msg: "no such file (a model folder needs config.json)"}
		}
		return Config{}, &ConfigError{File: path, Msg: fmt.Sprintf("cannot read: %v", unwrapPath(err))}
	}
	return ParseConfig(filepath.Base(path), data)
}

// unwrapPath drops the path an *fs.PathError repeats.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// configKeys are the keys ParseConfig reads, with what each must hold.
var configKeys = []struct{ key, want string }{
	{"vocab_size", "a positive integer"}, {"n_positions", "a positive integer"}, {"n_embd", "a positive integer"},
	{"n_layer", "a positive integer"}, {"n_head", "a positive integer"}, {"n_inner", "a positive integer or null"},
	{"layer_norm_epsilon", "a positive number"}, {"activation_function", "a string"},
	{"bos_token_id", "an integer"}, {"eos_token_id", "an id, a non-empty list of ids or null"}, {"model_type", "a string"},
	{"tie_word_embeddings", "true or false"}, {"scale_attn_weights", "true or false"},
	{"scale_attn_by_inverse_layer_idx", "true or false"}, {"reorder_and_upcast_attn", "true or false"},
}

// configAliases are GPT2Config's attribute_map: generic names Hugging
// Face reads as GPT-2's.
var configAliases = []struct{ alias, key string }{
	{"hidden_size", "n_embd"}, {"max_position_embeddings", "n_positions"},
	{"num_attention_heads", "n_head"}, {"num_hidden_layers", "n_layer"},
}

// Activations are the activation_function names the model runs.
var Activations = []string{"gelu_new", "gelu_pytorch_tanh", "gelu_fast", "gelu_accurate", "gelu", "gelu_python", "gelu_10",
	"relu", "relu2", "relu6", "leaky_relu", "silu", "swish", "mish", "quick_gelu", "tanh", "sigmoid", "linear"}

// shapeKeys are the keys that set the weights' shapes.
var shapeKeys = []string{"vocab_size", "n_positions", "n_embd", "n_layer", "n_head"}

// ParseConfig parses config.json bytes; name is used in errors.
//
// As Hugging Face's GPT2Config, a key the file leaves out takes its
// default: vocab_size 50257, n_positions 1024, n_embd 768, n_layer 12,
// n_head 12, n_inner null (4*n_embd), activation_function "gelu_new",
// layer_norm_epsilon 1e-5, bos_token_id and eos_token_id 50256,
// tie_word_embeddings and scale_attn_weights true,
// scale_attn_by_inverse_layer_idx and reorder_and_upcast_attn false. A
// present value must be valid: a bad one is an error naming the file and
// the key, and so is null for a shape key (Hugging Face cannot build a
// model from it). Errors a defaulted key takes part in say it was not set,
// and LoadWeights names it when the weights disagree with a default.
func ParseConfig(name string, data []byte) (Config, error) {
	c := GPT2Small() // GPT2Config's defaults
	c.ModelType = ""
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark, as some editors write
	if len(bytes.TrimSpace(data)) == 0 {
		return Config{}, &ConfigError{File: name, Msg: "empty file (want a JSON object)"}
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return Config{}, &ConfigError{File: name, Msg: jsonErrorAt(data, err)}
	}
	if raw == nil {
		return Config{}, &ConfigError{File: name, Msg: "not valid JSON: want an object, got null"}
	}
	// GPT2Config's attribute_map: Hugging Face reads the generic names as
	// GPT-2's, so a config.json written with them loads. Errors name the
	// key the file has.
	aliasOf := map[string]string{}
	key := func(k string) string {
		if a, ok := aliasOf[k]; ok {
			return a
		}
		return k
	}
	for _, a := range configAliases {
		av, ok := raw[a.alias]
		if !ok || string(av) == "null" {
			continue
		}
		if kv, ok := raw[a.key]; ok && string(kv) != "null" {
			var x, y float64
			same := string(kv) == string(av) || json.Unmarshal(kv, &x) == nil && json.Unmarshal(av, &y) == nil && x == y
			if !same {
				return Config{}, &ConfigError{File: name, Key: a.alias, Msg: fmt.Sprintf("%s, but %q (the same setting) is %s: which one is meant?", clip(string(av), 40), a.key, clip(string(kv), 40))}
			}
			continue
		}
		raw[a.key] = av
		aliasOf[a.key] = a.alias
	}
	for _, k := range shapeKeys {
		v, ok := raw[k]
		switch {
		case !ok:
			c.defaulted = append(c.defaulted, k)
		case string(v) == "null":
			return Config{}, &ConfigError{File: name, Key: key(k), Msg: fmt.Sprintf("null (want a positive integer; leave the key out for Hugging Face's default %d)", *c.shapeField(k))}
		}
	}
	for _, kw := range configKeys {
		k := kw.key
		v, ok := raw[k]
		if k == "eos_token_id" && ok {
			// null: no end-of-text token (generation runs to its
			// length); a list: generation stops at any of its ids.
			var good bool
			if c.EosTokenID, c.EosTokenIDs, good = parseEOS(v, false); !good {
				return Config{}, &ConfigError{File: name, Key: k, Msg: fmt.Sprintf("bad value %s (want %s)", clip(string(v), 60), kw.want)}
			}
			continue
		}
		if !ok || string(v) == "null" {
			continue
		}
		if k == "bos_token_id" {
			// Some configs list several ids: the first is the one used.
			var ids []json.RawMessage
			if json.Unmarshal(v, &ids) == nil && len(ids) > 0 {
				v = ids[0]
			}
		}
		one := map[string]json.RawMessage{k: v}
		b, _ := json.Marshal(one)
		if err := json.Unmarshal(b, &c); err != nil {
			return Config{}, &ConfigError{File: name, Key: key(k), Msg: fmt.Sprintf("bad value %s (want %s)", clip(string(v), 60), kw.want)}
		}
	}
	if mt, ok := raw["model_type"]; !ok || string(mt) == "null" {
		// No model_type: the class names in "architectures" must be GPT-2's.
		var arch []string
		if json.Unmarshal(raw["architectures"], &arch) == nil {
			for _, a := range arch {
				if !strings.HasPrefix(a, "GPT2") {
					return Config{}, &ConfigError{File: name, Key: "architectures", Msg: fmt.Sprintf("%q is not a GPT-2 model", a)}
				}
			}
		}
	}
	if c.ModelType != "" && c.ModelType != "gpt2" {
		return Config{}, &ConfigError{File: name, Key: "model_type", Msg: fmt.Sprintf("%q is not a GPT-2 model (nnscope runs GPT-2 and its derivatives, model_type \"gpt2\")", c.ModelType)}
	}
	for _, k := range shapeKeys {
		v, limit := *c.shapeField(k), MaxDim
		if k == "n_layer" {
			limit = MaxLayers
		}
		if v <= 0 { // defaults are positive: the file set this
			return Config{}, &ConfigError{File: name, Key: key(k), Msg: fmt.Sprintf("must be positive, got %d", v)}
		}
		if v > limit {
			return Config{}, &ConfigError{File: name, Key: key(k), Msg: fmt.Sprintf("%d is larger than any GPT-2 (limit %d): corrupt config?", v, limit)}
		}
	}
	if c.NInner != nil && (*c.NInner <= 0 || *c.NInner > MaxDim) {
		return Config{}, &ConfigError{File: name, Key: "n_inner", Msg: fmt.Sprintf("must be positive (at most %d) or null for 4*n_embd, got %d", MaxDim, *c.NInner)}
	}
	if c.NInner == nil && c.Inner() > MaxDim { // 4*n_embd
		return Config{}, &ConfigError{File: name, Key: key("n_embd"), Msg: fmt.Sprintf("%d makes the MLP 4*n_embd = %d wide, larger than any GPT-2 (limit %d): corrupt config?", c.NEmbd, c.Inner(), MaxDim)}
	}
	if c.NEmbd%c.NHead != 0 {
		// One of the two may be GPT2Config's default: the error says so
		// and names the key the file lacks.
		k := key("n_head")
		if c.defaultedKey("n_embd") {
			k = "n_embd"
		}
		return Config{}, &ConfigError{File: name, Key: k, Msg: fmt.Sprintf("%s %d%s is not divisible by %s %d%s", key("n_embd"), c.NEmbd, c.unset("n_embd"), key("n_head"), c.NHead, c.unset("n_head"))}
	}
	if !(c.LayerNormEpsilon > 0) || math.IsInf(c.LayerNormEpsilon, 0) {
		return Config{}, &ConfigError{File: name, Key: "layer_norm_epsilon", Msg: fmt.Sprintf("must be positive, got %v", c.LayerNormEpsilon)}
	}
	if !slices.Contains(Activations, c.ActivationFunction) {
		// Hugging Face's other names (laplace, prelu, xielu) are refused:
		// prelu and xielu have weights of their own.
		return Config{}, &ConfigError{File: name, Key: "activation_function", Msg: fmt.Sprintf("unsupported %q (want %s or %s)",
			c.ActivationFunction, strings.Join(Activations[:len(Activations)-1], ", "), Activations[len(Activations)-1])}
	}
	return c, nil
}

// jsonErrorAt describes a JSON decoding error with its line and column.
func jsonErrorAt(data []byte, err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		line, col := lineCol(data, se.Offset)
		return fmt.Sprintf("not valid JSON at line %d, column %d: %v", line, col, se)
	case errors.As(err, &te):
		return fmt.Sprintf("not valid JSON: want an object, got %s", te.Value)
	}
	return "not valid JSON: " + err.Error()
}

// lineCol converts a byte offset into a 1-based line and column.
func lineCol(data []byte, off int64) (line, col int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	if off < 0 {
		off = 0
	}
	before := data[:off]
	line = 1 + bytes.Count(before, []byte("\n"))
	col = int(off) - (bytes.LastIndexByte(before, '\n') + 1)
	if col < 1 {
		col = 1
	}
	return line, col
}

// clip shortens s to its first n bytes and "..." for an error message.
func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// shapeField returns the field of the shape key k (one of shapeKeys).
func (c *Config) shapeField(k string) *int {
	switch k {
	case "vocab_size":
		return &c.VocabSize
	case "n_positions":
		return &c.NPositions
	case "n_embd":
		return &c.NEmbd
	case "n_layer":
		return &c.NLayer
	case "n_head":
		return &c.NHead
	}
	panic("gpt2: no shape key " + k)
}

// unset is " (not set: Hugging Face's default)" for a key config.json
// leaves out, else "".
func (c Config) unset(key string) string {
	if c.defaultedKey(key) {
		return " (not set: Hugging Face's default)"
	}
	return ""
}

// parseEOS parses an eos_token_id, the same way in config.json and
// generation_config.json: an id, a list of ids (generation stops at any;
// the first is the one EOS-padding uses) or null (none: generation runs to
// its length). It returns the first id (-1 for none) and, for a list, all
// of them. The files differ in two ways, kept from before their parsing
// was shared: in generation_config.json (gen) an empty list means none and
// a negative id is an error; in config.json an empty list is an error and
// a negative id is kept (it matches no token, as in Hugging Face).
func parseEOS(v json.RawMessage, gen bool) (first int, all []int, ok bool) {
	if string(v) == "null" {
		return -1, nil, true
	}
	if json.Unmarshal(v, &first) == nil {
		return first, nil, !gen || first >= 0
	}
	if json.Unmarshal(v, &all) != nil {
		return 0, nil, false
	}
	if len(all) == 0 {
		return -1, nil, gen
	}
	if gen && slices.ContainsFunc(all, func(id int) bool { return id < 0 }) {
		return 0, nil, false
	}
	return all[0], all, true
}

// GenerationConfigFile is where Hugging Face keeps a model's generation
// defaults. Its eos_token_id (an id, a list of ids or null) is where
// generate stops, over config.json's. Its decoding settings (do_sample,
// temperature, top_k, top_p, max_new_tokens, max_length) are read into
// Config.Generation: nnscope's Generate takes them as its defaults, as
// Hugging Face's generate() does, and its options win over them. Other
// settings (num_beams, repetition_penalty, ...) are not implemented and
// are ignored.
const GenerationConfigFile = "generation_config.json"

// applyGenerationConfig returns c with the end-of-text ids and decoding
// settings of the generation_config.json at path, when that file exists.
// A file holding JSON null sets nothing.
func applyGenerationConfig(path string, c Config) (Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	name := filepath.Base(path)
	if err != nil {
		return c, &ConfigError{File: path, Msg: fmt.Sprintf("cannot read: %v", unwrapPath(err))}
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return c, &ConfigError{File: name, Msg: jsonErrorAt(data, err)}
	}
	if v, ok := raw["eos_token_id"]; ok {
		var good bool
		if c.EosTokenID, c.EosTokenIDs, good = parseEOS(v, true); !good {
			return c, &ConfigError{File: name, Key: "eos_token_id", Msg: fmt.Sprintf("bad value %s (want an integer, a list of integers or null)", clip(string(v), 60))}
		}
	}
	g, err := parseGenerationDefaults(name, raw)
	if err != nil {
		return c, err
	}
	c.Generation = g
	return c, nil
}

// parseGenerationDefaults reads the decoding settings of a
// generation_config.json's keys; null is not set.
func parseGenerationDefaults(name string, raw map[string]json.RawMessage) (GenerationDefaults, error) {
	var g GenerationDefaults
	var err error
	// read decodes key into dst when the file sets it, and reports whether
	// it did; a bad value sets err.
	read := func(key, want string, dst any, valid func() bool) bool {
		v, ok := raw[key]
		if !ok || string(v) == "null" || err != nil {
			return false
		}
		if json.Unmarshal(v, dst) != nil || !valid() {
			err = &ConfigError{File: name, Key: key, Msg: fmt.Sprintf("bad value %s (want %s)", clip(string(v), 60), want)}
			return false
		}
		return true
	}
	var doSample bool
	var temp, topP float64
	var topK, maxNew, maxLen int
	if read("do_sample", "true or false", &doSample, func() bool { return true }) {
		g.DoSample = &doSample
	}
	if read("temperature", "a number >= 0", &temp, func() bool { return temp >= 0 && !math.IsInf(temp, 0) }) {
		g.Temperature = &temp
	}
	if read("top_k", "an integer >= 0", &topK, func() bool { return topK >= 0 }) {
		g.TopK = &topK
	}
	if read("top_p", "a number from 0 to 1", &topP, func() bool { return topP >= 0 && topP <= 1 }) {
		g.TopP = &topP
	}
	if read("max_new_tokens", "a positive integer", &maxNew, func() bool { return maxNew > 0 }) {
		g.MaxNewTokens = &maxNew
	}
	if read("max_length", "a positive integer", &maxLen, func() bool { return maxLen > 0 }) {
		g.MaxLength = &maxLen
	}
	if err != nil {
		return GenerationDefaults{}, err
	}
	return g, nil
}
