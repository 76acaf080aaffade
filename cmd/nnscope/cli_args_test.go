package main

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestBenchWorkloads: benchWorkloads are bench.Run's workloads (read from
// bench/bench.go), and -only with a name that is not one of them is an
// error listing them; it used to benchmark nothing and exit 0.
func TestBenchWorkloads(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "../../bench/bench.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	ast.Inspect(f, func(n ast.Node) bool {
		cl, ok := n.(*ast.CompositeLit)
		if !ok || len(cl.Elts) != 2 {
			return true
		}
		if id, ok := cl.Type.(*ast.Ident); ok && id.Name == "workload" || cl.Type == nil {
			if lit, ok := cl.Elts[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				s, _ := strconv.Unquote(lit.Value)
				names = append(names, s)
			}
		}
		return true
	})
	if !slices.Equal(names, benchWorkloads) {
		t.Errorf("bench/bench.go has workloads %q, benchWorkloads %q", names, benchWorkloads)
	}
	_, _, err = runCLI(t, "bench", "-only", "seed1,nope")
	if err == nil || !strings.Contains(err.Error(), `no workload "nope"`) || !strings.Contains(err.Error(), "gen-10+20") {
		t.Errorf("bench -only nope: %v", err)
	}
	if got, err := benchNames(" seed1, ,fwd-1x10,"); err != nil || !slices.Equal(got, []string{"seed1", "fwd-1x10"}) {
		t.Errorf("benchNames: %q %v", got, err)
	}
}

// TestCommandArgs: flags before the script's file, extra arguments and bad
// flags are usage errors (exit status 2) that say what to write, printed
// once.
func TestCommandArgs(t *testing.T) {
	var code exitCode
	_, errOut, err := runCLI(t, "run", "-model", "x", "s.go")
	if !errors.As(err, &code) || code != 2 || !strings.Contains(errOut, "nnscope run s.go -model x") {
		t.Errorf("run -model x s.go: %v %q", err, errOut)
	}
	model, _ := filepath.Abs("../../testdata/gpt2-tiny")
	// Arguments after a non-flag were ignored: -model was, and the demo
	// ran another model.
	_, errOut, err = runCLI(t, "demo", "extra", "-model", model)
	if !errors.As(err, &code) || code != 2 || !strings.Contains(errOut, `unexpected argument "extra"`) {
		t.Errorf("demo extra: %v %q", err, errOut)
	}
	_, errOut, err = runCLI(t, "demo", "-tokens", "x")
	if !errors.As(err, &code) || code != 2 || strings.Count(errOut, `invalid value "x"`) != 1 {
		t.Errorf("demo -tokens x: %v %q", err, errOut)
	}
	if _, _, err = runCLI(t, "bench", "seed1"); !errors.As(err, &code) || code != 2 {
		t.Errorf("bench seed1: %v", err)
	}
}
