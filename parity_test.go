package nnscope

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"nnscope/display"
)

// Regressions found by checking nnsight's features one by one.

// tr.Stop() inside a generation ends it early; the Generation still holds
// the prompt and the tokens produced before the stop (it used to be empty,
// and NewTokens panicked with an index out of range).
func TestGenerateStopKeepsTokens(t *testing.T) {
	m, _ := tiny(t)
	full := m.Generate("Hello world", MaxNewTokens(5), IgnoreEOS())
	g := m.Generate("Hello world", MaxNewTokens(5), IgnoreEOS(), func(tr *Tracer) {
		tr.Iter(func(step int) {
			if step == 2 {
				tr.Stop()
			}
		})
	})
	if got, want := fmt.Sprint(g.NewTokens()), fmt.Sprint(full.NewTokens()[:2]); got != want {
		t.Fatalf("stopped at step 2: new tokens %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(g.Tokens()[:2]), fmt.Sprint(m.Encode("Hello world")); got != want {
		t.Errorf("prompt %s, want %s", got, want)
	}
	_ = g.Text()
}

// Gradients inside a generation: the error says generation runs without
// gradients instead of suggesting RequiresGrad(), which cannot help there.
func TestGradInGenerationError(t *testing.T) {
	m, _ := tiny(t)
	err := expectError(t, func() {
		m.Generate("Hello", MaxNewTokens(1), func(tr *Tracer) {
			h := m.Transformer.H.At(0).Output()
			m.Output().Sum().Backward(func() { h.Grad() })
		})
	})
	if !strings.Contains(err.Error(), "runs without gradients") || !strings.Contains(err.Error(), "model.Trace") {
		t.Errorf("error %q", err)
	}
}

// In a notebook a long generation shows a progress bar by itself, but only
// once it has run a while: a loop of quick generations used to fill the
// cell with one bar per generation.
func TestAutoProgressOnlyWhenSlow(t *testing.T) {
	m, _ := tiny(t)
	bars := 0
	old := display.SetHook(func(o display.Output) {
		if !o.Update && strings.Contains(string(o.Data["text/plain"]), "generating") {
			bars++
		}
	})
	defer display.SetHook(old)
	defer func(d time.Duration) { autoProgressAfter = d }(autoProgressAfter)
	autoProgressAfter = time.Hour
	for range 3 {
		m.Generate("Hello", MaxNewTokens(40), IgnoreEOS())
	}
	if bars != 0 {
		t.Fatalf("%d bars for quick generations", bars)
	}
	autoProgressAfter = 0
	m.Generate("Hello", MaxNewTokens(40), IgnoreEOS())
	if bars != 1 {
		t.Fatalf("%d bars for a slow generation, want 1", bars)
	}
	autoProgressAfter = time.Hour
	m.Generate("Hello", MaxNewTokens(2), ShowProgress())
	if bars != 2 {
		t.Fatalf("ShowProgress: %d bars, want 2", bars)
	}
}

// Module access after tr.Iter has returned (the generation is over) says
// so, instead of reporting the module as requested out of order.
func TestModuleAfterIter(t *testing.T) {
	m, _ := tiny(t)
	err := expectError(t, func() {
		m.Generate("Hello", MaxNewTokens(2), func(tr *Tracer) {
			tr.Iter(func(step int) {})
			m.Transformer.H.At(0).Output()
		})
	})
	if !strings.Contains(err.Error(), "transformer.h.0.Output() after tr.Iter returned") {
		t.Errorf("error %q", err)
	}
}
