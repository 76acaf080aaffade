package interp

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// recover returns the value the script panicked with, as in Go: yaegi
// returned a reflect.Value holding it, so r.(string), r.(error), r == "hi"
// and type switches never matched. Runtime errors are recovered as errors
// with Go's wording. want is what the compiled program prints (the index
// details Go adds, [5] with length 3, are not known to the interpreter).
func TestRecoverValue(t *testing.T) {
	out, err := runSrc(t, `package main

import (
	"errors"
	"fmt"
)

type MyErr struct{ Code int }

func (e *MyErr) Error() string { return fmt.Sprint("code ", e.Code) }

var ErrX = errors.New("x")

func safe(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			switch v := r.(type) {
			case string:
				err = errors.New("str: " + v)
			case error:
				err = v
			default:
				err = fmt.Errorf("other: %v", v)
			}
		}
	}()
	f()
	return nil
}

func main() {
	s := []int{1, 2, 3}
	i, z := 5, 0
	var x any = 3.5
	var p *MyErr
	fmt.Println(safe(func() { panic("boom") }))
	fmt.Println(safe(func() { panic(ErrX) }))
	fmt.Println(safe(func() { panic(&MyErr{3}) }))
	fmt.Println(safe(func() { panic(42) }))
	fmt.Println(safe(func() { _ = 1 / z }))
	fmt.Println(safe(func() { _ = s[i] }))
	fmt.Println(safe(func() { _ = s[1:i] }))
	fmt.Println(safe(func() { _ = x.(string) }))
	fmt.Println(safe(func() { _ = p.Code }))
	fmt.Println(safe(func() {}))
	fmt.Println(errors.Is(safe(func() { panic(ErrX) }), ErrX))
	func() {
		defer func() {
			r := recover()
			s, ok := r.(string)
			fmt.Printf("%s %v %v %T\n", s, ok, r == "hi", r)
		}()
		panic("hi")
	}()
	func() {
		defer func() {
			e, ok := recover().(*MyErr)
			fmt.Println(ok, e.Code)
		}()
		panic(&MyErr{9})
	}()
	func() {
		defer func() {
			n, ok := recover().(int)
			fmt.Println(n, ok, recover())
		}()
		panic(7)
	}()
	func() {
		defer func() { fmt.Println("outer", recover()) }()
		defer recover() // not called by a deferred function: recovers nothing
		panic("first")
	}()
}
`)
	if err != nil {
		t.Fatal(err)
	}
	const want = `str: boom
x
code 3
other: 42
runtime error: integer divide by zero
runtime error: index out of range
runtime error: slice bounds out of range
interface conversion: interface {} is float64, not string
runtime error: invalid memory address or nil pointer dereference
<nil>
true
hi true true string
true 9
7 true <nil>
outer first
`
	if out != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
}

// A comma-ok assertion of a nil interface value to an interface no script
// type implements crashed in yaegi (nil dereference): the common
// `if err, ok := recover().(error); ok` when nothing panicked.
func TestAssertNilToInterface(t *testing.T) {
	out, err := runSrc(t, `package main

import (
	"fmt"
	"io"
)

func main() {
	var a any
	e, ok := a.(error)
	fmt.Println(e, ok)
	w, ok := a.(io.Writer)
	fmt.Println(w, ok)
	var s fmt.Stringer
	_, ok = s.(error)
	fmt.Println(ok)
	func() {
		defer func() {
			e, ok := recover().(error)
			fmt.Println(e, ok)
		}()
	}()
	a = fmt.Errorf("x")
	e, ok = a.(error)
	fmt.Println(e, ok, a.(error))
	_, ok = a.(fmt.Stringer)
	fmt.Println(ok)
	func() {
		defer func() { fmt.Println(recover()) }()
		var n any
		_ = n.(error)
	}()
}
`)
	if err != nil {
		t.Fatal(err)
	}
	const want = `<nil> false
<nil> false
false
<nil> false
x true x
false
interface conversion: interface is nil, not error
`
	if out != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
}

// In a session too.
func TestRecoverValueSession(t *testing.T) {
	in, out := newTest(t)
	eval(t, in, `import "fmt"`)
	eval(t, in, "func try(f func()) (msg string) {\n\tdefer func() {\n\t\tif e, ok := recover().(error); ok {\n\t\t\tmsg = \"error: \" + e.Error()\n\t\t}\n\t}()\n\tf()\n\treturn \"ok\"\n}")
	eval(t, in, `fmt.Println(try(func() { panic(fmt.Errorf("e%d", 1)) }), try(func() {}))`)
	if got := out.String(); got != "error: e1 ok\n" {
		t.Fatalf("got %q", got)
	}
}

// A runtime error the interpreter raises reads as Go's.
func TestRuntimeErrorMessages(t *testing.T) {
	for src, want := range map[string]string{
		"n := -1\n\t_ = make([]int, n)": "panic: runtime error: makeslice: len out of range",
		"var f func()\n\tf()":           "panic: runtime error: invalid memory address or nil pointer dereference",
	} {
		_, err := runSrc(t, "package main\n\nfunc main() {\n\t"+src+"\n}\n")
		var e *Error
		if !errors.As(err, &e) || e.Msg != want || e.Pos.Line != 5 {
			t.Errorf("%s: err = %v, want 5:...: %s", src, err, want)
		}
	}
}

// encoding/json sees script struct types as Go's encoding/json sees them:
// yaegi exports unexported fields as "X"+name ("Xscore":0 in the JSON,
// and decoded into) and nests an embedded struct without exported fields
// (sync.Mutex) under its name. want is what the compiled program prints.
func TestJSONScriptStructs(t *testing.T) {
	out, err := runSrc(t, `package main

import (
	"encoding/json"
	"fmt"
	"sync"
)

type Item struct {
	Name  string    `+"`json:\"name\"`"+`
	Vals  []float32 `+"`json:\"vals,omitempty\"`"+`
	score float64
	hits  int       `+"`json:\"hits\" db:\"h\"`"+`
	A, b  int
}

type hidden int

type Locked struct {
	sync.Mutex
	hidden
	N     int
	Items []Item
	M     map[string]Item
}

func main() {
	l := &Locked{N: 3, Items: []Item{{Name: "x", Vals: []float32{1.5, 0.1}, score: 2, hits: 1, A: 1, b: 2}}}
	l.M = map[string]Item{"k": {Name: "y"}}
	b, err := json.Marshal(l)
	fmt.Println(string(b), err)
	var back Locked
	err = json.Unmarshal([]byte("{\"N\":4,\"Items\":[{\"name\":\"q\",\"score\":5,\"Xscore\":6,\"hits\":7,\"b\":8,\"Xb\":9}]}"), &back)
	it := back.Items[0]
	fmt.Println(back.N, it.Name, it.score, it.hits, it.b, err)
	anon := struct {
		X int
		y int
	}{1, 2}
	b, _ = json.Marshal(anon)
	fmt.Println(string(b))
}
`)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"N":3,"Items":[{"name":"x","vals":[1.5,0.1],"A":1}],"M":{"k":{"name":"y","A":0}}} <nil>
4 q 0 0 0 <nil>
{"X":1}
`
	if out != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
}

// What the interpreter's encoding/json cannot do is a clear error at the
// call instead of JSON that differs from Go's.
func TestJSONUnsupported(t *testing.T) {
	for _, c := range []struct{ decl, call, want string }{
		{"type Inner struct{ Name string }\ntype Outer struct {\n\tInner\n\tN int\n}", "json.Marshal(Outer{})",
			`json.Marshal: struct Outer embeds Inner next to other fields`},
		{"type Temp float64\nfunc (t Temp) MarshalJSON() ([]byte, error) { return []byte(\"1\"), nil }\ntype W struct{ T []Temp }", "json.Marshal(map[string]W{})",
			"json.Marshal: type Temp has a MarshalJSON method"},
		{"type Temp float64\nfunc (t *Temp) UnmarshalJSON(b []byte) error { return nil }", "json.Unmarshal(nil, new(Temp))",
			"json.Unmarshal: type Temp has a UnmarshalJSON method"},
		{"type base struct{ ID int }\ntype Outer struct {\n\t*base\n\tN int\n}", "json.NewEncoder(nil).Encode(&Outer{})",
			"json Encode: struct Outer embeds base next to other fields"},
	} {
		src := "package main\n\nimport \"encoding/json\"\n\n" + c.decl + "\n\nfunc main() {\n\t_ = " + c.call + "\n}\n"
		line := strings.Count(src[:strings.Index(src, "_ = ")], "\n") + 1
		_, err := runSrc(t, src)
		var e *Error
		if !errors.As(err, &e) || e.Kind != KindCompile || e.Pos.Line != line || !strings.HasPrefix(e.Msg, c.want) {
			t.Errorf("%s: err = %v, want line %d: %s...", c.call, err, line, c.want)
		}
	}
	// Untouched: a struct with only an embedded field (encoding/json
	// promotes it in the interpreter too), a tagged embedded field.
	out, err := runSrc(t, "package main\n\nimport (\n\t\"encoding/json\"\n\t\"fmt\"\n)\n\ntype Inner struct{ Name string }\ntype One struct{ Inner }\ntype Two struct {\n\tInner `json:\"in\"`\n\tN int\n}\n\nfunc main() {\n\ta, _ := json.Marshal(One{Inner{\"a\"}})\n\tb, _ := json.Marshal(Two{Inner{\"b\"}, 1})\n\tfmt.Println(string(a), string(b))\n}\n")
	if err != nil || out != `{"Name":"a"} {"in":{"Name":"b"},"N":1}`+"\n" {
		t.Fatalf("got %q, %v", out, err)
	}
	_ = context.Background
}
