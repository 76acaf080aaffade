package interp

import (
	"context"
	"testing"
)

// Type switches and assertions to interfaces on yaegi v0.16.1 (see
// rewriter.typeSwitch and rewriter.assertions); want is what the compiled
// program prints.
const typeSwitchSrc = `package main

import (
	"errors"
	"fmt"
	"io"
	"os"
)

type Shape interface{ Area() float64 }
type Sq struct{ s float64 }

func (q Sq) Area() float64 { return q.s * q.s }

type Circ struct{ r float64 }

func (c *Circ) Area() float64 { return 3 * c.r * c.r }

type MyErr struct{ Code int }

func (e *MyErr) Error() string { return fmt.Sprintf("code %d", e.Code) }

func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "nil"
	case *MyErr:
		return fmt.Sprint("myerr ", x.Code)
	case error:
		return "error " + x.Error()
	case Shape:
		return fmt.Sprintf("shape %.1f", x.Area())
	case int, int64:
		return "integer"
	case io.Writer:
		return "writer"
	default:
		return "other"
	}
}

func kind(v any) string {
	switch v.(type) {
	case fmt.Stringer:
		return "stringer"
	case error:
		return "error"
	}
	return "other"
}

func area(v any) float64 { return v.(Shape).Area() }

func main() {
	vals := []any{nil, &MyErr{7}, errors.New("plain"), Sq{2}, &Circ{1}, Circ{1}, 3, int64(4), os.Stdout, "str"}
	for i, v := range vals {
		fmt.Println(i, describe(v), kind(v))
	}
	fmt.Println(describe(Sq{3}), describe(&MyErr{1}))
	var e error = &MyErr{9}
	switch t := e.(type) {
	case *MyErr:
		fmt.Println("concrete", t.Code)
	}
	var v any = Sq{2}
	s, ok := v.(Shape)
	fmt.Println(ok, s.Area(), area(Sq{3}), area(v))
	_, ok = any(Circ{1}).(Shape)
	fmt.Println(ok)
	func() {
		defer func() { fmt.Println(recover()) }()
		area(3) // a host value: yaegi's message was "nil is not main.Shape"
	}()
	defer func() { fmt.Println(recover()) }()
	area(Circ{1})
}
`

const typeSwitchWant = `0 nil other
1 myerr 7 error
2 error plain error
3 shape 4.0 other
4 shape 3.0 other
5 other other
6 integer other
7 integer other
8 writer other
9 other other
shape 9.0 myerr 1
concrete 9
true 4 9 4
false
interface conversion: int is not main.Shape: missing method Area
interface conversion: main.Circ is not main.Shape: missing method Area
`

func TestTypeSwitchInterfaceCases(t *testing.T) {
	out, err := runSrc(t, typeSwitchSrc)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if out != typeSwitchWant {
		t.Fatalf("got\n%s\nwant\n%s", out, typeSwitchWant)
	}
}

func TestTypeSwitchSession(t *testing.T) {
	in, out := newTest(t)
	eval(t, in, `import "fmt"`)
	eval(t, in, "type Shape interface{ Area() float64 }\ntype Sq struct{ s float64 }\nfunc (q Sq) Area() float64 { return q.s * q.s }")
	eval(t, in, "var v any = Sq{2}")
	eval(t, in, `func desc(v any) { switch x := v.(type) {
case error:
	fmt.Println("error", x)
case Shape:
	fmt.Println("shape", x.Area())
} }`)
	eval(t, in, "desc(v)")
	eval(t, in, "s, ok := v.(Shape)\nfmt.Println(ok, s.Area())")
	if _, err := in.Eval(context.Background(), "fmt.Println(v.(fmt.Stringer))"); err == nil {
		t.Fatal("no panic")
	}
	if got, want := out.String(), "shape 4\ntrue 4\n"; len(got) < len(want) || got[:len(want)] != want {
		t.Fatalf("got %q", got)
	}
}

// Nested assertions, one to an interface a script type implements and one
// to an interface none does, nest their rewrites in the right order (they
// came out reversed: "too many arguments").
func TestNestedInterfaceAssertions(t *testing.T) {
	out, err := runSrc(t, `package main

import (
	"fmt"
	"io"
	"os"
)

type S struct{}

func (S) String() string { return "s" }

func main() {
	var v any = os.Stdout
	_, ok := v.(io.Writer).(fmt.Stringer)
	var w any = S{}
	s, ok2 := w.(fmt.Stringer)
	fmt.Println(ok, ok2, s.String())
}
`)
	if err != nil {
		t.Fatal(err)
	}
	if out != "false true s\n" {
		t.Fatalf("got %q", out)
	}
}
