package nnscope

import (
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
