package repl

import (
	"strings"
	"testing"
)

// A helper defined again in the REPL is what earlier functions call from
// then on (h calls g calls f); a new signature that a caller does not fit
// is an error naming the caller and its line, and the session goes on.
func TestRedefinedFunctionReachesCallers(t *testing.T) {
	input := strings.Join([]string{
		"func f() int { return 1 }",
		"func g() int {",
		"\treturn f() * 10",
		"}",
		"func h() int { return g() + 1 }",
		`fmt.Println("before", g(), h())`,
		"func f() int { return 2 }",
		`fmt.Println("after", g(), h())`,
		"func f(n int) int { return n }",
		`fmt.Println("still", g(), h(), f(7))`,
		"",
	}, "\n")
	out, errs, _, _ := runPiped(t, input)
	for _, want := range []string{"before 10 11\n", "after 20 21\n", "still 20 21 7\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout %q lacks %q", out, want)
		}
	}
	if !strings.Contains(errs, "error: earlier input:2:11: g, which calls f, does not compile with the new f: not enough arguments in call to f (have (), want (int)) (at: return f() * 10). The new f is defined, but g, h still use the previous one: change g and run it again\n") {
		t.Errorf("stderr %q", errs)
	}
}
