package nneval

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"nnscope/display"
)

// A trace body declared in an earlier cell that fails is reported at that
// cell's line, without an arrow on a line of the current cell.
func TestErrorInEarlierCell(t *testing.T) {
	e := New()
	defer display.SetHook(nil)
	root, _ := filepath.Abs("../../testdata/gpt2-tiny")
	if _, _, _, err := run(t, e, "model := nnscope.LanguageModel(\""+root+"\")\nfunc patch(tr *nnscope.Tracer) {\n\to := model.Transformer.H.At(0).Output()\n\to.Slice(\":, 7\").Fill(0)\n}"); err != nil {
		t.Fatal(err)
	}
	_, _, _, err := run(t, e, "x := 1\ny := 2\nz := 3\nmodel.Trace(\"Hello\", patch)")
	var ce *Error
	if !errors.As(err, &ce) || ce.Name() != "RuntimeError" {
		t.Fatalf("error: %#v", err)
	}
	if !strings.HasPrefix(err.Error(), "earlier input:4:2: Slice") || !strings.Contains(err.Error(), `(at: o.Slice(":, 7").Fill(0))`) {
		t.Errorf("message: %q", err)
	}
	if tb := ce.Traceback(); len(tb) != 1 {
		t.Errorf("traceback shows a line of the current cell: %q", tb)
	}
}
