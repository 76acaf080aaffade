package nnscope

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"nnscope/gpt2"
	"nnscope/internal/reference"
)

// ownVocabModel writes a small GPT-2 with a byte-level BPE vocabulary of
// its own (not GPT-2's): the 256 bytes, a few merges, <|endoftext|> last;
// random weights.
func ownVocabModel(t *testing.T, tokenizerFiles map[string]string) string {
	t.Helper()
	spell := func(b byte) string { // bytes_to_unicode
		switch {
		case b >= '!' && b <= '~', b >= 0xA1 && b <= 0xAC, b >= 0xAE:
			return string(rune(b))
		}
		n := 0
		for c := 0; c < int(b); c++ {
			if !(c >= '!' && c <= '~' || c >= 0xA1 && c <= 0xAC || c >= 0xAE) {
				n++
			}
		}
		return string(rune(256 + n))
	}
	vocab := map[string]int{}
	for b := 0; b < 256; b++ {
		vocab[spell(byte(b))] = b
	}
	for i, m := range []string{"he", "ll", "hell", "hello", "Ġw", "or", "Ġwor", "ld", "Ġworld"} {
		vocab[m] = 256 + i
	}
	vocab["<|endoftext|>"] = 265
	js, _ := json.Marshal(vocab)
	files := map[string]string{
		"vocab.json": string(js),
		"merges.txt": "#version: 0.2\nh e\nl l\nhe ll\nhell o\nĠ w\no r\nĠw or\nl d\nĠwor ld\n",
	}
	for k, v := range tokenizerFiles {
		files[k] = v
	}
	c := gpt2.Config{VocabSize: 266, NPositions: 32, NEmbd: 16, NLayer: 2, NHead: 2, LayerNormEpsilon: 1e-5,
		ActivationFunction: "gelu_new", BosTokenID: 265, EosTokenID: 265, ModelType: "gpt2"}
	cj, _ := json.Marshal(c)
	dir := writeRandomGPT2(t, string(cj), 7, func(name string) (std, base float64) {
		if strings.Contains(name, "ln_") && strings.HasSuffix(name, ".weight") {
			return 0.3, 1
		}
		return 0.3, 0
	})
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestOwnVocabularyModel runs a model whose folder has its own tokenizer
// through the API: text is tokenized with the folder's merges, traces and
// generation run on those ids, and decoding uses the folder's tokens.
func TestOwnVocabularyModel(t *testing.T) {
	model := LanguageModel(ownVocabModel(t, nil))
	ids := model.Encode("hello world")
	if fmt.Sprint(ids) != "[259 264]" {
		t.Fatalf("Encode: %v, want [259 264] (hello, Ġworld)", ids)
	}
	if got := model.Decode(259, 264, 265); got != "hello world<|endoftext|>" {
		t.Errorf("Decode: %q", got)
	}
	if id := model.Token(" world"); id != 264 {
		t.Errorf("Token(\" world\") = %d, want 264", id)
	}
	var logits *Tensor
	model.Trace([]string{"hello world", "hell"}, func(tr *Tracer) {
		logits = model.Output().Save()
	})
	if s := fmt.Sprint(logits.Shape()); s != "[2 2 266]" {
		t.Errorf("logits shape %s, want [2 2 266]", s)
	}
	gen := model.Generate("hello", MaxNewTokens(5), IgnoreEOS())
	if n := len(gen.NewTokens()); n != 5 {
		t.Fatalf("%d new tokens, want 5", n)
	}
	for _, id := range gen.Tokens() {
		if id < 0 || id >= 266 {
			t.Errorf("generated id %d outside the vocabulary", id)
		}
	}
	if !strings.HasPrefix(gen.Text(), "hello") || gen.Text() != model.Decode(gen.Tokens()...) {
		t.Errorf("Text %q is not the decoded tokens %v", gen.Text(), gen.Tokens())
	}
	if !slices.Equal(gen.Tokens()[:1], []int{259}) {
		t.Errorf("tokens %v do not start with the prompt's", gen.Tokens())
	}
}

// TestOwnVocabularyErrors: tokenizer files that cannot be used fail the
// load with the file and the reason.
func TestOwnVocabularyErrors(t *testing.T) {
	dir := ownVocabModel(t, map[string]string{"merges.txt": "#version: 0.2\nh e\nonly-one-token\n"})
	err := expectErrorTB(func() { LanguageModel(dir) })
	if err == nil || !strings.Contains(err.Error(), "merges.txt:3") || !strings.Contains(err.Error(), "only-one-token") {
		t.Errorf("bad merges.txt: %v", err)
	}
}

// TestSmallVocabularyWithoutTokenizerFiles: a model with fewer rows than
// GPT-2's vocabulary and no tokenizer files of its own says so when text
// comes in (ids still work).
func TestSmallVocabularyWithoutTokenizerFiles(t *testing.T) {
	dir := ownVocabModel(t, nil)
	for _, f := range []string{"vocab.json", "merges.txt"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	model := LanguageModel(dir)
	err := expectErrorTB(func() { model.Trace("Hello world", func(tr *Tracer) {}) })
	if err == nil || !strings.Contains(err.Error(), "vocab_size is 266") || !strings.Contains(err.Error(), "no tokenizer files") {
		t.Errorf("text for a small vocabulary without tokenizer files: %v", err)
	}
	model.Trace([]int{1, 2, 3}, func(tr *Tracer) {}) // ids work
}

// TestEOSListAndNull: generation stops at any id of an eos_token_id list,
// and runs to its length when eos_token_id is null (as Hugging Face).
func TestEOSListAndNull(t *testing.T) {
	src := reference.Dir()
	first := LanguageModel(src).Generate("Hello", MaxNewTokens(1), IgnoreEOS()).NewTokens()[0]
	folder := func(eos string) string {
		dir := t.TempDir()
		for _, f := range []string{"model.safetensors", "config.json"} {
			b, err := os.ReadFile(filepath.Join(src, f))
			if err != nil {
				t.Fatal(err)
			}
			if f == "config.json" {
				var cfg map[string]any
				if err := json.Unmarshal(b, &cfg); err != nil {
					t.Fatal(err)
				}
				var v any
				json.Unmarshal([]byte(eos), &v)
				cfg["eos_token_id"] = v
				b, _ = json.Marshal(cfg)
			}
			if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	list := LanguageModel(folder(fmt.Sprintf("[50256, %d]", first)))
	if got := list.Generate("Hello", MaxNewTokens(5)).NewTokens(); len(got) != 1 || got[0] != first {
		t.Errorf("eos_token_id [50256, %d]: new tokens %v, want generation to stop at %d", first, got, first)
	}
	null := LanguageModel(folder("null"))
	g := null.Generate("Hello", MaxNewTokens(5), func(tr *Tracer) {
		tr.Iter(func(int) { null.LMHead.Output().Slice(":, -1, 50256").Fill(1e4) }) // always end-of-text
	})
	if got := g.NewTokens(); len(got) != 5 {
		t.Errorf("eos_token_id null: new tokens %v, want all 5 (no end-of-text token)", got)
	}
}
