package nnscope

import (
	"fmt"
	"math"
	"nnscope/display"
	"os"
	"strings"
	"time"

	"nnscope/gpt2"
	rt "nnscope/runtime"
)

// GenerateOption configures Generate.
type GenerateOption func(*genOptions)

type genOptions struct {
	maxNew   int
	samp     gpt2.Sampling
	noEOS    bool
	greedy   bool                // Temperature(0): no sampling, whatever else is asked
	stream   []func(text string) // called with each new piece of text
	progress bool                // show a bar of generated tokens
}

// MaxNewTokens sets how many tokens to generate (default 20).
func MaxNewTokens(n int) GenerateOption { return func(o *genOptions) { o.maxNew = n } }

// Temperature turns on sampling at temperature t (> 0); Temperature(0) is
// greedy decoding (the limit of t -> 0).
func Temperature(t float64) GenerateOption {
	return func(o *genOptions) {
		if !(t >= 0) || math.IsInf(t, 1) {
			fail("usage", "Generate: Temperature(%g): the temperature must be a positive number (0 for greedy decoding)", t)
		}
		if t == 0 {
			o.greedy = true
			return
		}
		o.samp.Sample, o.samp.Temperature = true, t
	}
}

// TopK turns on sampling from the k most likely tokens.
func TopK(k int) GenerateOption {
	return func(o *genOptions) {
		if k < 1 {
			fail("usage", "Generate: TopK(%d): k must be at least 1", k)
		}
		o.samp.Sample, o.samp.TopK = true, k
	}
}

// TopP turns on nucleus sampling with probability mass p.
func TopP(p float64) GenerateOption {
	return func(o *genOptions) {
		if !(p > 0 && p <= 1) {
			fail("usage", "Generate: TopP(%g): p must be in (0, 1]", p)
		}
		o.samp.Sample, o.samp.TopP = true, p
	}
}

// Seed sets the sampling seed (sampling is reproducible for a seed).
func Seed(s int64) GenerateOption { return func(o *genOptions) { o.samp.Seed = s } }

// Sample turns on sampling with the default temperature 1.
func Sample() GenerateOption { return func(o *genOptions) { o.samp.Sample = true } }

// IgnoreEOS keeps generating past the end-of-text token.
func IgnoreEOS() GenerateOption { return func(o *genOptions) { o.noEOS = true } }

// Stream calls fn with the text of each new token of the first row as it
// is generated.
func Stream(fn func(text string)) GenerateOption {
	return func(o *genOptions) { o.stream = append(o.stream, fn) }
}

// Generation is the result of Generate.
type Generation struct {
	model  *Model
	ids    [][]int
	prompt []int // prompt lengths per row
}

// Tokens returns the ids of the first row: prompt followed by new tokens.
func (g *Generation) Tokens() []int { return append([]int(nil), g.ids[0]...) }

// NewTokens returns the generated ids of the first row.
func (g *Generation) NewTokens() []int { return append([]int(nil), g.ids[0][g.prompt[0]:]...) }

// Rows returns every row's ids.
func (g *Generation) Rows() [][]int {
	out := make([][]int, len(g.ids))
	for i, r := range g.ids {
		out[i] = append([]int(nil), r...)
	}
	return out
}

// Text decodes the first row (prompt and continuation).
func (g *Generation) Text() string { return g.model.Decode(g.ids[0]...) }

// NewText decodes the generated part of the first row.
func (g *Generation) NewText() string { return g.model.Decode(g.NewTokens()...) }

// String prints the generated text.
func (g *Generation) String() string { return g.Text() }

type generation struct {
	opts   genOptions
	result *Generation
}

// Generate continues input (as for Trace) under interventions. args are
// GenerateOptions and an optional body func(tr *nnscope.Tracer), in any
// order. Inside the body, module access refers to the first step (the
// prompt); tr.Iter(func(step int) { ... }) runs its function once per
// generated token with module access referring to that step.
func (m *Model) Generate(input any, args ...any) *Generation {
	m.loaded("Generate")
	g := &generation{opts: genOptions{maxNew: 20}}
	var body func(*Tracer)
	for _, a := range args {
		switch v := a.(type) {
		case GenerateOption:
			v(&g.opts)
		case func(*genOptions):
			v(&g.opts)
		case func(*Tracer):
			body = v
		case nil:
		default:
			fail("usage", "Generate: unexpected argument of type %T (want options like nnscope.MaxNewTokens(n) and a func(tr *nnscope.Tracer) body)", a)
		}
	}
	if g.opts.greedy {
		g.opts.samp.Sample, g.opts.samp.TopK, g.opts.samp.TopP, g.opts.samp.Temperature = false, 0, 0, 0
	}
	if g.opts.maxNew < 1 {
		fail("usage", "Generate: MaxNewTokens must be at least 1, got %d", g.opts.maxNew)
	}
	tr := m.newTracer("generation")
	tr.gen = g
	tr.collect(input, body)
	if n := m.g.Config.NPositions; n > 0 {
		longest := 0
		for _, inv := range tr.invokes {
			for _, r := range inv.rows {
				longest = max(longest, len(r))
			}
		}
		// The last new token is never fed back: P prompt tokens and N new
		// ones take P+N-1 positions, as in Hugging Face.
		if need := longest + g.opts.maxNew - 1; need > n {
			fail("usage", "Generate: a prompt of %d tokens plus MaxNewTokens(%d) needs %d positions (the last new token is not fed back), more than the model's n_positions %d", longest, g.opts.maxNew, need, n)
		}
	}
	g.result = &Generation{model: m}
	tr.run()
	return g.result
}

func (g *generation) run(d *driver, in gpt2.Input) {
	m := d.tr.model
	for b := range in.IDs {
		n := len(in.IDs[b])
		if in.Mask != nil {
			n -= countZeros(in.Mask[b])
		}
		g.result.prompt = append(g.result.prompt, n)
		// The rows grow token by token, so a generation ended early by
		// tr.Stop() still returns what it produced.
		g.result.ids = append(g.result.ids, append([]int(nil), in.IDs[b][len(in.IDs[b])-n:]...))
	}
	var streamed []int
	printed := ""
	var bar *ProgressBar
	defer func() {
		if bar != nil {
			bar.Done()
		}
	}()
	// In a notebook a long generation shows its progress by itself, once
	// it has run for autoProgressAfter (a loop of quick generations would
	// otherwise fill the cell with bars); in a terminal only on request
	// (it would mix with streamed text).
	auto := !g.opts.progress && display.Active() && g.opts.maxNew >= 32
	start := time.Now()
	// In a terminal a bar redraws its line with a carriage return, over
	// the text a Stream callback prints: with both, the bar is drawn once,
	// when the generation ends.
	barAtEnd := g.opts.progress && len(g.opts.stream) > 0 && !display.Active()
	steps := 0
	if barAtEnd {
		defer func() {
			if printed != "" && !strings.HasSuffix(printed, "\n") {
				fmt.Fprintln(os.Stderr) // the bar starts its own line
			}
			b := Progress(g.opts.maxNew, "generating")
			b.start = start
			b.Add(steps)
			b.Done()
		}()
	} else if g.opts.progress {
		bar = Progress(g.opts.maxNew, "generating")
	}
	ids := m.g.Generate(in, gpt2.GenerateOptions{
		MaxNewTokens: g.opts.maxNew,
		Sampling:     g.opts.samp,
		StopAtEOS:    !g.opts.noEOS,
		EOS:          m.tok.EOS,
		MoreEOS:      m.g.Config.EosTokenIDs,
		Hooks: func(step int) rt.Hooks {
			d.step = step
			d.interrupted()
			ev := event{kind: evStep, step: step}
			for _, md := range d.tr.meds {
				md.serve(ev, func() *Tensor { return nil }, func(*request) {})
			}
			d.after(ev)
			return d
		},
		OnToken: func(step int, toks []int) bool {
			for b, t := range toks {
				g.result.ids[b] = append(g.result.ids[b], t)
			}
			if bar == nil && auto && time.Since(start) >= autoProgressAfter {
				bar = Progress(g.opts.maxNew, "generating")
				bar.Add(step)
			}
			steps++
			if bar != nil {
				bar.Add(1)
			}
			if len(g.opts.stream) > 0 {
				streamed = append(streamed, toks[0])
				text, err := m.tok.Decode(streamed)
				// A token that ends inside a multi-byte character decodes
				// to a replacement rune: wait for the rest.
				if err == nil && len(text) > len(printed) && text[:len(printed)] == printed && !strings.HasSuffix(text, "\uFFFD") {
					for _, fn := range g.opts.stream {
						fn(text[len(printed):])
					}
					printed = text
				}
			}
			return true
		},
	})
	g.result.ids = ids
	if len(g.opts.stream) > 0 {
		// What waited for the rest of a character that never came is
		// sent as it decodes (with a replacement rune), so the streamed
		// pieces add up to NewText.
		if text, err := m.tok.Decode(streamed); err == nil && len(text) > len(printed) && strings.HasPrefix(text, printed) {
			for _, fn := range g.opts.stream {
				fn(text[len(printed):])
			}
			printed = text
		}
	}
}

// autoProgressAfter is how long a notebook generation of 32 tokens or more
// runs before it shows a progress bar by itself.
var autoProgressAfter = time.Second

func countZeros(mask []float32) int {
	n := 0
	for _, v := range mask {
		if v == 0 {
			n++
		}
	}
	return n
}

// Iter runs fn once per generation step (step 0 is the prompt pass) with
// module access inside fn referring to that step. It returns when
// generation ends.
func (tr *Tracer) Iter(fn func(step int)) {
	md := current
	if md == nil || md.tracer != tr || tr.gen == nil {
		fail("usage", "Iter must be called inside a Generate body")
	}
	if md.inIter {
		fail("usage", "Iter called inside an Iter function: tr.Iter already runs its function once per generation step")
	}
	md.inIter = true
	defer func(s int) { md.step, md.inIter = s, false }(md.step)
	for s := md.step; ; s++ {
		resp := md.ask(&request{ev: event{kind: evStep, step: s}, what: fmt.Sprintf("generation step %d", s)})
		if resp.ended {
			md.genOver = true
			return
		}
		md.step = s
		fn(s)
	}
}

// Step returns the generation step the body's module access refers to.
func (tr *Tracer) Step() int {
	if current == nil || current.tracer != tr {
		return 0
	}
	return current.step
}

func (tr *Tracer) stepOf(md *mediator) int { return md.step }
