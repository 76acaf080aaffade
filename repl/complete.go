package repl

import (
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"
)

// moduleArg matches the text before the cursor when it is inside the
// string literal argument of a Module call: `model.Module("transformer.h.`.
var moduleArg = regexp.MustCompile(`\bModule\(\s*"([^"\\]*)$`)

// completeModulePath completes a module path inside `Module("...`. before
// is the text of the line up to the cursor; paths are the module paths of
// the loaded models. It returns whole paths that go one level deeper than
// what was typed ("transformer.h.1." gives "transformer.h.1.ln_1",
// "transformer.h.1.attn", ...), sorted in model order, and ok=false when
// the cursor is not in such a literal.
func completeModulePath(before string, paths []string) (cands []string, typed string, ok bool) {
	m := moduleArg.FindStringSubmatch(before)
	if m == nil {
		return nil, "", false
	}
	typed = m[1]
	seen := map[string]bool{}
	for _, p := range paths {
		if !strings.HasPrefix(p, typed) {
			continue
		}
		// Cut at the first dot after the component being typed.
		start := strings.LastIndexByte(typed, '.') + 1
		if i := strings.IndexByte(p[start:], '.'); i >= 0 {
			p = p[:start+i]
		}
		if !seen[p] {
			seen[p] = true
			cands = append(cands, p)
		}
	}
	return cands, typed, true
}

// completer adapts completion to readline's AutoCompleter: Do returns the
// text to insert after the cursor for each candidate and how many runes
// before the cursor the candidates share (readline shows candidates as
// that common part followed by the suffix).
type completer struct {
	// code completes Go: whole identifiers replacing the word before
	// cursor (a byte offset in src).
	code func(src string, cursor int) []string
	// modules lists the module paths of the loaded models.
	modules func() []string
	// pending is the input typed on earlier lines of a multi-line entry.
	pending func() string
}

// indentUnit is what Tab inserts at the start of a line, and what the
// continuation prompt's suggested indentation is made of.
const indentUnit = "    "

func (c *completer) Do(line []rune, pos int) (newLine [][]rune, length int) {
	defer func() {
		if recover() != nil { // completion must never take the REPL down
			newLine, length = nil, 0
		}
	}()
	if pos < 0 || pos > len(line) {
		pos = len(line)
	}
	before := string(line[:pos])
	if strings.TrimSpace(before) == "" {
		return [][]rune{[]rune(indentUnit)}, 0
	}
	if cands, typed, ok := completeModulePath(before, c.modules()); ok {
		// Show and replace the last path component only.
		word := typed[strings.LastIndexByte(typed, '.')+1:]
		return suffixes(cands, len(typed)-len(word), word)
	}
	prefix := ""
	if c.pending != nil {
		if p := c.pending(); p != "" {
			prefix = p + "\n"
		}
	}
	src := prefix + string(line)
	cursor := len(prefix) + len(before)
	cands := c.code(src, cursor)
	start := cursor
	for start > 0 {
		r, n := utf8.DecodeLastRuneInString(src[:start])
		if !(r == '_' || r >= 0x80 || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			break
		}
		start -= n
	}
	word := src[start:cursor]
	sort.Strings(cands)
	return suffixes(cands, 0, word)
}

// suffixes turns whole candidates into the parts after word (candidates
// are compared from byte skip, where word starts).
func suffixes(cands []string, skip int, word string) ([][]rune, int) {
	var out [][]rune
	for _, c := range cands {
		if len(c) < skip+len(word) || c[skip:skip+len(word)] != word {
			continue
		}
		out = append(out, []rune(c[skip+len(word):]))
	}
	return out, utf8.RuneCountInString(word)
}
