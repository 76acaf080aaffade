package gpt2

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"nnscope/hub"
	"nnscope/internal/reference"
)

// spell writes bytes the way vocab.json and merges.txt do.
func spell(b string) string {
	var sb strings.Builder
	for i := 0; i < len(b); i++ {
		sb.WriteRune(byteSpelling[b[i]])
	}
	return sb.String()
}

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
		f := &tokenizerFiles{name: "gpt2", vocab: map[string]int{endOfText: eos}, added: []addedToken{{endOfText, eos}}}
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
	withPad := map[string]int{"<|pad|>": 50257}
	for k, id := range gpt2 {
		withPad[k] = id
	}
	swapped := map[string]int{}
	for k, id := range gpt2 {
		swapped[k] = id
	}
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
	files["vocab.json"], _ = json.Marshal(smallVocab("he"))
	files["merges.txt"] = []byte("#version: 0.2\nh e\n")
	srv := miniHub(t, files)
	m, err := LoadPretrained(context.Background(), "org/own-vocab", hub.Options{Endpoint: srv.URL, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ids, err := m.Tokenizer.Encode("hehe")
	if err != nil || fmt.Sprint(ids) != "[256 256]" || m.Tokenizer.Size() != 258 {
		t.Errorf("the Hub model's own tokenizer: %v %v (size %d), want [256 256] (size 258)", ids, err, m.Tokenizer.Size())
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
	mergesTxt := "h e\nl l\nhe ll\nhell o\nĠ w\no r\nĠw or\na ,\n"
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
