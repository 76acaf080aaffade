package interp

import "testing"

// Top-level statements of a session input holding a type switch, or a
// declaration in a case clause or an if's init, run in a closure: in
// yaegi's global frame `switch v := x.(type)` failed (`"nnscope" imported
// and not used` in the REPL), `if v, ok := x.(int); ok` failed with "nil
// type", and a type switch in a top-level loop matched no interface case.
func TestSessionTopLevelTypeSwitch(t *testing.T) {
	in, out := newTest(t)
	eval(t, in, `import ("errors"; "fmt")`)
	eval(t, in, "type Sq struct{ S float64 }\nfunc (s Sq) String() string { return fmt.Sprintf(\"Sq(%g)\", s.S) }")
	eval(t, in, `var anys = []any{1, Sq{2}, errors.New("e"), nil}`)
	eval(t, in, `for _, a := range anys {
	switch v := a.(type) {
	case int:
		fmt.Println("int", v)
	case error:
		fmt.Println("error", v)
	case fmt.Stringer:
		fmt.Println("stringer", v)
	case nil:
		fmt.Println("nil")
	}
}`)
	eval(t, in, "x := anys[1]\nswitch v := x.(type) {\ncase Sq:\n\ty := v.S\n\tfmt.Println(\"sq\", y, v)\n}")
	eval(t, in, "switch anys[2].(type) {\ncase error:\n\tfmt.Println(\"is error\")\n}")
	eval(t, in, `if v, ok := anys[0].(int); ok { fmt.Println("ok", v) }`)
	eval(t, in, "switch {\ncase true:\n\tz := 1\n\tfmt.Println(\"z\", z)\n}")
	want := "int 1\nstringer Sq(2)\nerror e\nnil\nsq 2 Sq(2)\nis error\nok 1\nz 1\n"
	if got := out.String(); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

// `var s = v` and `var s T = v` run as `s := ...` in a session (see
// rewriter.varAsDefine); a later input still sees s with its script type,
// printed through its String method.
func TestSessionVarKeepsScriptType(t *testing.T) {
	in, out := newTest(t)
	eval(t, in, `import "fmt"`)
	eval(t, in, "type P struct{ X int }\nfunc (p P) String() string { return fmt.Sprint(\"P<\", p.X, \">\") }")
	eval(t, in, "var ps = []P{{1}, {2}}")
	eval(t, in, "var a = ps[0]")
	eval(t, in, "var b P = ps[1]")
	eval(t, in, "fmt.Println(a, b)")
	eval(t, in, `fmt.Printf("%v %s\n", a, b)`)
	if got := out.String(); got != "P<1> P<2>\nP<1> P<2>\n" {
		t.Fatalf("got %q", got)
	}
	if r := eval(t, in, "a"); !r.HasValue || r.Value.Interface().(interface{ String() string }).String() != "P<1>" {
		t.Fatalf("shown %v", r.Value)
	}
}

// Comma-ok definitions at a cell's top level (an assertion, a map lookup,
// a receive) failed in yaegi's global frame with "nil type", reported as
// an unrelated range error, and left the variables undefined.
func TestSessionTopLevelCommaOk(t *testing.T) {
	in, out := newTest(t)
	for _, src := range []string{
		`import "fmt"`,
		`var x any = 3`,
		`v, ok := x.(int)`,
		`m := map[string]int{"a": 1}`,
		`w, ok2 := m["a"]`,
		`ch := make(chan int, 1); ch <- 5`,
		`r, ok3 := <-ch`,
		`s, ok4 := x.(string)`,
		`var e any`,
		`ee, ok5 := e.(error)`,
		`v, ok = m["zz"]`,
		`z, ok6 := m["zz"]`,
		`fmt.Println(w, ok2, r, ok3, s == "", ok4, ee, ok5, v, ok, z, ok6)`,
	} {
		eval(t, in, src)
	}
	if got, want := out.String(), "1 true 5 true true false <nil> false 0 false 0 false\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// A failed comma-ok form assigned to existing variables sets the value to
// its zero value, as in Go (yaegi left the old value).
func TestCommaOkAssignZeroes(t *testing.T) {
	out, err := runSrc(t, `package main

import "fmt"

func main() {
	m := map[string]int{"a": 1}
	v, ok := 3, true
	v, ok = m["zz"]
	fmt.Println(v, ok)
	var x any = 3
	s, ok2 := "pre", true
	s, ok2 = x.(string)
	ch := make(chan int)
	close(ch)
	n, open := 7, true
	n, open = <-ch
	fmt.Printf("%q %v %v %v\n", s, ok2, n, open)
	v, ok = m["a"]
	fmt.Println(v, ok)
}
`)
	if err != nil {
		t.Fatal(err)
	}
	if want := "0 false\n\"\" false 0 false\n1 true\n"; out != want {
		t.Fatalf("got %q, want %q", out, want)
	}
}

// Method values bind their receiver when evaluated, and method expressions
// can be called (yaegi bound late, and T.M panicked "Call with too many
// input arguments"). want is what the compiled program prints.
func TestMethodValuesAndExpressions(t *testing.T) {
	out, err := runSrc(t, `package main

import (
	"fmt"
	"sort"
	"strings"
)

type Color int

func (c Color) String() string { return []string{"R", "G", "B"}[c] }

type Counter struct{ n int }

func (c *Counter) Inc()            { c.n++ }
func (c Counter) Get() int         { return c.n }
func (c *Counter) Add(xs ...int) int {
	for _, x := range xs {
		c.n += x
	}
	return c.n
}

type byLen []string

func (b byLen) less(i, j int) bool { return len(b[i]) < len(b[j]) }

func main() {
	c := Color(1)
	bound := c.String
	c = 2
	fmt.Println(bound(), c.String())
	mexp := Color.String
	fmt.Println(mexp(0), mexp(c))
	var k Counter
	inc := k.Inc
	inc()
	inc()
	get := k.Get
	k.Inc()
	fmt.Println(k.n, get())
	add := (*Counter).Add
	fmt.Println(add(&k, 1, 2), k.n)
	get2 := Counter.Get
	fmt.Println(get2(k))
	words := byLen{"ccc", "a", "bb"}
	sort.Slice(words, words.less)
	fmt.Println(strings.Join(words, ","))
	fs := []func() string{Color(0).String, Color(2).String}
	fmt.Println(fs[0](), fs[1]())
}
`)
	if err != nil {
		t.Fatal(err)
	}
	const want = `G B
R B
3 2
6 6
6
a,bb,ccc
R B
`
	if out != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
}
