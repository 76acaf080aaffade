package session

import (
	"context"
	"io"
	"os"
	goruntime "runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"nnscope/internal/reference"
)

// A notebook kept open for hours: every input runs a trace and assigns
// its result to the same session variable, and every 100th input is
// interrupted inside a trace body. Goroutines must come back; the heap
// grows only by what the interpreter keeps per input (yaegi's compiled
// code, the chunk table for positions), which soakSession measures.
//
// TestSessionSoak runs 150 inputs in `go test ./...`; NNSCOPE_SOAK=N
// runs N and prints the table.

type sessSample struct {
	n          int
	heap, rss  int64
	goroutines int
	perInput   time.Duration
}

func rss() int64 {
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

func sessSampleNow(n int, d time.Duration) sessSample {
	goruntime.GC()
	goruntime.GC()
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	return sessSample{n: n, heap: int64(ms.HeapInuse), rss: rss(), goroutines: goruntime.NumGoroutine(), perInput: d}
}

var soakInputs = []string{
	`r := 0.0; m.Trace("The Eiffel Tower is in", func(tr *nnscope.Tracer) { r = m.LMHead.Output().Sum().Item() }); r`,
	`var h *nnscope.Tensor; m.Trace("Hello world", func(tr *nnscope.Tracer) { m.Transformer.H.At(0).MLP.Output().Fill(0); h = m.Transformer.H.At(-1).Output().Save() })`,
	`var h *nnscope.Tensor
m.Trace("The Eiffel Tower is in", func(tr *nnscope.Tracer) {
	hs := m.Transformer.H.At(-1).Output()
	m.LMHead.Output().Sum().Backward(func() { h = hs.Grad().Save() })
})
h.Shape()`,
	`g := m.Generate("Hello", nnscope.MaxNewTokens(3), func(tr *nnscope.Tracer) { tr.Iter(func(step int) { m.Transformer.H.At(0).Output() }) }); g.Text()`,
}

func soakSession(t testing.TB, n, every int) []sessSample {
	s := New(Options{Stdout: io.Discard, Stderr: io.Discard})
	ctx := context.Background()
	for _, src := range []string{`import "nnscope"`, `m := nnscope.LanguageModel("` + reference.Dir() + `")`, `n := 0`} {
		if _, err := s.Eval(ctx, src); err != nil {
			t.Fatalf("%s: %v", src, err)
		}
	}
	var out []sessSample
	start := time.Now()
	for i := range n {
		if i%100 == 99 {
			cctx, cancel := context.WithCancel(ctx)
			go func() { time.Sleep(5 * time.Millisecond); cancel() }()
			if _, err := s.Eval(cctx, `m.Trace("Hello", func(tr *nnscope.Tracer) { m.Transformer.H.At(0).Output(); for { n++ } })`); err == nil {
				t.Fatalf("input %d: interrupted evaluation returned no error", i)
			}
			cancel()
		} else {
			src := soakInputs[i%len(soakInputs)]
			if _, err := s.Eval(ctx, src); err != nil {
				t.Fatalf("input %d: %s: %v", i, src, err)
			}
		}
		if (i+1)%every == 0 {
			el := time.Since(start)
			out = append(out, sessSampleNow(i+1, el/time.Duration(every)))
			start = time.Now()
		}
	}
	if p := os.Getenv("NNSCOPE_SOAK_HEAPPROFILE"); p != "" {
		// while the session is alive: what it keeps
		goruntime.GC()
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		pprof.WriteHeapProfile(f)
		f.Close()
	}
	goruntime.KeepAlive(s)
	return out
}

func slope(s []sessSample, f func(sessSample) float64) float64 {
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

func sessReport(t testing.TB, s []sessSample) {
	t.Logf("%6s %10s %10s %5s %10s", "inputs", "heap KiB", "RSS KiB", "gor", "ms/input")
	for _, p := range s {
		t.Logf("%6d %10d %10d %5d %10.2f", p.n, p.heap>>10, p.rss>>10, p.goroutines, float64(p.perInput.Microseconds())/1000)
	}
	t.Logf("growth per 100 inputs: heap %.1f KiB, RSS %.1f KiB, goroutines %.2f, time %.3f ms",
		slope(s, func(p sessSample) float64 { return float64(p.heap) / 1024 }),
		slope(s, func(p sessSample) float64 { return float64(p.rss) / 1024 }),
		slope(s, func(p sessSample) float64 { return float64(p.goroutines) }),
		slope(s, func(p sessSample) float64 { return float64(p.perInput.Microseconds()) / 1000 }))
}

func TestSessionSoak(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("NNSCOPE_SOAK"))
	every := 100
	if n <= 0 {
		if testing.Short() {
			t.Skip("short")
		}
		n, every = 200, 50
	}
	s := soakSession(t, n, every)
	sessReport(t, s)
	if a, b := s[1], s[len(s)-1]; b.goroutines > a.goroutines {
		t.Errorf("goroutines grew from %d to %d over %d inputs", a.goroutines, b.goroutines, b.n-a.n)
	}
}
