package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nnscope/safetensors"
)

func runCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(args, &out, &errb)
	return out.String(), errb.String(), err
}

func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		out, _, err := runCLI(t, args...)
		if err != nil || !strings.Contains(out, "nnscope run FILE.go") {
			t.Errorf("%v: %v %q", args, err, out)
		}
	}
	out, _, err := runCLI(t, "version")
	if err != nil || !strings.HasPrefix(out, "nnscope ") {
		t.Errorf("version: %v %q", err, out)
	}
	out, _, err = runCLI(t, "run", "--help")
	if err != nil || !strings.Contains(out, "Usage: nnscope run FILE.go") {
		t.Errorf("run --help: %v %q", err, out)
	}
	_, errOut, err := runCLI(t, "bench", "-h")
	if !strings.Contains(errOut, "Usage: nnscope bench") {
		t.Errorf("bench -h: %v %q", err, errOut)
	}
	if _, _, err := runCLI(t, "frobnicate"); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Errorf("unknown command: %v", err)
	}
}

func TestRunScript(t *testing.T) {
	dir := t.TempDir()
	model, _ := filepath.Abs("../../testdata/gpt2-tiny")
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ok := write("ok.go", `package main

import (
	"flag"
	"fmt"

	"nnscope"
)

func main() {
	path := flag.String("model", "", "")
	flag.Parse()
	m := nnscope.LanguageModel(*path)
	var n int
	m.Trace("Hello", func(tr *nnscope.Tracer) { n = m.LMHead.Output().Shape()[2] })
	fmt.Println("vocab", n)
}
`)
	out, _, err := runCLI(t, "run", ok, "-model", model)
	if err != nil || out != "vocab 50257\n" {
		t.Fatalf("run ok.go: %v %q", err, out)
	}
	bad := write("bad.go", `package main

import "nnscope"

func main() {
	m := nnscope.LanguageModel("`+model+`")
	m.Trace("Hello", func(tr *nnscope.Tracer) {
		m.Transformer.H.At(2).Output()
		m.Transformer.H.At(0).Output()
	})
}
`)
	_, _, err = runCLI(t, "run", bad)
	if err == nil || !strings.Contains(err.Error(), "bad.go:9:3") || !strings.Contains(err.Error(), "out of order") {
		t.Fatalf("run bad.go: %v", err)
	}
	exit := write("exit.go", "package main\n\nimport \"os\"\n\nfunc main() { os.Exit(3) }\n")
	_, _, err = runCLI(t, "run", exit)
	var code exitCode
	if !errors.As(err, &code) || code != 3 {
		t.Fatalf("os.Exit(3): %v", err)
	}
	if _, _, err := runCLI(t, "run", filepath.Join(dir, "missing.go")); err == nil || !strings.Contains(err.Error(), "missing.go") {
		t.Fatalf("missing file: %v", err)
	}
	if _, _, err := runCLI(t, "run"); !errors.As(err, &code) || code != 2 {
		t.Errorf("run without a file: %v, want exit status 2", err)
	}
	// A panic in a goroutine ends the script with status 2, as it ends a
	// compiled program.
	exited := make(chan int, 1)
	osExit = func(code int) { exited <- code; select {} }
	defer func() { osExit = os.Exit }()
	gopanic := write("gopanic.go", "package main\n\nimport \"time\"\n\nfunc main() {\n\tgo func() { panic(\"boom\") }()\n\ttime.Sleep(time.Minute)\n}\n")
	go runCLI(t, "run", gopanic)
	select {
	case c := <-exited:
		if c != 2 {
			t.Errorf("goroutine panic: exit status %d, want 2", c)
		}
	case <-time.After(20 * time.Second):
		t.Error("a goroutine panic did not end the script")
	}
}

// TestDemoErrors: a prompt or a length that does not fit the model is an
// error saying so, not a panic.
func TestDemoErrors(t *testing.T) {
	model, _ := filepath.Abs("../../testdata/gpt2-tiny")
	out, _, err := runCLI(t, "demo", "-model", model, "-tokens", "3")
	if err != nil || !strings.Contains(out, "Greedy continuation") {
		t.Fatalf("demo: %v %q", err, out)
	}
	if _, _, err := runCLI(t, "demo", "-model", model, "-prompt", strings.Repeat(" a", 60), "-tokens", "5"); err != nil {
		t.Errorf("demo up to the n_positions limit: %v", err)
	}
	// The fixture cut to its first 1000 tokens, without tokenizer files:
	// GPT-2's tokenizer gives ids past its rows.
	small := t.TempDir()
	f, err := safetensors.Open(filepath.Join(model, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ts := map[string]safetensors.Tensor{}
	for _, name := range f.Names() {
		d, shape, err := f.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		if name == "wte.weight" {
			shape = []int{1000, shape[1]}
			d = d[:1000*shape[1]]
		}
		ts[name] = safetensors.Tensor{Dtype: safetensors.F32, Shape: shape, Data: d}
	}
	if err := safetensors.Write(filepath.Join(small, "model.safetensors"), ts, nil); err != nil {
		t.Fatal(err)
	}
	cfg := `{"model_type": "gpt2", "vocab_size": 1000, "n_positions": 64, "n_embd": 32, "n_layer": 3, "n_head": 4}`
	if err := os.WriteFile(filepath.Join(small, "config.json"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-model", model, "-prompt", ""}, "no tokens"},
		{[]string{"-model", model, "-prompt", strings.Repeat(" a", 65)}, "n_positions 64"},
		{[]string{"-model", model, "-prompt", strings.Repeat(" a", 60), "-tokens", "6"}, "need 65 positions"},
		{[]string{"-model", model, "-tokens", "-1"}, "-tokens -1"},
		{[]string{"-model", small}, "vocab_size is 1000"},
	} {
		_, _, err := runCLI(t, append([]string{"demo"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("demo %q: %v, want an error saying %q", c.args, err, c.want)
		}
	}
}
