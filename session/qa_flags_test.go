package session

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// A func main that defines flags, kept as main_ in a session (typed, or
// :load-ed), runs again when main_() is called again, as a fresh process
// would, instead of failing with flag's "flag redefined" panic; the
// command line given with SetArgs is parsed each time. Defining one flag
// twice in a single run still panics, as in Go.
func TestMainRerunRedefinesFlags(t *testing.T) {
	var out, errb bytes.Buffer
	s := New(Options{Stdout: &out, Stderr: &errb})
	ctx := context.Background()
	s.SetArgs([]string{"script.go", "-n", "7"})
	for _, src := range []string{
		"import (\n\t\"flag\"\n\t\"fmt\"\n)",
		"func main() {\n\tn := flag.Int(\"n\", 1, \"count\")\n\tname := flag.String(\"name\", \"x\", \"a name\")\n\tflag.Parse()\n\tfmt.Println(\"run\", *n, *name)\n}",
		"main_()",
		"main_()",
		"main_()",
	} {
		if _, err := s.Eval(ctx, src); err != nil {
			t.Fatalf("%s: %v\nstderr: %s", src, err, errb.String())
		}
	}
	if got := strings.Count(out.String(), "run 7 x\n"); got != 3 {
		t.Fatalf("want 3 runs with -n 7, got output %q", out.String())
	}
	_, err := s.Eval(ctx, "func twice() {\n\tflag.Int(\"k\", 1, \"\")\n\tflag.Int(\"k\", 2, \"\")\n}\ntwice()")
	if err == nil || !strings.Contains(err.Error(), "flag redefined: k") {
		t.Fatalf("a flag defined twice in one run: %v", err)
	}
}
