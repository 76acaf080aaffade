package interp

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func heapInUse() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse)
}

// A session's inputs are numbered with a line directive, not padded with
// newlines: padding made input k as long as the k inputs before it, and
// yaegi's file set keeps a line table for every input (the session's
// memory grew with the square of its inputs). Positions stay right.
func TestSessionInputsNotPadded(t *testing.T) {
	in, _ := newTest(t)
	for i := range 300 {
		eval(t, in, fmt.Sprintf("x%d := %d\nx%d++", i, i, i))
	}
	if c := in.addChunk(&chunk{text: "y := 1"}); len(c) > 40 || !strings.HasSuffix(c, "y := 1") {
		t.Fatalf("chunk handed to yaegi after 300 inputs: %d bytes", len(c))
	}
	_, err := in.Eval(context.Background(), "z := 0\n\n  z = 1 / z")
	var e *Error
	if err == nil || !asError(err, &e) || e.Pos.Line != 3 || e.Pos.Column != 3 {
		t.Fatalf("error %v at %+v, want line 3 column 3", err, e)
	}
	_, err = in.Eval(context.Background(), "w := 1\nw = undefinedName")
	if err == nil || !asError(err, &e) || e.Pos.Line != 2 {
		t.Fatalf("compile error %v at %+v, want line 2", err, e)
	}
}

func asError(err error, e **Error) bool {
	x, ok := err.(*Error)
	*e = x
	return ok
}

// Statements of session input that declare nothing run in a closure, so
// their temporaries are not kept in yaegi's global frame for the rest of
// the session: ten inputs each passing a fresh 8 MiB buffer to a function
// (or assigning a value computed from one) leave no buffer behind.
func TestSessionTemporariesNotKept(t *testing.T) {
	in, _ := newTest(t)
	eval(t, in, "func consume(b []byte) {}")
	eval(t, in, "n := 0")
	base := heapInUse()
	for range 10 {
		eval(t, in, "consume(make([]byte, 8<<20))")
		eval(t, in, "n = len(make([]byte, 8<<20))")
	}
	if grew := heapInUse() - base; grew > 16<<20 {
		t.Fatalf("heap grew %d MiB over 20 inputs with 8 MiB temporaries", grew>>20)
	}
	if r := eval(t, in, "n"); r.Value.Int() != 8<<20 {
		t.Fatalf("n = %v", r.Value)
	}
	runtime.KeepAlive(in)
}

// Defining a variable again with the same type (a notebook cell run again)
// assigns it: the old value is not kept alive by a stale global slot, and
// functions from earlier inputs see the new value. Another type still makes
// a new variable.
func TestSessionRedefinitionAssigns(t *testing.T) {
	in, _ := newTest(t)
	eval(t, in, "big := make([]byte, 16<<20)")
	base := heapInUse()
	for range 8 {
		eval(t, in, "big := make([]byte, 16<<20)\nbig[0] = 1")
	}
	if grew := heapInUse() - base; grew > 24<<20 {
		t.Errorf("8 redefinitions of a 16 MiB slice kept %d MiB", grew>>20)
	}
	eval(t, in, "x := 1")
	eval(t, in, "f := func() int { return x }")
	eval(t, in, "x := 2")
	if r := eval(t, in, "f()"); r.Value.Interface() != 2 {
		t.Errorf("f() = %v after x := 2, want 2", r.Value)
	}
	eval(t, in, `x := "now a string"`)
	if r := eval(t, in, "x + \"!\""); r.Value.Interface() != "now a string!" {
		t.Errorf("x = %v", r.Value)
	}
	eval(t, in, "a, b := 1, 2")
	eval(t, in, "a, b := b, a")
	if r := eval(t, in, "a*10 + b"); r.Value.Interface() != 21 {
		t.Errorf("swap by redefinition: %v", r.Value)
	}
}

// A function literal passed straight to a host function (a trace body)
// that assigns to a variable of the loop body around it: yaegi kept every
// iteration's value alive (a loop of 300 traces saving the logits grew to
// 590 MB); the rewriter parenthesizes such literals, which avoids the path.
func TestLoopBodyCapturesNotKept(t *testing.T) {
	probe := map[string]map[string]reflect.Value{
		"probe/probe": {"Heap": reflect.ValueOf(heapInUse)},
	}
	loop := `base := probe.Heap()
	n := 0
	for i := 0; i < 20; i++ {
		var c []byte
		strings.FieldsFunc("a b", func(r rune) bool { c = make([]byte, 8<<20); return r == ' ' })
		n += len(c)
	}
	fmt.Println(n, (probe.Heap()-base)>>20)`
	for _, mode := range []string{"script", "session"} {
		var out bytes.Buffer
		in := New(Options{Stdout: &out, Stderr: &out, Symbols: []map[string]map[string]reflect.Value{probe}})
		if mode == "script" {
			src := "package main\n\nimport (\n\t\"fmt\"\n\t\"probe\"\n\t\"strings\"\n)\n\nfunc main() {\n\t" + loop + "\n}\n"
			if err := in.RunSource(context.Background(), "loop.go", src, nil); err != nil {
				t.Fatal(err)
			}
		} else {
			eval(t, in, `import ("fmt"; "probe"; "strings")`)
			eval(t, in, strings.ReplaceAll(loop, "\n\t", "\n"))
		}
		var n, grewMiB int
		if _, err := fmt.Sscan(out.String(), &n, &grewMiB); err != nil || n != 20*8<<20 {
			t.Fatalf("%s: output %q", mode, out.String())
		}
		if grewMiB > 48 {
			t.Errorf("%s: heap grew %d MiB over 20 iterations of an 8 MiB value", mode, grewMiB)
		}
	}
}
