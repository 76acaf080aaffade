package nneval

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"nnscope"
	"nnscope/display"
	"nnscope/kernel"
	"nnscope/stdlib"
)

func run(t *testing.T, e *Evaluator, code string) (*kernel.Bundle, []kernel.Bundle, string, error) {
	t.Helper()
	var out strings.Builder
	var shown []kernel.Bundle
	res, err := e.Execute(context.Background(), code, &out, &out, func(b kernel.Bundle) { shown = append(shown, b) })
	return res, shown, out.String(), err
}

func TestEvaluator(t *testing.T) {
	e := New()
	defer display.SetHook(nil)
	root, _ := filepath.Abs("../../testdata/gpt2-tiny")
	if _, _, out, err := run(t, e, "import (\n\t\"fmt\"\n\t\"nnscope\"\n)\nmodel := nnscope.LanguageModel(\""+root+"\")\nfmt.Println(\"loaded\")"); err != nil || out != "loaded\n" {
		t.Fatalf("load: %q %v", out, err)
	}
	res, _, _, err := run(t, e, "x := nnscope.Arange(24).Reshape(2, 3, 4)\nx")
	if err != nil {
		t.Fatal(err)
	}
	h, _ := (*res)["text/html"].(string)
	if !strings.Contains(h, "[1, :, :]") || !strings.Contains(h, "<td>23</td>") {
		t.Errorf("tensor html: %s", h)
	}

	// An error points at the cell line; state survives.
	_, _, _, err = run(t, e, "y := 1\nz := nope + y")
	var ce *Error
	if !errors.As(err, &ce) || ce.Name() != "CompileError" || !strings.HasPrefix(err.Error(), "2:") {
		t.Fatalf("error: %#v", err)
	}
	if tb := ce.Traceback(); len(tb) < 2 || !strings.Contains(tb[1], "-->   2") {
		t.Errorf("traceback: %q", tb)
	}
	if res, _, _, err := run(t, e, "x.Shape()"); err != nil || (*res)["text/plain"] != "[2 3 4]" {
		t.Fatalf("after error: %v %v", res, err)
	}

	// A figure shown through the display hook is not repeated as the result.
	res, shown, _, err := run(t, e, "nnscope.Heatmap(x.Select(0, 0), nil, nil)")
	if err != nil || res != nil || len(shown) != 1 || shown[0]["image/png"] == nil {
		t.Fatalf("heatmap: res %v, shown %d, err %v", res, len(shown), err)
	}
	// With File it is shown and written; a file that cannot be written is
	// an error, not silence.
	png := filepath.Join(t.TempDir(), "h.png")
	if _, shown, _, err := run(t, e, fmt.Sprintf("nnscope.Heatmap(x.Select(0, 0), nil, nil, nnscope.File(%q))", png)); err != nil || len(shown) != 1 {
		t.Fatalf("heatmap with File: shown %d, err %v", len(shown), err)
	}
	if b, err := os.ReadFile(png); err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Errorf("File in a notebook wrote no PNG: %v", err)
	}
	if _, _, _, err := run(t, e, `nnscope.Heatmap(x.Select(0, 0), nil, nil, nnscope.File("/nonexistent/dir/h.png"))`); err == nil || !strings.Contains(err.Error(), "/nonexistent/dir/h.png") {
		t.Errorf("unwritable File in a notebook: %v", err)
	}

	// Completion of module paths and members; inspection.
	m, start, end := e.Complete(`h := model.Module("transformer.h.1.at`, 37)
	if start != 19 || end != 37 || !contains(m, "transformer.h.1.attn.c_attn") {
		t.Errorf("module completion: %v [%d,%d)", m, start, end)
	}
	if m, _, _ := e.Complete("x.Resh", 6); !contains(m, "Reshape") {
		t.Errorf("member completion: %v", m)
	}
	if b, ok := e.Inspect("x.Reshape(1)", 5, 0); !ok || !strings.Contains(b["text/plain"].(string), "func (x *Tensor) Reshape") {
		t.Errorf("inspect method: %v %v", b, ok)
	}
	if b, ok := e.Inspect("nnscope.Heatmap", 10, 0); !ok || !strings.Contains(b["text/plain"].(string), "func Heatmap(") {
		t.Errorf("inspect function: %v %v", b, ok)
	}
	if st, ind := e.IsComplete("for i := 0; i < 3; i++ {"); st != "incomplete" || ind == "" {
		t.Errorf("is_complete: %q %q", st, ind)
	}

	// Interrupt: a cancelled context stops a trace loop, the session lives on.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = e.Execute(ctx, "for i := 0; i < 100000; i++ {\n\tmodel.Trace(\"a b c\", func(tr *nnscope.Tracer) { model.LMHead.Output() })\n}", io.Discard, io.Discard, func(kernel.Bundle) {})
	if !errors.As(err, &ce) || ce.Name() != "Interrupted" {
		t.Fatalf("interrupt: %v", err)
	}
	if _, _, _, err := run(t, e, "x.Sum().Item()"); err != nil {
		t.Fatal(err)
	}
}

func TestTensorHTMLSummarizes(t *testing.T) {
	h := TensorHTML(nnscope.Arange(5000).Reshape(50, 100))
	if !strings.Contains(h, "…") || !strings.Contains(h, "⋮") || strings.Contains(h, "<th>50</th>") || !strings.Contains(h, "<th>99</th>") || !strings.Contains(h, "<td>4999</td>") {
		t.Errorf("summarized table: %s", h)
	}
	if n := strings.Count(h, "<td>"); n > 7*7+7 {
		t.Errorf("%d cells shown", n)
	}
	if got := Format(reflect.ValueOf("hi")); (*got)["text/plain"] != `"hi"` {
		t.Errorf("string: %v", got)
	}
}

// Infinities and NaN read the same in the HTML table as in the text form
// (tensor([ inf,  nan, -inf])), not Go's +Inf and NaN.
func TestTensorHTMLNonFinite(t *testing.T) {
	x := nnscope.NewTensor([]float64{1, 0, -1, 2.5}).Div(0)
	h := TensorHTML(x)
	if !strings.Contains(h, "<td>inf</td><td>nan</td><td>-inf</td><td>inf</td>") {
		t.Errorf("non-finite values: %s", h)
	}
	if h := TensorHTML(nnscope.NewTensor([]float64{1.234567, 1e-8})); !strings.Contains(h, "<td>1.2346</td><td>1e-08</td>") {
		t.Errorf("finite values: %s", h)
	}
}

// Outside a notebook a figure is written to a file named after its title.
func TestFigureFile(t *testing.T) {
	old := display.SetHook(nil)
	defer display.SetHook(old)
	dir := t.TempDir()
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	f := nnscope.Line([]string{"0", "1", "2"}, nnscope.Series{Name: "a", Values: []float64{1, 2, 3}}, nnscope.Title("Logit lens"))
	if f.File() != "logit_lens.png" {
		t.Fatalf("file %q", f.File())
	}
	if st, err := os.Stat(filepath.Join(dir, "logit_lens.png")); err != nil || st.Size() < 1000 {
		t.Fatalf("file: %v %v", st, err)
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// The doc table covers the API scripts see (regenerate it with
// `go generate ./kernel/nneval` after changing package nnscope).
func TestDocsUpToDate(t *testing.T) {
	for name := range stdlib.Symbols["nnscope/nnscope"] {
		if _, ok := apiDocs[name]; !ok {
			t.Errorf("no doc for nnscope.%s: run go generate ./kernel/nneval", name)
		}
	}
}

// fmt and nnscope are imported before the first cell, as in the REPL; an
// explicit import cell still works.
func TestPreImports(t *testing.T) {
	e := New()
	defer display.SetHook(nil)
	res, _, _, err := run(t, e, `fmt.Sprint(nnscope.Ones(2, 3).Shape())`)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := (*res)["text/plain"].(string); !strings.Contains(got, "[2 3]") {
		t.Errorf("result %q", got)
	}
	if _, _, _, err := run(t, e, "import (\n\t\"fmt\"\n\t\"nnscope\"\n)\nfmt.Println(nnscope.Ones(1).Item())"); err != nil {
		t.Fatalf("explicit imports: %v", err)
	}
}

// A REPL command or IPython magic typed in a cell gets an error that says
// what to write instead of Go's "expected statement, found ':'"; "!ok" is
// still Go.
func TestCommandCell(t *testing.T) {
	e := New()
	defer display.SetHook(nil)
	for code, want := range map[string]string{
		":modules":       "fmt.Println(model)",
		"  :help\n":      "Shift-Tab",
		"%timeit x := 1": "Go code only",
	} {
		_, _, _, err := run(t, e, code)
		var ce *Error
		if !errors.As(err, &ce) || ce.Name() != "CompileError" || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want a CompileError mentioning %q", code, err, want)
		}
	}
	if res, _, _, err := run(t, e, "ok := false\n!ok"); err != nil || res == nil || (*res)["text/plain"] != "true" {
		t.Errorf("!ok: %v %v", res, err)
	}
}

// Shift-Tab on a field reached through module lookups (At, Module) shows
// its type and doc, as on a plain dotted name.
func TestInspectThroughLookups(t *testing.T) {
	e := New()
	defer display.SetHook(nil)
	if _, _, _, err := run(t, e, `model := nnscope.LanguageModel("../../testdata/gpt2-tiny")`); err != nil {
		t.Fatal(err)
	}
	for _, code := range []string{
		"model.Transformer.H.At(0).MLP",
		"x := model.Transformer.H.At(-1).MLP",
		`model.Module("transformer.h.0").Output`,
	} {
		b, ok := e.Inspect(code, len(code), 0)
		if !ok {
			t.Errorf("%s: not found", code)
			continue
		}
		if text, _ := b["text/plain"].(string); !strings.Contains(text, "nnscope.") {
			t.Errorf("%s: %q", code, text)
		}
	}
	// Other calls are not evaluated.
	if _, _, _, err := run(t, e, "calls := 0\nfunc sideEffect() *nnscope.Model { calls++; return model }"); err != nil {
		t.Fatal(err)
	}
	code := "sideEffect().Transformer"
	if _, ok := e.Inspect(code, len(code), 0); ok {
		t.Errorf("%s: found", code)
	}
	if _, _, out, err := run(t, e, "fmt.Println(calls)"); err != nil || out != "0\n" {
		t.Errorf("calls = %q, %v", out, err)
	}
	// Nor is a script type's own At or Module, however it is named.
	if _, _, _, err := run(t, e, "type grid struct{ Row *nnscope.Model }\nfunc (g grid) At(i int) grid { calls++; return g }\nfunc (g grid) Module(p string) grid { calls++; return g }\ng := grid{model}"); err != nil {
		t.Fatal(err)
	}
	for _, code := range []string{"g.At(1).Row", `g.Module("x").Row`, "g.At(0).At(1)"} {
		e.Inspect(code, len(code), 0)
	}
	if _, _, out, err := run(t, e, "fmt.Println(calls)"); err != nil || out != "0\n" {
		t.Errorf("Shift-Tab ran a script's At or Module: calls = %q, %v", out, err)
	}
}

// Shift-Tab inside a call's arguments shows the function called, as in
// IPython (`np.sum(` Shift-Tab): it found nothing after the parenthesis.
func TestInspectInsideCall(t *testing.T) {
	e := New()
	defer display.SetHook(nil)
	if _, _, _, err := run(t, e, "model := nnscope.LanguageModel(\"../../testdata/gpt2-tiny\")\nx := nnscope.Zeros(2, 3)"); err != nil {
		t.Fatal(err)
	}
	for code, want := range map[string]string{
		"x.Softmax(":                              "func (x *Tensor) Softmax",
		`model.Trace("Hello", `:                   "func (m *Model) Trace",
		`y := x.Slice(":, (1", `:                  "func (x *Tensor) Slice",
		"nnscope.Heatmap(x, nil, ":                "func Heatmap(",
		"model.Generate(\"a\", nnscope.Seed(1), ": "func (m *Model) Generate",
		"nnscope.MaxNewTokens(nnscope.Arange(":    "func Arange(",
	} {
		b, ok := e.Inspect(code, len(code), 0)
		if !ok {
			t.Errorf("%q: not found", code)
			continue
		}
		if text, _ := b["text/plain"].(string); !strings.Contains(text, want) {
			t.Errorf("%q: %q, want %q", code, text, want)
		}
	}
	// Not in a call: nothing (a parenthesized expression, a func literal's body).
	for _, code := range []string{"y := (1 + ", "model.Trace(\"a\", func(tr *nnscope.Tracer) {\n\t"} {
		if b, ok := e.Inspect(code, len(code), 0); ok {
			t.Errorf("%q: found %q", code, b["text/plain"])
		}
	}
}
