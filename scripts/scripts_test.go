package scripts

// These tests run every script through the interpreter on
// testdata/gpt2-tiny and check what it prints against PyTorch's numbers in
// reference.json.

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"nnscope/internal/reference"
	"nnscope/session"
)

// run executes a script and returns its stdout.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	s := session.New(session.Options{Stdout: &out, Stderr: &errb})
	args = append([]string{"-model", reference.Dir()}, args...)
	if err := s.RunFile(context.Background(), name, args); err != nil {
		t.Fatalf("%s: %v\nstderr:\n%s", name, err, errb.String())
	}
	return out.String()
}

var number = regexp.MustCompile(`-?\d+(\.\d+)?(e[-+]?\d+)?`)

// valueAfter returns the numbers on the line starting with prefix.
func valueAfter(t *testing.T, out, prefix string) []float64 {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, prefix) {
			var vals []float64
			for _, s := range number.FindAllString(line[len(prefix):], -1) {
				v, err := strconv.ParseFloat(s, 64)
				if err != nil {
					t.Fatal(err)
				}
				vals = append(vals, v)
			}
			return vals
		}
	}
	t.Fatalf("no line %q in output:\n%s", prefix, out)
	return nil
}

// near compares printed values (printed with 6 significant digits).
func near(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values %v, want %d %v", what, len(got), got, len(want), want)
	}
	for i := range got {
		d := got[i] - want[i]
		if d < 0 {
			d = -d
		}
		scale := want[i]
		if scale < 0 {
			scale = -scale
		}
		if d > tol*max(scale, 1e-2) {
			t.Errorf("%s[%d]: got %v, want %v", what, i, got[i], want[i])
		}
	}
}

func refCases(t *testing.T) reference.Cases {
	ref, err := reference.Load()
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func TestEveryScriptIsTested(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	src, _ := os.ReadFile("scripts_test.go")
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || f == "doc.go" {
			continue
		}
		n++
		if !bytes.Contains(src, []byte(`"`+f+`"`)) {
			t.Errorf("%s has no test", f)
		}
	}
	if n < 10 {
		t.Errorf("only %d scripts", n)
	}
}

func TestGradients(t *testing.T) {
	var c struct {
		Mean float64 `json:"grad_abs_mean"`
	}
	refCases(t).Case("grad_last", &c)
	out := run(t, "gradients.go")
	if !strings.Contains(out, "Gradient shape: [1 10 32]") {
		t.Errorf("output:\n%s", out)
	}
	near(t, "mean", valueAfter(t, out, "Gradient mean:"), []float64{c.Mean}, 1e-4)
}

func TestGradientsLayers(t *testing.T) {
	var c struct {
		Means map[string]float64 `json:"abs_mean"`
	}
	refCases(t).Case("grad_all_layers", &c)
	out := run(t, "gradients_layers.go")
	for l, want := range c.Means {
		near(t, "layer "+l, valueAfter(t, out, "Layer "+l+" gradient mean:"), []float64{want}, 1e-5)
	}
}

func TestGradientEdit(t *testing.T) {
	var c struct {
		After float64 `json:"layer0_grad_abs_mean_after"`
	}
	refCases(t).Case("grad_zero_last", &c)
	out := run(t, "gradient_edit.go")
	near(t, "after", valueAfter(t, out, "Layer 0 gradient mean after zeroing the last layer's:"), []float64{c.After}, 0)
	var g struct {
		Mean float64 `json:"grad_abs_mean"`
	}
	refCases(t).Case("grad_last", &g)
	near(t, "before", valueAfter(t, out, "Last layer gradient mean before the edit:"), []float64{g.Mean}, 1e-5)
}

func TestRetainGraph(t *testing.T) {
	var c struct {
		First  float64 `json:"first_abs_mean"`
		Second float64 `json:"second_abs_mean"`
	}
	refCases(t).Case("retain_graph", &c)
	out := run(t, "retain_graph.go")
	near(t, "first", valueAfter(t, out, "First pass gradient mean:"), []float64{c.First}, 1e-5)
	near(t, "second", valueAfter(t, out, "Second pass gradient mean:"), []float64{c.Second}, 1e-5)
}

func TestBackwardAfterTrace(t *testing.T) {
	var c struct {
		Mean float64 `json:"grad_abs_mean"`
	}
	refCases(t).Case("grad_last", &c)
	out := run(t, "backward_after_trace.go")
	near(t, "mean", valueAfter(t, out, "Gradient mean:"), []float64{c.Mean}, 1e-5)
}

func TestPatchingScripts(t *testing.T) {
	var c struct {
		Clean   float64     `json:"clean_metric"`
		Corrupt float64     `json:"corrupt_metric"`
		Act     [][]float64 `json:"activation_patching"`
		Attr    [][]float64 `json:"attribution_patching"`
	}
	refCases(t).Case("patching", &c)
	out := run(t, "activation_patching.go")
	near(t, "clean", valueAfter(t, out, "clean metric:"), []float64{c.Clean}, 1e-5)
	near(t, "corrupt", valueAfter(t, out, "corrupt metric:"), []float64{c.Corrupt}, 1e-5)
	for l := range c.Act {
		near(t, "activation patching layer "+strconv.Itoa(l), valueAfter(t, out, "layer "+strconv.Itoa(l)+":"), c.Act[l], 1e-4)
	}
	out = run(t, "attribution_patching.go")
	for l := range c.Attr {
		near(t, "attribution patching layer "+strconv.Itoa(l), valueAfter(t, out, "layer "+strconv.Itoa(l)+":"), c.Attr[l], 1e-4)
	}
}

func TestIntegratedGradients(t *testing.T) {
	var c struct {
		PerToken []float64 `json:"per_token"`
	}
	refCases(t).Case("integrated_gradients", &c)
	out := run(t, "integrated_gradients.go")
	near(t, "IG", valueAfter(t, out, "values:"), c.PerToken, 1e-4)
}

func TestLogitLens(t *testing.T) {
	// The last layer's lens is the model's own prediction: its top token is
	// the forward pass's top token (26327, "byte").
	var c struct {
		Top []int `json:"last_top10_ids"`
	}
	refCases(t).Case("forward", &c)
	out := run(t, "logit_lens.go")
	i := strings.Index(out, "layer  2: ")
	if i < 0 || c.Top[0] != 26327 || !strings.HasPrefix(out[i+len("layer  2: "):], `"byte"`) {
		t.Errorf("last layer lens does not predict token %d:\n%s", c.Top[0], out)
	}
}

func TestSteering(t *testing.T) {
	steeredLine := func(out string) string {
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, `steered: "`) {
				return strings.TrimPrefix(l, "steered: ")
			}
		}
		t.Fatalf("no steered line:\n%s", out)
		return ""
	}
	out := run(t, "steering.go", "-scale", "0", "-tokens", "5")
	plain := strings.TrimPrefix(strings.Split(out, "\n")[0], "plain:   ")
	if s := steeredLine(out); plain != s {
		t.Errorf("scale 0 changed the text: plain %s, steered %s", plain, s)
	}
	if s := steeredLine(run(t, "steering.go", "-tokens", "5")); s == plain {
		t.Errorf("scale 4 changed nothing: %s", s)
	}
}
