package interp

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

func TestIsComplete(t *testing.T) {
	for src, want := range map[string]bool{
		"x := 1":                      true,
		"func f() {":                  false,
		"for i := 0; i < 3; i++ {\n":  false,
		"x := 1 +":                    false,
		"s := `abc":                   false,
		"fmt.Println(1,":              false,
		"func f() {}\n":               true,
		"x := )":                      true, // syntax error: let Eval report it
		"type T struct {\n\tA int\n}": true,
	} {
		if got, _ := IsComplete(src); got != want {
			t.Errorf("IsComplete(%q) = %v", src, got)
		}
	}
	if _, ind := IsComplete("func f() {\n\tif x {"); ind != "\t\t" {
		t.Errorf("indent %q", ind)
	}
}

func TestComplete(t *testing.T) {
	in, _ := newTest(t)
	eval(t, in, `import "strings"`)
	eval(t, in, `import "time"`)
	eval(t, in, "type P struct { Name string; Age int }\nperson := &P{Name: \"a\"}\nd := time.Second")
	for _, c := range []struct {
		src  string
		want string
	}{
		{"strings.ToU", "ToUpper"},
		{"per", "person"},
		{"person.Na", "Name"},
		{"x := d.Sec", "Seconds"},
		{"fo", "for"},
		{"str", "strings"},
	} {
		got := in.Complete(c.src, len(c.src))
		if !slices.Contains(got, c.want) {
			t.Errorf("Complete(%q) = %v, want %s", c.src, got, c.want)
		}
	}
}

func TestRunFileCancel(t *testing.T) {
	in, _ := newTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := in.RunSource(ctx, "loop.go", "package main\nfunc main() { for {} }\n", nil)
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindRuntime {
		t.Fatalf("err %v", err)
	}
}
