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
	maxNew   int // 0: not set (the model's generation_config.json, else 20)
	samp     gpt2.Sampling
	noEOS    bool
	greedy   bool                // Temperature(0): no sampling, whatever else is asked
	maxSet   bool                // MaxNewTokens was given
	topKSet  bool                // TopK was given (TopK(0): every token)
	stream   []func(text string) // called with each new piece of text
	progress bool                // show a bar of generated tokens
}

// MaxNewTokens sets how many tokens to generate. Without it, the model's
// generation_config.json says, as in Hugging Face (its max_new_tokens, or
// its max_length less the prompt's length); when it says nothing, 20.
func MaxNewTokens(n int) GenerateOption {
	return func(o *genOptions) { o.maxNew, o.maxSet = n, true }
}

// Temperature turns on sampling at temperature t (> 0); Temperature(0) is
// greedy decoding (the limit of t -> 0), also over a generation_config.json
// that sets do_sample.
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

// TopK turns on sampling from the k most likely tokens; TopK(0) samples
// from every token, as top_k=0 in Hugging Face. Sampling without TopK
// keeps the 50 most likely, Hugging Face's default top_k, unless the
// model's generation_config.json sets top_k.
func TopK(k int) GenerateOption {
	return func(o *genOptions) {
		if k < 0 {
			fail("usage", "Generate: TopK(%d): k must be at least 0 (0: every token)", k)
		}
		o.samp.Sample, o.samp.TopK, o.topKSet = true, k, true
	}
}

// TopP turns on nucleus sampling with probability mass p (with
// Hugging Face's default top_k 50 as well, unless TopK says otherwise).
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

// Sample turns on sampling, as do_sample=True in Hugging Face: temperature,
// top_k and top_p are the model's generation_config.json's when it sets
// them, else Hugging Face's defaults (temperature 1, top_k 50, top_p 1).
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
//
// Decoding is greedy unless an option or the model's
// generation_config.json (do_sample) asks for sampling. What the options
// leave unsaid comes from generation_config.json (do_sample, temperature,
// top_k, top_p, max_new_tokens, max_length), then from Hugging Face's
// defaults, as generate() takes them; options always win.
func (m *Model) Generate(input any, args ...any) *Generation {
	m.loaded("Generate")
	defer beginPass("Generate")()
	g := &generation{}
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
	if g.opts.maxSet && g.opts.maxNew < 1 {
		fail("usage", "Generate: MaxNewTokens must be at least 1, got %d", g.opts.maxNew)
	}
	tr := m.newTracer("generation")
	tr.gen = g
	tr.collect(input, body)
	longest := 0
	for _, inv := range tr.invokes {
		for _, r := range inv.rows {
			longest = max(longest, len(r))
		}
	}
	g.opts.resolve(m.g.Config.Generation, longest)
	if n := m.g.Config.NPositions; n > 0 {
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

// defaultMaxNewTokens is how many tokens Generate makes when neither
// MaxNewTokens nor generation_config.json says. (Hugging Face's own
// default, max_length 20 for prompt and new tokens together, is one it
// warns about; nnscope keeps 20 new tokens.)
const defaultMaxNewTokens = 20

// hfTopK is Hugging Face's default top_k when sampling.
const hfTopK = 50

// resolve fills what the options leave unsaid from the model's
// generation_config.json settings d, then Hugging Face's defaults; prompt
// is the (padded) prompt length, which max_length includes.
func (o *genOptions) resolve(d gpt2.GenerationDefaults, prompt int) {
	const file = gpt2.GenerationConfigFile
	if !o.maxSet {
		switch {
		case d.MaxNewTokens != nil:
			o.maxNew = *d.MaxNewTokens
		case d.MaxLength != nil:
			o.maxNew = *d.MaxLength - prompt
			if o.maxNew < 1 {
				fail("usage", "Generate: the prompt has %d tokens but the model's %s sets max_length %d (prompt and new tokens together, as in Hugging Face): pass nnscope.MaxNewTokens(n)", prompt, file, *d.MaxLength)
			}
		default:
			o.maxNew = defaultMaxNewTokens
		}
	}
	// Sampling options (Sample, Temperature(t > 0), TopK, TopP) turn
	// sampling on; else generation_config.json's do_sample says.
	sample := o.samp.Sample || d.DoSample != nil && *d.DoSample
	if o.greedy || !sample {
		o.samp = gpt2.Sampling{Seed: o.samp.Seed}
		return
	}
	o.samp.Sample = true
	if o.samp.Temperature == 0 && d.Temperature != nil {
		if *d.Temperature == 0 {
			fail("usage", "Generate: the model's %s sets temperature 0 with sampling, which Hugging Face refuses: pass nnscope.Temperature(0) for greedy decoding or a temperature > 0", file)
		}
		o.samp.Temperature = *d.Temperature
	}
	if !o.topKSet {
		o.samp.TopK = hfTopK
		if d.TopK != nil {
			o.samp.TopK = *d.TopK // 0: every token
		}
	}
	if o.samp.TopP == 0 && d.TopP != nil {
		o.samp.TopP = *d.TopP
		if o.samp.TopP == 0 {
			// Hugging Face keeps at least one token: top_p 0 leaves
			// only the most likely.
			o.samp.TopP = math.SmallestNonzeroFloat64
		}
	}
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
	checkBodyGoroutine("Iter")
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
