package bench

import (
	"fmt"
	"io"
	"strings"
	"time"

	rt "nnscope/runtime"
)

// profileRuns is how many runs a profile averages; profileTop how many
// kernels it lists.
const (
	profileRuns = 3
	profileTop  = 40
)

// profile runs w with the GPU's per-kernel timer on and prints where the
// GPU time went per run: totals for GEMMs, other kernels and copies, then
// the biggest items. The timer's events add a little host time per call,
// so the wall time printed beside it is not the benchmark's.
func profile(out io.Writer, w workload) error {
	p, ok := rt.Profiler()
	if !ok {
		return fmt.Errorf("bench -profile: the GPU backend has no per-kernel timer")
	}
	if err := p.SetProfiling(true); err != nil {
		return err
	}
	t0 := time.Now()
	for range profileRuns {
		w.run()
	}
	err := rt.Sync()
	wall := time.Since(t0)
	if e := p.SetProfiling(false); err == nil {
		err = e
	}
	times, e := p.KernelTimes()
	if err == nil {
		err = e
	}
	if err != nil {
		return fmt.Errorf("bench -profile %s: %w", w.name, err)
	}
	var total, gemm, copies float64
	calls := 0
	for _, k := range times {
		total += k.Ms
		calls += k.Calls
		switch {
		case strings.HasPrefix(k.Name, "sgemm"):
			gemm += k.Ms
		case k.Name == "memcpy" || k.Name == "memset":
			copies += k.Ms
		}
	}
	n := float64(profileRuns)
	fmt.Fprintf(out, "# %s profile: %.3f ms of GPU work per run in %d calls (GEMMs %.3f, other kernels %.3f, copies %.3f); %.2f ms wall per run with the timer on\n",
		w.name, total/n, calls/profileRuns, gemm/n, (total-gemm-copies)/n, copies/n, wall.Seconds()*1e3/n)
	for i, k := range times {
		if i == profileTop {
			break
		}
		share := 0.0
		if total > 0 {
			share = 100 * k.Ms / total
		}
		fmt.Fprintf(out, "#   %9.3f ms %5.1f%% %5d calls  %s\n", k.Ms/n, share, k.Calls/profileRuns, k.Name)
	}
	return nil
}
