package nnscope

import (
	"fmt"
	"os"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"nnscope/internal/reference"
	rt "nnscope/runtime"
	"nnscope/runtime/cuda/emu"
)

// Long sessions must not leak: a notebook kept open for hours runs
// thousands of traces in one process. soakTraces runs a mix of every kind
// of trace (reads and saves, in-place ablation, patching with a saved
// tensor, backward blocks, caches, generation, batches of invokes, and a
// failing trace every 50th) and samples the heap, RSS, goroutines, the
// buffer pool and GPU memory every `every` traces.
//
// TestLongSession runs a short version in `go test ./...` and fails on
// growth; NNSCOPE_SOAK=N runs N traces on the fixture, a bigger random
// model and the emulated GPU, and prints the table (see soakReport).

type soakSample struct {
	n          int
	heap, rss  int64
	goroutines int
	pool       rt.BufferPoolStats
	gpu        int64
	perTrace   time.Duration
}

func readRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

func soakSampleNow(n int, perTrace time.Duration) soakSample {
	goruntime.GC()
	goruntime.GC() // the second GC empties sync.Pool victim caches
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	return soakSample{n: n, heap: int64(ms.HeapInuse), rss: readRSS(), goroutines: goruntime.NumGoroutine(),
		pool: rt.PoolStats(), gpu: rt.GPUMemoryInUse(), perTrace: perTrace}
}

// soakOne runs trace number i. state carries what a researcher keeps
// between cells: the last results, reassigned every time.
type soakState struct {
	clean  *Tensor // a saved activation for patching
	last   any     // the latest result, replacing the previous one
	errors int
}

func soakOne(t testing.TB, m *Model, st *soakState, i int) {
	prompts := []string{prompt, "Hello world, this is a test", "The quick brown fox jumps over the lazy dog"}
	p := prompts[i%len(prompts)]
	if i%50 == 49 {
		// a failing trace: modules out of order
		err := expectErrorTB(func() {
			m.Trace(p, func(tr *Tracer) {
				m.Transformer.H.At(1).Output().Save()
				m.Transformer.H.At(0).Output().Save()
			})
		})
		if err == nil {
			t.Fatalf("trace %d: no error", i)
		}
		st.errors++
		return
	}
	switch i % 7 {
	case 0: // read and save
		var h, l *Tensor
		m.Trace(p, func(tr *Tracer) {
			h = m.Transformer.H.At(-1).Output().Save()
			l = m.LMHead.Output().Slice(":, -1, :").Save()
		})
		st.last = []*Tensor{h, l}
	case 1: // in-place ablation
		var l *Tensor
		m.Trace(p, func(tr *Tracer) {
			m.Transformer.H.At(0).MLP.Output().Fill(0)
			l = m.LMHead.Output().Save()
		})
		st.last = l
	case 2: // patching with a saved tensor
		var l *Tensor
		m.Trace(prompt, func(tr *Tracer) {
			m.Transformer.H.At(0).SetOutput(st.clean)
			l = m.LMHead.Output().Argmax().Save()
		})
		st.last = l
	case 3: // backward with gradient saves
		var g0, g1 *Tensor
		m.Trace(p, func(tr *Tracer) {
			h0 := m.Transformer.H.At(0).Output()
			h1 := m.Transformer.H.At(-1).Output()
			m.LMHead.Output().Sum().Backward(func() {
				g1 = h1.Grad().Save()
				g0 = h0.Grad().Save()
			})
		})
		st.last = []*Tensor{g0, g1}
	case 4: // cache
		var c *Cache
		m.Trace(p, func(tr *Tracer) { c = tr.Cache() })
		if c.Get("transformer.h.0") == nil {
			t.Fatalf("trace %d: empty cache", i)
		}
		st.last = c
	case 5: // generation with Iter
		var hs []*Tensor
		g := m.Generate(p, MaxNewTokens(5), func(tr *Tracer) {
			tr.Iter(func(step int) {
				hs = append(hs, m.Transformer.H.At(-1).Output().Slice(":, -1, :").Save())
			})
		})
		st.last = []any{g, hs}
	case 6: // a batch of invokes
		var a, b *Tensor
		m.Trace(nil, func(tr *Tracer) {
			tr.Invoke(prompt, func() { a = m.LMHead.Output().Save() })
			tr.Invoke("Hello", func() {
				m.Transformer.H.At(0).Output().Fill(0)
				b = m.LMHead.Output().Save()
			})
		})
		st.last = []*Tensor{a, b}
	}
}

func expectErrorTB(fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok {
				err = e
				return
			}
			panic(r)
		}
	}()
	fn()
	return nil
}

// soakTraces runs n traces and returns a sample every `every` traces
// (the first after a warm-up of `every` traces).
func soakTraces(t testing.TB, m *Model, n, every int) []soakSample {
	st := &soakState{}
	m.Trace(prompt, func(tr *Tracer) { st.clean = m.Transformer.H.At(0).Output().Detach().Save() })
	var out []soakSample
	start := time.Now()
	for i := range n {
		soakOne(t, m, st, i)
		if (i+1)%every == 0 {
			el := time.Since(start)
			out = append(out, soakSampleNow(i+1, el/time.Duration(every)))
			start = time.Now()
		}
	}
	if want := n / 50; st.errors != want {
		t.Errorf("%d failing traces, want %d", st.errors, want)
	}
	return out
}

// soakGrowth is the least-squares slope of f over the samples after the
// first (warm-up), per 100 traces.
func soakGrowth(s []soakSample, f func(soakSample) float64) float64 {
	if len(s) < 3 {
		return 0
	}
	s = s[1:]
	var sx, sy, sxx, sxy float64
	for _, p := range s {
		x, y := float64(p.n), f(p)
		sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	k := float64(len(s))
	return (k*sxy - sx*sy) / (k*sxx - sx*sx) * 100
}

func soakReport(t testing.TB, name string, s []soakSample) {
	t.Logf("%s:", name)
	t.Logf("%6s %10s %10s %5s %10s %10s %10s %10s", "traces", "heap KiB", "RSS KiB", "gor", "pool put", "pool hit", "GPU KiB", "ms/trace")
	for _, p := range s {
		t.Logf("%6d %10d %10d %5d %10d %10d %10d %10.2f", p.n, p.heap>>10, p.rss>>10, p.goroutines, p.pool.Puts, p.pool.Hits, p.gpu>>10,
			float64(p.perTrace.Microseconds())/1000)
	}
	t.Logf("growth per 100 traces: heap %.1f KiB, RSS %.1f KiB, goroutines %.2f, GPU %.1f KiB, time %.3f ms",
		soakGrowth(s, func(p soakSample) float64 { return float64(p.heap) / 1024 }),
		soakGrowth(s, func(p soakSample) float64 { return float64(p.rss) / 1024 }),
		soakGrowth(s, func(p soakSample) float64 { return float64(p.goroutines) }),
		soakGrowth(s, func(p soakSample) float64 { return float64(p.gpu) / 1024 }),
		soakGrowth(s, func(p soakSample) float64 { return float64(p.perTrace.Microseconds()) / 1000 }))
}

// soakCheck fails when the last sample is above the second (the first
// after warm-up) by more than slack: goroutines must come back exactly,
// GPU memory exactly, the heap within heapSlack.
func soakCheck(t testing.TB, s []soakSample, heapSlack int64) {
	t.Helper()
	a, b := s[1], s[len(s)-1]
	if b.goroutines > a.goroutines {
		t.Errorf("goroutines grew from %d to %d over %d traces", a.goroutines, b.goroutines, b.n-a.n)
	}
	if b.gpu > a.gpu {
		t.Errorf("GPU memory grew from %d to %d bytes over %d traces", a.gpu, b.gpu, b.n-a.n)
	}
	if b.heap-a.heap > heapSlack {
		t.Errorf("heap grew from %d to %d KiB over %d traces", a.heap>>10, b.heap>>10, b.n-a.n)
	}
}

// soakConfig: big enough that a leaked activation shows (n_embd 256,
// 6 layers, the real vocabulary so the tokenizer works).
const soakConfig = `{
  "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
  "vocab_size": 50257, "n_positions": 128, "n_embd": 256, "n_layer": 6, "n_head": 8,
  "layer_norm_epsilon": 1e-05, "activation_function": "gelu_new",
  "bos_token_id": 50256, "eos_token_id": 50256
}`

func soakModelDir(t testing.TB) string {
	t.Helper()
	return writeRandomGPT2(t, soakConfig, 1, func(name string) (std, base float64) {
		if strings.Contains(name, "ln_") && strings.HasSuffix(name, ".weight") {
			return 0.02, 1
		}
		return 0.02, 0
	})
}

// TestLongSession: 210 traces of every kind on the CPU and 105 on the
// emulated GPU leave no goroutine, no GPU memory and (beyond noise) no heap
// behind (samples every 70 or 35 traces: the same kind of trace ran last,
// so the live results are alike). NNSCOPE_SOAK=2000 runs the
// long measurement and prints it.
func TestLongSession(t *testing.T) {
	if n, _ := strconv.Atoi(os.Getenv("NNSCOPE_SOAK")); n > 0 {
		soakLong(t, n)
		return
	}
	if testing.Short() {
		t.Skip("short")
	}
	m := LanguageModel(reference.Dir())
	s := soakTraces(t, m, 210, 70)
	soakReport(t, "gpt2-tiny", s)
	soakCheck(t, s, 512<<10)

	rt.SetGPUBackend(emu.New())
	defer rt.SetGPUBackend(nil)
	g := LanguageModel(reference.Dir(), Device("cuda"))
	s = soakTraces(t, g, 105, 35)
	soakReport(t, "gpt2-tiny, emulated GPU", s)
	soakCheck(t, s, 512<<10)
}

func soakLong(t *testing.T, n int) {
	every := max(n/20, 1)
	if v, _ := strconv.Atoi(os.Getenv("NNSCOPE_SOAK_EVERY")); v > 0 {
		every = v
	}
	which := os.Getenv("NNSCOPE_SOAK_MODELS") // e.g. "tiny,big,gputiny,gpu"; empty: all
	on := func(k string) bool { return which == "" || slices.Contains(strings.Split(which, ","), k) }
	if on("tiny") {
		m := LanguageModel(reference.Dir())
		soakReport(t, fmt.Sprintf("gpt2-tiny, %d traces", n), soakTraces(t, m, n, every))
	}
	if on("big") {
		m := LanguageModel(soakModelDir(t))
		soakReport(t, fmt.Sprintf("random 6x256, %d traces", n), soakTraces(t, m, n, every))
	}
	if on("gputiny") {
		rt.SetGPUBackend(emu.New())
		m := LanguageModel(reference.Dir(), Device("cuda"))
		soakReport(t, fmt.Sprintf("gpt2-tiny on the emulated GPU, %d traces", n), soakTraces(t, m, n, every))
		rt.SetGPUBackend(nil)
	}
	if on("gpu") {
		rt.SetGPUBackend(emu.New())
		defer rt.SetGPUBackend(nil)
		m := LanguageModel(soakModelDir(t), Device("cuda"))
		soakReport(t, fmt.Sprintf("random 6x256 on the emulated GPU, %d traces", n), soakTraces(t, m, n, every))
	}
}
