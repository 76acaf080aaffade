package gpt2

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
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
	vocab  map[string]int   // spelled token -> id
	pieces []string         // id -> bytes ("" where no token has the id)
	merges map[[2]int]merge // (left id, right id) -> the merge
	byteID [256]int         // each byte's token
	added  addedTokens
	source string // the file(s) read, for messages
	// ByteLevel's options: a space put before text that does not start
	// with one, and no regular-expression split (a whole text is a piece).
	prefixSpace, wholeText bool
	ignoreMerges           bool

	mu    sync.Mutex
	cache map[string][]int // piece -> ids
}

// addedToken is a token cut out of the text before BPE, with Hugging
// Face's AddedToken flags.
type addedToken struct {
	content string
	id      int
	// lstrip, rstrip: the token takes the whitespace on its left, right;
	// singleWord: it matches only between non-word characters; normalized:
	// it is matched after the non-normalized tokens, in the rest of the
	// text (with no normalizer, normalizing changes nothing else).
	lstrip, rstrip, singleWord, normalized, special bool
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
var TokenizerFiles = []string{"vocab.json", "merges.txt", "added_tokens.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json"}

// tokenizerFiles is what a model folder's tokenizer files hold.
type tokenizerFiles struct {
	name      string // the file the vocabulary came from, for messages
	vocab     map[string]int
	merges    [][2]string
	mergeAt   func(i int) string // where merge i was read, for messages (built only then)
	mergesErr error              // vocab.json without a readable merges.txt
	added     []addedToken
	// ByteLevel's add_prefix_space, and not its use_regex.
	prefixSpace, wholeText bool
	ignoreMerges           bool // BPE's ignore_merges: a piece in the vocabulary is one token
}

// readTokenizerFiles reads the folder's tokenizer files: tokenizer.json
// when present (as Hugging Face's AutoTokenizer does), else vocab.json with
// merges.txt (and added_tokens.json, tokenizer_config.json and
// special_tokens_map.json when present). It returns nil, nil when the
// folder has neither.
func readTokenizerFiles(dir string) (*tokenizerFiles, error) {
	path := filepath.Join(dir, "tokenizer.json")
	if b, err := os.ReadFile(path); err == nil {
		return readTokenizerJSON(path, b)
	}
	return readVocabMerges(dir)
}

// readVocabMerges reads vocab.json, merges.txt and the files beside them
// the way transformers' GPT2Tokenizer (converted to its fast kind) does.
func readVocabMerges(dir string) (*tokenizerFiles, error) {
	vocabPath, mergesPath := filepath.Join(dir, "vocab.json"), filepath.Join(dir, "merges.txt")
	vb, err := os.ReadFile(vocabPath)
	if err != nil {
		return nil, nil
	}
	f := &tokenizerFiles{name: vocabPath}
	if err := json.Unmarshal(vb, &f.vocab); err != nil {
		return nil, fmt.Errorf("%s: %s", vocabPath, jsonErrorAt(vb, err))
	}
	mb, err := os.ReadFile(mergesPath)
	if err != nil {
		f.mergesErr = fmt.Errorf("%s: vocab.json without merges.txt to go with it: %w", dir, err)
	}
	// GPT2Tokenizer reads merges.txt as read().split("\n")[1:-1]: the first
	// line is skipped even when it is not "#version", and so is whatever
	// follows the last newline; each line is split on white space. Its fast
	// kind ranks the merges in the order of list(bpe_ranks), so a repeated
	// merge keeps the rank of its first line (tokenizer.json's last wins).
	lines := strings.Split(string(mb), "\n")
	seen := map[[2]string]bool{}
	var lineOf []int // merges.txt's line of each merge
	for i := 1; i < len(lines)-1; i++ {
		fields := strings.Fields(lines[i])
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 2 {
			return nil, fmt.Errorf("%s:%d: want two tokens separated by a space, got %q", mergesPath, i+1, clip(lines[i], 60))
		}
		m := [2]string{fields[0], fields[1]}
		if seen[m] {
			continue
		}
		seen[m] = true
		f.merges = append(f.merges, m)
		lineOf = append(lineOf, i+1)
	}
	f.mergeAt = func(i int) string { return fmt.Sprintf("%s:%d", mergesPath, lineOf[i]) }
	// Added tokens: added_tokens.json (token -> id), the tokens of
	// tokenizer_config.json's added_tokens_decoder (id -> flags), and the
	// special tokens named in tokenizer_config.json and
	// special_tokens_map.json that the vocabulary has. GPT2Tokenizer's
	// special tokens default to <|endoftext|>.
	byContent := map[string]int{} // content -> index in f.added
	add := func(a addedToken) {
		if i, ok := byContent[a.content]; ok {
			if a.id < 0 {
				a.id = f.added[i].id
			}
			f.added[i] = a
			return
		}
		if a.id < 0 {
			id, ok := f.vocab[a.content]
			if !ok {
				return
			}
			a.id = id
		}
		byContent[a.content] = len(f.added)
		f.added = append(f.added, a)
	}
	if _, ok := f.vocab[endOfText]; ok {
		add(addedToken{content: endOfText, id: -1, special: true})
	}
	if p := filepath.Join(dir, "added_tokens.json"); fileExists(p) {
		ab, err := os.ReadFile(p)
		var m map[string]int
		if err == nil {
			err = json.Unmarshal(ab, &m)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %s", p, jsonErrorAt(ab, err))
		}
		for _, s := range slices.Sorted(maps.Keys(m)) {
			add(addedToken{content: s, id: m[s], normalized: true})
		}
	}
	for _, name := range []string{"special_tokens_map.json", "tokenizer_config.json"} {
		p := filepath.Join(dir, name)
		cb, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var cfg map[string]json.RawMessage
		if err := json.Unmarshal(cb, &cfg); err != nil {
			return nil, fmt.Errorf("%s: %s", p, jsonErrorAt(cb, err))
		}
		for _, key := range []string{"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token", "additional_special_tokens"} {
			raw, ok := cfg[key]
			if !ok || string(raw) == "null" {
				continue
			}
			var list []json.RawMessage
			if json.Unmarshal(raw, &list) != nil {
				list = []json.RawMessage{raw}
			}
			for i, r := range list {
				a, err := parseAddedToken(r)
				if err != nil {
					k := key
					if key == "additional_special_tokens" {
						k = fmt.Sprintf("%s[%d]", key, i)
					}
					return nil, fmt.Errorf("%s: key %q: %v", p, k, err)
				}
				a.id, a.special, a.normalized = -1, true, false
				add(a)
			}
		}
		if name != "tokenizer_config.json" {
			continue
		}
		if raw, ok := cfg["added_tokens_decoder"]; ok {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(raw, &m); err != nil {
				return nil, fmt.Errorf("%s: key \"added_tokens_decoder\": want an object mapping ids to tokens", p)
			}
			ids := slices.Sorted(maps.Keys(m))
			for _, k := range ids {
				a, err := parseAddedToken(m[k])
				id, perr := strconv.Atoi(k)
				if err == nil && perr != nil {
					err = fmt.Errorf("want an id, got %q", k)
				}
				if err != nil {
					return nil, fmt.Errorf("%s: key \"added_tokens_decoder.%s\": %v", p, k, err)
				}
				a.id = id
				add(a)
			}
		}
		if raw, ok := cfg["add_prefix_space"]; ok && json.Unmarshal(raw, &f.prefixSpace) != nil {
			return nil, fmt.Errorf("%s: key \"add_prefix_space\": want true or false, got %s", p, clip(string(raw), 40))
		}
		for _, key := range []string{"add_bos_token", "add_eos_token"} {
			var on bool
			if raw, ok := cfg[key]; ok && json.Unmarshal(raw, &on) == nil && on {
				return nil, fmt.Errorf("%s: key %q is true: Hugging Face's tokenizer then adds that token to every text, which nnscope does not do; set it to false (and put the token in the prompt yourself) to use this folder", p, key)
			}
		}
	}
	return f, nil
}

// parseAddedToken reads an added or special token: a string, or an object
// with "content" and the flags (tokenizer_config.json, tokenizer.json).
func parseAddedToken(raw json.RawMessage) (addedToken, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s == "" {
			return addedToken{}, fmt.Errorf("an empty token")
		}
		return addedToken{content: s, normalized: true}, nil
	}
	var o struct {
		ID         *int    `json:"id"`
		Content    *string `json:"content"`
		SingleWord bool    `json:"single_word"`
		Lstrip     bool    `json:"lstrip"`
		Rstrip     bool    `json:"rstrip"`
		Normalized *bool   `json:"normalized"`
		Special    bool    `json:"special"`
	}
	if err := json.Unmarshal(raw, &o); err != nil || o.Content == nil || *o.Content == "" {
		return addedToken{}, fmt.Errorf("want a token or an object with a non-empty \"content\", got %s", clip(string(raw), 60))
	}
	a := addedToken{content: *o.Content, id: -1, singleWord: o.SingleWord, lstrip: o.Lstrip, rstrip: o.Rstrip,
		special: o.Special, normalized: !o.Special}
	if o.Normalized != nil {
		a.normalized = *o.Normalized
	}
	if o.ID != nil {
		a.id = *o.ID
	}
	return a, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// readTokenizerJSON reads a tokenizer.json (Hugging Face tokenizers'
// format), refusing settings nnscope does not implement rather than
// tokenizing differently from Hugging Face.
func readTokenizerJSON(path string, b []byte) (*tokenizerFiles, error) {
	var tj struct {
		AddedTokens   []json.RawMessage `json:"added_tokens"`
		Normalizer    json.RawMessage   `json:"normalizer"`
		PreTokenizer  json.RawMessage   `json:"pre_tokenizer"`
		PostProcessor json.RawMessage   `json:"post_processor"`
		Model         struct {
			Type                    string            `json:"type"`
			Vocab                   json.RawMessage   `json:"vocab"`
			Merges                  []json.RawMessage `json:"merges"`
			Dropout                 *float64          `json:"dropout"`
			ContinuingSubwordPrefix *string           `json:"continuing_subword_prefix"`
			EndOfWordSuffix         *string           `json:"end_of_word_suffix"`
			IgnoreMerges            bool              `json:"ignore_merges"`
		} `json:"model"`
	}
	if err := json.Unmarshal(b, &tj); err != nil {
		return nil, fmt.Errorf("%s: %s", path, jsonErrorAt(b, err))
	}
	refuse := func(key, what string) error {
		return fmt.Errorf("%s: key %q is %s, but nnscope reads only byte-level BPE tokenizers (GPT-2's kind) and would not give Hugging Face's token ids: to run the model on token ids anyway, move tokenizer.json out of the folder", path, key, what)
	}
	if tj.Model.Type != "" && tj.Model.Type != "BPE" {
		return nil, fmt.Errorf("%s: a %s tokenizer, but nnscope reads only byte-level BPE tokenizers (GPT-2's kind): to run the model on token ids anyway, move tokenizer.json out of the folder", path, tj.Model.Type)
	}
	if n := tj.Normalizer; len(n) > 0 && string(n) != "null" {
		return nil, refuse("normalizer", describeComponent(n)+" (text is changed before tokenizing)")
	}
	f := &tokenizerFiles{name: path, ignoreMerges: tj.Model.IgnoreMerges}
	if p := tj.PreTokenizer; len(p) > 0 { // absent: ByteLevel's defaults
		var pre struct {
			Type           string            `json:"type"`
			AddPrefixSpace bool              `json:"add_prefix_space"`
			UseRegex       *bool             `json:"use_regex"` // default true
			Pretokenizers  []json.RawMessage `json:"pretokenizers"`
		}
		if json.Unmarshal(p, &pre) != nil || string(p) == "null" {
			return nil, refuse("pre_tokenizer", describeComponent(p)+" (not ByteLevel)")
		}
		if pre.Type == "Sequence" && len(pre.Pretokenizers) == 1 {
			p = pre.Pretokenizers[0]
			pre.Type = ""
			if json.Unmarshal(p, &pre) != nil {
				return nil, refuse("pre_tokenizer", "a Sequence of "+describeComponent(p))
			}
		}
		if pre.Type != "ByteLevel" {
			return nil, fmt.Errorf("%s: key \"pre_tokenizer.type\" is %q, but nnscope reads only byte-level BPE tokenizers (ByteLevel, GPT-2's kind): to run the model on token ids anyway, move tokenizer.json out of the folder", path, pre.Type)
		}
		f.prefixSpace = pre.AddPrefixSpace
		f.wholeText = pre.UseRegex != nil && !*pre.UseRegex
	}
	if p := tj.PostProcessor; len(p) > 0 && string(p) != "null" {
		var post struct {
			Type   string `json:"type"`
			Single []struct {
				Sequence *struct{} `json:"Sequence"`
			} `json:"single"`
		}
		_ = json.Unmarshal(p, &post)
		plain := post.Type == "ByteLevel" || post.Type == "TemplateProcessing" && len(post.Single) == 1 && post.Single[0].Sequence != nil
		if !plain {
			return nil, fmt.Errorf("%s: key \"post_processor\" is %s, which adds special tokens to every text in Hugging Face (its default add_special_tokens=True); nnscope does not add them, so its ids would differ: set \"post_processor\" to null (and put the tokens in the prompt yourself) to use this folder", path, describeComponent(p))
		}
	}
	switch m := tj.Model; {
	case m.Dropout != nil && *m.Dropout > 0:
		return nil, fmt.Errorf("%s: key \"model.dropout\" is %g: BPE dropout makes Hugging Face's tokenization random; set it to null to use this folder", path, *m.Dropout)
	case m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "":
		return nil, refuse("model.continuing_subword_prefix", strconv.Quote(*m.ContinuingSubwordPrefix))
	case m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "":
		return nil, refuse("model.end_of_word_suffix", strconv.Quote(*m.EndOfWordSuffix))
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
	f.mergeAt = func(i int) string { return fmt.Sprintf("%s: key \"model.merges\" entry %d", path, i) }
	for i, raw := range tj.AddedTokens {
		a, err := parseAddedToken(raw)
		if err == nil && a.id < 0 {
			err = fmt.Errorf("no \"id\"")
		}
		if err != nil {
			return nil, fmt.Errorf("%s: key \"added_tokens\" entry %d: %v", path, i, err)
		}
		f.added = append(f.added, a)
	}
	return f, nil
}

// describeComponent names a tokenizer.json component by its type.
func describeComponent(raw json.RawMessage) string {
	var c struct {
		Type string `json:"type"`
	}
	if string(raw) == "null" {
		return "null"
	}
	if json.Unmarshal(raw, &c) == nil && c.Type != "" {
		return fmt.Sprintf("of type %q", c.Type)
	}
	return clip(string(raw), 60)
}

// newBPE checks and indexes a folder's vocabulary, merges and added tokens.
func newBPE(f *tokenizerFiles) (*bpe, error) {
	if f.mergesErr != nil {
		return nil, f.mergesErr
	}
	if len(f.vocab) == 0 {
		return nil, fmt.Errorf("%s: the vocabulary has no tokens", f.name)
	}
	source, vocab, merges := f.name, f.vocab, f.merges
	t := &bpe{vocab: vocab, merges: make(map[[2]int]merge, len(merges)), source: source, cache: map[string][]int{},
		prefixSpace: f.prefixSpace, wholeText: f.wholeText, ignoreMerges: f.ignoreMerges}
	n, err := checkIDs(f)
	if err != nil {
		return nil, err
	}
	t.pieces = make([]string, n)
	for s, id := range vocab {
		t.pieces[id] = spelledBytes(s)
	}
	for i, m := range merges {
		// As in Hugging Face's tokenizers, both sides and the result must
		// be tokens, and a repeated merge takes its last rank.
		for _, tok := range []string{m[0], m[1], m[0] + m[1]} {
			if _, ok := vocab[tok]; !ok {
				where := fmt.Sprintf("%s: merge %d", source, i)
				if f.mergeAt != nil {
					where = f.mergeAt(i)
				}
				return nil, fmt.Errorf("%s: merge %q %q: %q is not in the vocabulary (Hugging Face refuses such a tokenizer too)", where, m[0], m[1], tok)
			}
		}
		t.merges[[2]int{vocab[m[0]], vocab[m[1]]}] = merge{rank: i, id: vocab[m[0]+m[1]]}
	}
	// Every byte must have a token, or some text could not be encoded.
	for b := 0; b < 256; b++ {
		id, ok := vocab[string(byteSpelling[b])]
		if !ok {
			return nil, fmt.Errorf("%s: no token for the byte 0x%02x (spelled %q): not a byte-level BPE vocabulary", source, b, string(byteSpelling[b]))
		}
		t.byteID[b] = id
	}
	t.added = newAddedTokens(f.added)
	for _, a := range t.added.all {
		t.pieces[a.id] = a.content
	}
	return t, nil
}

// checkIDs checks the ids of the vocabulary and the added tokens and
// returns one more than the largest.
func checkIDs(f *tokenizerFiles) (int, error) {
	n := 0
	for s, id := range f.vocab {
		if id < 0 || id > MaxDim {
			return 0, fmt.Errorf("%s: token %q has id %d, outside [0, %d]", f.name, clip(s, 40), id, MaxDim)
		}
		n = max(n, id+1)
	}
	for _, a := range f.added {
		if a.id < 0 || a.id > MaxDim || a.content == "" {
			return 0, fmt.Errorf("%s: added token %q has id %d, outside [0, %d]", f.name, clip(a.content, 40), a.id, MaxDim)
		}
		n = max(n, a.id+1)
	}
	return n, nil
}

// addedTokens are the tokens cut out of text before BPE, in Hugging Face's
// two passes: the non-normalized ones (special tokens, usually) first, then
// the normalized ones in the text between.
type addedTokens struct {
	all       []addedToken // one per content, the last one read
	raw, norm []addedToken // longest first
	maxID     int          // -1 when none
}

func newAddedTokens(added []addedToken) addedTokens {
	at := map[string]int{}
	var s addedTokens
	for _, a := range added {
		if i, ok := at[a.content]; ok {
			s.all[i] = a
			continue
		}
		at[a.content] = len(s.all)
		s.all = append(s.all, a)
	}
	s.maxID = -1
	for _, a := range s.all {
		if a.normalized {
			s.norm = append(s.norm, a)
		} else {
			s.raw = append(s.raw, a)
		}
		s.maxID = max(s.maxID, a.id)
	}
	longestFirst := func(a, b addedToken) int { return len(b.content) - len(a.content) }
	slices.SortStableFunc(s.raw, longestFirst)
	slices.SortStableFunc(s.norm, longestFirst)
	return s
}

// split calls text for the parts of s between added tokens and token for
// each added token, in order.
func (s *addedTokens) split(str string, text func(string), token func(int)) {
	splitAdded(str, s.raw, func(part string) { splitAdded(part, s.norm, text, token) }, token)
}

// splitAdded is tokenizers' AddedVocabulary::find_matches: the leftmost
// match, the longest there; a single_word token only between non-word
// characters; lstrip and rstrip take the whitespace beside the token.
func splitAdded(str string, toks []addedToken, text func(string), token func(int)) {
	if len(toks) == 0 {
		if str != "" {
			text(str)
		}
		return
	}
	next := make([]int, len(toks)) // where each token next occurs from pos; -2: not yet searched
	for i := range next {
		next[i] = -2
	}
	done, pos := 0, 0 // text before done is emitted; matching resumes at pos
	for pos < len(str) {
		at, best := -1, -1
		for i, a := range toks {
			if next[i] == -2 || next[i] >= 0 && next[i] < pos {
				next[i] = -1
				if j := strings.Index(str[pos:], a.content); j >= 0 {
					next[i] = pos + j
				}
			}
			if next[i] >= 0 && (at < 0 || next[i] < at) {
				at, best = next[i], i
			}
		}
		if at < 0 {
			break
		}
		a := toks[best]
		start, stop := at, at+len(a.content)
		pos = stop
		if a.singleWord && (endsWithWord(str[:start]) || startsWithWord(str[stop:])) {
			continue
		}
		if a.lstrip {
			start = max(len(strings.TrimRightFunc(str[:start], unicode.IsSpace)), done)
		}
		if a.rstrip {
			// Matching still resumes at the end of the token itself: as in
			// tokenizers, a token that starts in the whitespace taken here
			// is found too (and the text after it may start before done).
			stop = len(str) - len(strings.TrimLeftFunc(str[stop:], unicode.IsSpace))
		}
		if done < start {
			text(str[done:start])
		}
		token(a.id)
		done = stop
	}
	if done < len(str) {
		text(str[done:])
	}
}

// isWordRune is \w of Rust's regex crate, which tokenizers uses for
// single_word: Alphabetic, marks, decimal digits, connector punctuation
// and Join_Control (so a combining accent is part of a word, and '²' is not).
func isWordRune(r rune) bool {
	return unicode.In(r, unicode.L, unicode.Nl, unicode.Other_Alphabetic, unicode.M, unicode.Nd, unicode.Pc, unicode.Join_Control)
}

func endsWithWord(s string) bool {
	r, n := utf8.DecodeLastRuneInString(s)
	return n > 0 && isWordRune(r)
}

func startsWithWord(s string) bool {
	r, n := utf8.DecodeRuneInString(s)
	return n > 0 && isWordRune(r)
}

// size is one more than the largest id.
func (t *bpe) size() int { return len(t.pieces) }

// encode appends the ids of text to out.
func (t *bpe) encode(text string, out []int) []int {
	t.added.split(text, func(s string) { out = t.encodeText(s, out) }, func(id int) { out = append(out, id) })
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

// merge is a merge's rank and the id of the token it makes.
type merge struct{ rank, id int }

// encodePiece runs the merges over one pre-tokenized piece.
func (t *bpe) encodePiece(piece string, out []int) []int {
	t.mu.Lock()
	ids, ok := t.cache[piece]
	t.mu.Unlock()
	if ok {
		return append(out, ids...)
	}
	if id, ok := t.wholeToken(piece); ok {
		ids = []int{id}
	} else {
		ids = t.mergePiece(piece)
	}
	t.mu.Lock()
	if len(t.cache) >= maxBPECache {
		clear(t.cache)
	}
	t.cache[piece] = ids
	t.mu.Unlock()
	return append(out, ids...)
}

// wholeToken is ignore_merges: a piece that is a token is that token.
func (t *bpe) wholeToken(piece string) (int, bool) {
	if !t.ignoreMerges {
		return 0, false
	}
	id, ok := t.vocab[spell(piece)]
	return id, ok
}

// spell writes bytes the way vocab.json and merges.txt do.
func spell(b string) string {
	var sb strings.Builder
	for i := 0; i < len(b); i++ {
		sb.WriteRune(byteSpelling[b[i]])
	}
	return sb.String()
}

// mergePiece applies the merges to the bytes of piece, the lowest rank
// first and, among equal ranks, the leftmost (GPT2Tokenizer merges every
// occurrence of the best pair left to right; this is the same), with a
// heap as Hugging Face's tokenizers does, so a long piece takes
// O(n log n) rather than O(n²).
func (t *bpe) mergePiece(piece string) []int {
	n := len(piece)
	sym := make([]int, n)  // token at each start position
	next := make([]int, n) // the next live position, n at the end
	prev := make([]int, n) // the previous live position, -1 at the start
	alive := make([]bool, n)
	for i := 0; i < n; i++ {
		sym[i], next[i], prev[i], alive[i] = t.byteID[piece[i]], i+1, i-1, true
	}
	var h mergeHeap
	push := func(i int) {
		if i < 0 || next[i] >= n {
			return
		}
		if m, ok := t.merges[[2]int{sym[i], sym[next[i]]}]; ok {
			h.push(candidate{m.rank, i, m.id, sym[i], sym[next[i]]})
		}
	}
	for i := 0; i+1 < n; i++ {
		push(i)
	}
	for len(h) > 0 {
		m := h.pop()
		i := m.pos
		if !alive[i] || next[i] >= n || sym[i] != m.left || sym[next[i]] != m.right {
			continue // stale: a neighbour was merged since
		}
		j := next[i]
		sym[i], alive[j], next[i] = m.id, false, next[j]
		if next[j] < n {
			prev[next[j]] = i
		}
		push(prev[i])
		push(i)
	}
	ids := make([]int, 0, n)
	for i := 0; i < n; i = next[i] {
		ids = append(ids, sym[i])
	}
	return ids
}

// candidate is a candidate merge of the tokens at pos and after it.
type candidate struct{ rank, pos, id, left, right int }

// mergeHeap is a min-heap of candidate merges by rank, then position.
type mergeHeap []candidate

func (h mergeHeap) less(a, b int) bool {
	return h[a].rank < h[b].rank || h[a].rank == h[b].rank && h[a].pos < h[b].pos
}

func (h *mergeHeap) push(m candidate) {
	*h = append(*h, m)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s.less(i, p) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *mergeHeap) pop() candidate {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(s) && s.less(l, m) {
			m = l
		}
		if r < len(s) && s.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
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
