package nnscope

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"nnscope/gpt2"
	"nnscope/internal/reference"
)

// genModel is the fixture model with generation_config.json settings d.
func genModel(t *testing.T, d gpt2.GenerationDefaults) *Model {
	t.Helper()
	g, err := gpt2.Load(reference.Dir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	g.Config.Generation = d
	return FromGPT2(g)
}

// direct is what gpt2.Generate makes of prompt with sampling s: the
// reference the options must resolve to.
func direct(m *Model, prompt string, n int, s gpt2.Sampling) []int {
	ids := m.Encode(prompt)
	out := m.g.Generate(gpt2.Input{IDs: [][]int{ids}}, gpt2.GenerateOptions{MaxNewTokens: n, Sampling: s, StopAtEOS: true, EOS: m.tok.EOS, MoreEOS: m.g.Config.EosTokenIDs})
	return out[0][len(ids):]
}

func ptr[T any](v T) *T { return &v }

// TestSampleDefaultTopK: sampling without TopK keeps Hugging Face's
// default top_k 50, as model.generate(x, do_sample=True) does in nnsight;
// an explicit TopK wins.
func TestSampleDefaultTopK(t *testing.T) {
	m := genModel(t, gpt2.GenerationDefaults{})
	const n = 8
	differs := false
	for seed := int64(1); seed <= 2; seed++ {
		for _, c := range []struct {
			opt  GenerateOption
			want gpt2.Sampling
		}{
			{Sample(), gpt2.Sampling{Sample: true, TopK: 50, Seed: seed}},
			{Temperature(1.5), gpt2.Sampling{Sample: true, Temperature: 1.5, TopK: 50, Seed: seed}},
			{TopP(0.95), gpt2.Sampling{Sample: true, TopP: 0.95, TopK: 50, Seed: seed}},
		} {
			got := m.Generate(prompt, MaxNewTokens(n), c.opt, Seed(seed)).NewTokens()
			if want := direct(m, prompt, n, c.want); !slices.Equal(got, want) {
				t.Errorf("seed %d %+v: %v, want %v (top_k 50)", seed, c.want, got, want)
			}
		}
		all := gpt2.Sampling{Sample: true, Seed: seed}
		differs = differs || !slices.Equal(direct(m, prompt, n, all), direct(m, prompt, n, gpt2.Sampling{Sample: true, TopK: 50, Seed: seed}))
		// TopK wins; TopK(k >= vocabulary) samples from every token.
		if got, want := m.Generate(prompt, MaxNewTokens(n), Sample(), TopK(200), Seed(seed)).NewTokens(), direct(m, prompt, n, gpt2.Sampling{Sample: true, TopK: 200, Seed: seed}); !slices.Equal(got, want) {
			t.Errorf("TopK(200): %v, want %v", got, want)
		}
		if got, want := m.Generate(prompt, MaxNewTokens(n), TopK(60000), Seed(seed)).NewTokens(), direct(m, prompt, n, all); !slices.Equal(got, want) {
			t.Errorf("TopK(60000): %v, want %v (every token)", got, want)
		}
		// TopK(0) is every token, as top_k=0 in Hugging Face.
		if got, want := m.Generate(prompt, MaxNewTokens(n), TopK(0), Seed(seed)).NewTokens(), direct(m, prompt, n, all); !slices.Equal(got, want) {
			t.Errorf("TopK(0): %v, want %v (every token)", got, want)
		}
	}
	if !differs {
		t.Fatal("top_k 50 and all tokens sample the same on this model: the test shows nothing")
	}
	// Greedy stays the default.
	greedy := direct(m, prompt, n, gpt2.Sampling{})
	if got := m.Generate(prompt, MaxNewTokens(n)).NewTokens(); !slices.Equal(got, greedy) {
		t.Errorf("no options: %v, greedy %v", got, greedy)
	}
}

// TestGenerationConfigSettings: generation_config.json's do_sample,
// temperature, top_k, top_p, max_new_tokens and max_length are Generate's
// defaults, as generate()'s in Hugging Face; options win.
func TestGenerationConfigSettings(t *testing.T) {
	plen := len(tinyEncode(t))
	greedy := func(m *Model, n int) []int { return direct(m, prompt, n, gpt2.Sampling{}) }

	m := genModel(t, gpt2.GenerationDefaults{DoSample: ptr(true), Temperature: ptr(0.7), TopK: ptr(5), TopP: ptr(0.9), MaxNewTokens: ptr(6)})
	want := direct(m, prompt, 6, gpt2.Sampling{Sample: true, Temperature: 0.7, TopK: 5, TopP: 0.9, Seed: 3})
	if got := m.Generate(prompt, Seed(3)).NewTokens(); !slices.Equal(got, want) {
		t.Errorf("do_sample etc. from the file: %v, want %v", got, want)
	}
	if got := m.Generate(prompt, MaxNewTokens(3), Seed(3)).NewTokens(); !slices.Equal(got, want[:3]) {
		t.Errorf("MaxNewTokens(3) over max_new_tokens 6: %v, want %v", got, want[:3])
	}
	if got := m.Generate(prompt, Temperature(0)).NewTokens(); !slices.Equal(got, greedy(m, 6)) {
		t.Errorf("Temperature(0) over do_sample: %v, want greedy %v", got, greedy(m, 6))
	}
	if got, w := m.Generate(prompt, TopK(2), Temperature(2), Seed(3)).NewTokens(), direct(m, prompt, 6, gpt2.Sampling{Sample: true, Temperature: 2, TopK: 2, TopP: 0.9, Seed: 3}); !slices.Equal(got, w) {
		t.Errorf("TopK(2), Temperature(2) over the file's: %v, want %v", got, w)
	}

	// top_k 0 in the file: every token; top_p 0: only the most likely.
	m = genModel(t, gpt2.GenerationDefaults{DoSample: ptr(true), TopK: ptr(0)})
	if got, w := m.Generate(prompt, Seed(2)).NewTokens(), direct(m, prompt, 20, gpt2.Sampling{Sample: true, Seed: 2}); !slices.Equal(got, w) {
		t.Errorf("top_k 0: %v, want %v", got, w)
	}
	m = genModel(t, gpt2.GenerationDefaults{DoSample: ptr(true), TopP: ptr(0.0)})
	if got := m.Generate(prompt, MaxNewTokens(6), Seed(2)).NewTokens(); !slices.Equal(got, greedy(m, 6)) {
		t.Errorf("top_p 0: %v, want greedy %v", got, greedy(m, 6))
	}

	// Sampling settings without do_sample: greedy, as in Hugging Face.
	m = genModel(t, gpt2.GenerationDefaults{DoSample: ptr(false), Temperature: ptr(0.7), TopK: ptr(5)})
	if got := m.Generate(prompt, MaxNewTokens(6), Seed(3)).NewTokens(); !slices.Equal(got, greedy(m, 6)) {
		t.Errorf("do_sample false: %v, want greedy %v", got, greedy(m, 6))
	}
	// ... but an option that samples uses the file's settings.
	if got, w := m.Generate(prompt, MaxNewTokens(6), Sample(), Seed(3)).NewTokens(), direct(m, prompt, 6, gpt2.Sampling{Sample: true, Temperature: 0.7, TopK: 5, Seed: 3}); !slices.Equal(got, w) {
		t.Errorf("Sample() with the file's temperature and top_k: %v, want %v", got, w)
	}

	// max_length counts the prompt.
	m = genModel(t, gpt2.GenerationDefaults{MaxLength: ptr(plen + 4)})
	if got := m.Generate(prompt).NewTokens(); len(got) != 4 {
		t.Errorf("max_length %d with a %d-token prompt: %d new tokens, want 4", plen+4, plen, len(got))
	}
	m = genModel(t, gpt2.GenerationDefaults{MaxLength: ptr(plen), MaxNewTokens: nil})
	err := expectError(t, func() { m.Generate(prompt) })
	if !strings.Contains(err.Error(), "max_length") || !strings.Contains(err.Error(), gpt2.GenerationConfigFile) || !strings.Contains(err.Error(), "MaxNewTokens") {
		t.Errorf("prompt as long as max_length: %v", err)
	}
	if got := m.Generate(prompt, MaxNewTokens(2)).NewTokens(); len(got) != 2 {
		t.Errorf("MaxNewTokens(2) over max_length: %d tokens", len(got))
	}
	// max_new_tokens wins over max_length, as in Hugging Face.
	m = genModel(t, gpt2.GenerationDefaults{MaxLength: ptr(plen), MaxNewTokens: ptr(3)})
	if got := m.Generate(prompt).NewTokens(); len(got) != 3 {
		t.Errorf("max_new_tokens 3 and max_length: %d tokens", len(got))
	}

	// temperature 0 with sampling: refused, as Hugging Face refuses it.
	m = genModel(t, gpt2.GenerationDefaults{DoSample: ptr(true), Temperature: ptr(0.0)})
	err = expectError(t, func() { m.Generate(prompt, MaxNewTokens(2)) })
	if !strings.Contains(err.Error(), "temperature 0") || !strings.Contains(err.Error(), "Temperature(0)") {
		t.Errorf("temperature 0 with do_sample: %v", err)
	}
	if got := m.Generate(prompt, MaxNewTokens(4), Temperature(0)).NewTokens(); !slices.Equal(got, greedy(m, 4)) {
		t.Errorf("Temperature(0): %v, want greedy", got)
	}
}

// TestGenerationConfigFileEndToEnd: a folder's generation_config.json
// reaches Generate.
func TestGenerationConfigFileEndToEnd(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"config.json", "model.safetensors"} {
		abs, err := filepath.Abs(filepath.Join(reference.Dir(), f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(abs, filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, gpt2.GenerationConfigFile), []byte(`{"do_sample": true, "top_k": 3, "max_new_tokens": 5, "eos_token_id": 50256}`), 0o644); err != nil {
		t.Fatal(err)
	}
	m := LanguageModel(dir)
	want := direct(m, prompt, 5, gpt2.Sampling{Sample: true, TopK: 3, Seed: 7})
	if got := m.Generate(prompt, Seed(7)).NewTokens(); !slices.Equal(got, want) {
		t.Errorf("%v, want %v", got, want)
	}
}

func tinyEncode(t *testing.T) []int {
	m, _ := tiny(t)
	return m.Encode(prompt)
}
