package interp

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// Runtime panics read like compiled Go's, not like yaegi's reflect calls.
func TestPanicMessagesLikeGo(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{"var xs []int\n\t_ = xs[3]", "script.go:6:2: panic: runtime error: index out of range"},
		{"var xs [2]int\n\ti := 5\n\t_ = xs[i]", "script.go:7:2: panic: runtime error: index out of range"},
		{"xs := []int{1}\n\ti := 5\n\t_ = xs[:i]", "script.go:7:2: panic: runtime error: slice bounds out of range"},
		{"var p *P\n\t_ = p.X", "script.go:6:2: panic: runtime error: invalid memory address or nil pointer dereference"},
		{"var v any = 1\n\t_ = v.(string)", "script.go:6:2: panic: interface conversion: interface {} is int, not string"},
	} {
		_, err := runSrc(t, "package main\n\ntype P struct{ X int }\nfunc main() {\n\t"+c.body+"\n}\n")
		if err == nil || err.Error() != c.want {
			t.Errorf("%s:\n got %v\nwant %s", c.body, err, c.want)
		}
	}
}

// Code yaegi's compiler crashes on gets the type checker's message at the
// user's position (indexing a struct pointer: nnsight's h[0] habit).
func TestCompilerCrashReportsTypeError(t *testing.T) {
	src := "package main\n\ntype L struct{ n int }\n\nfunc main() {\n\tl := &L{}\n\t_ = l[0]\n}\n"
	_, err := runSrc(t, src)
	if err == nil || !strings.HasPrefix(err.Error(), "script.go:7:6: ") || !strings.Contains(err.Error(), "cannot index l") {
		t.Fatalf("run: %v", err)
	}
	in, _ := newTest(t)
	eval(t, in, "type L struct{ n int }")
	eval(t, in, "l := &L{}")
	_, err = in.Eval(context.Background(), "x := l[0]")
	if err == nil || !strings.Contains(err.Error(), "1:6: cannot index l") {
		t.Fatalf("eval: %v", err)
	}
}

// A misspelled field or method gets the type checker's message, which
// names the type and the right spelling.
func TestMisspelledSelector(t *testing.T) {
	src := "package main\n\ntype B struct{ MLP int }\n\nfunc (b *B) Output() int { return b.MLP }\n\nfunc main() {\n\tb := &B{}\n\t_ = b.Mlp\n\t_ = b.output()\n}\n"
	_, err := runSrc(t, src)
	if err == nil || !strings.Contains(err.Error(), "script.go:9:8: b.Mlp undefined (type *B has no field or method Mlp, but does have field MLP)") {
		t.Fatalf("run: %v", err)
	}
	in, _ := newTest(t)
	eval(t, in, "type B struct{ MLP int }")
	eval(t, in, "func (b *B) Output() int { return b.MLP }")
	eval(t, in, "b := &B{}")
	_, err = in.Eval(context.Background(), "b.output()")
	// (REPL globals' types come from reflect: no methods to suggest)
	if err == nil || !strings.Contains(err.Error(), "1:3: b.output undefined") {
		t.Fatalf("eval: %v", err)
	}
}

// A for clause with an empty condition or post statement: its semicolons
// were taken for statement separators in the REPL and notebooks, and
// `for i := 0; ; i++ {` failed to parse.
func TestEvalForClauseSemicolons(t *testing.T) {
	in, _ := newTest(t)
	eval(t, in, "n := 0")
	eval(t, in, "for i := 0; ; i++ { if i == 3 { break }; n += i }")
	eval(t, in, "for ; n < 10; { n++ }")
	eval(t, in, "for i := 0; i < 2; { i++; n += i }; m := n * 2")
	if r := eval(t, in, "m"); !r.HasValue || r.Value.Interface() != 26 {
		t.Fatalf("m = %v, want 26", r.Value)
	}
}

// Importing a package scripts cannot use names it and lists those they
// can, instead of yaegi's advice to set GOPATH.
func TestImportNotAvailable(t *testing.T) {
	_, err := runSrc(t, "package main\n\nimport \"os/exec\"\n\nfunc main() { _ = exec.Command }\n")
	if err == nil || !strings.Contains(err.Error(), `script.go:3:8: import "os/exec": not available to nnscope scripts (they can import bufio,`) ||
		strings.Contains(err.Error(), "GOPATH") || !strings.Contains(err.Error(), " nnscope,") {
		t.Fatalf("%v", err)
	}
}

// Functions with unnamed parameters run (yaegi put their arguments in the
// wrong frame slot: "reflect.Set: value of type int is not assignable to
// type func()"), in files and in session input.
func TestUnnamedParameters(t *testing.T) {
	out, err := runSrc(t, "package main\n\nimport \"fmt\"\n\ntype T struct{}\n\nfunc (T) M(int, string) string { return \"m\" }\n\nfunc g(int) int { return 7 }\n\nfunc main() {\n\tf := func(int, ...string) { fmt.Println(\"f\") }\n\tf(1, \"a\")\n\tfmt.Println(g(2), T{}.M(1, \"x\"))\n}\n")
	if err != nil || out != "f\n7 m\n" {
		t.Fatalf("run: %q %v", out, err)
	}
	in, _ := newTest(t)
	eval(t, in, "h := func(float64) int { return 3 }")
	if res, err := in.Eval(context.Background(), "h(1.5)"); err != nil || fmt.Sprint(res.Value) != "3" {
		t.Fatalf("eval: %v %v", res.Value, err)
	}
}

// Input that ends inside a block names the bracket left open (it read
// "expected '(', found _", without a position).
func TestUnclosedInput(t *testing.T) {
	in, _ := newTest(t)
	_, err := in.Eval(context.Background(), "func f() int {\n\treturn 4\n")
	var e *Error
	if err == nil || !asError(err, &e) || e.Pos.Line != 1 || e.Pos.Column != 14 || !strings.Contains(e.Msg, `missing "}"`) {
		t.Fatalf("got %v", err)
	}
}

// A missing method on a variable of an earlier input is reported at the
// call, not at the variable's declaration in that input.
func TestMissingMethodOnEarlierVariable(t *testing.T) {
	in, _ := newTest(t)
	eval(t, in, `import "strings"`)
	eval(t, in, "var h *strings.Builder")
	_, err := in.Eval(context.Background(), "z := h.Foo()")
	var e *Error
	if err == nil || !asError(err, &e) || e.Pos.Filename == "earlier input" || e.Pos.Line != 1 || e.Pos.Column != 8 || !strings.Contains(e.Msg, "has no field or method Foo") {
		t.Fatalf("got %v (%+v)", err, e)
	}
}

// yaegi keeps a session type's first definition: a different one is an
// error that says so (it was taken silently, and P{B: 2} then failed with
// "unknown field B"). The same definition again (a cell run again) is fine.
func TestTypeRedefinition(t *testing.T) {
	in, _ := newTest(t)
	eval(t, in, "type P struct{ A int }")
	eval(t, in, "type P  struct{ A int }")
	_, err := in.Eval(context.Background(), "x := 1\ntype P struct{ A, B int }")
	var e *Error
	if err == nil || !asError(err, &e) || e.Pos.Line != 2 || !strings.Contains(e.Msg, "cannot change a type's definition") {
		t.Fatalf("got %v", err)
	}
	if r := eval(t, in, "P{A: 3}.A"); r.Value.Interface() != 3 {
		t.Fatal(r.Value)
	}
}

// A comparison or negation returned as, or declared into, an interface
// works (yaegi v0.16.1 panicked: "reflect: call of reflect.Value.SetBool on
// interface Value"), in functions, closures and session inputs.
func TestBoolIntoInterface(t *testing.T) {
	src := `package main

import (
	"errors"
	"fmt"
)

type B bool

func eq(a, b int) any      { return a == b }
func not(ok bool) any      { return !ok }
func notB(x B) any         { return !x }
func pair(a int) (any, error) { return a > 0, nil }
func isNil(e error) any    { return e == nil }

func main() {
	a := 1
	f := func() any { return a != 1 }
	var v any = a < 2
	var w any = !(a > 0)
	p, _ := pair(-1)
	fmt.Println(eq(1, 1), not(true), notB(false), p, isNil(errors.New("x")), f(), v, w)
}
`
	out, err := runSrc(t, src)
	if err != nil || out != "true false true false false false true false\n" {
		t.Fatalf("got %q, %v", out, err)
	}
	in, _ := newTest(t)
	eval(t, in, "a := 1")
	eval(t, in, "g := func() any { return a == a }")
	if r := eval(t, in, "g()"); fmt.Sprint(r.Value) != "true" {
		t.Errorf("session: g() = %v", r.Value)
	}
}
