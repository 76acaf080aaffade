package nneval

import (
	"testing"

	"nnscope/display"
)

// A notebook helper fixed and its cell run again is what the functions of
// later cells call (they kept calling the old one, silently).
func TestRedefinedHelperCell(t *testing.T) {
	e := New()
	defer display.SetHook(nil)
	for _, cell := range []string{
		"func scale() float64 { return 1 }",
		"func score(x float64) float64 { return x * scale() }",
		"func report() float64 { return score(3) }",
		"func scale() float64 { return 10 }", // the first cell, fixed and run again
	} {
		if _, _, _, err := run(t, e, cell); err != nil {
			t.Fatalf("%q: %v", cell, err)
		}
	}
	if res, _, _, err := run(t, e, "report()"); err != nil || (*res)["text/plain"] != "30" {
		t.Errorf("report() = %v, %v; want 30", res, err)
	}
}
