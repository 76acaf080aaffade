package doccheck

import (
	"bytes"
	"context"
	"fmt"
	"go/ast"
	"go/doc/comment"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"nnscope/repl"
	"nnscope/session"
	"nnscope/stdlib"
)

// docs are the Markdown files whose examples are checked, relative to the
// module root.
var docs = []string{"README.md", "notebooks/README.md"}

const (
	realModel = `"openai-community/gpt2"`
	tinyModel = `"testdata/gpt2-tiny"` // relative to the folder examples run in
)

// root is the module root (this package is internal/doccheck).
func root(t *testing.T) string {
	t.Helper()
	r, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// workDir makes a temporary folder with testdata linked in and changes
// into it, so that examples find "testdata/gpt2-tiny" and the files they
// write (plots) land there.
func workDir(t *testing.T, root string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.Symlink(filepath.Join(root, "testdata"), filepath.Join(dir, "testdata")); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
}

// block is a fenced code block of a Markdown file.
type block struct {
	line int    // line of the opening fence
	info string // first word of the info string
	text string
}

// span is an inline code span.
type span struct {
	line int
	text string
}

var fenceRE = regexp.MustCompile("^ {0,3}(```+)\\s*(\\S*)")

// parseMarkdown returns the fenced blocks and inline code spans of src.
func parseMarkdown(src string) (blocks []block, spans []span) {
	lines := strings.Split(src, "\n")
	var prose []string // src with fenced blocks blanked, for spans
	for i := 0; i < len(lines); i++ {
		m := fenceRE.FindStringSubmatch(lines[i])
		if m == nil {
			prose = append(prose, lines[i])
			continue
		}
		b := block{line: i + 1, info: m[2]}
		var body []string
		j := i + 1
		for ; j < len(lines); j++ {
			if strings.TrimSpace(lines[j]) == m[1] || (strings.HasPrefix(strings.TrimSpace(lines[j]), m[1]) && strings.Trim(strings.TrimSpace(lines[j]), "`") == "") {
				break
			}
			body = append(body, lines[j])
		}
		b.text = strings.Join(body, "\n")
		blocks = append(blocks, b)
		for k := i; k <= j && k < len(lines); k++ {
			prose = append(prose, "")
		}
		i = j
	}
	text := strings.Join(prose, "\n")
	for i := 0; i < len(text); i++ {
		if text[i] != '`' {
			continue
		}
		end := strings.IndexByte(text[i+1:], '`')
		if end < 0 {
			break
		}
		s := text[i+1 : i+1+end]
		if !strings.Contains(s, "\n\n") {
			spans = append(spans, span{line: 1 + strings.Count(text[:i], "\n"), text: strings.ReplaceAll(s, "\n", " ")})
		}
		i += end + 1
	}
	return blocks, spans
}

// syncBuffer is a bytes.Buffer safe for the writes of several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newSession is a session set up like the REPL's and a notebook's.
func newSession(t *testing.T, stdout, stderr *syncBuffer) *session.Session {
	t.Helper()
	s := session.New(session.Options{Stdout: stdout, Stderr: stderr})
	for _, imp := range session.PreImports {
		if _, err := s.Eval(context.Background(), imp); err != nil {
			t.Fatalf("%s: %v", imp, err)
		}
	}
	return s
}

func evalTimeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), time.Minute)
}

// TestMarkdownExamples runs the ```go and ```repl blocks of the Markdown
// docs and compares what they print with the ```output blocks and the
// transcripts.
func TestMarkdownExamples(t *testing.T) {
	r := root(t)
	workDir(t, r)
	for _, doc := range docs {
		src, err := os.ReadFile(filepath.Join(r, doc))
		if err != nil {
			t.Fatal(err)
		}
		blocks, _ := parseMarkdown(string(src))
		var (
			snippets       *session.Session
			snipOut        syncBuffer
			snipErr        syncBuffer
			lastOut        *string // what the previous runnable block printed
			lastLine, runs int
		)
		for _, b := range blocks {
			where := fmt.Sprintf("%s:%d", doc, b.line)
			code := strings.ReplaceAll(b.text, realModel, tinyModel)
			switch b.info {
			case "go":
				runs++
				var out string
				if isProgram(code) {
					out = runProgram(t, where, code)
				} else {
					if snippets == nil {
						snippets = newSession(t, &snipOut, &snipErr)
					}
					before := len(snipOut.String())
					ctx, cancel := evalTimeout()
					_, err := snippets.Eval(ctx, code)
					cancel()
					if err != nil {
						t.Errorf("%s: the ```go snippet fails: %v\nstderr:\n%s", where, err, snipErr.String())
					}
					out = snipOut.String()[before:]
				}
				lastOut, lastLine = &out, b.line
			case "output":
				if lastOut == nil {
					t.Errorf("%s: an ```output block must follow a ```go block", where)
					continue
				}
				if d := compareOutput(b.text, *lastOut, b.line+1); d != "" {
					t.Errorf("%s: the ```go block of line %d prints something else:\n%s", where, lastLine, d)
				}
				lastOut = nil
			case "repl":
				runs++
				runTranscript(t, where, b.line, code)
				lastOut = nil
			default:
				lastOut = nil
			}
		}
		t.Logf("%s: %d blocks, %d run", doc, len(blocks), runs)
	}
}

var packageClause = regexp.MustCompile(`(?m)^package\s+\w+`)

func isProgram(code string) bool { return packageClause.MatchString(code) }

// runProgram runs a script as `nnscope run` does and returns its stdout.
func runProgram(t *testing.T, where, code string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "example.go")
	if err := os.WriteFile(file, []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr syncBuffer
	s := session.New(session.Options{Stdout: &stdout, Stderr: &stderr})
	ctx, cancel := evalTimeout()
	defer cancel()
	if err := s.RunFile(ctx, file, nil); err != nil {
		t.Errorf("%s: the ```go program fails: %v\nstderr:\n%s", where, err, stderr.String())
	}
	return stdout.String()
}

// runTranscript types the prompted lines of a REPL transcript into a REPL
// and compares everything it prints with the other lines.
func runTranscript(t *testing.T, where string, fence int, text string) {
	t.Helper()
	var input, want []string
	firstWant := 0
	for i, line := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(line, "$ "):
		case strings.HasPrefix(line, repl.Prompt):
			input = append(input, strings.TrimPrefix(line, repl.Prompt))
		case strings.HasPrefix(line, repl.ContinuationPrompt):
			input = append(input, strings.TrimPrefix(line, repl.ContinuationPrompt))
		case strings.TrimRight(line, " ") == strings.TrimRight(repl.ContinuationPrompt, " "):
			input = append(input, "")
		default:
			if len(want) == 0 {
				firstWant = fence + 1 + i
			}
			want = append(want, line)
		}
	}
	// A process of its own: the REPL's :modules lists every model the
	// process loaded, and other examples load models too.
	dir := t.TempDir()
	inFile, outFile := filepath.Join(dir, "input"), filepath.Join(dir, "output")
	if err := os.WriteFile(inFile, []byte(strings.Join(input, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestREPLChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "DOCCHECK_REPL_INPUT="+inFile, "DOCCHECK_REPL_OUTPUT="+outFile)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("%s: the REPL transcript fails (%v):\n%s", where, err, b)
		return
	}
	got, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	if d := compareOutput(strings.Join(want, "\n"), string(got), firstWant); d != "" {
		t.Errorf("%s: the REPL prints something else than the transcript:\n%s", where, d)
	}
}

// TestREPLChild is the REPL process of runTranscript: it types the file
// $DOCCHECK_REPL_INPUT into a REPL and writes what it prints (stdout and
// stderr) to $DOCCHECK_REPL_OUTPUT.
func TestREPLChild(t *testing.T) {
	inFile, outFile := os.Getenv("DOCCHECK_REPL_INPUT"), os.Getenv("DOCCHECK_REPL_OUTPUT")
	if inFile == "" || outFile == "" {
		t.Skip("the REPL process of TestMarkdownExamples")
	}
	in, err := os.ReadFile(inFile)
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	err = repl.New(repl.Options{Stdin: bytes.NewReader(in), Stdout: &out, Stderr: &out}).Run()
	if err != nil {
		fmt.Fprintf(&out, "REPL: %v\n", err)
	}
	if err := os.WriteFile(outFile, []byte(out.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

var numberRE = regexp.MustCompile(`[-+]?\d+(\.\d+)?([eE][-+]?\d+)?`)

// compareOutput compares printed text with what a doc says it prints,
// line by line, numbers to a relative 1e-3 (the doc may have been made on
// another CPU or on the GPU). firstLine is the doc line of want's first
// line. It returns "" when they match.
func compareOutput(want, got string, firstLine int) string {
	norm := func(s string) []string {
		ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
		for i := range ls {
			ls[i] = strings.TrimRight(ls[i], " \t\r")
		}
		for len(ls) > 0 && ls[len(ls)-1] == "" {
			ls = ls[:len(ls)-1]
		}
		return ls
	}
	w, g := norm(want), norm(got)
	var diffs []string
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if !sameLine(wl, gl) {
			diffs = append(diffs, fmt.Sprintf("  line %d: doc %q\n  %*s printed %q", firstLine+i, wl, len(strconv.Itoa(firstLine+i))+5, "", gl))
		}
	}
	if len(diffs) == 0 {
		return ""
	}
	return strings.Join(diffs, "\n") + "\nprinted in full:\n" + got
}

func sameLine(want, got string) bool {
	if want == got {
		return true
	}
	if numberRE.ReplaceAllString(want, "#") != numberRE.ReplaceAllString(got, "#") {
		return false
	}
	wn, gn := numberRE.FindAllString(want, -1), numberRE.FindAllString(got, -1)
	for i := range wn {
		a, err1 := strconv.ParseFloat(wn[i], 64)
		b, err2 := strconv.ParseFloat(gn[i], 64)
		if err1 != nil || err2 != nil {
			return false
		}
		d := a - b
		if d < 0 {
			d = -d
		}
		if d > 1e-3*max(abs(a), 1e-1) {
			return false
		}
	}
	return true
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestDocCommentExamples runs every code block of the root package's doc
// comments (what `go doc nnscope` and Shift-Tab show) as session input.
func TestDocCommentExamples(t *testing.T) {
	r := root(t)
	workDir(t, r)
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(r, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, cg := range docComments(f) {
			var p comment.Parser
			d := p.Parse(cg.Text())
			for _, blk := range d.Content {
				code, ok := blk.(*comment.Code)
				if !ok {
					continue
				}
				n++
				where := fmt.Sprintf("%s:%d", filepath.Base(name), codeLine(fset, cg, code.Text))
				var stdout, stderr syncBuffer
				s := newSession(t, &stdout, &stderr)
				ctx, cancel := evalTimeout()
				_, err := s.Eval(ctx, strings.ReplaceAll(code.Text, realModel, tinyModel))
				cancel()
				if err != nil {
					t.Errorf("%s: the doc comment's example fails: %v\n%s\nstderr:\n%s", where, err, code.Text, stderr.String())
				}
			}
		}
	}
	t.Logf("%d doc comment examples run", n)
}

// docComments returns the doc comments of a file: the package's and those
// of its declarations, specs and struct fields.
func docComments(f *ast.File) []*ast.CommentGroup {
	var out []*ast.CommentGroup
	add := func(cg *ast.CommentGroup) {
		if cg != nil {
			out = append(out, cg)
		}
	}
	add(f.Doc)
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncDecl:
			add(n.Doc)
			return false // comments inside bodies are not docs
		case *ast.GenDecl:
			add(n.Doc)
		case *ast.TypeSpec:
			add(n.Doc)
		case *ast.ValueSpec:
			add(n.Doc)
		case *ast.Field:
			add(n.Doc)
		}
		return true
	})
	return out
}

// codeLine is the file line of the first line of code in cg.
func codeLine(fset *token.FileSet, cg *ast.CommentGroup, code string) int {
	first := strings.TrimSpace(strings.SplitN(code, "\n", 2)[0])
	for _, c := range cg.List {
		if strings.TrimSpace(strings.TrimPrefix(c.Text, "//")) == first {
			return fset.Position(c.Pos()).Line
		}
	}
	return fset.Position(cg.Pos()).Line
}

// receivers are the names listings and inline code use for values of the
// API's types.
var receivers = map[string]string{
	"model": "Model", "tr": "Tracer", "gen": "Generation", "cache": "Cache",
	"m": "Envoy", "block": "BlockEnvoy", "bar": "ProgressBar", "fig": "Figure",
	"t": "Tensor", "u": "Tensor", "g": "Tensor", "out": "Tensor", "hs": "Tensor",
	"loss": "Tensor", "grad": "Tensor", "logits": "Tensor",
}

// notListed are the names scripts can use that the README's listing need
// not show, with why.
var notListed = map[string]string{
	"String": "fmt.Println shows it", "Format": "fmt.Printf shows it", "Error": "the error interface",
	"Tensor.Engine":     "the engine's tensor, for Go programs",
	"Model.Config":      "the gpt2.Config; model.Transformer.H.Len() is the usual need",
	"Model.Path":        "the path it was loaded from",
	"Envoy.Type":        "the class name, printed by fmt.Println(m)",
	"Figure.File":       "notebooks/README.md",
	"Figure.Title":      "notebooks/README.md",
	"Figure.Shown":      "for the kernel",
	"Figure.PNG":        "notebooks/README.md",
	"Figure.Show":       "notebooks/README.md",
	"ProgressBar.Count": "rarely needed",
	"ProgressBar.Set":   "rarely needed",
	"Cache.Len":         "rarely needed",
	"Error.Kind":        "the error's fields",
	"Error.Msg":         "the error's fields",
	"Series.Name":       "shown as nnscope.Series{Name: ..., Values: ...}",
	"Series.Values":     "shown as nnscope.Series{Name: ..., Values: ...}",
}

// api is the nnscope package as scripts see it (the interpreter's symbol
// table, so a name missing there is found too).
func api(t *testing.T) map[string]reflect.Value {
	t.Helper()
	syms := stdlib.Symbols["nnscope/nnscope"]
	if len(syms) == 0 {
		t.Fatal("no nnscope symbols in nnscope/stdlib")
	}
	return syms
}

// apiType returns the pointer type *nnscope.name.
func apiType(syms map[string]reflect.Value, name string) reflect.Type {
	v, ok := syms[name]
	if !ok || v.Kind() != reflect.Pointer || !v.IsNil() {
		return nil
	}
	return v.Type()
}

// TestAPIListing checks the ```go-api listings and inline code of the docs
// against the API, and that the README's listing shows all of it.
func TestAPIListing(t *testing.T) {
	r := root(t)
	syms := api(t)
	c := chainChecker{syms: syms, recv: map[string]reflect.Type{}}
	for name, typ := range receivers {
		rt := apiType(syms, typ)
		if rt == nil {
			t.Fatalf("receiver %s: no type nnscope.%s", name, typ)
		}
		c.recv[name] = rt
	}
	var listing strings.Builder
	for _, doc := range docs {
		src, err := os.ReadFile(filepath.Join(r, doc))
		if err != nil {
			t.Fatal(err)
		}
		blocks, spans := parseMarkdown(string(src))
		for _, b := range blocks {
			if b.info == "go-api" {
				c.check(b.text, b.line+1, func(line int, msg string) { t.Errorf("%s:%d: %s", doc, line, msg) })
				if doc == "README.md" {
					listing.WriteString(b.text + "\n")
				}
			}
		}
		for _, s := range spans {
			c.check(s.text, s.line, func(line int, msg string) { t.Errorf("%s:%d: `%s`: %s", doc, line, s.text, msg) })
		}
	}
	if listing.Len() == 0 {
		t.Fatal("README.md has no ```go-api block")
	}
	l := listing.String()
	var missing []string
	listed := func(re string) bool { return regexp.MustCompile(re).MatchString(l) }
	for name, v := range syms {
		if v.Kind() == reflect.Pointer && v.IsNil() { // a type
			typ := v.Type()
			for i := 0; i < typ.NumMethod(); i++ {
				m := typ.Method(i).Name
				// t.Add/Sub lists Sub
				if notListed[m] == "" && notListed[name+"."+m] == "" && !listed(`[./]`+m+`\b`) {
					missing = append(missing, name+"."+m)
				}
			}
			if typ.Elem().Kind() == reflect.Struct {
				for i := 0; i < typ.Elem().NumField(); i++ {
					f := typ.Elem().Field(i)
					if f.IsExported() && !f.Anonymous && notListed[name+"."+f.Name] == "" && !listed(`\.`+f.Name+`\b`) {
						missing = append(missing, name+"."+f.Name)
					}
				}
			}
			continue
		}
		if notListed[name] == "" && !listed(`\bnnscope\.`+name+`\b`) {
			missing = append(missing, "nnscope."+name)
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("README.md's ```go-api listing does not show %s (add it, or to notListed in %s with the reason)", m, "internal/doccheck/doccheck_test.go")
	}
}

// chainChecker checks selector chains such as
// model.Transformer.H.At(-1).Output().Slice(":, -1") in listings: every
// member must exist on the type before it, and calls must have a number of
// arguments the method takes. `  .Name` (after a blank) and `/Name` name a
// sibling of the previous chain's last member, as in
// "model.Transformer.WTE  .WPE" or "t.Add/Sub".
type chainChecker struct {
	syms map[string]reflect.Value
	recv map[string]reflect.Type
}

// member is the type of a chain so far: a package (pkg) or a type (typ;
// nil when unknown: the chain is not checked further).
type member struct {
	pkg bool
	typ reflect.Type
}

func isIdentStart(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isIdentChar(c byte) bool { return isIdentStart(c) || '0' <= c && c <= '9' }

func (c *chainChecker) check(text string, line0 int, report func(line int, msg string)) {
	lineOf := func(i int) int { return line0 + strings.Count(text[:i], "\n") }
	var parent *member // the type the previous chain's last member was found on
	for i := 0; i < len(text); {
		ch := text[i]
		switch {
		case ch == '"':
			i = skipString(text, i)
		case isIdentStart(ch) && (i == 0 || !isIdentChar(text[i-1]) && text[i-1] != '.'):
			j := i
			for j < len(text) && isIdentChar(text[j]) {
				j++
			}
			base := text[i:j]
			if j+1 < len(text) && text[j] == '.' && isIdentStart(text[j+1]) {
				var start *member
				if base == "nnscope" {
					start = &member{pkg: true}
				} else if typ, ok := c.recv[base]; ok {
					start = &member{typ: typ}
				}
				// exported members only: model.safetensors is a file name
				if start != nil && 'A' <= text[j+1] && text[j+1] <= 'Z' {
					parent = c.chain(text, j, *start, base, lineOf, report)
				}
			}
			i = j
		case (ch == '.' && i > 0 && (text[i-1] == ' ' || text[i-1] == '\t') || ch == '/' && i > 0 && isIdentChar(text[i-1])) &&
			i+1 < len(text) && 'A' <= text[i+1] && text[i+1] <= 'Z' && parent != nil:
			c.chain(text, i, *parent, "", lineOf, report)
			i++
		default:
			i++
		}
	}
}

// chain follows .Member and .Method(args) from text[i] (a '.' or '/') on
// cur, reporting what does not exist. It returns the type the last member
// was found on.
func (c *chainChecker) chain(text string, i int, cur member, expr string, lineOf func(int) int, report func(int, string)) *member {
	var parent *member
	for i < len(text) && (text[i] == '.' || text[i] == '/' && expr == "") && i+1 < len(text) && isIdentStart(text[i+1]) {
		j := i + 1
		for j < len(text) && isIdentChar(text[j]) {
			j++
		}
		name := text[i+1 : j]
		if expr == "" {
			expr = "." + name
		} else {
			expr += "." + name
		}
		p := cur
		parent = &p
		next, fn, ok := c.lookup(cur, name)
		if !ok {
			report(lineOf(i), fmt.Sprintf("%s: %s has no %s", expr, cur.describe(), name))
			return parent
		}
		i = j
		if i < len(text) && text[i] == '(' {
			end := matchParen(text, i)
			if end < 0 {
				report(lineOf(i), expr+"(: no closing parenthesis")
				return parent
			}
			if fn == nil {
				report(lineOf(i), expr+" is not a function or method")
				return parent
			}
			if msg := checkArity(fn, text[i+1:end]); msg != "" {
				report(lineOf(i), fmt.Sprintf("%s(%s): %s", expr, text[i+1:end], msg))
			}
			expr += "(...)"
			next = member{}
			if fn.NumOut() > 0 {
				next.typ = fn.Out(0)
			}
			i = end + 1
		}
		cur = next
		if !cur.pkg && cur.typ == nil {
			break
		}
	}
	return parent
}

func (m member) describe() string {
	if m.pkg {
		return "package nnscope"
	}
	return m.typ.String()
}

// lookup finds name on cur: its type as a value (next) and, for a function
// or method, its signature without receiver (fn).
func (c *chainChecker) lookup(cur member, name string) (next member, fn *sig, ok bool) {
	if cur.pkg {
		v, found := c.syms[name]
		if !found {
			return member{}, nil, false
		}
		if v.Kind() == reflect.Func {
			if v.CanAddr() { // a variable of function type (RetainGraph)
				return member{typ: v.Type()}, nil, true
			}
			return member{}, &sig{t: v.Type()}, true
		}
		return member{}, nil, true // a type: nnscope.Tensor, nnscope.Series{...}
	}
	if cur.typ == nil {
		return member{}, nil, true
	}
	if m, found := cur.typ.MethodByName(name); found {
		return member{}, &sig{t: m.Type, recv: true}, true
	}
	st := cur.typ
	if st.Kind() == reflect.Pointer {
		st = st.Elem()
	}
	if st.Kind() == reflect.Struct {
		if f, found := st.FieldByName(name); found && f.IsExported() {
			return member{typ: f.Type}, nil, true
		}
	}
	return member{}, nil, false
}

// sig is a function or method type (recv: its first parameter is the
// receiver).
type sig struct {
	t    reflect.Type
	recv bool
}

func (s *sig) NumIn() int {
	if s.recv {
		return s.t.NumIn() - 1
	}
	return s.t.NumIn()
}

func (s *sig) NumOut() int            { return s.t.NumOut() }
func (s *sig) Out(i int) reflect.Type { return s.t.Out(i) }

// checkArity compares the arguments written in a listing with what fn
// takes; "..." alone stands for any arguments, and x... for a spread or
// several values of a variadic parameter.
func checkArity(fn *sig, args string) string {
	args = strings.TrimSpace(args)
	if args == "..." {
		return ""
	}
	n, spread := 0, false
	if args != "" {
		parts := splitArgs(args)
		n = len(parts)
		for _, p := range parts {
			if strings.HasSuffix(strings.TrimSpace(p), "...") {
				spread = true
			}
		}
	}
	in, variadic := fn.NumIn(), fn.t.IsVariadic()
	switch {
	case variadic && (n >= in-1 || spread && n >= 1):
		return ""
	case !variadic && n == in && !spread:
		return ""
	case variadic:
		return fmt.Sprintf("%d arguments, it takes at least %d", n, in-1)
	}
	return fmt.Sprintf("%d arguments, it takes %d", n, in)
}

// splitArgs splits an argument list at its top-level commas.
func splitArgs(s string) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			i = skipString(s, i) - 1
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}

// skipString returns the index after the string literal at s[i] == '"'.
func skipString(s string, i int) int {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '"', '\n':
			return j + 1
		}
	}
	return len(s)
}

// matchParen returns the index of the parenthesis closing s[i] == '(',
// skipping strings and // comments, or -1.
func matchParen(s string, i int) int {
	depth := 0
	for j := i; j < len(s); j++ {
		switch s[j] {
		case '"':
			j = skipString(s, j) - 1
		case '/':
			if j+1 < len(s) && s[j+1] == '/' {
				if k := strings.IndexByte(s[j:], '\n'); k >= 0 {
					j += k
				} else {
					return -1
				}
			}
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			depth--
			if depth == 0 {
				if s[j] != ')' {
					return -1
				}
				return j
			}
		}
	}
	return -1
}

// TestCommands checks every `nnscope ...` command line of the docs (in
// ```sh and ```text blocks and inline code) against the commands' own
// help: the command exists and lists each flag used.
func TestCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("builds nnscope; skipped in -short mode")
	}
	r := root(t)
	exe := filepath.Join(t.TempDir(), "nnscope")
	goCmd := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goCmd); err != nil {
		goCmd = "go"
	}
	build := exec.Command(goCmd, "build", "-o", exe, "./cmd/nnscope")
	build.Dir = r
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	helps := map[string]string{}
	help := func(cmd string) string {
		if h, ok := helps[cmd]; ok {
			return h
		}
		args := append(strings.Fields(cmd), "-h")
		out, _ := exec.Command(exe, args...).CombinedOutput() // some exit 1 after -h
		helps[cmd] = string(out)
		return helps[cmd]
	}
	mainHelp := help("")
	cmds := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s+nnscope \[?(\w+)`).FindAllStringSubmatch(mainHelp, -1) {
		cmds[m[1]] = true
	}
	if !cmds["run"] || !cmds["kernel"] {
		t.Fatalf("nnscope -h lists no commands:\n%s", mainHelp)
	}
	var all strings.Builder
	for _, doc := range docs {
		src, err := os.ReadFile(filepath.Join(r, doc))
		if err != nil {
			t.Fatal(err)
		}
		blocks, spans := parseMarkdown(string(src))
		var lines []span
		for _, b := range blocks {
			if b.info == "go" || b.info == "go-api" || b.info == "repl" || b.info == "output" {
				continue
			}
			for k, l := range strings.Split(b.text, "\n") {
				lines = append(lines, span{line: b.line + 1 + k, text: l})
			}
		}
		lines = append(lines, spans...)
		for _, l := range lines {
			all.WriteString(l.text + "\n")
			cmd, flags, ok := commandLine(l.text)
			if !ok {
				continue
			}
			where := fmt.Sprintf("%s:%d", doc, l.line)
			sub := strings.Fields(cmd)
			if len(sub) > 0 && !cmds[sub[0]] {
				t.Errorf("%s: `%s`: nnscope has no command %q (nnscope help)", where, l.text, sub[0])
				continue
			}
			h := help(cmd)
			if len(sub) > 0 && sub[0] != "version" && sub[0] != "help" && !strings.Contains(h, "Usage") {
				t.Errorf("%s: `nnscope %s -h` prints no usage:\n%s", where, cmd, h)
			}
			for _, f := range flags {
				if !regexp.MustCompile(`(^|[\s\[|])--?` + regexp.QuoteMeta(f) + `\b`).MatchString(h) {
					t.Errorf("%s: `%s`: `nnscope %s -h` has no flag -%s:\n%s", where, strings.TrimSpace(l.text), cmd, f, h)
				}
			}
		}
	}
	for c := range cmds {
		if c != "help" && !strings.Contains(all.String(), "nnscope "+c) && !strings.Contains(all.String(), "nnscope ["+c+"]") {
			t.Errorf("the docs' command lines never show `nnscope %s` (nnscope help lists it)", c)
		}
	}
}

var (
	commandRE = regexp.MustCompile(`(?:^|\$ |\s)(?:nnscope|go run \./cmd/nnscope)([ \t].*)?$`)
	flagRE    = regexp.MustCompile(`(?:^|[\[|])--?([a-z][\w-]*)`)
)

// commandLine parses a line that runs nnscope: the command ("" for the
// REPL, "kernel install"...) and the flags it uses. Words after two blanks
// or a # are a description; run's flags after the file are the script's.
func commandLine(line string) (cmd string, flags []string, ok bool) {
	if i := strings.Index(line, "#"); i >= 0 {
		line = line[:i]
	}
	m := commandRE.FindStringSubmatchIndex(line)
	if m == nil {
		return "", nil, false
	}
	rest := ""
	if m[2] >= 0 {
		rest = line[m[2]:m[3]]
	}
	if i := strings.Index(strings.TrimLeft(rest, " \t"), "  "); i >= 0 {
		rest = strings.TrimLeft(rest, " \t")[:i]
	}
	words := strings.Fields(rest)
	if len(words) > 0 && (words[0] == "[repl]" || words[0] == "repl") {
		cmd, words = "repl", words[1:]
	} else if len(words) > 0 && words[0][0] == '-' {
		cmd = "repl" // nnscope -history FILE
	} else if len(words) > 0 && words[0] == strings.ToUpper(words[0]) {
		return "", nil, false // nnscope CMD -h: a placeholder
	} else if len(words) > 0 && isIdentStart(words[0][0]) {
		cmd = words[0]
		words = words[1:]
		if cmd == "kernel" && len(words) > 0 && words[0] == "install" {
			cmd, words = "kernel install", words[1:]
		}
		if cmd == "run" {
			return cmd, nil, true
		}
	}
	for _, w := range words {
		for _, f := range flagRE.FindAllStringSubmatch(w, -1) {
			flags = append(flags, f[1])
		}
	}
	return cmd, flags, true
}
