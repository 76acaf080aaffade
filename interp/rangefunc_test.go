package interp

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
)

// Range over user-defined iterator functions (Go 1.23), which yaegi
// cannot run: the loop becomes a call of the iterator (rewrite_rangefunc.go).
func TestRangeFunc(t *testing.T) {
	src := `package main

import "fmt"

type Seq func(yield func(int) bool)

type List struct{ xs []string }

func (l *List) All(yield func(int, string) bool) {
	for i, x := range l.xs {
		if !yield(i, x) {
			return
		}
	}
}

func count(n int) Seq {
	return func(yield func(int) bool) {
		for i := 0; i < n; i++ {
			if !yield(i) {
				return
			}
		}
	}
}

func naturals(yield func(int) bool) {
	for i := 0; ; i++ {
		if !yield(i) {
			return
		}
	}
}

func times(n int) func(func() bool) {
	return func(yield func() bool) {
		for i := 0; i < n; i++ {
			if !yield() {
				return
			}
		}
	}
}

func pairs[K comparable, V any](ks []K, vs []V) func(func(K, V) bool) {
	return func(yield func(K, V) bool) {
		for i := range ks {
			if !yield(ks[i], vs[i]) {
				return
			}
		}
	}
}

func find(l *List, want string) (int, error) {
	for i, x := range l.All {
		if x == want {
			return i, nil
		}
	}
	return -1, fmt.Errorf("%q not found", want)
}

func firstBig(n int) (idx int, ok bool) {
	for i := range count(n) {
		if i*i > 10 {
			idx, ok = i, true
			return
		}
	}
	return
}

func matrix() string {
	out := ""
outer:
	for i := range count(4) {
		for j := range count(4) {
			if j > i {
				continue outer
			}
			if i == 3 {
				break outer
			}
			out += fmt.Sprint(i, j, " ")
		}
	}
	return out
}

func search() (int, int) {
	for i := range count(5) {
		for j := range count(5) {
			for range times(2) {
				if i*j == 6 {
					return i, j
				}
			}
		}
	}
	return 0, 0
}

func main() {
	n := 0
	for range times(3) {
		n++
	}
	fmt.Println("times", n)
	for i := range count(6) {
		if i%2 == 0 {
			continue
		}
		if i > 4 {
			break
		}
		fmt.Print(i, " ")
	}
	fmt.Println()
	l := &List{xs: []string{"a", "b", "c"}}
	for i, x := range l.All {
		fmt.Print(i, x, " ")
	}
	fmt.Println()
	for _, x := range l.All {
		fmt.Print(x)
	}
	for i := range l.All {
		fmt.Print(i)
	}
	fmt.Println()
	fmt.Println(find(l, "b"))
	fmt.Println(find(l, "z"))
	fmt.Println(firstBig(10))
	fmt.Println(firstBig(3))
	fmt.Println(matrix())
	fmt.Println(search())
	sum := 0
	for i := range naturals {
		if i == 100 {
			break
		}
		sum += i
	}
	fmt.Println("sum", sum)
	var fs []func() int
	for i := range count(3) {
		fs = append(fs, func() int { return i * 10 })
	}
	for _, f := range fs {
		fmt.Print(f(), " ")
	}
	fmt.Println()
	for k, v := range pairs([]string{"x", "y"}, []float64{1.5, 2.5}) {
		fmt.Print(k, "=", v, " ")
	}
	fmt.Println()
	var k int
	var v string
	for k, v = range l.All {
		if v == "b" {
			break
		}
	}
	fmt.Println("assigned", k, v)
	var s Seq = count(2)
	for x := range s {
		fmt.Print(x)
	}
	fmt.Println()
}
`
	out, err := runSrc(t, src)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := `times 3
1 3 
0a 1b 2c 
abc012
1 <nil>
-1 "z" not found
4 true
0 false
0 0 1 0 1 1 2 0 2 1 2 2 
2 3
sum 4950
0 10 20 
x=1.5 y=2.5 
assigned 1 b
01
`
	if out != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
}

// A panic in the body points at its line; so does the one Go raises when
// an iterator calls yield after the body returned false.
func TestRangeFuncPanics(t *testing.T) {
	src := `package main

func count(yield func(int) bool) {
	for i := 0; i < 3; i++ {
		yield(i)
	}
}

func main() {
	var s []int
	for i := range count {
		if i == 1 {
			_ = s[5]
		}
	}
}
`
	_, err := runSrc(t, src)
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindPanic || e.Pos.Line != 13 || !strings.Contains(e.Msg, "index out of range") {
		t.Fatalf("err %v", err)
	}
	src = strings.Replace(src, "_ = s[5]", "break", 1)
	_, err = runSrc(t, src)
	if !errors.As(err, &e) || e.Kind != KindPanic || e.Pos.Line != 5 ||
		e.Msg != "panic: runtime error: range function continued iteration after function for loop body returned false" {
		t.Fatalf("err %v", err)
	}
	var re runtime.Error
	if !errors.As(err, &re) {
		t.Fatalf("not a runtime.Error: %T", e.Value)
	}
	// Called after the loop ended.
	src = `package main

var saved func(int) bool

func keep(yield func(int) bool) { saved = yield }

func main() {
	for range keep {
	}
	saved(1)
}
`
	_, err = runSrc(t, src)
	if !errors.As(err, &e) || e.Pos.Line != 10 || !strings.Contains(e.Msg, "after whole loop exit") {
		t.Fatalf("err %v", err)
	}
}

// What the rewrite cannot do is a clear error naming the construct.
func TestRangeFuncUnsupported(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{"for i := range f {\n\t\tdefer println(i)\n\t}", "script.go:7:3: defer in the body of a range over a function"},
		{"for i := range f {\n\t\tif i > 0 {\n\t\t\tgoto end\n\t\t}\n\t}\nend:", "script.go:8:4: goto out of the body of a range over a function"},
		{"var a [2]int\n\tfor a[0] = range f {\n\t}", "script.go:7:19: range over function is not supported by the interpreter here: assign the values to variables"},
	} {
		src := "package main\n\nfunc f(yield func(int) bool) {}\n\nfunc main() {\n\t" + c.body + "\n}\n"
		_, err := runSrc(t, src)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s:\nerr %v\nwant %s", c.body, err, c.want)
		}
	}
}

// In a session (REPL, notebook), at the top level and in functions.
func TestRangeFuncSession(t *testing.T) {
	in, out := newTest(t)
	eval(t, in, `import "fmt"`)
	eval(t, in, `func count(n int) func(func(int) bool) {
	return func(yield func(int) bool) {
		for i := 0; i < n; i++ {
			if !yield(i) {
				return
			}
		}
	}
}`)
	eval(t, in, `total := 0`)
	eval(t, in, "for i := range count(5) {\n\tif i == 3 {\n\t\tbreak\n\t}\n\tsq := i * i\n\ttotal += sq\n}")
	eval(t, in, `func first(n int) int { for i := range count(100) { if i >= n { return i } }; return -1 }`)
	eval(t, in, `var fs []func() int`)
	eval(t, in, `for i := range count(3) { fs = append(fs, func() int { return i }) }`)
	eval(t, in, `fmt.Println(total, first(7), fs[0](), fs[1](), fs[2]())`)
	if got := out.String(); got != "5 7 0 1 2\n" {
		t.Fatalf("got %q", got)
	}
	r := eval(t, in, `n := 0; for range count(4) { n++ }; n`)
	if r.Value.Interface() != 4 {
		t.Fatalf("n = %v", r.Value)
	}
	// A panic in the body points at the input's line.
	_, err := in.Eval(context.Background(), "for i := range count(3) {\n\tvar s []int\n\t_ = s[i+2]\n}")
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindPanic || e.Pos.Line != 3 {
		t.Fatalf("err %v", err)
	}
	// The session lives on.
	if r := eval(t, in, `first(2)`); r.Value.Interface() != 2 {
		t.Fatalf("first(2) = %v", r.Value)
	}
}

// Branches that stay inside the body, or leave to statements around the
// loop that are not range-over-function loops.
func TestRangeFuncBranches(t *testing.T) {
	src := `package main

import (
	"fmt"
	"maps"
	"slices"
)

func count(n int) func(func(int) bool) {
	return func(yield func(int) bool) {
		for i := 0; i < n; i++ {
			if !yield(i) {
				return
			}
		}
	}
}

var firstOdd = func(n int) int {
	for i := range count(n) {
		if i%2 == 1 {
			return i
		}
	}
	return -1
}

func kinds() (out []string) {
	for i := range count(5) {
		switch {
		case i == 1:
			break // the switch
		case i == 3:
			out = append(out, "three")
			continue
		}
		f := func() string {
			for j := range count(3) {
				if j == 2 {
					return fmt.Sprint("f", i, j)
				}
			}
			return ""
		}
		out = append(out, f())
	}
	return
}

func main() {
	fmt.Println(firstOdd(4), firstOdd(1))
	fmt.Println(kinds())
rows:
	for i := 0; i < 4; i++ {
		for j := range count(4) {
			if j > i {
				continue rows
			}
			if i == 3 {
				break rows
			}
			fmt.Print(i, j, ";")
		}
	}
	fmt.Println()
	m := map[string]int{"a": 1, "b": 2, "c": 3}
keys:
	for _, k := range slices.Sorted(maps.Keys(m)) {
		for x := range count(m[k]) {
			if k == "b" && x == 1 {
				continue keys
			}
			if k == "c" {
				break keys
			}
			fmt.Print(k, x, ";")
		}
	}
	fmt.Println()
	total := 0
	for k := range maps.Keys(m) {
		for v := range maps.Values(map[int]int{m[k]: m[k]}) {
			total += v
		}
	}
	fmt.Println(total)
}
`
	out, err := runSrc(t, src)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := `1 -1
[f0 2 f1 2 f2 2 three f4 2]
0 0;1 0;1 1;2 0;2 1;2 2;
a0;b0;
6
`
	if out != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
}
