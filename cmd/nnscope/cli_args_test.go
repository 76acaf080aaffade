package main

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestBenchWorkloads: -only with a name that is not a workload is an error
// listing them; it used to benchmark nothing and exit 0.
func TestBenchWorkloads(t *testing.T) {
	_, _, err := runCLI(t, "bench", "-only", "seed1,nope")
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
