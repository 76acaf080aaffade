//go:build unix

package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Ctrl-C during `nnscope run` stops the script and exits 130 (128 +
// SIGINT, the shell's convention), saying it was interrupted.
func TestRunInterruptedExits130(t *testing.T) {
	file := filepath.Join(t.TempDir(), "sleep.go")
	src := "package main\n\nimport \"time\"\n\nfunc main() { time.Sleep(30 * time.Second) }\n"
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(500 * time.Millisecond) // run has installed its handler by then
		p, _ := os.FindProcess(os.Getpid())
		p.Signal(os.Interrupt)
	}()
	var out, errb bytes.Buffer
	start := time.Now()
	err := run([]string{"run", file}, &out, &errb)
	var code exitCode
	if !errors.As(err, &code) || code != 130 {
		t.Fatalf("run interrupted: %v (stderr %q), want exit 130", err, errb.String())
	}
	if !strings.Contains(errb.String(), "interrupted") {
		t.Errorf("stderr %q does not say it was interrupted", errb.String())
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v to stop", d)
	}
}
