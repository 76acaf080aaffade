package gpt2

import (
	"fmt"

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
	ids, _, err := t.codec.Encode(text)
	if err != nil {
		return nil, err
	}
	out := make([]int, len(ids))
	for i, id := range ids {
		out[i] = int(id)
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
