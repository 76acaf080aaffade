package interp

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func newTest(t *testing.T) (*Interpreter, *bytes.Buffer) {
	t.Helper()
	var out bytes.Buffer
	return New(Options{Stdout: &out, Stderr: &out}), &out
}

func runSrc(t *testing.T, src string, args ...string) (string, error) {
	t.Helper()
	in, out := newTest(t)
	err := in.RunSource(context.Background(), "script.go", src, args)
	return out.String(), err
}

func eval(t *testing.T, in *Interpreter, src string) Result {
	t.Helper()
	r, err := in.Eval(context.Background(), src)
	if err != nil {
		t.Fatalf("Eval(%q): %v", src, err)
	}
	return r
}

func TestRunFileHello(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "hello.go")
	os.WriteFile(p, []byte("package main\n\nimport (\n\t\"flag\"\n\t\"fmt\"\n\t\"os\"\n)\n\nfunc main() {\n\tn := flag.Int(\"n\", 1, \"count\")\n\tflag.Parse()\n\tfmt.Println(\"hello\", *n, flag.Args(), len(os.Args))\n}\n"), 0o644)
	in, out := newTest(t)
	if err := in.RunFile(context.Background(), p, []string{"-n", "3", "rest"}); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "hello 3 [rest] 4\n" {
		t.Fatalf("got %q", got)
	}
	// A second run gets a fresh flag set: -n is not redefined.
	out.Reset()
	if err := in.RunFile(context.Background(), p, nil); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "hello 1 [] 1\n" {
		t.Fatalf("got %q", got)
	}
}

func TestExit(t *testing.T) {
	_, err := runSrc(t, "package main\nimport \"os\"\nfunc main() { os.Exit(3) }\n")
	if c, ok := ExitCode(err); !ok || c != 3 {
		t.Fatalf("err = %v", err)
	}
	_, err = runSrc(t, "package main\nimport \"os\"\nfunc main() { os.Exit(0) }\n")
	if err != nil {
		t.Fatal(err)
	}
	_, err = runSrc(t, "package main\nimport \"flag\"\nfunc main() { flag.Parse() }\n", "-bogus")
	if c, ok := ExitCode(err); !ok || c != 2 {
		t.Fatalf("err = %v", err)
	}
}

func TestCompileErrorPosition(t *testing.T) {
	_, err := runSrc(t, "package main\n\nfunc main() {\n\tx := 1\n\t_ = x + foo\n}\n")
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindCompile || e.String() != "script.go:5:10: undefined: foo" {
		t.Fatalf("err = %v", err)
	}
}

func TestRuntimePanicPosition(t *testing.T) {
	_, err := runSrc(t, "package main\n\nfunc main() {\n\tvar s []int\n\tpanic(\"index out of range \" + string(rune(len(s)+48)))\n}\n")
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindPanic || e.Pos.Line != 5 || e.Pos.Column != 2 || !strings.Contains(e.Msg, "index out of range") {
		t.Fatalf("err = %#v", err)
	}
}

func TestEvalBasics(t *testing.T) {
	in, out := newTest(t)
	eval(t, in, `import "fmt"`)
	eval(t, in, `import "fmt"`) // again: skipped
	r := eval(t, in, "var x int; x++; x")
	if !r.HasValue || r.Value.Interface() != 1 {
		t.Fatalf("got %+v", r)
	}
	r = eval(t, in, `fmt.Println("hi", x)`)
	if r.HasValue {
		t.Fatalf("Println shown: %v", r.Value)
	}
	if out.String() != "hi 1\n" {
		t.Fatalf("out %q", out.String())
	}
	r = eval(t, in, "func sq(v int) int { return v * v }\nsq(x + 2)")
	if !r.HasValue || r.Value.Interface() != 9 {
		t.Fatalf("got %+v", r)
	}
	r = eval(t, in, `import "strings"; strings.ToUpper("ab")`)
	if !r.HasValue || r.Value.Interface() != "AB" {
		t.Fatalf("got %+v", r)
	}
	r = eval(t, in, "y := 5")
	if r.HasValue {
		t.Fatal("assignment shown")
	}
}

func TestEvalErrorColumns(t *testing.T) {
	in, _ := newTest(t)
	_, err := in.Eval(context.Background(), "a := 1\nb := a + nope")
	var e *Error
	if !errors.As(err, &e) || e.Pos.Line != 2 || e.Pos.Column != 10 {
		t.Fatalf("err = %v", err)
	}
	_, err = in.Eval(context.Background(), "func f() int { return nope2 }")
	if !errors.As(err, &e) || e.String() != "1:23: undefined: nope2" {
		t.Fatalf("err = %v", err)
	}
	// state survives
	eval(t, in, "z := 1")
}

func TestCancel(t *testing.T) {
	in, _ := newTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := in.Eval(ctx, "for {}")
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindRuntime {
		t.Fatalf("err = %v", err)
	}
	r := eval(t, in, "1 + 2")
	if r.Value.Interface() != 3 {
		t.Fatal(r)
	}
	// Empty loop bodies carry a statement marker, so they stop there, not
	// after interruptGrace by yaegi's own stop.
	for _, loop := range []string{"for {}", "for range 1 << 40 {}"} {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		start := time.Now()
		_, err := in.Eval(ctx, loop)
		cancel()
		if took := time.Since(start); err == nil || took >= interruptGrace {
			t.Errorf("%s: %v after %v, want an interrupt before the %v grace", loop, err, took, interruptGrace)
		}
	}
}

// Trap a: loop variables captured by closures.
func TestTrapLoopVar(t *testing.T) {
	src := `package main

import "fmt"

func main() {
	var fs []func() int
	for i := 0; i < 3; i++ {
		j := i * 10
		fs = append(fs, func() int { return i + j })
	}
	m := map[string]int{"a": 1}
	for k, v := range m {
		fs = append(fs, func() int { return len(k) + v })
	}
	for _, f := range fs {
		fmt.Print(f(), " ")
	}
	var gs []func() int
	for i := 0; i < 3; i++ {
		switch {
		default:
			gs = append(gs, func() int { return i })
		}
	}
	for _, g := range gs {
		fmt.Print(g(), " ")
	}
}
`
	out, err := runSrc(t, src)
	if err != nil {
		t.Fatal(err)
	}
	if out != "0 11 22 2 0 1 2 " {
		t.Fatalf("got %q", out)
	}
	in, out2 := newTest(t)
	eval(t, in, `import "fmt"`)
	eval(t, in, "var hs []func() int")
	eval(t, in, "for k := 0; k < 3; k++ { k := k; hs = append(hs, func() int { return k }) }")
	eval(t, in, "for k := 0; k < 3; k++ { hs = append(hs, func() int { return k }) }")
	eval(t, in, `fmt.Println(hs[0](), hs[1](), hs[2](), hs[3](), hs[4](), hs[5]())`)
	if out2.String() != "0 1 2 0 1 2\n" {
		t.Fatalf("got %q", out2.String())
	}
}

// Trap b: range over int, range over func.
func TestTrapRangeInt(t *testing.T) {
	out, err := runSrc(t, "package main\nimport \"fmt\"\nfunc main() {\n\tn := int64(3)\n\tfor i := range n { fmt.Print(i, \" \") }\n\tfor range 2 { fmt.Print(\"x\") }\n\tfor i := range 2 { fmt.Print(i) }\n}\n")
	if err != nil || out != "0 1 2 xx01" {
		t.Fatalf("out %q err %v", out, err)
	}
	// Range over a function: see TestRangeFunc.
	out, err = runSrc(t, "package main\nfunc main() {\n\tf := func(yield func(int) bool) { yield(7) }\n\tfor x := range f { print(x) }\n}\n")
	if err != nil || out != "7" {
		t.Fatalf("out %q err %v", out, err)
	}
	in, _ := newTest(t)
	eval(t, in, "n := 4; s := 0")
	r := eval(t, in, "for i := range n { s += i }; s")
	if r.Value.Interface() != 6 {
		t.Fatal(r)
	}
}

// Trap c: min, max, clear.
func TestTrapMinMaxClear(t *testing.T) {
	src := `package main

import "fmt"

type C float64

func main() {
	a, b := 3, 2
	x, y := 1.5, -2.5
	s := "b"
	c := C(4)
	m := map[string]int{"a": 1, "b": 2}
	l := []int{1, 2, 3}
	clear(m)
	clear(l)
	fmt.Println(min(a, b), max(a, b, 7), min(x, y), max(x, 2), min(s, "a"), max(1, 2.5), min(c, 3), len(m), l)
}
`
	out, err := runSrc(t, src)
	if err != nil {
		t.Fatal(err)
	}
	if out != "2 7 -2.5 2 a 2.5 3 0 [0 0 0]\n" {
		t.Fatalf("got %q", out)
	}
	in, _ := newTest(t)
	eval(t, in, "p, q := 4.5, 2.0")
	r := eval(t, in, "min(p, q, 3)")
	if r.Value.Interface() != 2.0 {
		t.Fatal(r.Value)
	}
	eval(t, in, "mm := map[int]bool{1: true}; clear(mm)")
	if r := eval(t, in, "len(mm)"); r.Value.Interface() != 0 {
		t.Fatal(r.Value)
	}
}

// Trap d: inferred generic calls.
func TestTrapGenericInference(t *testing.T) {
	src := `package main

import "fmt"

type Number interface{ ~int | ~float64 }

func Sum[T Number](xs ...T) T {
	var s T
	for _, x := range xs {
		s += x
	}
	return s
}

func Map[T, U any](xs []T, f func(T) U) []U {
	var out []U
	for _, x := range xs {
		out = append(out, f(x))
	}
	return out
}

func main() {
	fmt.Println(Sum(1.5, 2.5), Sum(1, 2), Map([]int{1, 2}, func(i int) string { return fmt.Sprint(i * 2) }))
}
`
	out, err := runSrc(t, src)
	if err != nil {
		t.Fatal(err)
	}
	if out != "4 3 [2 4]\n" {
		t.Fatalf("got %q", out)
	}
}

// Trap e: a panic in interpreted code on a host goroutine.
func TestTrapHostGoroutinePanic(t *testing.T) {
	var out bytes.Buffer
	host := map[string]map[string]reflect.Value{
		"example.com/host/host": {
			"Go": reflect.ValueOf(func(f func()) error {
				ch := make(chan error)
				go func() { ch <- Protect(f) }()
				return <-ch
			}),
		},
	}
	in := New(Options{Stdout: &out, Stderr: &out, Symbols: []map[string]map[string]reflect.Value{host}})
	eval(t, in, `import "example.com/host"`)
	r := eval(t, in, "err := host.Go(func() {\n\tvar m map[string]int\n\tm[\"x\"] = 1\n}); err")
	e, ok := r.Value.Interface().(*Error)
	if !ok || e.Kind != KindPanic || e.Pos.Line != 3 || !strings.Contains(e.Msg, "nil map") {
		t.Fatalf("got %#v", r.Value.Interface())
	}
}

// Trap f: input that panics yaegi's compiler returns an error.
func TestTrapCompilePanic(t *testing.T) {
	in, _ := newTest(t)
	// Range over a type parameter's function (not rewritten: its type
	// is not a signature) panics in yaegi's compiler.
	_, err := in.Eval(context.Background(), "func F[S ~func(func(int) bool)](s S) { for x := range s { _ = x } }")
	if err == nil {
		_, err = in.Eval(context.Background(), "F(func(yield func(int) bool) {})")
	}
	if err == nil {
		t.Fatal("no error")
	}
	eval(t, in, "ok := 1")
}

// Trap g: "constant definition loop".
func TestTrapUndefined(t *testing.T) {
	in, _ := newTest(t)
	_, err := in.Eval(context.Background(), "x := undefinedVar + 1")
	if err == nil || err.Error() != "1:6: undefined: undefinedVar" {
		t.Fatalf("err %v", err)
	}
}

func TestConcurrentEval(t *testing.T) {
	in, _ := newTest(t)
	eval(t, in, "n := 0")
	done := make(chan bool)
	for i := 0; i < 4; i++ {
		go func() {
			for j := 0; j < 10; j++ {
				in.Eval(context.Background(), "n++")
			}
			done <- true
		}()
	}
	for i := 0; i < 4; i++ {
		<-done
	}
	if r := eval(t, in, "n"); r.Value.Interface() != 40 {
		t.Fatal(r.Value)
	}
}

// A closure in a loop that writes a loop-local variable must write the
// loop's variable, not a copy (a trace body assigning a result).
func TestLoopClosureWritesShared(t *testing.T) {
	src := `package main

import "fmt"

func call(f func()) { f() }

func main() {
	for i := 0; i < 3; i++ {
		var m int
		n := 0
		call(func() { m = i * 2; n++ })
		fmt.Print(m, n, " ")
	}
}
`
	out, err := runSrc(t, src)
	if err != nil {
		t.Fatal(err)
	}
	if out != "0 1 2 1 4 1 " {
		t.Fatalf("got %q, want %q", out, "0 1 2 1 4 1 ")
	}
}

// Re-importing a package together with a declaration in one input.
func TestReimportWithDeclaration(t *testing.T) {
	in, out := newTest(t)
	eval(t, in, `import "fmt"`)
	eval(t, in, "import \"fmt\"\nvar x = 1\nfunc f() int { return x + 1 }")
	eval(t, in, `fmt.Println(f())`)
	if out.String() != "2\n" {
		t.Fatalf("got %q", out.String())
	}
}

// Goroutines a script starts: their arguments are evaluated at the go
// statement (as in Go), and a panic in one is reported, not fatal.
func TestScriptGoroutines(t *testing.T) {
	src := `package main

import (
	"fmt"
	"sort"
	"sync"
)

func add(mu *sync.Mutex, out *[]int, wg *sync.WaitGroup, xs ...int) {
	defer wg.Done()
	mu.Lock()
	*out = append(*out, xs...)
	mu.Unlock()
}

func main() {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var out []int
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go add(&mu, &out, &wg, i*10)
	}
	wg.Add(1)
	go add(&mu, &out, &wg, []int{1, 2}...)
	done := make(chan bool)
	go func() { defer close(done); panic("boom") }()
	<-done
	wg.Wait()
	sort.Ints(out)
	fmt.Println(out)
}
`
	var out bytes.Buffer
	var errb lockedBuffer // the panicking goroutine prints while the test polls
	in := New(Options{Stdout: &out, Stderr: &errb})
	if err := in.RunSource(context.Background(), "g.go", src, nil); err != nil {
		t.Fatal(err)
	}
	if out.String() != "[0 1 2 10 20 30 40]\n" {
		t.Errorf("got %q", out.String())
	}
	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(errb.String(), "panic: boom") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(errb.String(), "panic in a goroutine the script started: g.go:") || !strings.Contains(errb.String(), "panic: boom") {
		t.Errorf("stderr %q", errb.String())
	}
}

// Runaway recursion is an error, not a fatal stack overflow, and the
// session goes on; ordinary recursion still works.
func TestRunawayRecursion(t *testing.T) {
	in, out := newTest(t)
	eval(t, in, `import "fmt"`)
	eval(t, in, "func f(n int) int { return f(n+1) + 1 }")
	if _, err := in.Eval(context.Background(), "f(0)"); err == nil || !strings.Contains(err.Error(), "stack overflow") {
		t.Fatalf("runaway recursion: %v", err)
	}
	eval(t, in, "func fib(n int) int { if n < 2 { return n }; return fib(n-1) + fib(n-2) }")
	eval(t, in, "fmt.Println(fib(20))")
	if !strings.Contains(out.String(), "6765") {
		t.Fatalf("got %q", out.String())
	}
}

// A func main typed into a session is kept as main_: yaegi would run a
// session's main after every later input.
func TestSessionMainKeptAsMainUnderscore(t *testing.T) {
	in, out := newTest(t)
	eval(t, in, `import "fmt"`)
	eval(t, in, "func main() { fmt.Println(\"main ran\") }")
	eval(t, in, "x := 1")
	eval(t, in, "x++")
	if strings.Contains(out.String(), "main ran") {
		t.Fatalf("main ran by itself: %q", out.String())
	}
	eval(t, in, "main_()")
	if strings.Count(out.String(), "main ran") != 1 {
		t.Fatalf("got %q", out.String())
	}
}

// A whole program pasted into one input (a notebook cell) runs.
func TestSessionRunsPastedProgram(t *testing.T) {
	in, out := newTest(t)
	eval(t, in, "// a script\npackage main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"program ran\")\n}\n")
	if out.String() != "program ran\n" {
		t.Fatalf("got %q", out.String())
	}
	_, err := in.Eval(context.Background(), "package main\n\nfunc main() {\n\tvar s []int\n\t_ = s[1]\n}\n")
	if err == nil || !strings.Contains(err.Error(), "5:") {
		t.Fatalf("error in a pasted program: %v", err)
	}
}

// A pasted program that defines flags runs again when its cell runs
// again (each run gets a fresh flag set, as a script does).
func TestSessionRerunsPastedProgramWithFlags(t *testing.T) {
	in, out := newTest(t)
	// No flag.Parse: flag.go's define renews the set only after a Parse,
	// so this takes eval's fresh flag set for a pasted program.
	prog := "package main\n\nimport (\n\t\"flag\"\n\t\"fmt\"\n)\n\nfunc main() {\n\tn := flag.Int(\"n\", 2, \"count\")\n\tfmt.Println(\"n is\", *n)\n}\n"
	eval(t, in, prog)
	eval(t, in, prog)
	if got := out.String(); got != "n is 2\nn is 2\n" {
		t.Fatalf("got %q, want the program's output twice", got)
	}
}

// lockedBuffer is a bytes.Buffer safe for a writer and a reader on
// different goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// An input interrupted while blocked in a host call (time.Sleep) is
// stopped by yaegi after interruptGrace; its top-level statements ran in
// the global frame that the next input revives, so the rest of the
// interrupted input ran once the call returned, beside later inputs.
//
// The abandoned goroutine's earlier writes to yaegi's global frame have no
// happens-before edge with the next input (yaegi's ExecuteWithContext
// returns on its context without waiting), which the race detector
// reports: this path of exec is not race-clean by design.
func TestInterruptedBlockedInputStaysStopped(t *testing.T) {
	if raceEnabled {
		t.Skip("an input abandoned after interruptGrace races with the next one in yaegi's frame")
	}
	defer func(g time.Duration) { interruptGrace = g }(interruptGrace)
	interruptGrace = 100 * time.Millisecond
	in, out := newTest(t)
	ctx := context.Background()
	for _, src := range []string{`import "time"`, `import "fmt"`, `n := 0`} {
		if _, err := in.Eval(ctx, src); err != nil {
			t.Fatal(err)
		}
	}
	for _, src := range []string{
		`time.Sleep(400*time.Millisecond); n++; fmt.Println("after sleep")`,
		`for { time.Sleep(400*time.Millisecond); n += 10 }`,
	} {
		cctx, cancel := context.WithCancel(ctx)
		go func() { time.Sleep(100 * time.Millisecond); cancel() }()
		if _, err := in.Eval(cctx, src); err == nil || !strings.Contains(err.Error(), "interrupted") {
			t.Fatalf("%s: got %v, want interrupted", src, err)
		}
		if _, err := in.Eval(ctx, `time.Sleep(600*time.Millisecond)`); err != nil {
			t.Fatal(err)
		}
		r, err := in.Eval(ctx, `n`)
		if err != nil || r.Value.Int() != 0 {
			t.Fatalf("%s: n = %v (%v), want 0: the interrupted input ran on", src, r.Value, err)
		}
	}
	if strings.Contains(out.String(), "after sleep") {
		t.Errorf("the interrupted input ran on: %q", out.String())
	}
}
