package notebooks

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

const systemPython = "/usr/bin/python3"

// jupyterEnv builds nnscope, installs its kernelspec with `nnscope kernel
// install --prefix` into a temporary folder and returns the environment that
// makes Jupyter find it (and nothing of the user's).
func jupyterEnv(t *testing.T) []string {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping the Jupyter end-to-end tests in -short mode")
	}
	if err := exec.Command(systemPython, "-c", "import jupyter_client, nbclient, nbformat, zmq").Run(); err != nil {
		t.Skipf("%s cannot import jupyter_client/nbclient (%v); install them with: "+
			"apt-get install -y python3-jupyter-client python3-nbclient jupyter-nbconvert python3-ipykernel", systemPython, err)
	}
	dir := t.TempDir()
	exe := filepath.Join(dir, "nnscope")
	goCmd := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goCmd); err != nil {
		goCmd = "go"
	}
	start := time.Now()
	if out, err := exec.Command(goCmd, "build", "-o", exe, "nnscope/cmd/nnscope").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("built nnscope in %.1fs", time.Since(start).Seconds())
	prefix := filepath.Join(dir, "prefix")
	if out, err := exec.Command(exe, "kernel", "install", "--prefix", prefix).CombinedOutput(); err != nil {
		t.Fatalf("nnscope kernel install: %v\n%s", err, out)
	}
	var spec struct{ Argv []string }
	b, err := os.ReadFile(filepath.Join(prefix, "share", "jupyter", "kernels", "nnscope", "kernel.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	if want := []string{exe, "kernel", "-f", "{connection_file}"}; strings.Join(spec.Argv, " ") != strings.Join(want, " ") {
		t.Fatalf("kernelspec argv %q, want %q", spec.Argv, want)
	}
	return append(os.Environ(),
		"JUPYTER_PATH="+filepath.Join(prefix, "share", "jupyter"),
		"JUPYTER_DATA_DIR="+filepath.Join(dir, "data"),
		"JUPYTER_RUNTIME_DIR="+filepath.Join(dir, "runtime"),
		"JUPYTER_CONFIG_DIR="+filepath.Join(dir, "config"),
		"JUPYTER_PLATFORM_DIRS=0",
		"PYTHONNOUSERSITE=1",
	)
}

func TestJupyter(t *testing.T) {
	env := jupyterEnv(t)
	t.Run("KernelCases", func(t *testing.T) { kernelCases(t, env) })
	t.Run("Notebooks", func(t *testing.T) { runNotebooks(t, env) })
}

// kernelCases drives the kernel with kernel/testdata/kernel_driver.py and
// testdata/kernel_cases.json: streams, results, errors that leave the
// session usable, interrupts of a trace loop and of a generation, displays,
// progress updates, completion, inspection, latency.
func kernelCases(t *testing.T, env []string) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(t.TempDir(), "report.json")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, systemPython, "kernel/testdata/kernel_driver.py",
		"--kernel", "nnscope", "--cases", "notebooks/testdata/kernel_cases.json", "--report", report)
	cmd.Dir = root // the cases load testdata/gpt2-tiny
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var rep struct {
		ReadyS    float64                       `json:"ready_s"`
		ReadyL    float64                       `json:"ready_after_launch_s"`
		ShutdownS float64                       `json:"shutdown_s"`
		Latency   map[string]map[string]float64 `json:"latency"`
		Failures  []string                      `json:"failures"`
		Steps     []map[string]any              `json:"steps"`
	}
	if jerr := json.Unmarshal(stdout.Bytes(), &rep); jerr != nil {
		t.Fatalf("driver: %v (report: %v)\nstdout:\n%s\nstderr:\n%s", err, jerr, stdout.String(), stderr.String())
	}
	for _, f := range rep.Failures {
		t.Errorf("case failed: %s", f)
	}
	if err != nil && len(rep.Failures) == 0 {
		t.Errorf("driver: %v\nstderr:\n%s", err, stderr.String())
	}
	if t.Failed() && stderr.Len() > 0 {
		t.Logf("driver and kernel stderr:\n%s", stderr.String())
	}
	t.Logf("kernel ready %.3fs after launch (%.3fs from start_kernel), shutdown %.3fs, %d steps",
		rep.ReadyL, rep.ReadyS, rep.ShutdownS, len(rep.Steps))
	for code, l := range rep.Latency {
		t.Logf("execute round trip of %q: median %.2f ms, p90 %.2f ms (n=%v)", code, l["median_ms"], l["p90_ms"], l["n"])
	}
	if rep.ReadyL > 0.5 {
		t.Errorf("kernel ready %.3fs after launch, want under 0.5s", rep.ReadyL)
	}
}

// reference holds the numbers of testdata/gpt2-tiny/reference.json the
// notebooks are checked against.
type reference struct {
	Cases struct {
		GradLast struct {
			GradAbsMean float64 `json:"grad_abs_mean"`
		} `json:"grad_last"`
		GradAllLayers struct {
			AbsMean map[string]float64 `json:"abs_mean"`
		} `json:"grad_all_layers"`
		GradZeroLast struct {
			After float64 `json:"layer0_grad_abs_mean_after"`
		} `json:"grad_zero_last"`
		RetainGraph struct {
			First  float64 `json:"first_abs_mean"`
			Second float64 `json:"second_abs_mean"`
		} `json:"retain_graph"`
		Patching struct {
			Attribution [][]float64 `json:"attribution_patching"`
		} `json:"patching"`
	} `json:"cases"`
}

type output struct {
	OutputType string         `json:"output_type"`
	Name       string         `json:"name"`
	Text       multiline      `json:"text"`
	Data       map[string]any `json:"data"`
	Ename      string         `json:"ename"`
	Evalue     string         `json:"evalue"`
}

// multiline is nbformat's string-or-list-of-strings.
type multiline string

func (m *multiline) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*m = multiline(s)
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return err
	}
	*m = multiline(strings.Join(l, ""))
	return nil
}

type notebook struct {
	Cells []struct {
		CellType       string    `json:"cell_type"`
		Source         multiline `json:"source"`
		ExecutionCount *int      `json:"execution_count"`
		Outputs        []output  `json:"outputs"`
	} `json:"cells"`
}

// text is the stream output of all cells; mimes counts the MIME types of
// display_data and execute_result outputs.
func (nb *notebook) text() string {
	var b strings.Builder
	for _, c := range nb.Cells {
		for _, o := range c.Outputs {
			if o.OutputType == "stream" {
				b.WriteString(string(o.Text))
			}
		}
	}
	return b.String()
}

func (nb *notebook) data(mime string) []string {
	var out []string
	for _, c := range nb.Cells {
		for _, o := range c.Outputs {
			if v, ok := o.Data[mime]; ok {
				var m multiline
				raw, _ := json.Marshal(v)
				_ = m.UnmarshalJSON(raw)
				out = append(out, string(m))
			}
		}
	}
	return out
}

func runNotebooks(t *testing.T, env []string) {
	var ref reference
	b, err := os.ReadFile("../testdata/gpt2-tiny/reference.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	names := []string{"seed.ipynb", "attribution_patching.ipynb"}
	args := []string{"testdata/run_notebooks.py", "--kernel", "nnscope", "--out", out}
	args = append(args, names...)
	cmd := exec.CommandContext(ctx, systemPython, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("run_notebooks.py: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	t.Logf("nbclient: %s", strings.Join(strings.Fields(stdout.String()), " "))
	load := func(name string) *notebook {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		var nb notebook
		if err := json.Unmarshal(b, &nb); err != nil {
			t.Fatal(err)
		}
		for i, c := range nb.Cells {
			if c.CellType != "code" {
				continue
			}
			if c.ExecutionCount == nil {
				t.Errorf("%s: cell %d was not executed", name, i)
			}
			for _, o := range c.Outputs {
				if o.OutputType == "error" {
					t.Errorf("%s: cell %d: %s: %s", name, i, o.Ename, o.Evalue)
				}
			}
		}
		return &nb
	}

	seed := load("seed.ipynb")
	text := seed.text()
	c := ref.Cases
	near := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-3*math.Max(1, math.Abs(want)) {
			t.Errorf("seed.ipynb: %s = %v, PyTorch says %v", what, got, want)
		}
	}
	near("gradient mean", number(t, text, `Gradient mean: (\S+)`, 0), c.GradLast.GradAbsMean)
	near("gradient mean after the trace", number(t, text, `Gradient mean: (\S+)`, 1), c.GradLast.GradAbsMean)
	for l := 0; l < 3; l++ {
		near(fmt.Sprintf("layer %d gradient mean", l), number(t, text, fmt.Sprintf(`Layer %d gradient mean: (\S+)`, l), 0), c.GradAllLayers.AbsMean[strconv.Itoa(l)])
	}
	near("layer 0 gradient after the edit", number(t, text, `after zeroing the last layer's: (\S+)`, 0), c.GradZeroLast.After)
	near("first pass", number(t, text, `First pass gradient mean: (\S+)`, 0), c.RetainGraph.First)
	near("second pass", number(t, text, `Second pass gradient mean: (\S+)`, 0), c.RetainGraph.Second)
	if html := seed.data("text/html"); len(html) == 0 || !strings.Contains(html[0], "<table") || !strings.Contains(html[0], "shape [1 10 32]") {
		t.Errorf("seed.ipynb: the gradient's execute_result has no HTML table: %.200q", html)
	}
	checkPNGs(t, "seed.ipynb", seed, 1)

	attr := load("attribution_patching.ipynb")
	text = attr.text()
	for l, row := range c.Patching.Attribution {
		m := regexp.MustCompile(fmt.Sprintf(`(?m)^layer %d: (.*)$`, l)).FindStringSubmatch(text)
		if m == nil {
			t.Errorf("attribution_patching.ipynb: no output for layer %d in %q", l, text)
			continue
		}
		fields := strings.Fields(m[1])
		if len(fields) != len(row) {
			t.Errorf("attribution_patching.ipynb: layer %d has %d values, PyTorch %d", l, len(fields), len(row))
			continue
		}
		for i, f := range fields {
			got, err := strconv.ParseFloat(f, 64)
			if err != nil || math.Abs(got-row[i]) > 1e-3*math.Max(1, math.Abs(row[i])) {
				t.Errorf("attribution_patching.ipynb: [%d][%d] = %s, PyTorch says %v", l, i, f, row[i])
			}
		}
	}
	checkPNGs(t, "attribution_patching.ipynb", attr, 1)
	if progress := attr.data("text/html"); len(progress) == 0 || !strings.Contains(strings.Join(progress, ""), "<progress") {
		t.Errorf("attribution_patching.ipynb: no progress bar display")
	}
}

// number parses the i-th match of pattern's group in text.
func number(t *testing.T, text, pattern string, i int) float64 {
	t.Helper()
	ms := regexp.MustCompile(pattern).FindAllStringSubmatch(text, -1)
	if len(ms) <= i {
		t.Errorf("no match %d of %q in the output:\n%s", i, pattern, text)
		return math.NaN()
	}
	v, err := strconv.ParseFloat(ms[i][1], 64)
	if err != nil {
		t.Errorf("%q: %v", ms[i][0], err)
		return math.NaN()
	}
	return v
}

// checkPNGs checks that nb displays at least n decodable PNG images.
func checkPNGs(t *testing.T, name string, nb *notebook, n int) {
	t.Helper()
	imgs := nb.data("image/png")
	if len(imgs) < n {
		t.Errorf("%s: %d image/png outputs, want at least %d", name, len(imgs), n)
	}
	for i, s := range imgs {
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
		if err != nil {
			t.Errorf("%s: image %d: %v", name, i, err)
			continue
		}
		img, err := png.Decode(bytes.NewReader(raw))
		if err != nil {
			t.Errorf("%s: image %d: %v", name, i, err)
			continue
		}
		if r := img.Bounds(); r.Dx() < 200 || r.Dy() < 150 {
			t.Errorf("%s: image %d is only %v", name, i, r)
		}
	}
}
