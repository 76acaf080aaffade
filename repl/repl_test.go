package repl

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"nnscope"
	"nnscope/interp"
)

func TestInputBuffer(t *testing.T) {
	b := inputBuffer{isComplete: interp.IsComplete}
	if src, ready, _ := b.add("1+1"); !ready || src != "1+1" {
		t.Fatalf("complete line: %q %v", src, ready)
	}
	if _, ready, _ := b.add("   "); ready || b.pending() {
		t.Fatal("a blank line with nothing pending must do nothing")
	}
	lines := []string{"func f(x int) int {", "\tif x > 0 {", "\t\treturn x", "\t}", "\treturn -x"}
	wantIndent := []string{"\t", "\t\t", "\t\t", "\t", "\t"}
	for i, l := range lines {
		_, ready, indent := b.add(l)
		if ready {
			t.Fatalf("line %d: submitted too early", i)
		}
		if indent != wantIndent[i] {
			t.Errorf("line %d: indent %q, want %q", i, indent, wantIndent[i])
		}
	}
	src, ready, _ := b.add("}")
	if !ready || src != strings.Join(append(lines, "}"), "\n") || b.pending() {
		t.Fatalf("closing brace: %q %v", src, ready)
	}
	// A trailing operator continues; one blank line is part of the input,
	// two in a row submit what is pending.
	if _, ready, _ := b.add("x := 1 +"); ready {
		t.Fatal("trailing operator submitted")
	}
	if _, ready, _ := b.add(""); ready {
		t.Fatal("one blank line submitted")
	}
	if src, ready, _ := b.add(""); !ready || src != "x := 1 +" {
		t.Fatalf("two blank lines: %q %v", src, ready)
	}
	// Pasted code keeps its blank lines inside brackets.
	paste := []string{"import (", "\t\"strings\"", "", "\t\"sort\"", ")"}
	for i, l := range paste {
		src, ready, _ := b.add(l)
		if ready != (i == len(paste)-1) {
			t.Fatalf("paste line %d: ready %v", i, ready)
		}
		if ready && src != strings.Join(paste, "\n") {
			t.Fatalf("paste: %q", src)
		}
	}
	b.add("foo(")
	b.reset()
	if b.pending() {
		t.Fatal("reset")
	}
}

func TestParseCommand(t *testing.T) {
	for _, tc := range []struct {
		in   string
		ok   bool
		name string
		arg  string
	}{
		{":help", true, "help", ""},
		{"  :load  scripts/x.go ", true, "load", "scripts/x.go"},
		{":Modules transformer.h", true, "modules", "transformer.h"},
		{":q", true, "q", ""},
		{"x := 1", false, "", ""},
		{":", false, "", ""},
		{":=", false, "", ""},
		{`":help"`, false, "", ""},
	} {
		c, ok := parseCommand(tc.in)
		if ok != tc.ok || c.name != tc.name || c.arg != tc.arg {
			t.Errorf("parseCommand(%q) = %+v %v", tc.in, c, ok)
		}
	}
}

var tinyPaths = []string{
	"transformer", "transformer.wte", "transformer.wpe", "transformer.h",
	"transformer.h.0", "transformer.h.0.ln_1", "transformer.h.0.attn", "transformer.h.0.attn.c_attn",
	"transformer.h.1", "transformer.h.1.ln_1", "transformer.h.1.attn", "transformer.h.1.attn.c_attn",
	"transformer.h.1.mlp", "transformer.ln_f", "lm_head",
}

func TestCompleteModulePath(t *testing.T) {
	for _, tc := range []struct {
		before string
		want   []string
		ok     bool
	}{
		{`model.Module("transformer.h.1.`, []string{"transformer.h.1.ln_1", "transformer.h.1.attn", "transformer.h.1.mlp"}, true},
		{`x := m.Module( "transformer.h.`, []string{"transformer.h.0", "transformer.h.1"}, true},
		{`model.Module("transformer.w`, []string{"transformer.wte", "transformer.wpe"}, true},
		{`model.Module("`, []string{"transformer", "lm_head"}, true},
		{`model.Module("transformer.h.1.attn.c_`, []string{"transformer.h.1.attn.c_attn"}, true},
		{`model.Module("nope`, nil, true},
		{`model.Module("a").Output()`, nil, false},
		{`fmt.Println("transformer.`, nil, false},
	} {
		got, _, ok := completeModulePath(tc.before, tinyPaths)
		if ok != tc.ok || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %q %v, want %q %v", tc.before, got, ok, tc.want, tc.ok)
		}
	}
}

func TestCompleterDo(t *testing.T) {
	var gotSrc string
	var gotCursor int
	c := &completer{
		code: func(src string, cursor int) []string {
			gotSrc, gotCursor = src, cursor
			return []string{"Transformer", "Trace"}
		},
		modules: func() []string { return tinyPaths },
		pending: func() string { return "func f() {" },
	}
	line := []rune("model.Tra")
	cands, n := c.Do(line, len(line))
	if n != 3 || len(cands) != 2 || string(cands[0]) != "ce" || string(cands[1]) != "nsformer" {
		t.Errorf("identifiers: %q %d", cands, n)
	}
	if gotSrc != "func f() {\nmodel.Tra" || gotCursor != len(gotSrc) {
		t.Errorf("code completer saw %q at %d", gotSrc, gotCursor)
	}
	line = []rune(`h := model.Module("transformer.h.1.at`)
	cands, n = c.Do(line, len(line))
	if n != 2 || len(cands) != 1 || string(cands[0]) != "tn" {
		t.Errorf("module path: %q %d", cands, n)
	}
	line = []rune(`model.Module("transformer.h.`)
	cands, n = c.Do(line, len(line))
	if n != 0 || len(cands) != 2 || string(cands[0]) != "0" {
		t.Errorf("module path after a dot: %q %d", cands, n)
	}
	cands, n = c.Do([]rune("\t"), 1)
	if n != 0 || len(cands) != 1 || string(cands[0]) != indentUnit {
		t.Errorf("tab at line start: %q %d", cands, n)
	}
	c.code = func(string, int) []string { panic("boom") }
	if cands, _ := c.Do([]rune("x"), 1); cands != nil {
		t.Errorf("a panicking completer gives nothing, got %q", cands)
	}
}

type stringer struct{ s string }

func (s *stringer) String() string { return "S:" + s.s }

func TestFormatValue(t *testing.T) {
	var nilStringer *stringer
	var nilErr error
	for _, tc := range []struct {
		v    any
		want string
	}{
		{2, "2"},
		{"hi\n", `"hi\n"`},
		{[]int{1, 2}, "[1 2]"},
		{&stringer{"x"}, "S:x"},
		{nilStringer, "<nil>"}, // String panics on nil: falls back to %v
		{map[string]int{"a": 1}, "map[a:1]"},
		{os.ErrNotExist, "file does not exist"},
	} {
		if got := formatValue(reflect.ValueOf(tc.v)); got != tc.want {
			t.Errorf("formatValue(%#v) = %q, want %q", tc.v, got, tc.want)
		}
	}
	if got := formatValue(reflect.ValueOf(&nilErr).Elem()); got != "nil" {
		t.Errorf("nil interface: %q", got)
	}
	if got := formatValue(reflect.Value{}); got != "nil" {
		t.Errorf("invalid value: %q", got)
	}
	tt := nnscope.NewTensor([]float64{1, 2, 3, 4, 5, 6}, 2, 3)
	got := formatValue(reflect.ValueOf(tt))
	if got != tt.String() || !strings.Contains(got, "2") || !strings.Contains(got, "6") {
		t.Errorf("tensor: %q", got)
	}
	t.Logf("tensor prints as:\n%s", got)
}

func TestPlanLoad(t *testing.T) {
	src := "//go:build ignore\n\npackage main\n\nimport (\n\t\"fmt\"\n\tnn \"nnscope\"\n)\n\nimport \"strings\"\n\nvar x = 1\n\nfunc main() {\n\tfmt.Println(strings.ToUpper(\"a\"), nn.Zeros(1), x)\n}\n\nfunc (t T) main() {}\n"
	p, err := planLoad(src)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{`import "fmt"`, `import nn "nnscope"`, `import "strings"`}; !reflect.DeepEqual(p.imports, want) {
		t.Errorf("imports %q, want %q", p.imports, want)
	}
	if p.main != loadMainName {
		t.Errorf("main %q", p.main)
	}
	if strings.Count(p.body, "\n") != strings.Count(src, "\n") {
		t.Error("line numbers not kept")
	}
	if strings.Contains(p.body, "package") || strings.Contains(p.body, "import") || strings.Contains(p.body, "func main()") {
		t.Errorf("body:\n%s", p.body)
	}
	if !strings.Contains(p.body, "func main_() {") || !strings.Contains(p.body, "func (t T) main() {}") {
		t.Errorf("main not renamed (only the function):\n%s", p.body)
	}
	// Line 12 still holds `var x = 1`.
	if l := strings.Split(p.body, "\n")[11]; l != "var x = 1" {
		t.Errorf("line 12: %q", l)
	}
	// A snippet: statements, no package clause, no main.
	p, err = planLoad("import \"math\"\ny := math.Sqrt(4)\n")
	if err != nil || p.main != "" || !reflect.DeepEqual(p.imports, []string{`import "math"`}) || strings.TrimSpace(p.body) != "y := math.Sqrt(4)" {
		t.Errorf("snippet: %+v %v", p, err)
	}
}

func TestWriteModules(t *testing.T) {
	var b bytes.Buffer
	writeModules(&b, "tiny", tinyPaths, map[string][]int{"transformer.h.1": {1, 5, 32}, "transformer.h.1.attn": {1, 5, 32}}, "transformer.h.1")
	out := b.String()
	for _, want := range []string{"tiny (output shapes of the last trace)", "\n  transformer.h.1                  [1 5 32]\n", "\n    transformer.h.1.ln_1\n", "\n    transformer.h.1.attn           [1 5 32]\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, "transformer.h.0") {
		t.Errorf("listed outside the subtree:\n%s", out)
	}
}

// syncBuffer is a bytes.Buffer safe for the evaluation and test goroutines.
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

// runPiped runs the REPL on input as piped stdin.
func runPiped(t *testing.T, input string) (stdout, stderr string, r *REPL, err error) {
	t.Helper()
	var out, errw syncBuffer
	r = New(Options{Stdin: strings.NewReader(input), Stdout: &out, Stderr: &errw})
	err = r.Run()
	return out.String(), errw.String(), r, err
}

func tinyModel(t *testing.T) string {
	p, err := filepath.Abs("../testdata/gpt2-tiny")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSessionPiped(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "s.go")
	os.WriteFile(script, []byte("package main\n\nimport (\n\t\"fmt\"\n\t\"strings\"\n)\n\nvar fromFile = 7\n\nfunc main() {\n\tfmt.Println(\"main says\", strings.Repeat(\"a\", 3))\n}\n"), 0o644)
	bad := filepath.Join(dir, "bad.go")
	os.WriteFile(bad, []byte("package main\n\nfunc main() {\n\tundefinedThing()\n}\n"), 0o644)
	input := strings.Join([]string{
		"1+1",
		`"str"`,
		`fmt.Println("printed")`,
		"func double(x int) int {",
		"\treturn 2 * x",
		"}",
		"double(21)",
		"keep := 5",
		"nope + 1",
		"keep * 2",
		":load " + script,
		"fromFile",
		":load " + bad,
		":load /no/such/file.go",
		":bogus",
		`model := nnscope.LanguageModel("` + tinyModel(t) + `")`,
		`var grad *nnscope.Tensor`,
		`model.Trace("The Eiffel Tower is in the city of", func(tr *nnscope.Tracer) {`,
		`	hs := model.Transformer.H.At(-1).Output()`,
		`	hs.RequiresGrad()`,
		`	loss := model.LMHead.Output().Sum()`,
		`	loss.Backward(func() { grad = hs.Grad().Save() })`,
		`})`,
		`fmt.Printf("Gradient mean: %.4f\n", grad.Abs().Mean().Item())`,
		`grad.Shape()`,
		`grad.Slice("0, 0, :4")`,
		":modules transformer.h.1",
		":reset",
		"keep",
		":help",
		":history",
		":quit",
		"unreached()",
	}, "\n") + "\n"
	out, errs, _, err := runPiped(t, input)
	if err != ErrFailed {
		t.Errorf("Run returned %v, want ErrFailed (some inputs failed)", err)
	}
	for _, want := range []string{
		"2\n", "\"str\"\n", "printed\n", "42\n", "10\n",
		"main says aaa\n", "7\n",
		"Gradient mean: 13.4503\n",
		"[1 10 32]\n",
		"transformer.h.1  ", "[1 10 32]",
		"fresh session (loaded models stay cached)",
		":load FILE", "double(21)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
	for _, want := range []string{
		"error: 1:1: undefined: nope",
		"error: " + bad + ":4:2: undefined: undefinedThing",
		"error: open /no/such/file.go",
		"error: unknown command :bogus",
		"error: 1:1: undefined: keep", // after :reset
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	if strings.Contains(out+errs, "unreached") {
		t.Error("input after :quit was evaluated")
	}
	if strings.Contains(out, "\n20\n") || strings.Contains(out, "\n8\n") {
		t.Error("fmt.Println's byte count was displayed")
	}
	if t.Failed() {
		t.Logf("stdout:\n%s\nstderr:\n%s", out, errs)
	}
}

func TestInterruptKeepsSession(t *testing.T) {
	var out, errw syncBuffer
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r := New(Options{Stdin: pr, Stdout: &out, Stderr: &errw})
	done := make(chan error, 1)
	go func() { done <- r.Run() }()
	pw.WriteString("kept := 41\nfor {\n}\n")
	time.Sleep(300 * time.Millisecond)
	r.interrupt()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(errw.String(), "interrupted") {
		if time.Now().After(deadline) {
			t.Fatalf("not interrupted; stderr %q", errw.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A loop of traces is interrupted too.
	pw.WriteString(`model := nnscope.LanguageModel("` + tinyModel(t) + `")` + "\n")
	pw.WriteString(`for { model.Trace("Hello world", func(tr *nnscope.Tracer) { model.LMHead.Output() }) }` + "\n")
	time.Sleep(300 * time.Millisecond)
	r.interrupt()
	for strings.Count(errw.String(), "interrupted") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("trace loop not interrupted; stderr %q", errw.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	pw.WriteString("kept + 1\n")
	pw.Close()
	if err := <-done; err != ErrFailed {
		t.Errorf("Run: %v", err)
	}
	if out.String() != "42\n" {
		t.Errorf("stdout %q, want 42", out.String())
	}
}

// A script loaded with arguments sees them in flag.Parse, and loading it
// again (its flags defined again) works.
func TestLoadScriptWithArgs(t *testing.T) {
	model, _ := filepath.Abs("../testdata/gpt2-tiny")
	script, _ := filepath.Abs("../scripts/gradients.go")
	in := ":load " + script + " -model " + model + "\n:load " + script + " -model " + model + "\n"
	out, errOut, _, err := runPiped(t, in)
	if err != nil || strings.Count(out, "Gradient mean: 13.4503") != 2 {
		t.Fatalf("err %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
}

// TestLoadTwiceWithFlags: a script that declares flags can be loaded
// again (a fresh flag set each time, not "flag redefined").
func TestLoadTwiceWithFlags(t *testing.T) {
	script := filepath.Join(t.TempDir(), "f.go")
	os.WriteFile(script, []byte("package main\n\nimport (\n\t\"flag\"\n\t\"fmt\"\n)\n\nfunc main() {\n\tn := flag.Int(\"n\", 1, \"count\")\n\tflag.Parse()\n\tfmt.Println(\"n is\", *n)\n}\n"), 0o644)
	out, errs, _, _ := runPiped(t, ":load "+script+" -n 3\n:load "+script+" -n 4\n")
	if !strings.Contains(out, "n is 3\n") || !strings.Contains(out, "n is 4\n") || strings.Contains(errs, "redefined") {
		t.Errorf("stdout %q, stderr %q", out, errs)
	}
}

func TestHistoryEntry(t *testing.T) {
	for _, c := range []struct {
		src  string
		want []string
	}{
		{"x := 1", []string{"x := 1"}},
		{"func sq(x int) int {\n    return x * x\n    }\n", []string{"func sq(x int) int { return x * x; }"}},
		{"model.Trace(\"a\", func(tr *nnscope.Tracer) {\n\th = m.Output().Save()\n\n\tx := []int{\n\t\t1,\n\t}\n})", []string{`model.Trace("a", func(tr *nnscope.Tracer) { h = m.Output().Save(); x := []int{ 1, }; })`}},
		{"if x {\n// c\n}", []string{"if x {", "// c", "}"}},
		{"s := `a\nb`", []string{"s := `a", "b`"}},
	} {
		got := historyEntry(c.src, interp.IsComplete)
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("historyEntry(%q) = %q, want %q", c.src, got, c.want)
		}
	}
}

// TestWriteModulesNegativeIndex: :modules takes paths as model.Module
// does, with negative block indices ("transformer.h.-1.attn" was "no module").
func TestWriteModulesNegativeIndex(t *testing.T) {
	var b bytes.Buffer
	writeModules(&b, "tiny", tinyPaths, nil, "transformer.h.-1.attn")
	if out := b.String(); !strings.Contains(out, "transformer.h.1.attn.c_attn") || strings.Contains(out, "no module") || strings.Contains(out, "h.0") {
		t.Errorf("transformer.h.-1.attn:\n%s", out)
	}
	b.Reset()
	writeModules(&b, "tiny", tinyPaths, nil, "transformer.h.-2")
	if out := b.String(); !strings.Contains(out, "transformer.h.0.attn.c_attn") || strings.Contains(out, "h.1") {
		t.Errorf("transformer.h.-2:\n%s", out)
	}
}
