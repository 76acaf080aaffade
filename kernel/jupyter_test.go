package kernel

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// serveFlag makes the test binary a kernel serving the fake evaluator:
// kernel.test -nnscope-serve-fake CONNECTION_FILE. The end-to-end test installs a kernelspec
// whose argv runs the test binary this way.
const serveFlag = "-nnscope-serve-fake"

func TestMain(m *testing.M) {
	if len(os.Args) == 3 && os.Args[1] == serveFlag {
		if err := Serve(context.Background(), os.Args[2], newFakeEvaluator(), nil); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

const systemPython = "/usr/bin/python3"

// TestJupyterClient drives the fake-evaluator kernel with Debian's jupyter_client (and nbclient)
// through testdata/kernel_driver.py and testdata/fake_cases.json.
func TestJupyterClient(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the jupyter_client end-to-end test in -short mode")
	}
	if err := exec.Command(systemPython, "-c", "import jupyter_client, nbclient, nbformat, zmq").Run(); err != nil {
		t.Skipf("%s cannot import jupyter_client/nbclient (%v); install them with: "+
			"apt-get install -y python3-jupyter-client python3-nbclient jupyter-nbconvert python3-ipykernel", systemPython, err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	const name = "nnscope-test"
	if err := InstallKernelSpec(filepath.Join(dir, "kernels", name), []string{exe, serveFlag, "{connection_file}"}, "Go (nnscope test)"); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(dir, "report.json")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, systemPython, "testdata/kernel_driver.py",
		"--kernel", name, "--cases", "testdata/fake_cases.json", "--report", report)
	cmd.Env = append(os.Environ(),
		"JUPYTER_PATH="+dir,
		"JUPYTER_DATA_DIR="+filepath.Join(dir, "data"),
		"JUPYTER_RUNTIME_DIR="+filepath.Join(dir, "runtime"),
		"JUPYTER_CONFIG_DIR="+filepath.Join(dir, "config"),
		"JUPYTER_PLATFORM_DIRS=0",
		"PYTHONNOUSERSITE=1",
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if stderr.Len() > 0 {
		t.Logf("driver and kernel stderr:\n%s", stderr.String())
	}
	var rep struct {
		ReadyS    float64                       `json:"ready_s"`
		Bound     float64                       `json:"bound_after_launch_s"`
		ReadyL    float64                       `json:"ready_after_launch_s"`
		RestartS  float64                       `json:"restart_s"`
		ShutdownS float64                       `json:"shutdown_s"`
		Latency   map[string]map[string]float64 `json:"latency"`
		Failures  []string                      `json:"failures"`
	}
	if jerr := json.Unmarshal(stdout.Bytes(), &rep); jerr != nil {
		t.Fatalf("driver: %v; unreadable report (%v):\n%s", err, jerr, stdout.String())
	}
	t.Logf("start_kernel to ready %.3fs; after the process launch: sockets bound %.4fs, wait_for_ready done %.3fs; restart %.3fs, shutdown %.3fs",
		rep.ReadyS, rep.Bound, rep.ReadyL, rep.RestartS, rep.ShutdownS)
	for code, l := range rep.Latency {
		t.Logf("execute round trip of %q: median %.2f ms, p90 %.2f ms (n=%.0f)", code, l["median_ms"], l["p90_ms"], l["n"])
	}
	for _, f := range rep.Failures {
		t.Error(f)
	}
	if err != nil && len(rep.Failures) == 0 {
		t.Fatalf("driver: %v\n%s", err, stdout.String())
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("report:\n%s", stdout.String())
	}
	// The readiness time is logged above; only a kernel that hangs at
	// start fails (a tight bound failed on a busy machine: 3.4 s there).
	if rep.ReadyS > 30 {
		t.Errorf("the kernel took %.1f s to be ready", rep.ReadyS)
	}
}
