package interp

import (
	"context"
	"strings"
	"testing"
)

// Custom error types of the script with errors.As, errors.Is, %w and type
// switches, the way Go programs use them (pointer receivers). yaegi's
// errors.As panicked ("*target must be interface or implement error"),
// %w printed %!w(*struct {...}), errors.Is compared uncomparable wrappers,
// and its type switch did not match *MyErr in an error. want is what the
// compiled program prints.
func TestScriptErrorTypes(t *testing.T) {
	out, err := runSrc(t, `package main

import (
	"errors"
	"fmt"
)

type MyErr struct{ Code int }

func (e *MyErr) Error() string { return fmt.Sprint("my ", e.Code) }

var ErrSentinel = errors.New("sentinel")

func find(n int) error {
	switch n {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("ctx: %w", &MyErr{42})
	case 2:
		return fmt.Errorf("outer: %w", fmt.Errorf("inner: %w", ErrSentinel))
	}
	return errors.New("plain")
}

func kind(err error) string {
	switch e := err.(type) {
	case nil:
		return "nil"
	case *MyErr:
		return fmt.Sprint("MyErr ", e.Code)
	default:
		return "other " + e.Error()
	}
}

func main() {
	for i := 0; i < 4; i++ {
		err := find(i)
		var me *MyErr
		fmt.Println(i, err, errors.As(err, &me), me != nil && me.Code == 42, errors.Is(err, ErrSentinel), kind(err), kind(errors.Unwrap(err)))
	}
	base := &MyErr{1}
	w := fmt.Errorf("wrap: %w", base)
	fmt.Println(w, errors.Is(w, base), errors.Is(w, &MyErr{1}), errors.Unwrap(w).Error())
	fmt.Println(fmt.Errorf("code %d: %w", 7, &MyErr{7}))
}
`)
	if err != nil {
		t.Fatal(err)
	}
	const want = `0 <nil> false false false nil nil
1 ctx: my 42 true true false other ctx: my 42 MyErr 42
2 outer: inner: sentinel false false true other outer: inner: sentinel other inner: sentinel
3 plain false false false other plain nil
wrap: my 1 true false my 1
code 7: my 7
`
	if out != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
}

// yaegi cannot hold a struct value in an error variable: the panic says
// what to write instead.
func TestStructValueErrorHint(t *testing.T) {
	_, err := runSrc(t, `package main

import "fmt"

type VE struct{ s string }

func (e VE) Error() string { return e.s }

func main() {
	var e error = VE{"v"}
	fmt.Println(e != nil)
}
`)
	if err == nil || !strings.Contains(err.Error(), "func (e *T) Error() string") {
		t.Fatalf("got %v", err)
	}
}

// TestInputEndsEarlyOrClosesTooMuch: an input that ends in the middle of
// an expression, or closes a bracket it never opened, gets an error with
// the input's position, not one about the session's wrapper ("expected
// operand, found '}'" and "expected declaration, found '}'" without a
// position: the '}' was the wrapper's, not the user's).
func TestInputEndsEarlyOrClosesTooMuch(t *testing.T) {
	in, _ := newTest(t)
	for _, c := range []struct{ src, want string }{
		{"1 +", "1:4: expected operand, found the end of the input"},
		{"x := 2 *\n\n", "1:9: expected operand, found the end of the input"},
		{"}", `1:1: unexpected '}': there is no "{" open for it to close`},
		{"x := 1\n}", `2:1: unexpected '}': there is no "{" open for it to close`},
		{"fmt.Println(1))", `1:15: unexpected ')': there is no "(" open for it to close`},
	} {
		_, err := in.Eval(context.Background(), c.src)
		if err == nil || err.Error() != c.want {
			t.Errorf("Eval(%q): %v, want %s", c.src, err, c.want)
		}
	}
	if r := eval(t, in, "1 + 2"); r.Value.Interface() != 3 {
		t.Fatalf("after the errors: %v", r.Value)
	}
}
