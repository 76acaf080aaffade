package gpt2

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// bpe is a byte-level BPE tokenizer read from a model folder's own files
// (vocab.json and merges.txt, or tokenizer.json), for GPT-2 models trained
// with a vocabulary other than GPT-2's. It follows Hugging Face's
// GPT2Tokenizer: added tokens are cut out of the text first, the rest is
// split by GPT-2's pre-tokenizer, each piece's bytes are spelled with
// bytes_to_unicode and merged pair by pair, lowest merge rank first.
type bpe struct {
	vocab  map[string]int // spelled token -> id
	pieces []string       // id -> bytes ("" where no token has the id)
	ranks  map[string]int // "left right" -> merge rank
	added  []addedToken   // longest first
	source string         // the file(s) read, for messages
	// ByteLevel's options: a space put before text that does not start
	// with one, and no regular-expression split (a whole text is a piece).
	prefixSpace, wholeText bool

	mu    sync.Mutex
	cache map[string][]int // piece -> ids
}

type addedToken struct {
	content string
	id      int
}

// byteSpelling is bytes_to_unicode: the character each byte is spelled
// with in vocab.json, merges.txt and tokenizer.json.
var byteSpelling = func() [256]rune {
	var s [256]rune
	for r, b := range byteRunes {
		s[b] = r
	}
	return s
}()

// maxBPECache bounds the piece cache (pieces are words, so real text
// repeats them; a stream of unique ones must not grow memory forever).
const maxBPECache = 1 << 16

// TokenizerFiles are the files LoadTokenizer reads from a model folder.
var TokenizerFiles = []string{"vocab.json", "merges.txt", "added_tokens.json", "tokenizer_config.json", "tokenizer.json"}

// tokenizerFiles is what a model folder's tokenizer files hold.
type tokenizerFiles struct {
	name      string // the file the vocabulary came from, for messages
	vocab     map[string]int
	merges    [][2]string
	mergesErr error // vocab.json without a readable merges.txt
	added     []addedToken
	// ByteLevel's add_prefix_space, and not its use_regex.
	prefixSpace, wholeText bool
}

// readTokenizerFiles reads the folder's tokenizer files: vocab.json with
// merges.txt (and added_tokens.json when present), else tokenizer.json. It
// returns nil, nil when the folder has neither.
func readTokenizerFiles(dir string) (*tokenizerFiles, error) {
	vocabPath, mergesPath := filepath.Join(dir, "vocab.json"), filepath.Join(dir, "merges.txt")
	if vb, err := os.ReadFile(vocabPath); err == nil {
		f := &tokenizerFiles{name: vocabPath}
		if err := json.Unmarshal(vb, &f.vocab); err != nil {
			return nil, fmt.Errorf("%s: %s", vocabPath, jsonErrorAt(vb, err))
		}
		mb, err := os.ReadFile(mergesPath)
		if err != nil {
			f.mergesErr = fmt.Errorf("%s: vocab.json without merges.txt to go with it: %w", dir, err)
		}
		for i, line := range strings.Split(strings.TrimSuffix(string(mb), "\n"), "\n") {
			line = strings.TrimSuffix(line, "\r")
			if i == 0 && strings.HasPrefix(line, "#version") || line == "" {
				continue
			}
			l, r, ok := strings.Cut(line, " ")
			if !ok || l == "" || r == "" || strings.Contains(r, " ") {
				return nil, fmt.Errorf("%s:%d: want two tokens separated by one space, got %q", mergesPath, i+1, clip(line, 60))
			}
			f.merges = append(f.merges, [2]string{l, r})
		}
		if ab, err := os.ReadFile(filepath.Join(dir, "added_tokens.json")); err == nil {
			var m map[string]int
			if err := json.Unmarshal(ab, &m); err != nil {
				return nil, fmt.Errorf("%s: %s", filepath.Join(dir, "added_tokens.json"), jsonErrorAt(ab, err))
			}
			for s, id := range m {
				f.added = append(f.added, addedToken{s, id})
			}
		}
		// GPT2Tokenizer treats its special tokens as added tokens; GPT-2's
		// <|endoftext|> is the usual one.
		if id, ok := f.vocab[endOfText]; ok {
			f.added = append(f.added, addedToken{endOfText, id})
		}
		if cb, err := os.ReadFile(filepath.Join(dir, "tokenizer_config.json")); err == nil {
			var cfg struct {
				AddPrefixSpace bool `json:"add_prefix_space"`
			}
			if err := json.Unmarshal(cb, &cfg); err != nil {
				return nil, fmt.Errorf("%s: %s", filepath.Join(dir, "tokenizer_config.json"), jsonErrorAt(cb, err))
			}
			f.prefixSpace = cfg.AddPrefixSpace
		}
		return f, nil
	}
	path := filepath.Join(dir, "tokenizer.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil
	}
	var tj struct {
		AddedTokens []struct {
			ID      int    `json:"id"`
			Content string `json:"content"`
		} `json:"added_tokens"`
		PreTokenizer *struct {
			Type           string `json:"type"`
			AddPrefixSpace bool   `json:"add_prefix_space"`
			UseRegex       *bool  `json:"use_regex"` // default true
		} `json:"pre_tokenizer"`
		Model struct {
			Type   string            `json:"type"`
			Vocab  json.RawMessage   `json:"vocab"`
			Merges []json.RawMessage `json:"merges"`
		} `json:"model"`
	}
	if err := json.Unmarshal(b, &tj); err != nil {
		return nil, fmt.Errorf("%s: %s", path, jsonErrorAt(b, err))
	}
	if tj.Model.Type != "" && tj.Model.Type != "BPE" {
		return nil, fmt.Errorf("%s: a %s tokenizer, but nnscope reads only byte-level BPE tokenizers (GPT-2's kind): to run the model on token ids anyway, move tokenizer.json out of the folder", path, tj.Model.Type)
	}
	if p := tj.PreTokenizer; p != nil && p.Type != "ByteLevel" {
		return nil, fmt.Errorf("%s: key \"pre_tokenizer.type\" is %q, but nnscope reads only byte-level BPE tokenizers (ByteLevel, GPT-2's kind): to run the model on token ids anyway, move tokenizer.json out of the folder", path, p.Type)
	}
	f := &tokenizerFiles{name: path}
	if p := tj.PreTokenizer; p != nil {
		f.prefixSpace = p.AddPrefixSpace
		f.wholeText = p.UseRegex != nil && !*p.UseRegex
	}
	if len(tj.Model.Vocab) > 0 && json.Unmarshal(tj.Model.Vocab, &f.vocab) != nil {
		return nil, fmt.Errorf("%s: key \"model.vocab\": want an object mapping tokens to ids", path)
	}
	// Merges are "left right" strings, or [left, right] pairs in newer files.
	for i, raw := range tj.Model.Merges {
		var s string
		var pair []string
		switch {
		case json.Unmarshal(raw, &s) == nil:
			l, r, ok := strings.Cut(s, " ")
			if !ok || l == "" || r == "" || strings.Contains(r, " ") {
				return nil, fmt.Errorf("%s: key \"model.merges\" entry %d: want two tokens separated by one space, got %q", path, i, clip(s, 60))
			}
			f.merges = append(f.merges, [2]string{l, r})
		case json.Unmarshal(raw, &pair) == nil && len(pair) == 2:
			f.merges = append(f.merges, [2]string{pair[0], pair[1]})
		default:
			return nil, fmt.Errorf("%s: key \"model.merges\" entry %d: want \"left right\" or [left, right], got %s", path, i, clip(string(raw), 60))
		}
	}
	for _, a := range tj.AddedTokens {
		f.added = append(f.added, addedToken{a.Content, a.ID})
	}
	return f, nil
}

// newBPE checks and indexes a folder's vocabulary, merges and added tokens.
func newBPE(f *tokenizerFiles) (*bpe, error) {
	if f.mergesErr != nil {
		return nil, f.mergesErr
	}
	if len(f.vocab) == 0 {
		return nil, fmt.Errorf("%s: the vocabulary has no tokens", f.name)
	}
	source, vocab, merges, added := f.name, f.vocab, f.merges, f.added
	t := &bpe{vocab: vocab, ranks: make(map[string]int, len(merges)), source: source, cache: map[string][]int{},
		prefixSpace: f.prefixSpace, wholeText: f.wholeText}
	n := 0
	for s, id := range vocab {
		if id < 0 || id > MaxDim {
			return nil, fmt.Errorf("%s: token %q has id %d, outside [0, %d]", source, clip(s, 40), id, MaxDim)
		}
		n = max(n, id+1)
	}
	for _, a := range added {
		if a.id < 0 || a.id > MaxDim || a.content == "" {
			return nil, fmt.Errorf("%s: added token %q has id %d, outside [0, %d]", source, clip(a.content, 40), a.id, MaxDim)
		}
		n = max(n, a.id+1)
	}
	t.pieces = make([]string, n)
	for s, id := range vocab {
		t.pieces[id] = spelledBytes(s)
	}
	for i, m := range merges {
		key := m[0] + " " + m[1]
		if _, dup := t.ranks[key]; !dup {
			t.ranks[key] = i
		}
	}
	// Every byte must have a token, or some text could not be encoded.
	for b := 0; b < 256; b++ {
		if _, ok := vocab[string(byteSpelling[b])]; !ok {
			return nil, fmt.Errorf("%s: no token for the byte 0x%02x (spelled %q): not a byte-level BPE vocabulary", source, b, string(byteSpelling[b]))
		}
	}
	seen := map[string]bool{}
	for _, a := range added {
		if !seen[a.content] {
			seen[a.content] = true
			t.added = append(t.added, a)
			t.pieces[a.id] = a.content
		}
	}
	slices.SortStableFunc(t.added, func(a, b addedToken) int { return len(b.content) - len(a.content) })
	return t, nil
}

// size is one more than the largest id.
func (t *bpe) size() int { return len(t.pieces) }

// encode appends the ids of text to out.
func (t *bpe) encode(text string, out []int) []int {
	for text != "" {
		// The earliest added token, the longest at that place.
		at, tok := -1, addedToken{}
		for _, a := range t.added {
			if i := strings.Index(text, a.content); i >= 0 && (at < 0 || i < at) {
				at, tok = i, a
			}
		}
		if at < 0 {
			return t.encodeText(text, out)
		}
		out = t.encodeText(text[:at], out)
		out = append(out, tok.id)
		text = text[at+len(tok.content):]
	}
	return out
}

// encodeText encodes text without added tokens.
func (t *bpe) encodeText(text string, out []int) []int {
	if text == "" {
		return out
	}
	if t.prefixSpace && text[0] != ' ' {
		text = " " + text
	}
	if t.wholeText {
		return t.encodePiece(text, out)
	}
	for text != "" {
		n := pretokenLen(text)
		out = t.encodePiece(text[:n], out)
		text = text[n:]
	}
	return out
}

// encodePiece runs the merges over one pre-tokenized piece.
func (t *bpe) encodePiece(piece string, out []int) []int {
	t.mu.Lock()
	ids, ok := t.cache[piece]
	t.mu.Unlock()
	if ok {
		return append(out, ids...)
	}
	parts := make([]string, len(piece))
	for i := 0; i < len(piece); i++ {
		parts[i] = string(byteSpelling[piece[i]])
	}
	for len(parts) > 1 {
		best, bestRank := -1, 0
		for i := 0; i+1 < len(parts); i++ {
			if r, ok := t.ranks[parts[i]+" "+parts[i+1]]; ok && (best < 0 || r < bestRank) {
				best, bestRank = i, r
			}
		}
		if best < 0 {
			break
		}
		// Merge every occurrence of the pair, left to right, as
		// GPT2Tokenizer.bpe does.
		l, r := parts[best], parts[best+1]
		merged := parts[:0:0]
		for i := 0; i < len(parts); i++ {
			if i+1 < len(parts) && parts[i] == l && parts[i+1] == r {
				merged = append(merged, l+r)
				i++
			} else {
				merged = append(merged, parts[i])
			}
		}
		parts = merged
	}
	ids = make([]int, 0, len(parts))
	for _, p := range parts {
		id, ok := t.vocab[p]
		if !ok { // a merge whose result is not in the vocabulary: fall back to bytes
			for _, r := range p {
				id = t.vocab[string(r)]
				ids = append(ids, id)
			}
			continue
		}
		ids = append(ids, id)
	}
	t.mu.Lock()
	if len(t.cache) >= maxBPECache {
		clear(t.cache)
	}
	t.cache[piece] = ids
	t.mu.Unlock()
	return append(out, ids...)
}

// decode turns ids into bytes.
func (t *bpe) decode(ids []int) ([]byte, error) {
	var b []byte
	for _, id := range ids {
		if id < 0 || id >= len(t.pieces) {
			return nil, fmt.Errorf("token id %d outside the vocabulary [0, %d] of %s", id, len(t.pieces)-1, t.source)
		}
		b = append(b, t.pieces[id]...)
	}
	return b, nil
}

// pretokenLen returns the length of the first piece of text under GPT-2's
// pre-tokenizer pattern, tried in its order:
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// Go's regexp has no lookahead, so it is written out.
func pretokenLen(text string) int {
	if text[0] == '\'' {
		for _, c := range []string{"s", "t", "re", "ve", "m", "ll", "d"} {
			if strings.HasPrefix(text[1:], c) {
				return 1 + len(c)
			}
		}
	}
	start := 0
	if text[0] == ' ' {
		start = 1
	}
	if start < len(text) {
		r, _ := utf8.DecodeRuneInString(text[start:])
		var class func(rune) bool
		switch {
		case unicode.IsLetter(r):
			class = unicode.IsLetter
		case unicode.IsNumber(r):
			class = unicode.IsNumber
		case !isSpace(r):
			class = func(r rune) bool { return !isSpace(r) && !unicode.IsLetter(r) && !unicode.IsNumber(r) }
		}
		if class != nil {
			n := start
			for n < len(text) {
				r, size := utf8.DecodeRuneInString(text[n:])
				if !class(r) {
					break
				}
				n += size
			}
			return n
		}
	}
	// A run of whitespace: all of it at the end of the text; before other
	// text, all but its last character (which joins the next piece), or
	// the one character when the run is one long.
	n, last := 0, 0
	for n < len(text) {
		r, size := utf8.DecodeRuneInString(text[n:])
		if !isSpace(r) {
			break
		}
		last = n
		n += size
	}
	if n == len(text) || last == 0 {
		return n
	}
	return last
}

// isSpace is \s of the pre-tokenizer's regular expression.
func isSpace(r rune) bool { return unicode.IsSpace(r) }
