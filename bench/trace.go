package bench

import (
	"fmt"
	"io"
	"math/rand"

	"nnscope"
	"nnscope/gpt2"
)

// traceOverhead times the intervention layer on GPT-2 124M, 1x10 tokens:
// the bare forward, a trace with an empty body, a trace whose body reads
// every module's output, and a trace stopped at the first module (setup
// plus one handoff).
func traceOverhead(out io.Writer, g *gpt2.Model, repeats int) {
	m := nnscope.FromGPT2(g)
	r := rand.New(rand.NewSource(3))
	ids := make([]int, 10)
	for i := range ids {
		ids[i] = r.Intn(g.Config.VocabSize)
	}
	in := gpt2.Input{IDs: [][]int{ids}}
	bare, _, _ := measure(func() { g.Forward(nil, in, nil) }, repeats)
	empty, emptyFlops, _ := measure(func() { m.Trace(ids, func(tr *nnscope.Tracer) {}) }, repeats)
	// Module outputs in execution order, as a cache records them.
	var cache *nnscope.Cache
	m.Trace(ids, func(tr *nnscope.Tracer) { cache = tr.Cache() })
	paths := cache.Paths()
	envoys := make([]*nnscope.Envoy, len(paths))
	for i, p := range paths {
		envoys[i] = m.Module(p)
	}
	all, _, _ := measure(func() {
		m.Trace(ids, func(tr *nnscope.Tracer) {
			for _, e := range envoys {
				e.Output()
			}
		})
	}, repeats)
	stopped, _, _ := measure(func() {
		m.Trace(ids, func(tr *nnscope.Tracer) {
			m.Transformer.WTE.Input()
			tr.Stop()
		})
	}, repeats*5)
	n := len(paths)
	fmt.Fprintf(out, "BENCH trace-1x10 cpu %.2f ms %.1f GFLOP/s %.0f MiB\n", empty, emptyFlops, PeakRSSMiB())
	fmt.Fprintf(out, "# trace overhead: bare forward %.2f ms, trace with an empty body %.2f ms (%+.1f%%)\n", bare, empty, 100*(empty-bare)/bare)
	fmt.Fprintf(out, "# per-module hook: %d module outputs read in one trace add %.1f us each\n", n, 1000*(all-empty)/float64(n))
	fmt.Fprintf(out, "# per-trace setup: a trace stopped at the first module takes %.1f us\n", 1000*stopped)
}
