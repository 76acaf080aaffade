package kernel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"io"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// fakeEvaluator is a tiny line-oriented language for testing the protocol:
//
//	print TEXT      writes TEXT and a newline to stdout
//	eprint TEXT     writes TEXT and a newline to stderr
//	burst N         writes "." N times, one byte per Write
//	NAME = EXPR     assigns a variable
//	EXPR            sums integers and variables ("1+2", "x+1"); the last line's value is the result
//	sleep [DUR]     blocks until ctx is cancelled (or DUR passes)
//	boom            fails with an error implementing ErrorInfo
//	fail            fails with a plain error
//	panic           panics
//	image           displays an image/png
//	progress N      displays a bar with a display_id and updates it N times
//	html            returns a text/html result
//	input PROMPT    asks the frontend for a line (Input); the result is "got LINE"
type fakeEvaluator struct {
	vars map[string]int
}

func newFakeEvaluator() *fakeEvaluator { return &fakeEvaluator{vars: map[string]int{}} }

type boomError struct{}

func (boomError) Error() string { return "boom went the cell" }
func (boomError) Name() string  { return "BoomError" }
func (boomError) Traceback() []string {
	return []string{"BoomError: boom went the cell", "  at line 1"}
}

var fakeWords = []string{"boom", "burst", "eprint", "fail", "html", "image", "input", "panic", "print", "println", "progress", "sleep"}

func (f *fakeEvaluator) Execute(ctx context.Context, code string, out, errOut io.Writer, display func(Bundle)) (*Bundle, error) {
	var result *Bundle
	for _, line := range strings.Split(code, "\n") {
		line = strings.TrimSpace(line)
		result = nil
		cmd, arg, _ := strings.Cut(line, " ")
		switch {
		case line == "":
		case cmd == "print":
			fmt.Fprintln(out, arg)
		case cmd == "eprint":
			fmt.Fprintln(errOut, arg)
		case cmd == "burst":
			n, _ := strconv.Atoi(arg)
			for i := 0; i < n; i++ {
				_, _ = out.Write([]byte("."))
			}
		case cmd == "sleep":
			var timeout <-chan time.Time
			if arg != "" {
				d, err := time.ParseDuration(arg)
				if err != nil {
					return nil, err
				}
				timeout = time.After(d)
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-timeout:
			}
		case line == "boom":
			return nil, fmt.Errorf("wrapped: %w", boomError{})
		case line == "fail":
			return nil, errors.New("plain failure")
		case line == "panic":
			panic("fake panic")
		case line == "image":
			var buf bytes.Buffer
			if err := png.Encode(&buf, Logo(16)); err != nil {
				return nil, err
			}
			display(Bundle{"image/png": buf.Bytes(), "text/plain": "<logo 16x16>"}.
				WithMetadata(map[string]any{"image/png": map[string]any{"width": 16, "height": 16}}))
		case cmd == "progress":
			n, _ := strconv.Atoi(arg)
			id := "progress-1"
			display(Bundle{"text/plain": "[" + strings.Repeat(" ", n) + "]"}.WithDisplayID(id))
			for i := 1; i <= n; i++ {
				display(Bundle{"text/plain": "[" + strings.Repeat("#", i) + strings.Repeat(" ", n-i) + "]"}.AsUpdate(id))
			}
		case line == "html":
			result = &Bundle{"text/html": "<b>bold</b>", "text/plain": "bold"}
		case cmd == "input":
			v, err := Input(ctx, arg, false)
			if err != nil {
				return nil, err
			}
			result = &Bundle{"text/plain": "got " + v}
		case strings.Contains(line, "="):
			name, expr, _ := strings.Cut(line, "=")
			v, err := f.eval(expr)
			if err != nil {
				return nil, err
			}
			f.vars[strings.TrimSpace(name)] = v
		default:
			v, err := f.eval(line)
			if err != nil {
				return nil, err
			}
			result = &Bundle{"text/plain": strconv.Itoa(v)}
		}
	}
	return result, nil
}

func (f *fakeEvaluator) eval(expr string) (int, error) {
	sum := 0
	for _, term := range strings.Split(expr, "+") {
		term = strings.TrimSpace(term)
		if v, ok := f.vars[term]; ok {
			sum += v
			continue
		}
		v, err := strconv.Atoi(term)
		if err != nil {
			return 0, fmt.Errorf("undefined: %s", term)
		}
		sum += v
	}
	return sum, nil
}

// wordAt returns the identifier around byte offset cursor.
func wordAt(code string, cursor int) (start, end int) {
	isID := func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' }
	start, end = cursor, cursor
	for start > 0 && isID(rune(code[start-1])) {
		start--
	}
	for end < len(code) && isID(rune(code[end])) {
		end++
	}
	return start, end
}

func (f *fakeEvaluator) Complete(code string, cursor int) ([]string, int, int) {
	start, _ := wordAt(code, cursor)
	prefix := code[start:cursor]
	var matches []string
	for _, w := range fakeWords {
		if strings.HasPrefix(w, prefix) {
			matches = append(matches, w)
		}
	}
	for name := range f.vars {
		if strings.HasPrefix(name, prefix) {
			matches = append(matches, name)
		}
	}
	sort.Strings(matches)
	return matches, start, cursor
}

func (f *fakeEvaluator) Inspect(code string, cursor int, detail int) (Bundle, bool) {
	start, end := wordAt(code, cursor)
	w := code[start:end]
	if v, ok := f.vars[w]; ok {
		return Bundle{"text/plain": fmt.Sprintf("%s int = %d", w, v)}, true
	}
	for _, k := range fakeWords {
		if k == w {
			doc := w + ": a fake command"
			if detail > 0 {
				doc += " (detailed)"
			}
			return Bundle{"text/plain": doc}, true
		}
	}
	return nil, false
}

func (f *fakeEvaluator) IsComplete(code string) (string, string) {
	depth := 0
	for _, r := range code {
		switch r {
		case '{':
			depth++
		case '}':
			depth--
		}
		if depth < 0 {
			return "invalid", ""
		}
	}
	if depth > 0 {
		return "incomplete", strings.Repeat("\t", depth)
	}
	return "complete", ""
}

func (f *fakeEvaluator) Info() LanguageInfo {
	return LanguageInfo{
		Name: "go", Version: runtime.Version()[2:], Mimetype: "text/x-go", FileExtension: ".go",
		PygmentsLexer: "go", CodemirrorMode: "go", NbconvertExporter: "script",
	}
}
