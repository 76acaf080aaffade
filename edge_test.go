package nnscope

import (
	"fmt"
	"strings"
	"testing"
)

func TestEdgeInputs(t *testing.T) {
	m, _ := tiny(t)
	cases := []struct {
		name string
		fn   func()
		want string
	}{
		{"empty prompt", func() { m.Trace("", func(tr *Tracer) {}) }, "empty"},
		{"too long", func() { m.Trace(strings.Repeat(" a", 70), func(tr *Tracer) {}) }, "n_positions"},
		{"bad token id", func() { m.Trace([]int{1, 99999}, func(tr *Tracer) {}) }, "99999"},
		{"fractional id in a tensor", func() { m.Trace(NewTensor([]float64{464, 1.5}, 1, 2), func(tr *Tracer) {}) }, "whole numbers, got 1.5"},
		{"generate too long", func() { m.Generate(strings.Repeat(" a", 60), MaxNewTokens(10)) }, "n_positions"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := expectError(t, c.fn)
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %q", err, c.want)
			}
		})
	}
}

// TestGenerateUpToNPositions: the last new token is never fed back, so a
// prompt of P tokens takes n_positions - P + 1 new ones (Hugging Face's
// limit too); one more is an error naming the limit.
func TestGenerateUpToNPositions(t *testing.T) {
	m, _ := tiny(t)
	n := m.Config().NPositions
	prompt := m.Encode(strings.Repeat(" a", 60))
	g := m.Generate(prompt, MaxNewTokens(n-len(prompt)+1), IgnoreEOS())
	if got := len(g.Tokens()); got != n+1 {
		t.Errorf("generated to %d ids, want %d (n_positions + 1)", got, n+1)
	}
	err := expectError(t, func() { m.Generate(prompt, MaxNewTokens(n-len(prompt)+2)) })
	if want := fmt.Sprintf("needs %d positions", n+1); !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), fmt.Sprint("n_positions ", n)) {
		t.Errorf("error %q does not say %q and name n_positions %d", err, want, n)
	}
}
