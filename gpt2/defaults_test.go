package gpt2

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestConfigDefaults: a key config.json leaves out takes GPT2Config's
// default, as GPT2LMHeadModel.from_pretrained reads the folder; an empty
// object is openai-community/gpt2's shape.
func TestConfigDefaults(t *testing.T) {
	c, err := ParseConfig("config.json", []byte(`{}`))
	if err != nil {
		t.Fatalf("{}: %v", err)
	}
	want := GPT2Small()
	if c.VocabSize != want.VocabSize || c.NPositions != want.NPositions || c.NEmbd != want.NEmbd || c.NLayer != want.NLayer || c.NHead != want.NHead ||
		c.LayerNormEpsilon != 1e-5 || c.ActivationFunction != "gelu_new" || c.BosTokenID != 50256 || c.EosTokenID != 50256 || c.EosTokenIDs != nil ||
		c.Inner() != 3072 || c.NInner != nil || c.ScaleAttnByInverseLayerIdx || c.ReorderAndUpcastAttn {
		t.Errorf("{} parsed as %+v, want GPT2Config's defaults", c)
	}
	if c.attnScale(3) != 1/8.0 { // scale_attn_weights true: 1/sqrt(64)
		t.Errorf("attention scale %v, want 1/8", c.attnScale(3))
	}
	if _, ok := WeightShapes(c)["lm_head.weight"]; ok {
		t.Error("tie_word_embeddings should default to true (no lm_head.weight)")
	}
	if !slices.Equal(c.defaulted, []string{"vocab_size", "n_positions", "n_embd", "n_layer", "n_head"}) {
		t.Errorf("defaulted %v", c.defaulted)
	}

	// Only what is missing takes the default.
	c, err = ParseConfig("config.json", []byte(`{"n_embd": 32, "n_head": 4, "max_position_embeddings": 64}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.VocabSize != 50257 || c.NPositions != 64 || c.NEmbd != 32 || c.NLayer != 12 || c.NHead != 4 || !slices.Equal(c.defaulted, []string{"vocab_size", "n_layer"}) {
		t.Errorf("partial config parsed as %+v", c)
	}

	// Present but invalid values are still errors naming the key, and a
	// config of another architecture is still refused.
	for cfg, want := range map[string][]string{
		`{"n_layer": null}`:                         {`key "n_layer"`, "null", "default 12"},
		`{"num_hidden_layers": null, "n_embd": 24}`: nil, // a null alias is no value: n_layer's default
		`{"n_embd": 0}`:                             {`key "n_embd"`, "must be positive"},
		`{"n_embd": 100}`:                           {`key "n_head"`, "n_embd 100 is not divisible by n_head 12 (not set: Hugging Face's default)"},
		`{"n_head": 7}`:                             {`key "n_embd"`, "n_embd 768 (not set: Hugging Face's default) is not divisible by n_head 7"},
		`{"model_type": "llama"}`:                   {`key "model_type"`, "llama"},
		`{"architectures": ["BertModel"]}`:          {`key "architectures"`, "BertModel"},
		`{"eos_token_id": []}`:                      {`key "eos_token_id"`, "bad value []"},
	} {
		_, err := ParseConfig("config.json", []byte(cfg))
		if want == nil {
			if err != nil {
				t.Errorf("%s: %v", cfg, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: accepted", cfg)
			continue
		}
		for _, w := range append(want, "config.json") {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", cfg, err, w)
			}
		}
	}
}

// TestLoadWithDefaults: a folder whose config.json leaves out keys loads
// as Hugging Face loads it; where a default disagrees with the weights,
// the error names the tensor, the key and the default.
func TestLoadWithDefaults(t *testing.T) {
	ts := tinyTensors(t)
	full, err := Load(writeModel(t, ts, tinyConfig))
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	// The fixture's vocabulary is GPT-2's: vocab_size may be left out.
	m, err := Load(writeModel(t, ts, withKey(t, "vocab_size", "")))
	if err != nil {
		t.Fatalf("config without vocab_size: %v", err)
	}
	defer m.Close()
	if m.Config.VocabSize != 50257 || !slices.Equal(forwardLogitsSlice(t, m), forwardLogitsSlice(t, full)) {
		t.Errorf("config without vocab_size: vocab_size %d, logits differ from the full config's", m.Config.VocabSize)
	}

	for _, c := range []struct {
		key  string
		want []string
	}{
		{"n_positions", []string{"model.safetensors", `"wpe.weight"`, "[64 32]", "[1024 32]", "n_positions", "does not set n_positions", "default 1024"}},
		{"n_layer", []string{"model.safetensors", `"h.3.`, "missing", "does not set n_layer", "default 12", "3 layers"}},
	} {
		_, err := Load(writeModel(t, ts, withKey(t, c.key, "")))
		if err == nil {
			t.Errorf("config without %s: loaded", c.key)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("config without %s: error %q does not mention %q", c.key, err, w)
			}
		}
	}
	// n_embd and n_head both left out: 768 wide, which wte is not.
	cfg := withKey(t, "n_embd", "")
	var mm map[string]any
	if err := json.Unmarshal([]byte(cfg), &mm); err != nil {
		t.Fatal(err)
	}
	delete(mm, "n_head")
	b, _ := json.Marshal(mm)
	_, err = Load(writeModel(t, ts, string(b)))
	if err == nil || !strings.Contains(err.Error(), `"wte.weight" has shape [50257 32]`) || !strings.Contains(err.Error(), "(vocab_size, n_embd)") ||
		!strings.Contains(err.Error(), "does not set n_embd, so it is Hugging Face's default 768") || strings.Contains(err.Error(), "vocab_size, so") {
		t.Errorf("config without n_embd and n_head: %v", err)
	}
	// A key that is set is named without the default note.
	_, err = Load(writeModel(t, ts, withKey(t, "n_embd", "64")))
	if err == nil || !strings.Contains(err.Error(), "(vocab_size, n_embd)") || strings.Contains(err.Error(), "default") {
		t.Errorf("n_embd 64: %v", err)
	}
}

// TestParseEOS: config.json and generation_config.json read eos_token_id
// with one function; they differ only in an empty list (none in
// generation_config.json, an error in config.json) and in negative ids.
func TestParseEOS(t *testing.T) {
	type res struct {
		first int
		all   []int
		ok    bool
	}
	for _, c := range []struct {
		v        string
		cfg, gen res
	}{
		{"null", res{-1, nil, true}, res{-1, nil, true}},
		{"7", res{7, nil, true}, res{7, nil, true}},
		{"[5, 9]", res{5, []int{5, 9}, true}, res{5, []int{5, 9}, true}},
		{"[5]", res{5, []int{5}, true}, res{5, []int{5}, true}},
		{"[]", res{ok: false}, res{-1, nil, true}},
		{"-1", res{-1, nil, true}, res{ok: false}},
		{"[1, -2]", res{1, []int{1, -2}, true}, res{ok: false}},
		{`"</s>"`, res{ok: false}, res{ok: false}},
		{"1.5", res{ok: false}, res{ok: false}},
		{`[1, "x"]`, res{ok: false}, res{ok: false}},
	} {
		for _, gen := range []bool{false, true} {
			want := c.cfg
			if gen {
				want = c.gen
			}
			first, all, ok := parseEOS(json.RawMessage(c.v), gen)
			if ok != want.ok || ok && (first != want.first || !slices.Equal(all, want.all)) {
				t.Errorf("parseEOS(%s, gen=%v) = %d %v %v, want %d %v %v", c.v, gen, first, all, ok, want.first, want.all, want.ok)
			}
		}
	}
}

// TestGenerationConfigDefaults: generation_config.json's decoding settings
// are read (Generate takes them as defaults); null is not set; a bad value
// is an error naming the file and the key.
func TestGenerationConfigDefaults(t *testing.T) {
	ts := tinyTensors(t)
	dir := writeModel(t, ts, "")
	write := func(s string) {
		if err := os.WriteFile(filepath.Join(dir, GenerationConfigFile), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"do_sample": true, "temperature": 0.7, "top_k": 0, "top_p": 0.9, "max_new_tokens": 5, "max_length": 40, "num_beams": 1, "eos_token_id": 13}`)
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	g := m.Config.Generation
	m.Close()
	if g.DoSample == nil || !*g.DoSample || g.Temperature == nil || *g.Temperature != 0.7 || g.TopK == nil || *g.TopK != 0 ||
		g.TopP == nil || *g.TopP != 0.9 || g.MaxNewTokens == nil || *g.MaxNewTokens != 5 || g.MaxLength == nil || *g.MaxLength != 40 || m.Config.EosTokenID != 13 {
		t.Errorf("generation defaults %+v, eos %d", g, m.Config.EosTokenID)
	}
	for _, file := range []string{`{"do_sample": null, "top_k": null, "temperature": null}`, `null`, `{}`} {
		write(file)
		m, err := Load(dir)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if m.Config.Generation != (GenerationDefaults{}) {
			t.Errorf("%s: generation defaults %+v, want none set", file, m.Config.Generation)
		}
		m.Close()
	}
	for file, key := range map[string]string{
		`{"do_sample": "yes"}`:      "do_sample",
		`{"temperature": -1}`:       "temperature",
		`{"top_k": -1}`:             "top_k",
		`{"top_k": 2.5}`:            "top_k",
		`{"top_p": 1.5}`:            "top_p",
		`{"max_new_tokens": 0}`:     "max_new_tokens",
		`{"max_length": "20"}`:      "max_length",
		`{"eos_token_id": [1, -2]}`: "eos_token_id",
	} {
		write(file)
		m, err := Load(dir)
		if err == nil {
			m.Close()
			t.Errorf("%s: loaded", file)
			continue
		}
		for _, w := range []string{GenerationConfigFile, `key "` + key + `"`, "bad value"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", file, err, w)
			}
		}
	}
}
