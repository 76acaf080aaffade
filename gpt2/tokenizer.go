package gpt2

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tiktoken-go/tokenizer"
)

// Tokenizer is a byte-level BPE tokenizer: GPT-2's own (tiktoken's
// r50k_base, the same vocabulary and merges as Hugging Face's
// GPT2Tokenizer, compiled into the binary, so it works offline), or one
// read from a model folder whose vocabulary is not GPT-2's (LoadTokenizer).
type Tokenizer struct {
	codec tokenizer.Codec // GPT-2's; nil when bpe is set
	bpe   *bpe
	added *addedTokens // the folder's added tokens, with GPT-2's codec; nil for none
	EOS   int          // the end-of-text id; -1 when the vocabulary has none
	// rows is the model's vocab_size: ids from Size up to it are the
	// embedding's padding rows, which decode to nothing.
	rows int
}

// gpt2VocabSize is the size of GPT-2's vocabulary; its last id is <|endoftext|>.
const gpt2VocabSize = 50257

// NewTokenizer returns the GPT-2 tokenizer.
func NewTokenizer() (*Tokenizer, error) {
	c, err := tokenizer.Get(tokenizer.R50kBase)
	if err != nil {
		return nil, fmt.Errorf("gpt2 tokenizer: %w", err)
	}
	return &Tokenizer{codec: c, EOS: gpt2VocabSize - 1}, nil
}

// LoadTokenizer returns the tokenizer of the model folder dir with config
// c: GPT-2's when the folder has no tokenizer files (tokenizer.json, else
// vocab.json with merges.txt) or their vocabulary is GPT-2's (with the
// folder's added tokens cut out of text first), else the folder's own
// byte-level BPE. EOS is the config's eos_token_id when the vocabulary has
// that id.
func LoadTokenizer(dir string, c Config) (*Tokenizer, error) {
	f, err := readTokenizerFiles(dir)
	if err != nil {
		return nil, err
	}
	gpt2 := f == nil || !f.prefixSpace && !f.wholeText && !f.ignoreMerges && isGPT2Vocab(f.vocab)
	// Tokens added to GPT-2's vocabulary (other than <|endoftext|>).
	added := gpt2 && f != nil && slices.ContainsFunc(f.added, func(a addedToken) bool { return a.content != endOfText || a.id != gpt2VocabSize-1 })
	if !gpt2 || added {
		// The ids must fit the model's rows; checked before anything is
		// sized by them, so a hostile file cannot ask for gigabytes.
		n, err := checkIDs(f)
		if err != nil {
			return nil, err
		}
		if n > c.VocabSize {
			return nil, fmt.Errorf("%s: the tokenizer has ids up to %d, but config.json's vocab_size is %d", f.name, n-1, c.VocabSize)
		}
	}
	var t *Tokenizer
	if gpt2 {
		if t, err = NewTokenizer(); err != nil {
			return nil, err
		}
		if added {
			// Cut out of text as Hugging Face does; <|endoftext|> stays special.
			a := newAddedTokens(slices.Concat([]addedToken{{content: endOfText, id: t.EOS, special: true}}, f.added))
			t.added = &a
		}
	} else {
		b, err := newBPE(f)
		if err != nil {
			return nil, err
		}
		t = &Tokenizer{bpe: b, EOS: -1}
		if id, ok := f.vocab[endOfText]; ok {
			t.EOS = id
		}
	}
	if c.EosTokenID >= 0 && c.EosTokenID < t.Size() {
		t.EOS = c.EosTokenID
	} else if c.EosTokenID < 0 { // eos_token_id: null
		t.EOS = -1
	}
	t.fit(c)
	return t, nil
}

// fit ties the tokenizer to the model's vocab_size rows: ids from Size up
// to them decode to nothing, and an end-of-text id the embedding has no
// row for (GPT-2's 50256 for a model with a smaller vocabulary and no
// tokenizer files) is no end of text: the model can neither take nor
// predict it.
func (t *Tokenizer) fit(c Config) {
	t.rows = c.VocabSize
	if t.EOS >= c.VocabSize {
		t.EOS = -1
	}
}

// PadID is the id that left-pads batch rows (masked out, so any id the
// embedding has does): EOS, as Hugging Face pads GPT-2, or 0 when the
// vocabulary has no EOS.
func (t *Tokenizer) PadID() int {
	if t.EOS >= 0 && (t.rows == 0 || t.EOS < t.rows) {
		return t.EOS
	}
	return 0
}

// Builtin reports whether t is GPT-2's compiled-in tokenizer (the folder
// had no tokenizer files, or GPT-2's vocabulary).
func (t *Tokenizer) Builtin() bool { return t.bpe == nil }

// Size is one more than the largest token id.
func (t *Tokenizer) Size() int {
	if t.bpe != nil {
		return t.bpe.size()
	}
	if t.added != nil {
		return max(gpt2VocabSize, t.added.maxID+1)
	}
	return gpt2VocabSize
}

// Encode turns text into token ids.
// As in Hugging Face's tokenizers, the special token <|endoftext|> written
// in the text is that token, not its 13 characters. Text that is not valid
// UTF-8 is read as Decode writes it (and Python's
// bytes.decode(errors="replace")): each maximal ill-formed part is U+FFFD.
func (t *Tokenizer) Encode(text string) ([]int, error) {
	text = replaceInvalidUTF8(text)
	if t.bpe != nil {
		return t.bpe.encode(text, nil), nil
	}
	var out []int
	if t.added != nil {
		var err error
		t.added.split(text, func(s string) {
			if err == nil {
				out, err = t.encodeGPT2(s, out)
			}
		}, func(id int) { out = append(out, id) })
		if err != nil {
			return nil, err
		}
		return out, nil
	}
	for {
		before, after, found := strings.Cut(text, endOfText)
		var err error
		if out, err = t.encodeGPT2(before, out); err != nil {
			return nil, err
		}
		if !found {
			return out, nil
		}
		out = append(out, gpt2VocabSize-1)
		text = after
	}
}

// endOfText is GPT-2's special token.
const endOfText = "<|endoftext|>"

// encodeGPT2 appends the ids of text, without special tokens, to out.
func (t *Tokenizer) encodeGPT2(text string, out []int) ([]int, error) {
	if !strings.Contains(text, "\x7f") {
		return t.encode(text, out)
	}
	// tiktoken-go's pre-tokenizer (regexp2) never matches U+007F (DEL)
	// inside GPT-2's full pattern, though its character class alone does,
	// so DEL was dropped without a word. GPT-2 has no merge involving DEL:
	// it is always token 221 and cuts the text into parts that BPE treats
	// independently. The one pre-tokenization effect to keep: whitespace
	// right before DEL ends a run, so its last character is a piece of its
	// own ("a  \x7f" is "a", " ", " \x7f").
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

// Decode turns token ids back into text. Bytes that do not form UTF-8
// (a token ending inside a multi-byte character) become the replacement
// character U+FFFD, one per maximal ill-formed part, as Python's
// bytes.decode(errors="replace") in Hugging Face's decode gives. Ids of the
// model's padding rows (from Size up to config.json's vocab_size), which
// a model can still predict, decode to nothing, as in Hugging Face.
func (t *Tokenizer) Decode(ids []int) (string, error) {
	s, err := t.decodeBytes(ids)
	if err != nil {
		return "", err
	}
	return replaceInvalidUTF8(s), nil
}

// replaceInvalidUTF8 replaces each maximal ill-formed subsequence of s
// (Unicode's "maximal subpart": a lead byte and the continuation bytes
// that could still have completed it) with U+FFFD.
func replaceInvalidUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r != utf8.RuneError || n > 1 {
			b.WriteString(s[i : i+n])
			i += n
			continue
		}
		b.WriteRune(utf8.RuneError)
		i += maximalSubpart(s[i:])
	}
	return b.String()
}

// maximalSubpart returns the length of the ill-formed sequence at the
// start of s: its lead byte and the bytes after it that fit the lead
// (Unicode table 3-7), or 1.
func maximalSubpart(s string) int {
	c := s[0]
	var size int
	lo, hi := byte(0x80), byte(0xBF) // the second byte's range
	switch {
	case c >= 0xC2 && c <= 0xDF:
		size = 2
	case c == 0xE0:
		size, lo = 3, 0xA0
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		size = 3
	case c == 0xED:
		size, hi = 3, 0x9F
	case c == 0xF0:
		size, lo = 4, 0x90
	case c >= 0xF1 && c <= 0xF3:
		size = 4
	case c == 0xF4:
		size, hi = 4, 0x8F
	default:
		return 1
	}
	n := 1
	for n < size && n < len(s) {
		if b := s[n]; n == 1 && (b < lo || b > hi) || n > 1 && (b < 0x80 || b > 0xBF) {
			break
		}
		n++
	}
	return n
}

// decodeBytes is Decode without the UTF-8 repair.
func (t *Tokenizer) decodeBytes(ids []int) (string, error) {
	if n := t.Size(); slices.ContainsFunc(ids, func(id int) bool { return id >= n && id < t.rows }) {
		ids = slices.DeleteFunc(slices.Clone(ids), func(id int) bool { return id >= n && id < t.rows })
	}
	if t.bpe != nil {
		b, err := t.bpe.decode(ids)
		return string(b), err
	}
	if t.added != nil && slices.ContainsFunc(ids, func(id int) bool { return id >= gpt2VocabSize }) {
		// Decode the runs between tokens added after GPT-2's.
		var sb strings.Builder
		for len(ids) > 0 {
			i := slices.IndexFunc(ids, func(id int) bool { return id >= gpt2VocabSize })
			if i < 0 {
				i = len(ids)
			}
			s, err := t.decodeBytes(ids[:i])
			if err != nil {
				return "", err
			}
			sb.WriteString(s)
			if i < len(ids) {
				// An id below Size that no added token has decodes to
				// nothing, as in Hugging Face (and the folder's own BPE).
				j := slices.IndexFunc(t.added.all, func(a addedToken) bool { return a.id == ids[i] })
				if j >= 0 {
					sb.WriteString(t.added.all[j].content)
				} else if ids[i] >= t.Size() {
					return "", fmt.Errorf("token id %d outside the vocabulary [0, %d]", ids[i], t.Size()-1)
				}
				i++
			}
			ids = ids[i:]
		}
		return sb.String(), nil
	}
	u := make([]uint, len(ids))
	for i, id := range ids {
		if id < 0 || id > 50256 {
			return "", fmt.Errorf("token id %d outside GPT-2's vocabulary [0, 50256]", id)
		}
		u[i] = uint(id)
	}
	// tiktoken's codec knows no special tokens: decode the runs between
	// <|endoftext|> ids.
	var sb strings.Builder
	for len(u) > 0 {
		i := slices.Index(u, gpt2VocabSize-1)
		if i < 0 {
			i = len(u)
		}
		if i > 0 {
			s, err := t.codec.Decode(u[:i])
			if err != nil {
				return "", err
			}
			sb.WriteString(s)
		}
		if i < len(u) {
			sb.WriteString(endOfText)
			i++
		}
		u = u[i:]
	}
	return sb.String(), nil
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

// isGPT2Vocab reports whether a vocab.json or tokenizer.json vocabulary is
// GPT-2's: every id below <|endoftext|> spells GPT-2's token. Ids from
// <|endoftext|> on are not compared (tokens added after GPT-2's).
func isGPT2Vocab(vocab map[string]int) bool {
	tok, err := NewTokenizer()
	if err != nil {
		return false
	}
	n := 0
	for s, id := range vocab {
		if id < 0 || id >= tok.EOS {
			continue
		}
		n++
		got, err := tok.codec.Decode([]uint{uint(id)})
		if err != nil || !sameToken(s, got) {
			return false
		}
	}
	return n == tok.EOS
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
