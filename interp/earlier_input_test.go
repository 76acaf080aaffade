package interp

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// A panic in a function declared by an earlier input is reported at that
// input's line, labelled as such: not as a line:col of the current input
// (a notebook then pointed its arrow at the wrong line of the wrong cell).
func TestErrorInEarlierInput(t *testing.T) {
	in, _ := newTest(t)
	eval(t, in, "func g(s []int) int {\n\t// comment\n\treturn s[5]\n}")
	_, err := in.Eval(context.Background(), "a := 1\nb := 2\ng([]int{a, b})")
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindPanic {
		t.Fatalf("got %v", err)
	}
	if e.Pos.Filename != "earlier input" || e.Pos.Line != 3 || !strings.Contains(e.Msg, "(at: return s[5])") {
		t.Errorf("got %q (pos %+v)", err, e.Pos)
	}
	// A panic in the current input keeps its plain position.
	_, err = in.Eval(context.Background(), "x := []int{}\nx[2] = 1")
	if !errors.As(err, &e) || e.Pos.Filename != "" || e.Pos.Line != 2 {
		t.Errorf("current input: got %q (pos %+v)", err, e.Pos)
	}
	// Input evaluated as a file (the REPL's :load) keeps the file's name.
	if _, err := in.EvalAs(context.Background(), "lib.go", "func h(s []int) int {\n\treturn s[7]\n}"); err != nil {
		t.Fatal(err)
	}
	_, err = in.Eval(context.Background(), "h(nil)")
	if !errors.As(err, &e) || e.Pos.Filename != "lib.go" || e.Pos.Line != 2 {
		t.Errorf("loaded file: got %q (pos %+v)", err, e.Pos)
	}
}

// A file that would run nothing is an error, not a silent success.
func TestRunFileWithoutMain(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{"package main\n\nimport \"fmt\"\n\nfunc helper() { fmt.Println(1) }\n", "script.go: function main is undeclared"},
		{"package foo\n\nfunc main() {}\n", "script.go:1:9: package foo: a script must be package main"},
		{"package main\n\nfunc main(x int) {}\n", "script.go:3:6: func main must have no arguments"},
		{"package main\n\nfunc main() int { return 1 }\n", "script.go:3:6: func main must have no arguments"},
	} {
		out, err := runSrc(t, c.src)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q: got %v (output %q), want %q", c.src, err, out, c.want)
		}
	}
	// A method named main does not count, a func main does.
	if _, err := runSrc(t, "package main\n\ntype T struct{}\n\nfunc (T) main() {}\n\nfunc main() {}\n"); err != nil {
		t.Errorf("valid script: %v", err)
	}
}
