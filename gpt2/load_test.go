package gpt2

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"nnscope/internal/reference"
	"nnscope/safetensors"
)

// tinyTensors reads the fixture's tensors into memory.
func tinyTensors(t *testing.T) map[string]safetensors.Tensor {
	t.Helper()
	f, err := safetensors.Open(filepath.Join(reference.Dir(), "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]safetensors.Tensor{}
	for _, n := range f.Names() {
		d, shape, err := f.Float32(n)
		if err != nil {
			t.Fatal(err)
		}
		out[n] = safetensors.Tensor{Dtype: "F32", Shape: shape, Data: append([]float32(nil), d...)}
	}
	return out
}

// writeModel creates a model folder with the fixture's config and the
// given tensors.
func writeModel(t *testing.T, ts map[string]safetensors.Tensor, config string) string {
	t.Helper()
	dir := t.TempDir()
	if config == "" {
		b, err := os.ReadFile(filepath.Join(reference.Dir(), "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		config = string(b)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := safetensors.Write(filepath.Join(dir, "model.safetensors"), ts, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

func forwardLogitsSlice(t *testing.T, m *Model) []float64 {
	ids := []int{464, 412, 733, 417, 8765, 318, 287, 262, 1748, 286}
	return m.Forward(nil, Input{IDs: [][]int{ids}}, nil).Slice("0, -1, ::997").Float64s()
}

func TestSavePretrainedLayout(t *testing.T) {
	ts := tinyTensors(t)
	prefixed := map[string]safetensors.Tensor{}
	for n, v := range ts {
		if strings.HasSuffix(n, ".attn.bias") {
			continue // save_pretrained drops the mask buffers
		}
		prefixed["transformer."+n] = v
	}
	prefixed["lm_head.weight"] = ts["wte.weight"]
	m, err := Load(writeModel(t, prefixed, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ref, _ := Load(reference.Dir())
	defer ref.Close()
	if err := reference.Close(forwardLogitsSlice(t, m), forwardLogitsSlice(t, ref), 0.01); err != nil {
		t.Errorf("save_pretrained layout gives different logits: %v", err)
	}
}

// TestTiedSavedAsLMHead: a tied model saved with only lm_head.weight
// (safetensors.torch.save_model keeps the first of two tied names in
// sorted order) loads with wte tied to it, as in Hugging Face.
func TestTiedSavedAsLMHead(t *testing.T) {
	ts := tinyTensors(t)
	saved := map[string]safetensors.Tensor{}
	for n, v := range ts {
		switch {
		case n == "wte.weight":
			saved["lm_head.weight"] = v
		case !strings.HasSuffix(n, ".attn.bias"):
			saved["transformer."+n] = v
		}
	}
	m, err := Load(writeModel(t, saved, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ref, _ := Load(reference.Dir())
	defer ref.Close()
	if err := reference.Close(forwardLogitsSlice(t, m), forwardLogitsSlice(t, ref), 0.01); err != nil {
		t.Errorf("wte saved as lm_head.weight gives different logits: %v", err)
	}
	// Untied, the model needs its own wte.
	_, err = Load(writeModel(t, saved, withKey(t, "tie_word_embeddings", "false")))
	if err == nil || !strings.Contains(err.Error(), `"wte.weight" is missing`) {
		t.Errorf("untied without wte.weight: %v", err)
	}
}

func TestHalfPrecisionFilesConvert(t *testing.T) {
	for _, dt := range []safetensors.Dtype{"F16", "BF16"} {
		ts := tinyTensors(t)
		for n, v := range ts {
			v.Dtype = dt
			ts[n] = v
		}
		m, err := Load(writeModel(t, ts, ""))
		if err != nil {
			t.Fatalf("%s: %v", dt, err)
		}
		w := m.W["h.0.mlp.c_fc.weight"].Data()
		src := ts["h.0.mlp.c_fc.weight"].Data
		for i := range w {
			var want float32
			if dt == "F16" {
				want = safetensors.HalfToFloat32(safetensors.Float32ToHalf(src[i]))
			} else {
				want = safetensors.BFloat16ToFloat32(safetensors.Float32ToBFloat16(src[i]))
			}
			if w[i] != want {
				t.Fatalf("%s: element %d = %v, want %v", dt, i, w[i], want)
			}
		}
		m.Close()
	}
}

func TestBadModelFiles(t *testing.T) {
	good := func() map[string]safetensors.Tensor { return tinyTensors(t) }
	cases := []struct {
		name   string
		edit   func(map[string]safetensors.Tensor)
		config string
		want   []string
	}{
		{"missing tensor", func(ts map[string]safetensors.Tensor) { delete(ts, "h.1.mlp.c_fc.weight") }, "",
			[]string{"model.safetensors", `"h.1.mlp.c_fc.weight"`, "missing"}},
		{"wrong shape", func(ts map[string]safetensors.Tensor) {
			v := ts["h.0.attn.c_attn.weight"]
			v.Shape = []int{96, 32} // transposed: nn.Linear layout instead of Conv1D
			ts["h.0.attn.c_attn.weight"] = v
		}, "", []string{"model.safetensors", `"h.0.attn.c_attn.weight"`, "[96 32]", "[32 96]"}},
		{"config not json", nil, "{not json", []string{"config.json", "JSON"}},
		{"config missing key", nil, `{"vocab_size": 50257, "n_positions": 64, "n_embd": 32, "n_layer": 3}`,
			[]string{"config.json", `"n_head"`, "n_head 12 (not set: Hugging Face's default)"}},
		{"config bad value", nil, `{"vocab_size": 50257, "n_positions": 64, "n_embd": "32", "n_layer": 3, "n_head": 4}`,
			[]string{"config.json", `"n_embd"`}},
		{"config heads", nil, `{"vocab_size": 50257, "n_positions": 64, "n_embd": 32, "n_layer": 3, "n_head": 5}`,
			[]string{"config.json", `"n_head"`, "divisible"}},
		{"config more layers than weights", nil, `{"vocab_size": 50257, "n_positions": 64, "n_embd": 32, "n_layer": 4, "n_head": 4}`,
			[]string{"model.safetensors", `"h.3.`, "missing"}},
		{"other architecture", nil, `{"model_type": "llama", "vocab_size": 50257, "n_positions": 64, "n_embd": 32, "n_layer": 3, "n_head": 4}`,
			[]string{"config.json", `"model_type"`, "llama"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts := good()
			if c.edit != nil {
				c.edit(ts)
			}
			_, err := Load(writeModel(t, ts, c.config))
			if err == nil {
				t.Fatal("Load succeeded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestTruncatedWeightsFile(t *testing.T) {
	dir := writeModel(t, tinyTensors(t), "")
	p := filepath.Join(dir, "model.safetensors")
	st, _ := os.Stat(p)
	if err := os.Truncate(p, st.Size()/2); err != nil {
		t.Fatal(err)
	}
	_, err := Load(dir)
	if err == nil || !strings.Contains(err.Error(), "model.safetensors") {
		t.Fatalf("truncated file: error %v", err)
	}
}

func TestWeightsAreMappedNotCopied(t *testing.T) {
	m, err := Load(reference.Dir())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	// An in-place edit of a weight must not write into the read-only
	// mapping (that would crash); it gets a private copy.
	w := m.W["h.0.ln_1.bias"]
	w.Fill(0)
	if w.Sum().Item() != 0 {
		t.Fatal("edit did not take")
	}
}

// TestGenerationConfig: generation_config.json's eos_token_id is where
// Hugging Face's generate stops, over config.json's; a file that cannot
// be read is an error naming it.
func TestGenerationConfig(t *testing.T) {
	ts := tinyTensors(t)
	for _, c := range []struct {
		file   string
		eos    int
		all    []int
		tokEOS int
		err    []string
	}{
		{file: `{"bos_token_id": 50256, "eos_token_id": [198, 50256], "transformers_version": "4.46.0"}`, eos: 198, all: []int{198, 50256}, tokEOS: 198},
		{file: `{"eos_token_id": 13, "do_sample": true}`, eos: 13, tokEOS: 13},
		{file: `{"eos_token_id": null}`, eos: -1, tokEOS: -1},
		{file: `{"eos_token_id": []}`, eos: -1, tokEOS: -1},
		{file: `{"bos_token_id": 1}`, eos: 50256, tokEOS: 50256},
		{file: "\xef\xbb\xbf{}", eos: 50256, tokEOS: 50256},
		{file: "{\n\"eos_token_id\": }", err: []string{"generation_config.json", "line 2"}},
		{file: `{"eos_token_id": "</s>"}`, err: []string{"generation_config.json", `"eos_token_id"`, `"</s>"`}},
		{file: `{"eos_token_id": [1, -2]}`, err: []string{"generation_config.json", `"eos_token_id"`}},
	} {
		dir := writeModel(t, ts, "")
		if err := os.WriteFile(filepath.Join(dir, GenerationConfigFile), []byte(c.file), 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := Load(dir)
		if c.err != nil {
			if err == nil {
				m.Close()
				t.Errorf("%s: loaded", c.file)
				continue
			}
			for _, w := range c.err {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s: error %q does not mention %q", c.file, err, w)
				}
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		if m.Config.EosTokenID != c.eos || !slices.Equal(m.Config.EosTokenIDs, c.all) || m.Tokenizer.EOS != c.tokEOS {
			t.Errorf("%s: eos_token_id %d %v, tokenizer EOS %d; want %d %v, %d", c.file, m.Config.EosTokenID, m.Config.EosTokenIDs, m.Tokenizer.EOS, c.eos, c.all, c.tokEOS)
		}
		m.Close()
	}
}
