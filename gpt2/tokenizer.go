package gpt2

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tiktoken-go/tokenizer"
)

// Tokenizer is GPT-2's byte-level BPE (tiktoken's r50k_base, the same
// vocabulary and merges as Hugging Face's GPT2Tokenizer). The vocabulary is
// compiled into the binary, so it works offline.
type Tokenizer struct {
	codec tokenizer.Codec
	EOS   int
}

// NewTokenizer returns the GPT-2 tokenizer.
func NewTokenizer() (*Tokenizer, error) {
	c, err := tokenizer.Get(tokenizer.R50kBase)
	if err != nil {
		return nil, fmt.Errorf("gpt2 tokenizer: %w", err)
	}
	return &Tokenizer{codec: c, EOS: 50256}, nil
}

// Encode turns text into token ids.
func (t *Tokenizer) Encode(text string) ([]int, error) {
	if !strings.Contains(text, "\x7f") {
		return t.encode(text, nil)
	}
	// tiktoken-go's pre-tokenizer (regexp2) never matches U+007F (DEL)
	// inside GPT-2's full pattern, though its character class alone does,
	// so DEL was dropped without a word. GPT-2 has no merge involving DEL:
	// it is always token 221 and cuts the text into parts that BPE treats
	// independently. The one pre-tokenization effect to keep: whitespace
	// right before DEL ends a run, so its last character is a piece of its
	// own ("a  \x7f" is "a", " ", " \x7f").
	var out []int
	segs := strings.Split(text, "\x7f")
	for i, seg := range segs {
		if i < len(segs)-1 {
			last, n := utf8.DecodeLastRuneInString(seg)
			prev, _ := utf8.DecodeLastRuneInString(seg[:len(seg)-n])
			if n > 0 && unicode.IsSpace(last) && unicode.IsSpace(prev) && len(seg) > n {
				var err error
				if out, err = t.encode(seg[:len(seg)-n], out); err != nil {
					return nil, err
				}
				seg = seg[len(seg)-n:]
			}
		}
		var err error
		if out, err = t.encode(seg, out); err != nil {
			return nil, err
		}
		if i < len(segs)-1 {
			out = append(out, delToken)
		}
	}
	return out, nil
}

// delToken is GPT-2's token for the byte 0x7f.
const delToken = 221

// encode appends the ids of text to out.
func (t *Tokenizer) encode(text string, out []int) ([]int, error) {
	if text == "" {
		return out, nil
	}
	ids, _, err := t.codec.Encode(text)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		out = append(out, int(id))
	}
	return out, nil
}

// Decode turns token ids back into text (invalid UTF-8 from partial
// multi-byte tokens is kept as the replacement character).
func (t *Tokenizer) Decode(ids []int) (string, error) {
	u := make([]uint, len(ids))
	for i, id := range ids {
		if id < 0 || id > 50256 {
			return "", fmt.Errorf("decode: token id %d outside GPT-2's vocabulary [0, 50256]", id)
		}
		u[i] = uint(id)
	}
	return t.codec.Decode(u)
}

// byteRunes is GPT-2's bytes_to_unicode: the printable character each byte
// is spelled with in vocab.json and tokenizer.json.
var byteRunes = func() map[rune]byte {
	m := map[rune]byte{}
	n := 0
	for b := 0; b < 256; b++ {
		switch {
		case b >= '!' && b <= '~', b >= 0xA1 && b <= 0xAC, b >= 0xAE && b <= 0xFF:
			m[rune(b)] = byte(b)
		default:
			m[rune(256+n)] = byte(b)
			n++
		}
	}
	return m
}()

// CheckTokenizerFiles compares the vocabulary of a model folder's own
// tokenizer files (vocab.json, else tokenizer.json), if it has any, with
// GPT-2's, which is the only tokenizer nnscope has. Tokens added after
// GPT-2's 50257 are allowed (they are never produced from text). A folder
// without tokenizer files is fine.
func CheckTokenizerFiles(dir string) error {
	var vocab map[string]int
	var name string
	if b, err := os.ReadFile(filepath.Join(dir, "vocab.json")); err == nil {
		name = "vocab.json"
		if err := json.Unmarshal(b, &vocab); err != nil {
			return fmt.Errorf("%s: %s", filepath.Join(dir, name), jsonErrorAt(b, err))
		}
	} else if b, err := os.ReadFile(filepath.Join(dir, "tokenizer.json")); err == nil {
		name = "tokenizer.json"
		var tj struct {
			Model struct {
				Type  string          `json:"type"`
				Vocab json.RawMessage `json:"vocab"`
			} `json:"model"`
		}
		if err := json.Unmarshal(b, &tj); err != nil {
			return fmt.Errorf("%s: %s", filepath.Join(dir, name), jsonErrorAt(b, err))
		}
		if tj.Model.Type != "" && tj.Model.Type != "BPE" {
			return fmt.Errorf("%s: a %s tokenizer, but nnscope only has GPT-2's byte-level BPE tokenizer (to run the model on token ids anyway, move %s out of the folder)", filepath.Join(dir, name), tj.Model.Type, name)
		}
		if len(tj.Model.Vocab) > 0 && json.Unmarshal(tj.Model.Vocab, &vocab) != nil {
			return fmt.Errorf("%s: key \"model.vocab\": want an object mapping tokens to ids", filepath.Join(dir, name))
		}
	} else {
		return nil
	}
	if len(vocab) == 0 {
		return nil
	}
	tok, err := NewTokenizer()
	if err != nil {
		return err
	}
	// Report the lowest mismatching id, for a stable message.
	bad, badTok, want := -1, "", ""
	for s, id := range vocab {
		if id < 0 || id >= tok.EOS || (bad >= 0 && id >= bad) {
			continue
		}
		got, err := tok.codec.Decode([]uint{uint(id)})
		if err != nil || !sameToken(s, got) {
			bad, badTok, want = id, s, got
		}
	}
	if bad >= 0 {
		return fmt.Errorf("%s: token %d is %q but GPT-2's is %q: this model has its own tokenizer, and nnscope only has GPT-2's (r50k_base), so text would be tokenized wrongly (to run it on token ids anyway, move %s out of the folder)",
			filepath.Join(dir, name), bad, clip(spelledBytes(badTok), 40), clip(want, 40), name)
	}
	return nil
}

// sameToken reports whether a vocab.json spelling encodes the bytes b.
func sameToken(spelled, b string) bool {
	i := 0
	for _, r := range spelled {
		c, ok := byteRunes[r]
		if !ok || i >= len(b) || b[i] != c {
			return false
		}
		i++
	}
	return i == len(b)
}

// spelledBytes turns a vocab.json spelling back into bytes (characters
// outside the byte alphabet are kept).
func spelledBytes(spelled string) string {
	var b strings.Builder
	for _, r := range spelled {
		if c, ok := byteRunes[r]; ok {
			b.WriteByte(c)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}
