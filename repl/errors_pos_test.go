package repl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An error in a function of a loaded file names the file, also when a
// later input calls it; one in a function typed earlier says so instead
// of giving a line:col that reads as the current input's.
func TestErrorPositionsAcrossInputs(t *testing.T) {
	lib := filepath.Join(t.TempDir(), "lib.go")
	os.WriteFile(lib, []byte("package main\n\nimport \"fmt\"\n\nfunc helper(s []int) int {\n\tfmt.Println(\"helper\")\n\treturn s[5]\n}\n\nfunc main() {\n\tfmt.Println(\"loaded\")\n}\n"), 0o644)
	in := strings.Join([]string{
		":load " + lib,
		"helper(nil)",
		"func g(s []int) int {",
		"\treturn s[3]",
		"}",
		"g(nil)",
		"",
	}, "\n")
	out, errs, _, _ := runPiped(t, in)
	if !strings.Contains(errs, "error: "+lib+":7:2: panic: runtime error: index out of range\n") {
		t.Errorf("loaded function: stderr %q", errs)
	}
	if !strings.Contains(errs, "error: earlier input:2:2: panic: runtime error: index out of range (at: return s[3])\n") {
		t.Errorf("earlier input: stderr %q", errs)
	}
	if !strings.Contains(out, "loaded\n") {
		t.Errorf("stdout %q", out)
	}
}
