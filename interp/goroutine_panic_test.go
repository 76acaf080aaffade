package interp

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A panic in a goroutine the script started is reported at the statement
// that panicked, not at the start of its function (the go statement for a
// function literal), also in a function it calls and in the body of a
// range over a function.
func TestGoroutinePanicPosition(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{"go func() {\n\t\tx := 1\n\t\t_ = x\n\t\tvar s []int\n\t\t_ = s[5]\n\t}()", "g.go:14:3: panic: runtime error: index out of range"},
		{"go work(3)", "g.go:6:2: panic: boom"},
		{"go func() {\n\t\tfor i := range each {\n\t\t\tif i == 1 {\n\t\t\t\twork(i)\n\t\t\t}\n\t\t}\n\t}()", "g.go:6:2: panic: boom"},
		{"go func() {\n\t\tfor i := range each {\n\t\t\tvar m map[int]int\n\t\t\tm[i] = i\n\t\t}\n\t}()", "g.go:13:4: panic: assignment to entry in nil map"},
	} {
		src := "package main\n\nimport \"time\"\n\nfunc work(n int) {\n\tpanic(\"boom\")\n}\n\nfunc main() {\n\t" + c.body + "\n\ttime.Sleep(100 * time.Millisecond)\n}\n\nfunc each(yield func(int) bool) { yield(0); yield(1) }\n"
		var errb lockedBuffer
		got := make(chan error, 1)
		in := New(Options{Stdout: &errb, Stderr: &errb, GoroutinePanic: func(err error) { got <- err }})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- in.RunSource(ctx, "g.go", src, nil) }()
		select {
		case err := <-got:
			if !strings.HasPrefix(err.Error(), c.want) {
				t.Errorf("%s:\ngot  %v\nwant %s", c.body, err, c.want)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%s: no panic; output %q", c.body, errb.String())
		}
		cancel()
		<-done
	}
	// In a session.
	var errb lockedBuffer
	got := make(chan error, 1)
	in := New(Options{Stdout: &errb, Stderr: &errb, GoroutinePanic: func(err error) { got <- err }})
	eval(t, in, "x := 1")
	eval(t, in, "go func() {\n\ty := x\n\tvar p *struct{ A int }\n\tp.A = y\n}()")
	select {
	case err := <-got:
		e, ok := err.(*Error)
		if !ok || e.Pos.Line != 4 || e.Pos.Input != 2 {
			t.Errorf("got %v (%#v)", err, err)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("no panic; output %q", errb.String())
	}
}
