package interp

import "testing"

// Values of script types print through their String and Error methods, as
// in Go (yaegi handed fmt the bare value: {1 2} for a Point whose String
// gives (1,2)). want is what the compiled program prints.
func TestScriptStringers(t *testing.T) {
	out, err := runSrc(t, `package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
)

type P struct{ X, Y int }

func (p P) String() string { return "(" + strconv.Itoa(p.X) + "," + strconv.Itoa(p.Y) + ")" }

type C int

func (c C) String() string { return "color" + strconv.Itoa(int(c)) }

type E struct{ code int }

func (e *E) Error() string { return "E" + strconv.Itoa(e.code) }

type Q struct{ n int }

func (q *Q) String() string { return "Q" + strconv.Itoa(q.n) }

func main() {
	p := P{1, 2}
	var np *P
	var nq *Q
	fmt.Println(p, &p, C(2), np, nq, Q{3}, &Q{4})
	fmt.Printf("%v %s %d %q %x %+v %5.2f|%-8v|%%\n", C(3), C(3), C(3), C(3), C(3), p, 1.5, p)
	fmt.Println(&E{4}, "x")
	fmt.Print(p, p, "\n")
	s := fmt.Sprint(p, " ", p) + fmt.Sprintf("[%v]", &E{5})
	fmt.Fprintln(os.Stdout, s, fmt.Sprintln(C(1)))
	err := fmt.Errorf("wrapped: %v", &E{6})
	fmt.Println(err, errors.Unwrap(err) == nil)
	var e error = &E{7}
	fmt.Println(e)
}
`)
	if err != nil {
		t.Fatal(err)
	}
	const want = `(1,2) (1,2) color2 <nil> <nil> {3} Q4
color3 color3 3 "color3" 636f6c6f7233 (1,2)  1.50|(1,2)   |%
E4 x
(1,2) (1,2)
(1,2) (1,2)[E5] color1

wrapped: E6 true
E7
`
	if out != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
}

// In a session, a variable of a script type defined in an earlier input
// keeps that type for the inputs after it, and a value shown at the end
// of an input is shown through String.
func TestSessionStringers(t *testing.T) {
	in, out := newTest(t)
	eval(t, in, `import "fmt"`)
	eval(t, in, "type P struct{ X int }\nfunc (p P) String() string { return fmt.Sprint(\"P<\", p.X, \">\") }")
	eval(t, in, "p := P{3}")
	eval(t, in, "fmt.Println(p, []int{1})")
	if got := out.String(); got != "P<3> [1]\n" {
		t.Fatalf("got %q", got)
	}
	if r := eval(t, in, "p"); !r.HasValue || r.Value.Interface().(interface{ String() string }).String() != "P<3>" {
		t.Fatalf("shown %v", r.Value)
	}
	eval(t, in, "p := 5") // another type: the record goes
	if r := eval(t, in, "p + 1"); r.Value.Interface() != 6 {
		t.Fatalf("p + 1 = %v", r.Value)
	}
}

// Slices, arrays and maps of script values print their elements through
// String and Error, as in Go. want is what the compiled program prints.
func TestScriptStringersInContainers(t *testing.T) {
	out, err := runSrc(t, `package main

import (
	"fmt"
	"strconv"
)

type P struct{ X, Y int }

func (p P) String() string { return "(" + strconv.Itoa(p.X) + "," + strconv.Itoa(p.Y) + ")" }

type E struct{ c int }

func (e *E) Error() string { return "E" + strconv.Itoa(e.c) }

type Plain struct{ A int }

func main() {
	ps := []P{{1, 2}, {3, 4}}
	var nilps []P
	m := map[string]P{"b": {5, 6}, "a": {7, 8}}
	es := []*E{{1}, nil}
	grid := [][]P{{{0, 0}}, {{1, 1}, {2, 2}}}
	arr := [2]P{{9, 9}}
	fmt.Println(ps, nilps, m, es, grid, arr, []Plain{{1}}, []int{1})
	fmt.Printf("%v|%s|%d\n", ps, m, ps)
	fmt.Println(len(fmt.Sprint(ps)), fmt.Sprintf("%q", ps))
	var mp map[int]P
	fmt.Println(mp)
}
`)
	if err != nil {
		t.Fatal(err)
	}
	const want = `[(1,2) (3,4)] [] map[a:(7,8) b:(5,6)] [E1 <nil>] [[(0,0)] [(1,1) (2,2)]] [(9,9) (0,0)] [{1}] [1]
[(1,2) (3,4)]|map[a:(7,8) b:(5,6)]|[{1 2} {3 4}]
13 ["(1,2)" "(3,4)"]
map[]
`
	if out != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
}

// %T names a script type as Go does (yaegi printed its stand-in struct
// type) where the operand's static type is not an interface.
func TestPercentTOfScriptTypes(t *testing.T) {
	out, err := runSrc(t, `package main

import "fmt"

type P struct{ X int }

type C float64

func main() {
	p := P{1}
	var c C = 2.5
	fmt.Printf("%T %T %T %T %-8T| %v %T %%T\n", p, &p, []P{p}, map[string]C{"a": c}, c, p, 3)
	fmt.Println(fmt.Sprintf("%T/%d", c, 4))
}
`)
	if err != nil {
		t.Fatal(err)
	}
	if want := "main.P *main.P []main.P map[string]main.C main.C  | {1} int %T\nmain.C/4\n"; out != want {
		t.Fatalf("got %q, want %q", out, want)
	}
}

// Script values held in interfaces (an any parameter, a []any, an error
// or fmt.Stringer variable) print as Go prints them: yaegi's wrapper for a
// value with methods printed as {0xc000... {0xc000... 409}}, and its
// String or Error method was not used. want is what the compiled program
// prints; the unwrapping depends on yaegi's internal layout (unwrap.go).
func TestPrintScriptValuesInInterfaces(t *testing.T) {
	out, err := runSrc(t, `package main

import "fmt"

type A struct{ r float64 }

type B struct{ r float64 }

func (b B) Get() float64 { return b.r }

type C struct{ r float64 }

func (c *C) Get() float64 { return c.r }

type Named struct{ n string }

func (n Named) String() string { return "Named(" + n.n + ")" }

type Err struct{ c int }

func (e *Err) Error() string { return fmt.Sprint("Err", e.c) }

func show(v any) { fmt.Println(v) }

func showAll(vs ...any) { fmt.Println(vs...) }

func main() {
	var s fmt.Stringer = Named{"n"}
	var e error = &Err{1}
	show(s)
	show(e)
	fmt.Printf("%v|%s|%v\n", s, e, any(Named{"m"}))
	show(A{1})
	show(B{2})
	show(C{3})
	show(&C{4})
	showAll(A{1}, B{2}, C{3})
	var x any = C{5}
	show(x)
	fmt.Println(C{6}, []any{C{7}})
}
`)
	if err != nil {
		t.Fatal(err)
	}
	const want = `Named(n)
Err1
Named(n)|Err1|Named(m)
{1}
{2}
{3}
&{4}
{1} {2} {3}
{5}
{6} [{7}]
`
	if out != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
}
