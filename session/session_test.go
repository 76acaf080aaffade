package session

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"nnscope/internal/reference"
)

// A trace body stuck in a loop is stopped by cancelling the evaluation, and
// the session (and the model) work afterwards.
func TestInterruptInsideTraceBody(t *testing.T) {
	var out, errb bytes.Buffer
	s := New(Options{Stdout: &out, Stderr: &errb})
	ctx := context.Background()
	for _, src := range []string{
		`import "nnscope"`,
		`m := nnscope.LanguageModel("` + reference.Dir() + `")`,
		`n := 0`,
	} {
		if _, err := s.Eval(ctx, src); err != nil {
			t.Fatalf("%s: %v", src, err)
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := s.Eval(cctx, `m.Trace("Hello", func(tr *nnscope.Tracer) { m.Transformer.H.At(0).Output(); for { n++ } })`)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Log("interrupted evaluation returned no error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the evaluation did not stop after its context was cancelled")
	}
	res, err := s.Eval(ctx, `var shape []int; m.Trace("Hello there", func(tr *nnscope.Tracer) { shape = m.LMHead.Output().Shape() }); shape`)
	if err != nil || !strings.Contains(res.Value.String(), "") {
		t.Fatalf("session after interrupt: %v", err)
	}
	if got := res.Value.Interface().([]int); len(got) != 3 || got[1] != 2 {
		t.Fatalf("shape %v", got)
	}
}

// An error inside a backward block inside a trace body is reported once,
// at its line: not as "panic: FILE:LINE: ..." of the enclosing body.
func TestNestedBodyErrorPositionedOnce(t *testing.T) {
	var out bytes.Buffer
	s := New(Options{Stdout: &out, Stderr: &out})
	src := "package main\n\nimport \"nnscope\"\n\nfunc main() {\n" +
		"\tm := nnscope.LanguageModel(\"" + reference.Dir() + "\")\n" +
		"\tm.Trace(\"Hello there\", func(tr *nnscope.Tracer) {\n" +
		"\t\th0 := m.Transformer.H.At(0).Output()\n" +
		"\t\th1 := m.Transformer.H.At(1).Output()\n" +
		"\t\tm.Output().Sum().Backward(func() {\n" +
		"\t\t\th0.Grad()\n" +
		"\t\t\th1.Grad()\n" +
		"\t\t})\n" +
		"\t})\n}\n"
	err := s.in.RunSource(context.Background(), "nested.go", src, nil)
	if err == nil {
		t.Fatal("no error")
	}
	msg := tidy(err).Error()
	if !strings.HasPrefix(msg, "nested.go:12:4: gradient of transformer.h.1.output was requested out of order") || strings.Contains(msg, "panic") {
		t.Fatalf("error %q", msg)
	}
}
