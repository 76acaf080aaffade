// Package bench times nnscope's workloads on full-size GPT-2 (124M, random
// weights) and prints one line per workload:
//
//	BENCH <workload> <device> <ms> ms <GFLOP/s> GFLOP/s <peak RSS MiB> MiB
//
// The time is the median of repeated runs after warm-up; GFLOP/s counts
// the GEMM flops that actually ran; peak RSS is the process's high-water mark.
package bench

import (
	"bufio"
	"fmt"
	"io"
	"math/rand"
	"os"
	goruntime "runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"nnscope/gpt2"
	rt "nnscope/runtime"
	"nnscope/runtime/gemm"
)

// RandomWeights returns GPT-2 weights drawn like GPT-2's initialisation
// (normal, std 0.02; LayerNorm gains 1, biases 0). Tensors are filled in
// parallel, each from its own seeded generator, so the result does not
// depend on scheduling.
func RandomWeights(c gpt2.Config, seed int64) gpt2.Weights {
	shapes := gpt2.WeightShapes(c)
	names := make([]string, 0, len(shapes))
	for n := range shapes {
		names = append(names, n)
	}
	sort.Strings(names)
	w := gpt2.Weights{}
	for _, n := range names {
		w[n] = rt.New(shapes[n]...)
	}
	var wg sync.WaitGroup
	next := make(chan int, len(names))
	for i := range names {
		next <- i
	}
	close(next)
	for g := 0; g < threads(); g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				n := names[i]
				d := w[n].Data()
				switch {
				case strings.HasSuffix(n, "ln_1.weight"), strings.HasSuffix(n, "ln_2.weight"), n == "ln_f.weight":
					for j := range d {
						d[j] = 1
					}
				case strings.HasSuffix(n, ".bias"):
				default:
					r := rand.New(rand.NewSource(seed + int64(i)))
					for j := range d {
						d[j] = float32(r.NormFloat64() * 0.02)
					}
				}
			}
		}()
	}
	wg.Wait()
	return w
}

// Options select workloads and repetitions.
type Options struct {
	Only    []string // workload names; empty = all
	Repeats int      // timed runs per workload (median reported)
	Out     io.Writer
	Device  string // "cpu" (default) or "cuda"
	TF32    bool   // allow TF32 GEMMs on the GPU
	Profile bool   // on the GPU: print where each workload's GPU time goes
}

type workload struct {
	name string
	run  func() // one timed run
}

// workloadNames are Run's workloads, in the order it runs them.
var workloadNames = []string{"seed1", "seed2", "seed1-4x64", "seed1-32x128", "seed1-params", "seed1-32x128-params",
	"seed1-dense", "seed1-4x64-dense", "seed1-32x128-params-dense", "fwd-1x10", "fwd-4x64", "fwd-1x1024",
	"gen-10+20", "trace", "load", "gemm-128x768x3072"}

// longOnCPU are the workloads the CPU runs only when asked by name.
var longOnCPU = []string{"seed1-32x128", "seed1-32x128-params", "seed1-32x128-params-dense", "fwd-1x1024"}

// checkNames reports a name in only that is not a workload, with the list
// (before Run builds the model: -only with a typo benchmarked nothing).
func checkNames(only []string) error {
	for _, n := range only {
		if !slices.Contains(workloadNames, n) {
			return fmt.Errorf("bench -only: no workload %q (the workloads are %s)", n, strings.Join(workloadNames, ", "))
		}
	}
	return nil
}

// Run builds GPT-2 124M and times every workload.
func Run(o Options) error {
	if err := checkNames(o.Only); err != nil {
		return err
	}
	if o.Repeats <= 0 {
		o.Repeats = 10
	}
	dev, err := rt.DeviceName(o.Device)
	if err != nil {
		return err
	}
	if o.Profile && dev != "cuda" {
		return fmt.Errorf("bench: -profile times GPU kernels; use it with -device cuda")
	}
	c := gpt2.GPT2Small()
	m := gpt2.New(c, RandomWeights(c, 1))
	if dev == "cuda" {
		d, err := rt.GPU()
		if err != nil {
			return fmt.Errorf("bench: %v", err)
		}
		if err := rt.SetTF32(o.TF32); err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "# device %v, TF32 %v\n", d, o.TF32)
		if m, err = m.To("cuda"); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(o.Out, "# gemm kernel %s, FP32 FMA peak: %.1f GFLOP/s (1 thread), %.1f GFLOP/s (all %d threads)\n",
			gemm.Kernel(), gemm.PeakGFLOPS(1), gemm.PeakGFLOPS(threads()), threads())
	}
	ids := func(B, T int) gpt2.Input {
		r := rand.New(rand.NewSource(2))
		in := gpt2.Input{IDs: make([][]int, B)}
		for b := range in.IDs {
			in.IDs[b] = make([]int, T)
			for j := range in.IDs[b] {
				in.IDs[b][j] = r.Intn(c.VocabSize)
			}
		}
		return in
	}
	// seed: the seed's loss, logits.Sum(). dense gives backward the sum's
	// gradient as a materialized tensor of ones instead, so the lm_head's
	// backward runs its full GEMMs as PyTorch does (Linear's backward takes
	// a shortcut for a Sum's expanded gradient: see BENCHMARKS.md).
	seed := func(B, T int, dense bool, layers ...int) func() {
		in := ids(B, T)
		var ones *rt.Tensor // made at the first run: 823 MB for 32x128
		return func() {
			if dense && ones == nil {
				ones = rt.Full(1, B, T, c.VocabSize)
				if dev == "cuda" {
					ones = ones.To("cuda")
				}
			}
			gs := rt.BeginGPUScope() // as a trace does: the pass's device memory is reused by the next
			defer gs.End()
			outs := make([]*rt.Tensor, len(layers))
			want := map[string]int{}
			for i, l := range layers {
				want[m.Blocks[l].Module.Path] = i
			}
			logits := m.Forward(keepingHook{exitHook(func(mod *rt.Module, out *rt.Tensor) {
				if i, ok := want[mod.Path]; ok {
					out.RequiresGrad()
					outs[i] = out
				}
			}), outs}, in, nil)
			grads := 0
			for _, o := range outs {
				o.RegisterHook(func(g *rt.Tensor) *rt.Tensor { grads++; return nil })
			}
			var err error
			if dense {
				err = logits.Backward(rt.BackwardOptions{Grad: ones})
			} else {
				err = logits.Sum().Backward()
			}
			if err != nil {
				panic(err)
			}
			if grads != len(layers) {
				panic("bench: missing gradients")
			}
		}
	}
	// seedParams: seed with every parameter's gradient computed too, the
	// work PyTorch does for the seed (its parameters require grad by
	// default; nnscope's do not unless SetRequiresGrad(true)), so this is
	// the like-for-like comparison.
	seedParams := func(B, T int, dense bool) func() {
		run := seed(B, T, dense, c.NLayer-1)
		params := m.Parameters()
		requireGrad := func(on bool) {
			for _, p := range params {
				p.Tensor.SetRequiresGrad(on)
			}
		}
		return func() {
			requireGrad(true)
			defer requireGrad(false)
			run()
			for _, p := range params {
				if p.Tensor.Grad() == nil {
					panic("bench: no gradient for " + p.Name)
				}
				p.Tensor.ZeroGrad()
			}
		}
	}
	fwd := func(B, T int) func() {
		in := ids(B, T)
		return func() {
			gs := rt.BeginGPUScope()
			defer gs.End()
			m.Forward(nil, in, nil)
		}
	}
	// gen: greedy generation of n tokens after a T-token prompt, with the
	// KV cache (the prompt pass and n-1 one-token passes).
	gen := func(T, n int) func() {
		in := ids(1, T)
		return func() {
			gs := rt.BeginGPUScope()
			defer gs.End()
			if out := m.Generate(in, gpt2.GenerateOptions{MaxNewTokens: n}); len(out[0]) != T+n {
				panic("bench: generation stopped early")
			}
		}
	}
	A := make([]float32, 128*768)
	Bm := make([]float32, 768*3072)
	C := make([]float32, 128*3072)
	for i := range A {
		A[i] = float32(i%7) * 0.1
	}
	for i := range Bm {
		Bm[i] = float32(i%5) * 0.1
	}
	runs := map[string]func(){ // "trace" and "load" print their own lines
		"seed1":                     seed(1, 10, false, c.NLayer-1),
		"seed2":                     seed(1, 10, false, 0, c.NLayer-1),
		"seed1-4x64":                seed(4, 64, false, c.NLayer-1),
		"seed1-32x128":              seed(32, 128, false, c.NLayer-1),
		"seed1-params":              seedParams(1, 10, false),
		"seed1-32x128-params":       seedParams(32, 128, false),
		"seed1-dense":               seed(1, 10, true, c.NLayer-1),
		"seed1-4x64-dense":          seed(4, 64, true, c.NLayer-1),
		"seed1-32x128-params-dense": seedParams(32, 128, true),
		"fwd-1x10":                  fwd(1, 10),
		"fwd-4x64":                  fwd(4, 64),
		"fwd-1x1024":                fwd(1, 1024),
		"gen-10+20":                 gen(10, 20),
		"gemm-128x768x3072":         gemmWorkload(dev, A, Bm, C),
	}
	for _, name := range workloadNames {
		w := workload{name, runs[name]}
		if w.run == nil && name != "trace" && name != "load" {
			panic("bench: no workload " + name)
		}
		if !selected(o.Only, w.name) || (dev == "cpu" && slices.Contains(longOnCPU, w.name) && len(o.Only) == 0) {
			continue // the long workloads: ask for them by name on the CPU
		}
		if dev == "cuda" && (w.name == "load" || w.name == "trace") {
			continue
		}
		if w.name == "trace" {
			traceOverhead(o.Out, m, o.Repeats)
			continue
		}
		if w.name == "load" {
			if err := loadRSS(o.Out, m); err != nil {
				return err
			}
			continue
		}
		ms, gflops, host := measure(w.run, o.Repeats)
		fmt.Fprintf(o.Out, "BENCH %s "+dev+" %.2f ms %.1f GFLOP/s %.0f MiB\n", w.name, ms, gflops, PeakRSSMiB())
		if dev == "cuda" {
			fmt.Fprintf(o.Out, "# %s: the host takes %.2f ms to queue a run (kernels run meanwhile)\n", w.name, host)
		}
		var before, after goruntime.MemStats
		goruntime.ReadMemStats(&before)
		c0 := rt.GPUCallCounts()
		w.run()
		calls := rt.GPUCallCounts().Sub(c0)
		goruntime.ReadMemStats(&after)
		fmt.Fprintf(o.Out, "# %s: %d heap allocations, %.1f KiB allocated per run\n", w.name, after.Mallocs-before.Mallocs, float64(after.TotalAlloc-before.TotalAlloc)/1024)
		if dev == "cuda" {
			fmt.Fprintf(o.Out, "# %s: GPU calls per run: %v\n", w.name, calls)
			if o.Profile {
				if err := profile(o.Out, w); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func selected(only []string, name string) bool {
	if len(only) == 0 {
		return true
	}
	for _, o := range only {
		if o == name {
			return true
		}
	}
	return false
}

// measure runs fn twice to warm up, then repeats times, and returns the
// median time, the GEMM GFLOP/s of the median run, and the median time fn
// took to return, before waiting for the GPU: when that is most of the
// total, the host's work (not the GPU's) sets the speed.
func measure(fn func(), repeats int) (ms, gflops, hostMs float64) {
	sync := func() {
		if err := rt.Sync(); err != nil { // GPU kernels run asynchronously
			panic(err)
		}
	}
	for range 2 {
		fn()
		sync()
	}
	times := make([]float64, repeats)
	hosts := make([]float64, repeats)
	var flops int64
	for i := range times {
		f0 := rt.GemmFlops()
		t0 := time.Now()
		fn()
		hosts[i] = float64(time.Since(t0).Nanoseconds()) / 1e6
		sync()
		times[i] = float64(time.Since(t0).Nanoseconds()) / 1e6
		flops = rt.GemmFlops() - f0
	}
	sort.Float64s(times)
	sort.Float64s(hosts)
	ms = times[len(times)/2]
	return ms, float64(flops) / (ms * 1e6), hosts[len(hosts)/2]
}

type exitHook func(m *rt.Module, out *rt.Tensor)

// keepingHook tells the model which outputs it handed out (as a trace's
// driver does, rt.Keeper), so the model frees the other intermediates as
// it goes instead of holding the whole pass.
type keepingHook struct {
	exitHook
	kept []*rt.Tensor
}

func (h keepingHook) Keeps(t *rt.Tensor) bool {
	for _, k := range h.kept {
		if rt.SharesMemory(k, t) { // false for an output not reached yet (nil)
			return true
		}
	}
	return false
}

func (h exitHook) Enter(*rt.Module, []*rt.Tensor) ([]*rt.Tensor, *rt.Tensor) { return nil, nil }
func (h exitHook) Exit(m *rt.Module, out *rt.Tensor) *rt.Tensor              { h(m, out); return nil }

// PeakRSSMiB reads the process's peak resident set size (VmHWM).
func PeakRSSMiB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if strings.HasPrefix(s.Text(), "VmHWM:") {
			fields := strings.Fields(s.Text())
			if len(fields) >= 2 {
				kb, _ := strconv.ParseFloat(fields[1], 64)
				return kb / 1024
			}
		}
	}
	return 0
}
