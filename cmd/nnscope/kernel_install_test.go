package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readSpec reads the kernel.json installed in dir and checks its logos.
func readSpec(t *testing.T, dir string) (spec struct {
	Argv        []string `json:"argv"`
	DisplayName string   `json:"display_name"`
	Language    string   `json:"language"`
}) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "kernel.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	if len(spec.Argv) != 4 || !filepath.IsAbs(spec.Argv[0]) || strings.Join(spec.Argv[1:], " ") != "kernel -f {connection_file}" {
		t.Errorf("%s: argv %q, want [THIS-BINARY kernel -f {connection_file}]", dir, spec.Argv)
	}
	if spec.Language != "go" {
		t.Errorf("%s: language %q", dir, spec.Language)
	}
	for _, logo := range []string{"logo-32x32.png", "logo-64x64.png"} {
		if _, err := os.Stat(filepath.Join(dir, logo)); err != nil {
			t.Error(err)
		}
	}
	return spec
}

// TestKernelInstall: --name is the kernel's id and folder, --display-name
// what Jupyter shows, as in `python -m ipykernel install`; --user,
// --prefix and --sys-prefix pick the kernels folder.
func TestKernelInstall(t *testing.T) {
	data := t.TempDir()
	t.Setenv("JUPYTER_DATA_DIR", data)
	t.Setenv("VIRTUAL_ENV", "")
	t.Setenv("CONDA_PREFIX", "")
	prefix := t.TempDir()

	// The defaults: folder nnscope, shown as "Go (nnscope)".
	out, _, err := runCLI(t, "kernel", "install", "--prefix", prefix)
	dir := filepath.Join(prefix, "share", "jupyter", "kernels", "nnscope")
	if err != nil || out != "Installed kernelspec nnscope in "+dir+"\n" {
		t.Fatalf("install --prefix: %v %q", err, out)
	}
	if s := readSpec(t, dir); s.DisplayName != "Go (nnscope)" {
		t.Errorf("default display name %q", s.DisplayName)
	}

	for _, c := range []struct {
		args        []string
		dir         string // under the Jupyter data dir's kernels
		displayName string
	}{
		{[]string{"--user"}, "nnscope", "Go (nnscope)"},
		{[]string{"--user", "--name", "nnscope-dev", "--display-name", "Go (dev)"}, "nnscope-dev", "Go (dev)"},
		{[]string{"--user", "--name=gpt2_tiny.v2"}, "gpt2_tiny.v2", "Go (nnscope)"},
		{[]string{"-user", "-display-name", "Go: GPT-2 ✓"}, "nnscope", "Go: GPT-2 ✓"},
		// Kernel names are case-insensitive; Jupyter installs them lowercase.
		{[]string{"--user", "--name", "MyKernel"}, "mykernel", "Go (nnscope)"},
	} {
		out, _, err := runCLI(t, append([]string{"kernel", "install"}, c.args...)...)
		dir := filepath.Join(data, "kernels", c.dir)
		if err != nil || !strings.Contains(out, "Installed kernelspec "+c.dir+" in "+dir) {
			t.Errorf("install %q: %v %q, want it installed in %s", c.args, err, out, dir)
			continue
		}
		if s := readSpec(t, dir); s.DisplayName != c.displayName {
			t.Errorf("install %q: display name %q, want %q", c.args, s.DisplayName, c.displayName)
		}
	}

	// --sys-prefix: the active virtualenv's, else conda env's, prefix.
	venv, conda := t.TempDir(), t.TempDir()
	t.Setenv("CONDA_PREFIX", conda)
	if _, _, err := runCLI(t, "kernel", "install", "--sys-prefix", "--name", "in-conda"); err != nil {
		t.Fatal(err)
	}
	readSpec(t, filepath.Join(conda, "share", "jupyter", "kernels", "in-conda"))
	t.Setenv("VIRTUAL_ENV", venv)
	if _, _, err := runCLI(t, "kernel", "install", "--sys-prefix"); err != nil {
		t.Fatal(err)
	}
	readSpec(t, filepath.Join(venv, "share", "jupyter", "kernels", "nnscope"))
}

// TestKernelInstallErrors: a --name that is no kernel name (the old
// display-name use) or conflicting places are errors that install nothing.
func TestKernelInstallErrors(t *testing.T) {
	data := t.TempDir()
	t.Setenv("JUPYTER_DATA_DIR", data)
	t.Setenv("VIRTUAL_ENV", "")
	t.Setenv("CONDA_PREFIX", "")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--user", "--name", "Go (dev)"}, `--name "Go (dev)" is not a kernel name`},
		{[]string{"--user", "--name", "Go (dev)"}, `use --display-name "Go (dev)"`},
		{[]string{"--user", "--name", "a/b"}, `'/'`},
		{[]string{"--user", "--name", "..", "--display-name", "x"}, "not a kernel name"},
		{[]string{"--user", "--name", ""}, "--name is empty"},
		{[]string{"--sys-prefix"}, "no virtualenv or conda env is active"},
		{[]string{"--sys-prefix", "--prefix", data}, "--sys-prefix and --prefix"},
		{[]string{"--user", "--prefix", data}, "--user and --prefix"},
		{[]string{"--user", "--sys-prefix"}, "--user and --prefix"},
		{[]string{"--user", "extra"}, `unexpected argument "extra"`},
	} {
		_, _, err := runCLI(t, append([]string{"kernel", "install"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("install %q: %v, want an error saying %s", c.args, err, c.want)
		}
	}
	if entries, _ := os.ReadDir(data); len(entries) > 0 {
		t.Errorf("a failed install wrote %v", entries)
	}
	// The help names every flag.
	_, errOut, _ := runCLI(t, "kernel", "install", "-h")
	for _, f := range []string{"-user", "-prefix", "-sys-prefix", "-name", "-display-name"} {
		if !strings.Contains(errOut, f) {
			t.Errorf("kernel install -h lacks %s:\n%s", f, errOut)
		}
	}
	_, errOut, _ = runCLI(t, "kernel", "-h")
	if !strings.Contains(errOut, "--display-name TEXT") {
		t.Errorf("kernel -h:\n%s", errOut)
	}
}
