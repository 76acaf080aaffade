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
