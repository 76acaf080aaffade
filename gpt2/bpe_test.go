package gpt2

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"nnscope/hub"
	"nnscope/internal/reference"
)

var (
	gpt2FilesOnce sync.Once
	gpt2Files     *tokenizerFiles
)

// gpt2AsFiles rebuilds GPT-2's vocab.json and merges.txt from tiktoken's
// r50k ranks (the compiled-in tokenizer), so that the file-driven BPE can
// be checked against it on GPT-2's real vocabulary. A token's merge is the
// last step of BPE over its own bytes using only lower-ranked tokens.
func gpt2AsFiles(t testing.TB) *tokenizerFiles {
	t.Helper()
	gpt2FilesOnce.Do(func() {
		tok, err := NewTokenizer()
		if err != nil {
			t.Fatal(err)
		}
		eos := tok.EOS
		pieces := make([]string, eos)
		rank := make(map[string]int, eos)
		for id := 0; id < eos; id++ {
			b, err := tok.codec.Decode([]uint{uint(id)})
			if err != nil {
				t.Fatal(err)
			}
			pieces[id], rank[b] = b, id
		}
		f := &tokenizerFiles{name: "gpt2", vocab: map[string]int{endOfText: eos}, added: []addedToken{{content: endOfText, id: eos, special: true}}}
		for id, p := range pieces {
			f.vocab[spell(p)] = id
			if len(p) < 2 {
				continue
			}
			parts := make([]string, len(p)) // BPE works on bytes
			for i := range parts {
				parts[i] = p[i : i+1]
			}
			for len(parts) > 2 {
				best, bestRank := -1, id
				for i := 0; i+1 < len(parts); i++ {
					if r, ok := rank[parts[i]+parts[i+1]]; ok && r < bestRank {
						best, bestRank = i, r
					}
				}
				if best < 0 {
					t.Fatalf("token %d %q: no lower-ranked merge", id, p)
				}
				parts = slices.Replace(parts, best, best+2, parts[best]+parts[best+1])
			}
			f.merges = append(f.merges, [2]string{spell(parts[0]), spell(parts[1])})
		}
		gpt2Files = f
	})
	return gpt2Files
}

// bpeCorpus exercises the pre-tokenizer's alternatives.
var bpeCorpus = []string{
	"The Eiffel Tower is in the city of",
	"Hello, world! It's a test: they're, we've, I'm, you'll, he'd.",
	"  leading spaces and trailing  ", "\n\nnew\nlines\n", "tabs\tand\t\tmore",
	"numbers 12345 and 3.14159, 1e10", "ÜNICÖDE naïve café 東京 日本語 😀👍🏽",
	"a  \x7f b\x7fc", "'s's'S 'll' 'x", "<|endoftext|>after", "before<|endoftext|>",
	"a<|endoftext|><|endoftext|>b", "   ", "\u00a0nbsp\u2003em space", "x" + strings.Repeat("ab", 200),
	"def f(x):\n    return x**2  # comment\n", "MIXEDcase CamelCase snake_case kebab-case",
	"\u0085\u2028\u2029", "!!!???...---", "",
}

func TestBPEMatchesGPT2(t *testing.T) {
	f := gpt2AsFiles(t)
	if len(f.merges) != 50000 {
		t.Errorf("%d merges, GPT-2 has 50000", len(f.merges))
	}
	if m := f.merges[0]; m != [2]string{"Ġ", "t"} {
		t.Errorf("first merge %q, GPT-2's merges.txt starts with \"Ġ t\"", m)
	}
	b, err := newBPE(f)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := NewTokenizer()
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range bpeCorpus {
		want, err := tok.Encode(text)
		if err != nil {
			t.Fatal(err)
		}
		if got := b.encode(text, nil); !slices.Equal(got, want) {
			t.Errorf("%q: file BPE %v, GPT-2's %v", text, got, want)
		}
	}
	if got := fmt.Sprint(b.encode("a<|endoftext|>b", nil)); got != "[64 50256 65]" {
		t.Errorf("the special token in text: %s, want [64 50256 65] as Hugging Face gives", got)
	}
}

// FuzzBPE checks the file-driven BPE against GPT-2's compiled-in tokenizer
// on GPT-2's vocabulary, and that decoding gives the text back.
func FuzzBPE(f *testing.F) {
	for _, s := range bpeCorpus {
		f.Add(s)
	}
	files := gpt2AsFiles(f)
	b, err := newBPE(files)
	if err != nil {
		f.Fatal(err)
	}
	tok := &Tokenizer{bpe: b, EOS: 50256}
	ref, err := NewTokenizer()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if !utf8.ValidString(text) {
			return // GPT-2's tokenizer takes Unicode text
		}
		want, err := ref.Encode(text)
		if err != nil {
			t.Skip(err)
		}
		got, _ := tok.Encode(text)
		if !slices.Equal(got, want) {
			t.Fatalf("%q: file BPE %v, GPT-2's %v", text, got, want)
		}
		back, err := tok.Decode(got)
		if err != nil || back != text {
			t.Fatalf("%q decodes to %q (%v)", text, back, err)
		}
	})
}

// writeFiles writes name -> content into a new folder.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// smallVocab is a byte-level vocabulary of its own: the 256 bytes (ids in
// byte order), then merged tokens, then <|endoftext|>.
func smallVocab(merged ...string) map[string]int {
	v := map[string]int{}
	for b := 0; b < 256; b++ {
		v[string(byteSpelling[b])] = b
	}
	for i, m := range merged {
		v[m] = 256 + i
	}
	v[endOfText] = 256 + len(merged)
	return v
}

func TestBPEOwnVocabulary(t *testing.T) {
	vocab := smallVocab("he", "ll", "hell", "hello", "Ġw", "Ġwor", "or")
	js, _ := json.Marshal(vocab)
	merges := "#version: 0.2\nh e\nl l\nhe ll\nhell o\nĠ w\no r\nĠw or\n"
	dirs := map[string]string{
		"vocab.json": writeFiles(t, map[string]string{"vocab.json": string(js), "merges.txt": merges}),
		"tokenizer.json strings": writeFiles(t, map[string]string{"tokenizer.json": fmt.Sprintf(
			`{"added_tokens": [{"id": 263, "content": "<|endoftext|>", "special": true}],
			  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false},
			  "model": {"type": "BPE", "vocab": %s, "merges": ["h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or"]}}`, js)}),
		"tokenizer.json pairs": writeFiles(t, map[string]string{"tokenizer.json": fmt.Sprintf(
			`{"added_tokens": [{"id": 263, "content": "<|endoftext|>", "special": true}],
			  "model": {"type": "BPE", "vocab": %s, "merges": [["h","e"], ["l","l"], ["he","ll"], ["hell","o"], ["Ġ","w"], ["o","r"], ["Ġw","or"]]}}`, js)}),
	}
	c := GPT2Small()
	c.VocabSize, c.EosTokenID = 264, 263
	for name, dir := range dirs {
		t.Run(name, func(t *testing.T) {
			tok, err := LoadTokenizer(dir, c)
			if err != nil {
				t.Fatal(err)
			}
			if tok.bpe == nil || tok.Size() != 264 || tok.EOS != 263 {
				t.Fatalf("bpe %v, size %d, EOS %d; want the folder's BPE, 264, 263", tok.bpe != nil, tok.Size(), tok.EOS)
			}
			for text, want := range map[string]string{
				"hello world":            "[259 261 108 100]", // hello, Ġwor, l, d
				"hellohello":             "[259 259]",
				"hell":                   "[258]",
				"help":                   "[256 108 112]", // he, l, p: "ll" never forms
				"hello<|endoftext|>hell": "[259 263 258]",
				"é":                      "[195 169]", // the two bytes of U+00E9
			} {
				got, err := tok.Encode(text)
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(got) != want {
					t.Errorf("%q: %v, want %s", text, got, want)
				}
				back, err := tok.Decode(got)
				if err != nil || back != text {
					t.Errorf("%q decodes to %q (%v)", text, back, err)
				}
			}
			if _, err := tok.Decode([]int{264}); err == nil || !strings.Contains(err.Error(), "264") {
				t.Errorf("an id past the vocabulary: %v", err)
			}
		})
	}
}

func TestLoadTokenizer(t *testing.T) {
	js := func(x any) string { b, _ := json.Marshal(x); return string(b) }
	gpt2 := gpt2AsFiles(t).vocab
	withPad := maps.Clone(gpt2)
	withPad["<|pad|>"] = 50257
	swapped := maps.Clone(gpt2)
	swapped["Hello"], swapped["Ġthe"] = 262, 15496
	noBytes := smallVocab()
	delete(noBytes, string(byteSpelling['a']))
	cases := []struct {
		name  string
		files map[string]string
		own   bool     // the folder's own BPE, not GPT-2's compiled-in one
		want  []string // words of the error
	}{
		{"none", nil, false, nil},
		{"gpt2 vocab.json", map[string]string{"vocab.json": js(gpt2), "merges.txt": "#version: 0.2\n"}, false, nil},
		{"gpt2 vocab.json without merges", map[string]string{"vocab.json": js(gpt2)}, false, nil},
		{"added tokens", map[string]string{"vocab.json": js(withPad)}, false, nil},
		{"gpt2 tokenizer.json", map[string]string{"tokenizer.json": js(map[string]any{"model": map[string]any{"type": "BPE", "vocab": gpt2}})}, false, nil},
		{"swapped tokens", map[string]string{"vocab.json": js(swapped), "merges.txt": "Ġ t\n"}, true, nil},
		{"own vocab without merges", map[string]string{"vocab.json": js(smallVocab())},
			false, []string{"vocab.json without merges.txt"}},
		{"a byte without a token", map[string]string{"vocab.json": js(noBytes), "merges.txt": ""},
			false, []string{"vocab.json", "no token for the byte 0x61"}},
		{"bad merges line", map[string]string{"vocab.json": js(smallVocab()), "merges.txt": "#version: 0.2\na b\nabc\n"},
			false, []string{"merges.txt:3", `"abc"`}},
		{"negative id", map[string]string{"vocab.json": `{"a": -1}`, "merges.txt": ""},
			false, []string{"vocab.json", `"a" has id -1`}},
		{"unigram", map[string]string{"tokenizer.json": `{"model": {"type": "Unigram", "vocab": [["a", 0.1]]}}`},
			false, []string{"tokenizer.json", "Unigram", "move tokenizer.json"}},
		{"metaspace", map[string]string{"tokenizer.json": `{"pre_tokenizer": {"type": "Metaspace"}, "model": {"type": "BPE", "vocab": {"a": 0}}}`},
			false, []string{"tokenizer.json", "pre_tokenizer.type", "Metaspace"}},
		{"bad merge entry", map[string]string{"tokenizer.json": `{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [7]}}`},
			false, []string{"tokenizer.json", "model.merges", "entry 0"}},
		{"bad json", map[string]string{"vocab.json": "{\"a\": 1,\n \"b\": }"},
			false, []string{"vocab.json", "line 2, column 7"}},
		{"empty vocabulary", map[string]string{"tokenizer.json": `{"model": {"type": "BPE", "vocab": {}}}`},
			false, []string{"tokenizer.json", "no tokens"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok, err := LoadTokenizer(writeFiles(t, c.files), GPT2Small())
			if len(c.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if (tok.bpe != nil) != c.own {
					t.Errorf("own BPE %v, want %v", tok.bpe != nil, c.own)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestBPEPieceCacheBounded(t *testing.T) {
	b, err := newBPE(&tokenizerFiles{name: "t", vocab: smallVocab()})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < maxBPECache+10; i++ {
		b.encode(fmt.Sprintf(" w%d", i), nil)
	}
	if n := len(b.cache); n > maxBPECache {
		t.Errorf("cache holds %d pieces, bound %d", n, maxBPECache)
	}
}

// TestOwnTokenizerFromHub: a Hub model's tokenizer files come with its
// download, so a model with its own vocabulary is tokenized with it.
func TestOwnTokenizerFromHub(t *testing.T) {
	files := map[string][]byte{}
	for _, f := range []string{"config.json", "model.safetensors"} {
		b, err := os.ReadFile(filepath.Join(reference.Dir(), f))
		if err != nil {
			t.Fatal(err)
		}
		files[f] = b
	}
	vocab := smallVocab("he")
	vocab["<s>"] = 258
	files["vocab.json"], _ = json.Marshal(vocab)
	files["merges.txt"] = []byte("#version: 0.2\nh e\n")
	files["special_tokens_map.json"] = []byte(`{"bos_token": "<s>"}`)
	srv := miniHub(t, files)
	m, err := LoadPretrained(context.Background(), "org/own-vocab", hub.Options{Endpoint: srv.URL, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ids, err := m.Tokenizer.Encode("<s>hehe")
	if err != nil || fmt.Sprint(ids) != "[258 256 256]" || m.Tokenizer.Size() != 259 {
		t.Errorf("the Hub model's own tokenizer: %v %v (size %d), want [258 256 256] (size 259)", ids, err, m.Tokenizer.Size())
	}
}

// TestBPEByteLevelOptions: ByteLevel's add_prefix_space (tokenizer.json,
// or tokenizer_config.json beside vocab.json) and use_regex: false.
func TestBPEByteLevelOptions(t *testing.T) {
	vocab := smallVocab("he", "ll", "hell", "hello", "Ġw", "or", "Ġwor", "a,")
	js, _ := json.Marshal(vocab)
	merges := `["h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "a ,"]`
	tj := func(pre string) string {
		return fmt.Sprintf(`{"pre_tokenizer": %s, "model": {"type": "BPE", "vocab": %s, "merges": %s}}`, pre, js, merges)
	}
	mergesTxt := "#version: 0.2\nh e\nl l\nhe ll\nhell o\nĠ w\no r\nĠw or\na ,\n"
	c := GPT2Small()
	c.VocabSize, c.EosTokenID = 265, 264
	for _, tc := range []struct {
		name  string
		files map[string]string
		text  string
		want  string
	}{
		{"plain", map[string]string{"tokenizer.json": tj(`{"type": "ByteLevel", "add_prefix_space": false}`)}, "world a,b", "[119 261 108 100 32 97 44 98]"},
		{"prefix space", map[string]string{"tokenizer.json": tj(`{"type": "ByteLevel", "add_prefix_space": true}`)}, "world", "[262 108 100]"},
		{"prefix space kept", map[string]string{"tokenizer.json": tj(`{"type": "ByteLevel", "add_prefix_space": true}`)}, " world", "[262 108 100]"},
		{"no regex", map[string]string{"tokenizer.json": tj(`{"type": "ByteLevel", "use_regex": false}`)}, "a,b", "[263 98]"},
		{"regex", map[string]string{"tokenizer.json": tj(`{"type": "ByteLevel"}`)}, "a,b", "[97 44 98]"},
		{"tokenizer_config", map[string]string{"vocab.json": string(js), "merges.txt": mergesTxt,
			"tokenizer_config.json": `{"add_prefix_space": true}`}, "world", "[262 108 100]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := LoadTokenizer(writeFiles(t, tc.files), c)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tok.Encode(tc.text)
			if err != nil || fmt.Sprint(got) != tc.want {
				t.Errorf("%q: %v %v, want %s", tc.text, got, err, tc.want)
			}
		})
	}
}

// flagsTokenizerJSON is a tokenizer.json over smallVocab("he", "ll",
// "hell", "hello") (ids 256-259, <|endoftext|> 260) with added tokens
// carrying each of Hugging Face's flags.
func flagsTokenizerJSON(t testing.TB) string {
	js, _ := json.Marshal(smallVocab("he", "ll", "hell", "hello"))
	return fmt.Sprintf(`{"version": "1.0", "truncation": null, "padding": null,
	  "added_tokens": [
	    {"id": 260, "content": "<|endoftext|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
	    {"id": 261, "content": "<mask>", "single_word": false, "lstrip": true, "rstrip": false, "normalized": false, "special": true},
	    {"id": 262, "content": "<sep>", "single_word": false, "lstrip": false, "rstrip": true, "normalized": false, "special": true},
	    {"id": 263, "content": "word", "single_word": true, "lstrip": false, "rstrip": false, "normalized": true, "special": false},
	    {"id": 264, "content": "[X]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": false},
	    {"id": 265, "content": "[X]Y", "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": false},
	    {"id": 266, "content": "X]Y", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
	    {"id": 267, "content": "ab", "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": false},
	    {"id": 268, "content": "bc", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
	  "normalizer": null,
	  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
	  "post_processor": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
	  "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
	  "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null, "end_of_word_suffix": null,
	    "fuse_unk": false, "byte_fallback": false, "ignore_merges": false, "vocab": %s, "merges": [["h", "e"], ["l", "l"], ["he", "ll"], ["hell", "o"]]}}`, js)
}

// TestBPEAddedTokenFlags: added tokens are cut out as Hugging Face's
// AddedVocabulary does: lstrip and rstrip take the whitespace beside them,
// single_word tokens match only as words, and the non-normalized tokens are
// matched before the normalized ones. The same tokens described by
// tokenizer_config.json's added_tokens_decoder beside vocab.json (as
// save_pretrained writes) give the same ids.
func TestBPEAddedTokenFlags(t *testing.T) {
	var tj struct {
		Added []map[string]any `json:"added_tokens"`
	}
	if err := json.Unmarshal([]byte(flagsTokenizerJSON(t)), &tj); err != nil {
		t.Fatal(err)
	}
	decoder := map[string]any{}
	for _, a := range tj.Added {
		id := a["id"]
		delete(a, "id")
		decoder[fmt.Sprint(id)] = a
	}
	cfg, _ := json.Marshal(map[string]any{"add_prefix_space": false, "added_tokens_decoder": decoder,
		"eos_token": "<|endoftext|>", "tokenizer_class": "GPT2Tokenizer"})
	vocab, _ := json.Marshal(smallVocab("he", "ll", "hell", "hello"))
	dirs := map[string]string{
		"tokenizer.json": writeFiles(t, map[string]string{"tokenizer.json": flagsTokenizerJSON(t)}),
		"vocab.json": writeFiles(t, map[string]string{"vocab.json": string(vocab), "merges.txt": "#version: 0.2\nh e\nl l\nhe ll\nhell o\n",
			"tokenizer_config.json": string(cfg)}),
	}
	c := GPT2Small()
	c.VocabSize, c.EosTokenID = 269, 260
	for name, dir := range dirs {
		t.Run(name, func(t *testing.T) {
			tok, err := LoadTokenizer(dir, c)
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct{ text, want, back string }{
				{"hello <mask>", "[259 261]", "hello<mask>"},                       // lstrip
				{"a \t <mask>b", "[97 261 98]", "a<mask>b"},                        // all the whitespace
				{"<sep>  \n x", "[262 120]", "<sep>x"},                             // rstrip
				{"<mask><mask>", "[261 261]", "<mask><mask>"},                      // no whitespace to take
				{"word words", "[263 32 119 111 114 100 115]", ""},                 // single_word
				{"_word", "[95 119 111 114 100]", ""},                              // _ is a word character
				{"(word)", "[40 263 41]", ""},                                      // between punctuation
				{"[X]Y", "[91 266]", ""},                                           // X]Y (not normalized) before [X]Y
				{"[X]", "[264]", ""},                                               // normalized, the longest at its place
				{"abc", "[97 268]", ""},                                            // bc (not normalized) before ab
				{"ab<|endoftext|>", "[267 260]", ""},                               // ab where bc does not match
				{"x<|endoftext|> <mask>", "[120 260 261]", "x<|endoftext|><mask>"}, // lstrip stops at the token before
			} {
				got, err := tok.Encode(tc.text)
				if err != nil || fmt.Sprint(got) != tc.want {
					t.Errorf("%q: %v %v, want %s", tc.text, got, err, tc.want)
				}
				if tc.back == "" {
					tc.back = tc.text
				}
				if back, err := tok.Decode(got); back != tc.back || err != nil {
					t.Errorf("%q decodes to %q (%v), want %q", tc.text, back, err, tc.back)
				}
			}
		})
	}
}

// TestBPEPrefersTokenizerJSON: with tokenizer.json beside vocab.json and
// merges.txt (save_pretrained writes both), tokenizer.json is read, as
// Hugging Face's AutoTokenizer does; special tokens of the vocabulary
// named in special_tokens_map.json are cut out of the text.
func TestBPEPrefersTokenizerJSON(t *testing.T) {
	vocab := smallVocab("he", "ll", "hell", "hello")
	vocab["<s>"], vocab["</s>"] = 261, 262
	js, _ := json.Marshal(vocab)
	files := map[string]string{"vocab.json": string(js), "merges.txt": "#version: 0.2\nh e\nl l\nhe ll\nhell o\n",
		"special_tokens_map.json": `{"bos_token": "<s>", "eos_token": {"content": "</s>", "lstrip": false, "normalized": false, "rstrip": false, "single_word": false}}`}
	c := GPT2Small()
	c.VocabSize, c.EosTokenID = 269, 262
	tok, err := LoadTokenizer(writeFiles(t, files), c)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := tok.Encode("<s>hello</s>"); fmt.Sprint(got) != "[261 259 262]" {
		t.Errorf("special tokens of special_tokens_map.json: %v, want [261 259 262]", got)
	}
	files["tokenizer.json"] = flagsTokenizerJSON(t)
	tok, err = LoadTokenizer(writeFiles(t, files), c)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := tok.Encode("hello <mask>"); fmt.Sprint(got) != "[259 261]" {
		t.Errorf("with tokenizer.json beside vocab.json: %v, want [259 261] (tokenizer.json's <mask>)", got)
	}
}

// TestBPEMerges: merges apply lowest rank first, leftmost among equals,
// one at a time as Hugging Face's tokenizers does (a merge made possible
// by an earlier one can win over a pending higher-ranked one); a repeated
// merge takes its last rank; ignore_merges takes a piece that is a token
// whole; a 100 KB word takes well under a second.
func TestBPEMerges(t *testing.T) {
	vocab := smallVocab("ab", "aba", "bc", "abc")
	js, _ := json.Marshal(vocab) // ab 256, aba 257, bc 258, abc 259
	tj := func(merges string, ignore bool) map[string]string {
		return map[string]string{"tokenizer.json": fmt.Sprintf(`{"pre_tokenizer": {"type": "ByteLevel"},
			"model": {"type": "BPE", "ignore_merges": %v, "vocab": %s, "merges": %s}}`, ignore, js, merges)}
	}
	c := GPT2Small()
	c.VocabSize = 261
	for _, tc := range []struct {
		name         string
		merges, text string
		ignore       bool
		want         string
	}{
		{"made by an earlier merge", `["ab a", "a b"]`, "abab", false, "[257 98]"},
		{"repeated merge: last rank", `["b c", "a b", "b c"]`, "abc", false, "[256 99]"},
		{"repeated merge: first rank", `["a b", "b c", "ab c"]`, "abc", false, "[259]"},
		{"without ignore_merges", `["b c"]`, "abc", false, "[97 258]"},
		{"ignore_merges", `["b c"]`, "abc", true, "[259]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := LoadTokenizer(writeFiles(t, tj(tc.merges, tc.ignore)), c)
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := tok.Encode(tc.text); fmt.Sprint(got) != tc.want {
				t.Errorf("%q: %v, want %s", tc.text, got, tc.want)
			}
		})
	}
	tok, err := LoadTokenizer(writeFiles(t, tj(`["a b", "ab c", "b c"]`, false)), c)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("abcab", 20000)
	start := time.Now()
	ids, _ := tok.Encode(long)
	if d := time.Since(start); d > time.Second {
		t.Errorf("a %d-byte word took %v", len(long), d)
	}
	if back, _ := tok.Decode(ids); back != long || len(ids) != 40000 {
		t.Errorf("the long word: %d ids, round trip %v", len(ids), back == long)
	}
}

// TestBPERefusesOtherSettings: settings with which Hugging Face would give
// other ids than nnscope are errors naming the file and the key.
func TestBPERefusesOtherSettings(t *testing.T) {
	js, _ := json.Marshal(smallVocab("he"))
	tj := func(top, model string) map[string]string {
		return map[string]string{"tokenizer.json": fmt.Sprintf(`{%s "model": {"type": "BPE", %s "vocab": %s, "merges": ["h e"]}}`, top, model, js)}
	}
	vm := func(extra map[string]string) map[string]string {
		m := map[string]string{"vocab.json": string(js), "merges.txt": "h e\n"}
		maps.Copy(m, extra)
		return m
	}
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"normalizer", tj(`"normalizer": {"type": "Lowercase"},`, ""), []string{"tokenizer.json", `"normalizer"`, "Lowercase"}},
		{"no pre-tokenizer", tj(`"pre_tokenizer": null,`, ""), []string{"tokenizer.json", `"pre_tokenizer"`, "null"}},
		{"split pre-tokenizer", tj(`"pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Split"}, {"type": "ByteLevel"}]},`, ""),
			[]string{"tokenizer.json", "pre_tokenizer.type", "Sequence"}},
		{"bos template", tj(`"post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}]},`, ""),
			[]string{"tokenizer.json", `"post_processor"`, "TemplateProcessing"}},
		{"roberta", tj(`"post_processor": {"type": "RobertaProcessing"},`, ""), []string{"tokenizer.json", `"post_processor"`, "RobertaProcessing"}},
		{"dropout", tj("", `"dropout": 0.1,`), []string{"tokenizer.json", `"model.dropout"`, "0.1"}},
		{"subword prefix", tj("", `"continuing_subword_prefix": "##",`), []string{"tokenizer.json", `"model.continuing_subword_prefix"`, "##"}},
		{"word suffix", tj("", `"end_of_word_suffix": "</w>",`), []string{"tokenizer.json", `"model.end_of_word_suffix"`}},
		{"merge result not a token", map[string]string{"tokenizer.json": fmt.Sprintf(`{"model": {"type": "BPE", "vocab": %s, "merges": ["h e", "l l"]}}`, js)},
			[]string{"tokenizer.json", `"model.merges" entry 1`, `"ll" is not in the vocabulary`}},
		{"merge side not a token", vm(map[string]string{"merges.txt": "#version: 0.2\nh e\nhe llo\n"}),
			[]string{"merges.txt:3", `"llo" is not in the vocabulary`}},
		{"add_bos_token", vm(map[string]string{"tokenizer_config.json": `{"add_bos_token": true}`}),
			[]string{"tokenizer_config.json", `"add_bos_token"`}},
		{"bad added_tokens_decoder", vm(map[string]string{"tokenizer_config.json": `{"added_tokens_decoder": {"7": {"lstrip": true}}}`}),
			[]string{"tokenizer_config.json", `"added_tokens_decoder.7"`, "content"}},
		{"bad special token", vm(map[string]string{"special_tokens_map.json": `{"eos_token": 5}`}),
			[]string{"special_tokens_map.json", `"eos_token"`}},
		{"added token without id", tj(`"added_tokens": [{"content": "<x>"}],`, ""), []string{"tokenizer.json", `"added_tokens" entry 0`, "id"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadTokenizer(writeFiles(t, tc.files), GPT2Small())
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %s", err, w)
				}
			}
		})
	}
	// What stays accepted: ByteLevel alone in a Sequence, a template of the
	// text alone, dropout 0.
	for _, files := range []map[string]string{
		tj(`"pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "ByteLevel", "add_prefix_space": false}]},`, `"dropout": 0,`),
		tj(`"post_processor": {"type": "TemplateProcessing", "single": [{"Sequence": {"id": "A", "type_id": 0}}]}, "normalizer": null,`, `"byte_fallback": false, "unk_token": null,`),
	} {
		if _, err := LoadTokenizer(writeFiles(t, files), GPT2Small()); err != nil {
			t.Error(err)
		}
	}
}

// TestGPT2VocabAddedTokens: tokens added to GPT-2's vocabulary (a model
// fine-tuned with a pad or chat token) are cut out of text and decoded,
// with GPT-2's own tokenizer for the rest; ids of padding rows past the
// tokenizer (config.json's vocab_size rounded up) decode to nothing.
func TestGPT2VocabAddedTokens(t *testing.T) {
	js, _ := json.Marshal(gpt2AsFiles(t).vocab)
	files := map[string]string{"tokenizer.json": fmt.Sprintf(`{"added_tokens": [
		{"id": 50256, "content": "<|endoftext|>", "special": true, "normalized": false},
		{"id": 50257, "content": "<|pad|>", "special": true, "normalized": false},
		{"id": 50258, "content": "<|user|>", "special": true, "normalized": false, "rstrip": true}],
		"pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false},
		"model": {"type": "BPE", "vocab": %s, "merges": []}}`, js)}
	c := GPT2Small()
	c.VocabSize = 50304
	tok, err := LoadTokenizer(writeFiles(t, files), c)
	if err != nil {
		t.Fatal(err)
	}
	if tok.bpe != nil || tok.Size() != 50259 {
		t.Fatalf("own BPE %v, size %d; want GPT-2's with added tokens, 50259", tok.bpe != nil, tok.Size())
	}
	ids, err := tok.Encode("<|user|> Hello<|pad|><|endoftext|>")
	if err != nil || fmt.Sprint(ids) != "[50258 15496 50257 50256]" {
		t.Errorf("Encode: %v %v, want [50258 15496 50257 50256]", ids, err)
	}
	if s, err := tok.Decode([]int{50258, 15496, 50257, 50300, 50256}); s != "<|user|>Hello<|pad|><|endoftext|>" || err != nil {
		t.Errorf("Decode: %q %v", s, err)
	}
	if _, err := tok.Decode([]int{50304}); err == nil {
		t.Error("an id past vocab_size decodes")
	}
	own, err := LoadTokenizer(writeFiles(t, map[string]string{"tokenizer.json": flagsTokenizerJSON(t)}), c)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := own.Decode([]int{259, 300, 50303}); s != "hello" || err != nil {
		t.Errorf("padding rows of an own vocabulary: %q %v, want \"hello\"", s, err)
	}
}

// TestBPELongWord: a 100 KB word (no space or punctuation to split it)
// takes well under a second with GPT-2's 50000 merges (merging pair by
// pair over the whole word took seconds).
func TestBPELongWord(t *testing.T) {
	b, err := newBPE(gpt2AsFiles(t))
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewSource(1))
	word := make([]byte, 100_000)
	for i := range word {
		word[i] = "abcdefghijklmnopqrstuvwxyz"[r.Intn(26)]
	}
	start := time.Now()
	ids := b.encode(string(word), nil)
	if d := time.Since(start); d > time.Second {
		t.Errorf("a 100 KB word took %v", d)
	}
	if back, _ := b.decode(ids); string(back) != string(word) {
		t.Error("the long word does not decode back")
	}
	ref, _ := NewTokenizer()
	if want, _ := ref.Encode(string(word[:5000])); !slices.Equal(b.encode(string(word[:5000]), nil), want) {
		t.Error("a long word differs from GPT-2's tokenizer")
	}
}

// TestReplaceInvalidUTF8 follows Python's bytes.decode(errors="replace"):
// one U+FFFD per maximal ill-formed subpart.
func TestReplaceInvalidUTF8(t *testing.T) {
	for in, want := range map[string]string{
		"ok":                "ok",
		"\xe6\x9d":          "\uFFFD",             // a truncated 3-byte character
		"\xe6\x9d\xe6\x9d":  "\uFFFD\uFFFD",       // two of them
		"a\xe6\x9d\xb1b":    "a東b",                // complete
		"\xff\xfe":          "\uFFFD\uFFFD",       // bytes that never start a character
		"\xed\xa0\x80":      "\uFFFD\uFFFD\uFFFD", // a surrogate: ED takes 80..9F only
		"\xf0\x9f\x98":      "\uFFFD",             // a truncated emoji
		"\xf0\x9f\x98\x80x": "😀x",
		"\xc3":              "\uFFFD",
		"\xe0\x80\x80":      "\uFFFD\uFFFD\uFFFD", // overlong: E0 takes A0..BF
	} {
		if got := replaceInvalidUTF8(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

// TestEncodeInvalidUTF8: text that is not UTF-8 is read the way Decode
// writes it, each maximal ill-formed part one U+FFFD, by GPT-2's
// tokenizer and a folder's own alike, so Decode(Encode(s)) is Decode's
// repair of s.
func TestEncodeInvalidUTF8(t *testing.T) {
	js, _ := json.Marshal(smallVocab())
	own, err := LoadTokenizer(writeFiles(t, map[string]string{"vocab.json": string(js), "merges.txt": "#version: 0.2\n"}), GPT2Small())
	if err != nil {
		t.Fatal(err)
	}
	builtin, err := NewTokenizer()
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []*Tokenizer{builtin, own} {
		for _, in := range []string{"a\xffb", "\xe6\x9d", "caf\xc3", "x \xf0\x9f\x98!", "\xed\xa0\x80", "ok"} {
			ids, err := tok.Encode(in)
			if err != nil {
				t.Fatal(err)
			}
			want, err := tok.Encode(replaceInvalidUTF8(in))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids, want) {
				t.Errorf("builtin %v: %q is %v, want the ids of %q, %v", tok.Builtin(), in, ids, replaceInvalidUTF8(in), want)
			}
			if back, err := tok.Decode(ids); err != nil || back != replaceInvalidUTF8(in) {
				t.Errorf("builtin %v: %q decodes back to %q (%v), want %q", tok.Builtin(), in, back, err, replaceInvalidUTF8(in))
			}
		}
	}
}

// TestMergesTxtAsGPT2Tokenizer: merges.txt is read as transformers'
// GPT2Tokenizer reads it (read().split("\n")[1:-1], each line split on
// white space) and its fast kind ranks it (a repeated merge keeps its
// first rank).
func TestMergesTxtAsGPT2Tokenizer(t *testing.T) {
	js, _ := json.Marshal(smallVocab("ab", "bc")) // ab 256, bc 257
	c := GPT2Small()
	c.VocabSize = 259
	for _, tc := range []struct{ name, merges, want string }{
		{"first line skipped without #version", "a b\nb c\n", "[97 257]"},
		{"no newline after the last merge", "#version: 0.2\na b", "[97 98 99]"},
		{"repeated merge: first rank", "#version: 0.2\nb c\na b\nb c\n", "[97 257]"},
		{"tab and spaces", "#version: 0.2\na\tb\nb  c\n", "[256 99]"},
		{"CRLF", "#version: 0.2\r\na b\r\nb c\r\n", "[256 99]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := LoadTokenizer(writeFiles(t, map[string]string{"vocab.json": string(js), "merges.txt": tc.merges}), c)
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := tok.Encode("abc"); fmt.Sprint(got) != tc.want {
				t.Errorf("abc: %v, want %s", got, tc.want)
			}
		})
	}
}

// TestAddedTokenAfterRstrip: as in tokenizers' find_matches, matching goes
// on from the end of a token, not of the whitespace its rstrip took, so an
// added token inside that whitespace is still found.
func TestAddedTokenAfterRstrip(t *testing.T) {
	js, _ := json.Marshal(smallVocab()) // <|endoftext|> 256
	tok, err := LoadTokenizer(writeFiles(t, map[string]string{"tokenizer.json": fmt.Sprintf(`{"added_tokens": [
		{"id": 257, "content": "<sep>", "rstrip": true, "normalized": false, "special": true},
		{"id": 258, "content": "  ", "normalized": false, "special": false}],
		"pre_tokenizer": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": %s, "merges": []}}`, js)}), GPT2Small())
	if err != nil {
		t.Fatal(err)
	}
	for text, want := range map[string]string{
		"<sep>  x":  "[257 258 120]",
		"<sep>   x": "[257 258 32 120]", // the text after "  " starts inside <sep>'s whitespace
		"<sep> x":   "[257 120]",
	} {
		if got, _ := tok.Encode(text); fmt.Sprint(got) != want {
			t.Errorf("%q: %v, want %s", text, got, want)
		}
	}
}

// TestSingleWordUnicode: single_word's word characters are \w of Rust's
// regex crate: a combining mark continues a word, a superscript digit
// does not.
func TestSingleWordUnicode(t *testing.T) {
	tok, err := LoadTokenizer(writeFiles(t, map[string]string{"tokenizer.json": flagsTokenizerJSON(t)}), GPT2Small())
	if err != nil {
		t.Fatal(err)
	}
	for text, want := range map[string]string{
		"word²":      "[263 194 178]",
		"word\u0301": "[119 111 114 100 204 129]",
		"word\u203f": "[119 111 114 100 226 128 191]",
	} {
		if got, _ := tok.Encode(text); fmt.Sprint(got) != want {
			t.Errorf("%q: %v, want %s", text, got, want)
		}
	}
}

// TestGPT2VocabAddedTokenGap: with tokens added to GPT-2's vocabulary, an
// id between them that no token has decodes to nothing, as in Hugging
// Face and as with a folder's own BPE, rather than an error that calls it
// outside the vocabulary.
func TestGPT2VocabAddedTokenGap(t *testing.T) {
	js, _ := json.Marshal(gpt2AsFiles(t).vocab)
	c := GPT2Small()
	c.VocabSize = 50261
	tok, err := LoadTokenizer(writeFiles(t, map[string]string{"tokenizer.json": fmt.Sprintf(`{"added_tokens": [
		{"id": 50257, "content": "<a>", "special": true, "normalized": false},
		{"id": 50260, "content": "<b>", "special": true, "normalized": false}],
		"pre_tokenizer": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": %s, "merges": []}}`, js)}), c)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := tok.Decode([]int{50257, 50258, 15496, 50260}); s != "<a>Hello<b>" || err != nil {
		t.Errorf("Decode: %q %v, want \"<a>Hello<b>\"", s, err)
	}
	if _, err := tok.Decode([]int{50261}); err == nil || !strings.Contains(err.Error(), "50261") {
		t.Errorf("an id past vocab_size: %v", err)
	}
}

// TestHostileTokenIDBounded: a tokenizer file's ids are checked against
// config.json's vocab_size before anything is sized by them (a 40-byte
// file with one id near 2³¹ asked for 32 GiB).
func TestHostileTokenIDBounded(t *testing.T) {
	dir := writeFiles(t, map[string]string{"tokenizer.json": `{"model": {"type": "BPE", "vocab": {"a": 16777216}}}`})
	c := GPT2Small()
	c.VocabSize = 300
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := LoadTokenizer(dir, c)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "16777216") || !strings.Contains(err.Error(), "vocab_size is 300") {
		t.Errorf("an id past vocab_size: %v", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<20 {
		t.Errorf("refusing it allocated %d MiB", n>>20)
	}
}

// FuzzTokenizerJSON: any tokenizer.json either is refused or gives a
// tokenizer that encodes any text to ids inside its vocabulary, which
// decode without error, and does so again the same way (the piece cache).
// Its inputs are a few KB, so run it with -fuzzminimizetime 0 (minimizing
// a new input otherwise stalls the run for minutes).
func FuzzTokenizerJSON(f *testing.F) {
	js, _ := json.Marshal(smallVocab("he", "ll"))
	f.Add([]byte(flagsTokenizerJSON(f)), "hello <mask>word [X]Y<sep>  x")
	f.Add([]byte(fmt.Sprintf(`{"added_tokens": [{"id": 258, "content": "<sep>", "rstrip": true, "lstrip": true, "single_word": true}],
		"pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "ByteLevel", "add_prefix_space": true, "use_regex": false}]},
		"model": {"type": "BPE", "ignore_merges": true, "vocab": %s, "merges": [["h", "e"], "l l"]}}`, js)), "he <sep> llo")
	f.Fuzz(func(t *testing.T, data []byte, text string) {
		files, err := readTokenizerJSON("tokenizer.json", data)
		if err != nil {
			return
		}
		if n, err := checkIDs(files); err != nil || n > 1<<16 {
			return // LoadTokenizer bounds ids by vocab_size
		}
		b, err := newBPE(files)
		if err != nil {
			return
		}
		tok := &Tokenizer{bpe: b, EOS: -1}
		ids, _ := tok.Encode(text)
		for _, id := range ids {
			if id < 0 || id >= tok.Size() {
				t.Fatalf("%q: id %d outside [0, %d)", text, id, tok.Size())
			}
		}
		if _, err := tok.Decode(ids); err != nil {
			t.Fatalf("%q: %v decodes with %v", text, ids, err)
		}
		if again, _ := tok.Encode(text); !slices.Equal(again, ids) {
			t.Fatalf("%q: %v, then %v", text, ids, again)
		}
	})
}

// BenchmarkLoadTokenizerFiles reads GPT-2's vocabulary and merges as a
// model folder's vocab.json and merges.txt and builds the BPE from them.
func BenchmarkLoadTokenizerFiles(b *testing.B) {
	f := gpt2AsFiles(b)
	dir := b.TempDir()
	vj, err := json.Marshal(f.vocab)
	if err != nil {
		b.Fatal(err)
	}
	var sb strings.Builder
	sb.WriteString("#version: 0.2\n")
	for _, m := range f.merges {
		sb.WriteString(m[0] + " " + m[1] + "\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "vocab.json"), vj, 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "merges.txt"), []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		g, err := readTokenizerFiles(dir)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := newBPE(g); err != nil {
			b.Fatal(err)
		}
	}
}
