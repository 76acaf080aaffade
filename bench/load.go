package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"nnscope/gpt2"
	rt "nnscope/runtime"
	"nnscope/safetensors"
)

// ChildLoadEnv names the environment variable that makes a re-executed
// nnscope run LoadChild instead of its command line.
const ChildLoadEnv = "NNSCOPE_BENCH_LOAD_DIR"

// loadRSS writes a full-size GPT-2 (float32, about 500 MB) to a temporary
// folder, then loads it and runs seed1 in a fresh process, whose peak RSS
// shows whether loading copied the weights (it should not: they are
// memory-mapped).
func loadRSS(out io.Writer, m *gpt2.Model) error {
	dir, err := os.MkdirTemp("", "nnscope-bench-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := WriteModel(dir, m); err != nil {
		return err
	}
	st, err := os.Stat(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), ChildLoadEnv+"="+dir)
	cmd.Stderr = os.Stderr
	res, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("bench load child: %v", err)
	}
	f := strings.Fields(string(res))
	if len(f) != 3 {
		return fmt.Errorf("bench load child printed %q", res)
	}
	ms, _ := strconv.ParseFloat(f[0], 64)
	gflops, _ := strconv.ParseFloat(f[1], 64)
	rss, _ := strconv.ParseFloat(f[2], 64)
	fileMiB := float64(st.Size()) / (1 << 20)
	fmt.Fprintf(out, "BENCH load+seed1 cpu %.2f ms %.1f GFLOP/s %.0f MiB\n", ms, gflops, rss)
	fmt.Fprintf(out, "# load: file %.0f MiB, peak RSS after load and one seed1 %.0f MiB = %.2fx the file size\n", fileMiB, rss, rss/fileMiB)
	return nil
}

// WriteModel saves a model as a Hub-layout folder (config.json and
// model.safetensors with bare keys).
func WriteModel(dir string, m *gpt2.Model) error {
	cfg, err := json.MarshalIndent(map[string]any{
		"model_type": "gpt2", "vocab_size": m.Config.VocabSize, "n_positions": m.Config.NPositions,
		"n_embd": m.Config.NEmbd, "n_layer": m.Config.NLayer, "n_head": m.Config.NHead,
		"layer_norm_epsilon": m.Config.LayerNormEpsilon, "activation_function": m.Config.ActivationFunction,
		"bos_token_id": m.Config.BosTokenID, "eos_token_id": m.Config.EosTokenID,
	}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644); err != nil {
		return err
	}
	ts := map[string]safetensors.Tensor{}
	for name, t := range m.W {
		ts[name] = safetensors.Tensor{Dtype: "F32", Shape: t.Shape(), Data: t.Data()}
	}
	return safetensors.Write(filepath.Join(dir, "model.safetensors"), ts, map[string]string{"format": "pt"})
}

// LoadChild is the child side of loadRSS: load, run seed1 once, print the
// time of load+seed1 in ms, its GEMM GFLOP/s and the peak RSS in MiB.
func LoadChild(dir string, out io.Writer) error {
	t0 := time.Now()
	m, err := gpt2.Load(dir)
	if err != nil {
		return err
	}
	defer m.Close()
	in := gpt2.Input{IDs: [][]int{{464, 412, 733, 417, 8765, 318, 287, 262, 1748, 286}}}
	var hs *rt.Tensor
	last := m.Blocks[len(m.Blocks)-1].Module
	logits := m.Forward(exitHook(func(mod *rt.Module, o *rt.Tensor) {
		if mod == last {
			hs = o.RequiresGrad()
		}
	}), in, nil)
	_ = hs
	if err := logits.Sum().Backward(); err != nil {
		return err
	}
	ms := float64(time.Since(t0).Nanoseconds()) / 1e6
	fmt.Fprintf(out, "%.2f %.1f %.1f\n", ms, float64(rt.GemmFlops())/(ms*1e6), PeakRSSMiB())
	return nil
}
