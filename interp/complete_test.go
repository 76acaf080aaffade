package interp

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

func TestIsComplete(t *testing.T) {
	for src, want := range map[string]bool{
		"x := 1":                      true,
		"func f() {":                  false,
		"for i := 0; i < 3; i++ {\n":  false,
		"x := 1 +":                    false,
		"s := `abc":                   false,
		"fmt.Println(1,":              false,
		"func f() {}\n":               true,
		"x := )":                      true, // syntax error: let Eval report it
		"type T struct {\n\tA int\n}": true,
		"}":                           true, // a stray closer: more lines cannot complete it
		"x := f(1))":                  true,
	} {
		if got, _ := IsComplete(src); got != want {
			t.Errorf("IsComplete(%q) = %v", src, got)
		}
	}
	if _, ind := IsComplete("func f() {\n\tif x {"); ind != "\t\t" {
		t.Errorf("indent %q", ind)
	}
	// Brackets opened on one line indent once, as gofmt does.
	if _, ind := IsComplete("model.Trace(\"hi\", func(tr *nnscope.Tracer) {"); ind != "\t" {
		t.Errorf("trace body indent %q, want one tab", ind)
	}
}

func TestComplete(t *testing.T) {
	in, _ := newTest(t)
	eval(t, in, `import "strings"`)
	eval(t, in, `import "time"`)
	eval(t, in, "type P struct { Name string; Age int }\nperson := &P{Name: \"a\"}\nd := time.Second")
	for _, c := range []struct {
		src  string
		want string
	}{
		{"strings.ToU", "ToUpper"},
		{"per", "person"},
		{"person.Na", "Name"},
		{"x := d.Sec", "Seconds"},
		{"fo", "for"},
		{"str", "strings"},
	} {
		got := in.Complete(c.src, len(c.src))
		if !slices.Contains(got, c.want) {
			t.Errorf("Complete(%q) = %v, want %s", c.src, got, c.want)
		}
	}
}

func TestRunFileCancel(t *testing.T) {
	in, _ := newTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := in.RunSource(ctx, "loop.go", "package main\nfunc main() { for {} }\n", nil)
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindRuntime {
		t.Fatalf("err %v", err)
	}
}

// Completion after calls and on names local to a body: a trace body's
// parameter (tr *nnscope.Tracer) and values assigned from chains of
// fields and method calls, resolved from types without running code.
func TestCompleteChainsAndLocals(t *testing.T) {
	in, _ := newTest(t)
	eval(t, in, `import "strings"`)
	eval(t, in, `import "regexp"`)
	eval(t, in, "re := regexp.MustCompile(`a`)")
	for _, c := range []struct {
		src  string
		want string
	}{
		{"re.Copy().Copy().Match", "MatchString"},
		{"n := re.Copy().NumS", "NumSubexp"},
		{"q := re.Copy()\nq.Match", "MatchString"},
		{"f := func(r *strings.Reader) {\n\tr.Rea", "ReadRune"},
		{"var sb strings.Builder\nsb.Wri", "WriteString"},
		{"strings.NewReplacer(\"a\", \"b\").Repl", "Replace"},
		{"x := strings.NewReader(\"s\")\ny := x\ny.Si", "Size"},
	} {
		got := in.Complete(c.src, len(c.src))
		if !slices.Contains(got, c.want) {
			t.Errorf("Complete(%q) = %v, want %s", c.src, got, c.want)
		}
	}
	if got := in.Complete("undefinedThing().X", 18); len(got) != 0 {
		t.Errorf("unknown head: %v", got)
	}
}
