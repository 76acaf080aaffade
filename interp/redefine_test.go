package interp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// evalValue evaluates src and returns the value shown, as text.
func evalValue(t *testing.T, in *Interpreter, src string) string {
	t.Helper()
	r := eval(t, in, src)
	if !r.HasValue {
		t.Fatalf("Eval(%q): no value", src)
	}
	return fmt.Sprint(r.Value.Interface())
}

// A function defined again is what the functions of earlier inputs call
// from then on, also through other functions (yaegi bound them to the
// previous definition: g() gave 10, silently).
func TestRedefineFuncUpdatesCallers(t *testing.T) {
	in, _ := newTest(t)
	eval(t, in, `import "fmt"`)
	eval(t, in, "func f() int { return 1 }")
	eval(t, in, "func g() int { return f()*10 }")
	eval(t, in, "func h() string { return fmt.Sprint(\"h\", g()+1) }")
	eval(t, in, "func k() int {\n\tf := func() int { return 7 }\n\treturn f()\n}") // f shadowed: k does not use it
	eval(t, in, "old := g")                                                        // a function value keeps its code, as in Python
	if got := evalValue(t, in, "g()"); got != "10" {
		t.Fatalf("g() = %s", got)
	}
	eval(t, in, "func f() int { return 2 }")
	for src, want := range map[string]string{"g()": "20", "h()": "h21", "f()": "2", "k()": "7", "old()": "10"} {
		if got := evalValue(t, in, src); got != want {
			t.Errorf("%s = %s, want %s", src, got, want)
		}
	}
	// The same input's statements after the definition see it too.
	if got := evalValue(t, in, "func f() int { return 3 }\ng()"); got != "30" {
		t.Errorf("g() in the defining input = %s, want 30", got)
	}
	// Redefining g updates h, and leaves f alone.
	eval(t, in, "func g() int { return f()*100 }")
	if got := evalValue(t, in, "h()"); got != "h301" {
		t.Errorf("h() = %s, want h301", got)
	}
}

// Only the functions that use the redefined one, directly or not, are
// compiled again; the chunks handed to yaegi show which.
func TestRedefineFuncOnlyCallers(t *testing.T) {
	in, _ := newTest(t)
	eval(t, in, "func f() int { return 1 }")                              // input 1
	eval(t, in, "func g() int { return f()*10 }")                         // 2
	eval(t, in, "func u() int { return 5 }\nfunc v() int { return u() }") // 3
	eval(t, in, "func w(f int) int { return f+1 }")                       // 4: a parameter named f
	eval(t, in, "func h() int { return g()+1 }")                          // 5
	count := func() map[int]int {
		in.chunkMu.Lock()
		defer in.chunkMu.Unlock()
		n := map[int]int{}
		for _, c := range in.chunks {
			n[c.inputNo]++
		}
		return n
	}
	before := count()
	eval(t, in, "func f() int { return 2 }") // 6
	after := count()
	for no, want := range map[int]int{2: 1, 3: 0, 4: 0, 5: 1} {
		if got := after[no] - before[no]; got != want {
			t.Errorf("input %d evaluated again %d times, want %d", no, got, want)
		}
	}
	if got := evalValue(t, in, "h()"); got != "21" {
		t.Errorf("h() = %s", got)
	}
	// A function nothing uses: nothing is compiled again.
	before = count()
	eval(t, in, "func u2() int { return 3 }\nfunc v() int { return u2() }")
	after = count()
	for no := 1; no <= 6; no++ {
		if after[no] != before[no] {
			t.Errorf("input %d evaluated again", no)
		}
	}
}

// Recursive functions: a recursive caller, and functions calling each
// other of which one is defined again (compiled alone, the new f called
// the old g, which called the old f).
func TestRedefineFuncRecursion(t *testing.T) {
	in, _ := newTest(t)
	eval(t, in, "func f() int { return 1 }")
	eval(t, in, "func sum(n int) int {\n\tif n == 0 {\n\t\treturn 0\n\t}\n\treturn f() + sum(n-1)\n}")
	eval(t, in, "func f() int { return 2 }")
	if got := evalValue(t, in, "sum(3)"); got != "6" {
		t.Errorf("sum(3) = %s, want 6", got)
	}
	eval(t, in, "func even(n int) bool {\n\tif n == 0 {\n\t\treturn true\n\t}\n\treturn odd(n-1)\n}\nfunc odd(n int) bool {\n\tif n == 0 {\n\t\treturn false\n\t}\n\treturn even(n-1)\n}")
	eval(t, in, "calls := 0")
	eval(t, in, "func even(n int) bool {\n\tcalls++\n\tif n == 0 {\n\t\treturn true\n\t}\n\treturn odd(n-1)\n}")
	if got := evalValue(t, in, "odd(7)"); got != "true" {
		t.Errorf("odd(7) = %s", got)
	}
	if got := evalValue(t, in, "calls"); got != "4" {
		t.Errorf("the new even ran %s times, want 4 (odd calls it, it calls odd)", got)
	}
	if got := evalValue(t, in, "calls = 0\neven(6)\ncalls"); got != "4" {
		t.Errorf("calling even: %s calls, want 4", got)
	}
}

// A redefinition that a caller does not fit (a new signature) is an error
// naming the caller and where it is; the new function is defined, the
// callers keep the previous one until the caller is fixed.
func TestRedefineFuncSignatureChange(t *testing.T) {
	in, _ := newTest(t)
	eval(t, in, "func f() int { return 1 }")
	eval(t, in, "x := 1\nfunc g() int {\n\treturn f() * 10\n}")
	eval(t, in, "func h() int { return g() + 1 }")
	_, err := in.Eval(context.Background(), "func f(n int) int { return n }\nx = 2")
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindCompile {
		t.Fatalf("got %v", err)
	}
	if e.Pos.Filename != "earlier input" || e.Pos.Line != 3 || e.Pos.Column != 11 || e.Pos.Input != 2 {
		t.Errorf("position %+v", e.Pos)
	}
	for _, want := range []string{"g, which calls f, does not compile with the new f: not enough arguments in call to f", "(at: return f() * 10)", "g, h still use the previous one"} {
		if !strings.Contains(e.Msg, want) {
			t.Errorf("message %q lacks %q", e.Msg, want)
		}
	}
	// The session lives on: the new f is defined, g and h are the old ones.
	// The input's statements after the error did not run.
	for src, want := range map[string]string{"f(5)": "5", "g()": "10", "h()": "11", "x": "1"} {
		if got := evalValue(t, in, src); got != want {
			t.Errorf("%s = %s, want %s", src, got, want)
		}
	}
	// Fixing g updates h.
	eval(t, in, "func g() int { return f(4) * 10 }")
	if got := evalValue(t, in, "h()"); got != "41" {
		t.Errorf("h() = %s, want 41", got)
	}
}

// A panic in a function compiled again is reported at its own input's
// line, as before.
func TestRedefineFuncPanicPosition(t *testing.T) {
	in, _ := newTest(t)
	eval(t, in, "func f() int { return 1 }")
	eval(t, in, "y := 0\nfunc g(s []int) int {\n\tn := f()\n\treturn s[n]\n}")
	eval(t, in, "func f() int { return 3 }")
	_, err := in.Eval(context.Background(), "a := 1\ng([]int{a})")
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindPanic {
		t.Fatalf("got %v", err)
	}
	if e.Pos.Filename != "earlier input" || e.Pos.Line != 4 || !strings.Contains(e.Msg, "(at: return s[n])") {
		t.Errorf("got %q (pos %+v)", err, e.Pos)
	}
}

// yaegi keeps a method's first definition: a method calling a redefined
// function keeps the previous one, and a note says so.
func TestRedefineFuncMethodNote(t *testing.T) {
	in, out := newTest(t)
	eval(t, in, "type T struct{}")
	eval(t, in, "func f() int { return 1 }")
	eval(t, in, "func (T) M() int { return f() }\nfunc (*T) P() int { return 0 }")
	out.Reset()
	eval(t, in, "func f() int { return 2 }")
	if got := out.String(); got != "note: method T.M still calls the previous f: the interpreter cannot redefine a method (a new session, :reset in the REPL or a kernel restart, can)\n" {
		t.Errorf("stderr %q", got)
	}
	if got := evalValue(t, in, "T{}.M()"); got != "1" {
		t.Errorf("T{}.M() = %s", got)
	}
}
