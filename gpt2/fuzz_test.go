package gpt2

import (
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseConfig: any bytes give a Config or an error naming the file,
// never a panic, and an accepted config is one the model can be built for,
// within the size limits (so listing its weights is cheap). Seeds in
// testdata/fuzz/FuzzParseConfig.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"vocab_size": 50257, "n_positions": 64, "n_embd": 32, "n_layer": 3, "n_head": 4}`))
	f.Add([]byte(`{"vocab_size": 1, "n_positions": 1, "n_embd": 2, "n_layer": 1, "n_head": 2, "n_inner": null}`))
	f.Add([]byte(`{"n_embd": "32"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig("config.json", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "config.json: ") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		if c.NEmbd <= 0 || c.NHead <= 0 || c.NEmbd%c.NHead != 0 || c.NLayer <= 0 || c.VocabSize <= 0 || c.NPositions <= 0 {
			t.Fatalf("accepted an unusable config %+v", c)
		}
		if c.NLayer > MaxLayers || c.NEmbd > MaxDim || c.VocabSize > MaxDim || c.NPositions > MaxDim || c.Inner() > MaxDim {
			t.Fatalf("accepted a config over the limits %+v", c)
		}
		for _, w := range weightList(c) {
			for _, d := range w.shape {
				if d <= 0 {
					t.Fatalf("%s: shape %v", w.name, w.shape)
				}
			}
		}
	})
}

// FuzzParseShardIndex: a model.safetensors.index.json never panics the
// parser, and every shard it accepts is a plain .safetensors file name in
// the model folder. Seeds in testdata/fuzz/FuzzParseShardIndex.
func FuzzParseShardIndex(f *testing.F) {
	f.Add([]byte(`{"weight_map": {"wte.weight": "model-00001-of-00002.safetensors"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		wm, shards, err := ParseShardIndex(IndexFile, data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), IndexFile+": ") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		if len(wm) == 0 || len(shards) == 0 {
			t.Fatal("accepted an empty index")
		}
		for _, s := range shards {
			if s != filepath.Base(s) || strings.ContainsAny(s, `/\`) || s == ".." || !strings.HasSuffix(s, ".safetensors") {
				t.Fatalf("accepted shard %q", s)
			}
		}
	})
}

// FuzzTokenizer: any text a user types tokenizes without a panic into ids
// of the vocabulary, and valid UTF-8 decodes back to itself (byte-level
// BPE loses nothing).
func FuzzTokenizer(f *testing.F) {
	for _, s := range []string{"The Eiffel Tower is in the city of", " leading space", "\n\n", "emoji 🤖 and CJK 漢字", "\x00\xff invalid", "<|endoftext|>", ""} {
		f.Add(s)
	}
	tok, err := NewTokenizer()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ids, err := tok.Encode(s)
		if err != nil {
			return
		}
		for _, id := range ids {
			if id < 0 || id > 50256 {
				t.Fatalf("%q: id %d outside the vocabulary", s, id)
			}
		}
		back, err := tok.Decode(ids)
		if err != nil {
			t.Fatalf("%q: decoding its own ids: %v", s, err)
		}
		if utf8.ValidString(s) && back != s {
			t.Fatalf("%q decodes back as %q", s, back)
		}
	})
}
