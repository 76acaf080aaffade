package interp

import (
	"go/parser"
	"go/token"
	"strings"
	"testing"
)

// FuzzRewrite feeds scripts to the front end (parse, type-check, the trap
// rewrites, statement positions) without running them: it must never
// panic, and whatever it produces from valid Go must still be valid Go.
func FuzzRewrite(f *testing.F) {
	for _, s := range []string{
		"package main\nfunc main() { for i := range 3 { _ = i } }",
		"package main\nimport \"fmt\"\nfunc main() { var fs []func(); for i := 0; i < 3; i++ { fs = append(fs, func() { fmt.Println(i) }) } }",
		"package main\nfunc main() { x := min(1, 2.5); y := max(\"a\", \"b\"); m := map[int]int{}; clear(m); _, _ = x, y }",
		"package main\nfunc f[T any](x T) T { return x }\nfunc main() { _ = f(1) }",
		"package main\nfunc main() { for k, v := range map[string]int{} { func() { _ = k; v++ }() } }",
		"package main\nfunc main() { switch { case true: for i := 0; i < 2; i++ { defer func() { _ = i }() } } }",
		"package main\nfunc main() {\nL:\n\tfor {\n\t\tbreak L\n\t}\n}",
		"package main\nfunc main() { x := undefinedVar + 1; _ = x }",
		"package main\nfunc seq(yield func(int, string) bool) {}\nfunc f() (int, error) {\nL:\n\tfor i, s := range seq {\n\t\tfor range seq {\n\t\t\tif s == \"\" {\n\t\t\t\tcontinue L\n\t\t\t}\n\t\t\treturn i, nil\n\t\t}\n\t\tbreak\n\t}\n\treturn 0, nil\n}\nfunc main() { var k int; for k = range seq { _ = func() { println(k) } } }",
		"package main\nfunc f(a int, b ...int) {}\nfunc main() { for i := 0; i < 2; i++ { go f(i, []int{i}...); go func() { println(i) }(); go println(i) } }",
	} {
		f.Add(s)
	}
	in := New(Options{})
	f.Fuzz(func(t *testing.T, src string) {
		if len(src) > 4000 {
			return
		}
		fset := token.NewFileSet()
		if _, err := parser.ParseFile(fset, "in.go", src, 0); err != nil {
			return // the parser's own errors are reported as they are
		}
		text, _, _, _, err := in.prepareFile("in.go", src)
		if err != nil {
			return
		}
		text = strings.TrimSuffix(text, helperSource)
		if _, err := parser.ParseFile(token.NewFileSet(), "out.go", text, 0); err != nil {
			t.Fatalf("rewrite broke valid Go:\n--- in\n%s\n--- out\n%s\n--- %v", src, text, err)
		}
	})
}

// FuzzSessionInput feeds what a REPL line or notebook cell may hold to the
// session front end that runs before any evaluation: splitting input into
// statements and declarations, the is-complete check and completion at
// every cursor position. None may panic (a kernel request carries these
// strings from any client).
func FuzzSessionInput(f *testing.F) {
	for _, s := range []string{
		"x := 1\nfmt.Println(x)",
		"for i := 0; ; i++ {\n\tbreak\n}",
		"model.Trace(\"x\", func(tr *nnscope.Tracer) {\n\th := model.Transformer.H.At(0).",
		"type P struct{ A int }\nfunc (p P) M() {}\n}",
		"import (\n\n\t\"fmt\"\n)\n",
		"`unterminated",
		"/* comment",
		"x := []int{1, 2,\n",
		":modules",
		"package main\nfunc main() { println(1) }",
		"'\\",
	} {
		f.Add(s)
	}
	in := New(Options{})
	f.Fuzz(func(t *testing.T, src string) {
		if len(src) > 2000 {
			return
		}
		splitInput(src)
		IsComplete(src)
		for cur := 0; cur <= len(src); cur += 1 + len(src)/16 {
			in.Complete(src, cur)
		}
	})
}
