package nnscope

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"nnscope/gpt2"
	rt "nnscope/runtime"
)

// Tracer is the handle a trace or generation body receives.
type Tracer struct {
	model   *Model
	scope   *scope
	invokes []*invoke
	meds    []*mediator
	cache   *Cache
	gen     *generation // non-nil for Generate
	running bool
}

type invoke struct {
	rows [][]int
	body func()
}

// interruptCtx is the session's context: the REPL and the kernel cancel it
// on Ctrl-C or an interrupt request, which stops a running trace.
var (
	ctxMu        sync.Mutex
	interruptCtx = context.Background()
)

// SetContext installs the context that interrupts traces and generation
// (nil: never interrupted).
func SetContext(ctx context.Context) {
	if ctx == nil {
		ctx = context.Background()
	}
	ctxMu.Lock()
	interruptCtx = ctx
	ctxMu.Unlock()
}

func sessionContext() context.Context {
	ctxMu.Lock()
	defer ctxMu.Unlock()
	return interruptCtx
}

// Trace runs the model on input with body interleaved: inside body,
// module Output()/Input() wait for the model to reach that module and
// return the live value. input is a string, []string (one batch), []int,
// [][]int or a tensor of ids; with nil input, body calls tr.Invoke to
// batch several inputs, each with its own body.
func (m *Model) Trace(input any, body func(tr *Tracer)) {
	m.loaded("Trace")
	defer beginPass("Trace")()
	tr := m.newTracer("trace")
	tr.collect(input, body)
	tr.run()
}

func (m *Model) newTracer(kind string) *Tracer {
	return &Tracer{model: m, scope: &scope{kind: kind, name: kind}}
}

// collect registers the body: with an input, one invoke; without, the body
// runs now and registers invokes.
func (tr *Tracer) collect(input any, body func(tr *Tracer)) {
	if input != nil {
		b := func() {}
		if body != nil {
			b = func() { body(tr) }
		}
		tr.invokes = append(tr.invokes, &invoke{rows: tr.model.inputRows(input), body: b})
		return
	}
	if body != nil {
		prev := collecting
		collecting = tr
		func() {
			g := enterBody() // the body may start a nested trace
			defer func() { collecting = prev; leaveBody(g) }()
			body(tr)
		}()
	}
	if len(tr.invokes) == 0 {
		fail("usage", "%s with nil input needs at least one tr.Invoke(input, body)", tr.scope.kind)
	}
}

// collecting is the tracer whose Trace(nil, ...) body is registering its
// invokes (the model has not started), for a clear error when that body
// accesses a module itself.
var collecting *Tracer

// Invoke adds an input to a Trace(nil, ...) batch with its own body,
// which sees only its rows. All invokes run as one batched forward.
func (tr *Tracer) Invoke(input any, body func()) {
	if tr.running {
		fail("usage", "Invoke must be called in the body of Trace(nil, ...) before the model runs")
	}
	if body == nil {
		body = func() {}
	}
	tr.invokes = append(tr.invokes, &invoke{rows: tr.model.inputRows(input), body: body})
}

// Stop ends the trace (or generation) here: the model stops running and
// the trace returns normally.
func (tr *Tracer) Stop() {
	checkBodyGoroutine("Stop")
	if current == nil || current.tracer != tr {
		fail("usage", "Stop must be called inside this trace's body")
	}
	panic(stopSignal{})
}

// Cache returns a cache that records every module's output from now on in
// this trace (all rows: in a batch of invokes of different lengths the
// shorter rows are left padded, so their first positions hold padding, not
// activations of the prompt). Its tensors stay usable after the trace.
func (tr *Tracer) Cache() *Cache {
	if tr.cache == nil && tr.scope.ended {
		fail("usage", "Cache called after the %s ended: call tr.Cache() inside its body (it records module outputs from then on)", tr.scope.kind)
	}
	if tr.cache == nil {
		tr.cache = &Cache{byPath: map[string]*Tensor{}, root: tr.model.g.Root}
	}
	return tr.cache
}

// Cache holds module outputs by Hugging Face path.
type Cache struct {
	byPath map[string]*Tensor
	order  []string
	root   *rt.Module // to resolve paths as model.Module does
}

// Get returns the output of the module at path (nil if it did not run).
// Paths are those of model.Module ("transformer.h.-1" counts from the
// end; nnsight's "model." prefix is accepted); in a generation, steps
// after the first are "PATH@STEP".
func (c *Cache) Get(path string) *Tensor {
	if t, ok := c.byPath[path]; ok {
		return t
	}
	p, step, hasStep := strings.Cut(path, "@")
	p = modulePath(p)
	var mod *rt.Module
	if c.root != nil {
		mod = c.root.Find(p)
	}
	if mod == nil {
		fail("usage", "Cache.Get(%q): no module %q in the model%s (see model.Modules() for the tree)", path, p, moduleHint(c.root, p, true))
	}
	key := mod.Path
	if hasStep {
		key += "@" + step
	}
	return c.byPath[key]
}

// Paths lists the cached module paths in execution order; the model's own
// output (the logits, as model.Output()) is the last, at path "".
func (c *Cache) Paths() []string { return append([]string(nil), c.order...) }

// Len returns the number of cached outputs.
func (c *Cache) Len() int { return len(c.order) }

func (c *Cache) put(path string, t *Tensor) {
	if _, ok := c.byPath[path]; !ok {
		c.order = append(c.order, path)
	}
	t.saved = true
	rt.Escape(t.t) // cached outputs stay usable after the trace
	c.byPath[path] = t
}

// abortSignal unwinds the model when a body failed.
type abortSignal struct{ err error }

// run executes the batched forward with every invoke body interleaved.
func (tr *Tracer) run() {
	tr.running = true
	tr.model.useGEMMPrecision()
	// Device memory of everything the pass allocated goes back to the
	// allocator when it ends, but for saved and cached values (see
	// runtime.BeginGPUScope).
	gs := rt.BeginGPUScope()
	defer gs.End()
	var rows [][]int
	for _, inv := range tr.invokes {
		rows = append(rows, inv.rows...)
	}
	in := gpt2.Batch(rows, tr.model.tok.PadID())
	T := len(in.IDs[0])
	d := &driver{tr: tr, seen: map[event]bool{}, T: T, B: len(rows), ctx: sessionContext()}
	r := 0
	for i, inv := range tr.invokes {
		label := "trace body"
		if len(tr.invokes) > 1 {
			label = fmt.Sprintf("invoke %d", i)
		}
		md := newMediator(label, tr.scope, inv.body)
		md.tracer = tr
		md.row, md.rows = r, len(inv.rows)
		// The padding every row of the invoke has (a single row: all of
		// its padding) is hidden from its body: an invoke of several
		// prompts sees them padded to its own longest, as if alone.
		longest := 0
		for _, row := range inv.rows {
			longest = max(longest, len(row))
		}
		md.pad = T - longest
		md.seen = func(ev event) bool {
			if ev.kind == evStep {
				return ev.step < d.step
			}
			return d.seen[ev]
		}
		md.now = func(ev event) bool { return ev.kind == evStep && ev.step == d.step && d.seen[ev] }
		r += len(inv.rows)
		tr.meds = append(tr.meds, md)
	}
	defer func() { tr.scope.ended = true }()
	for _, md := range tr.meds {
		md.start()
		if md.err != nil {
			d.failed = md.err
			break
		}
	}
	err := d.protect(func() {
		if d.failed != nil {
			return
		}
		// OutputShapes reports this pass: a module it skips or never
		// reaches (Skip, Stop, an error) must not keep an earlier shape.
		clear(tr.model.lastShapes)
		if tr.gen != nil {
			tr.gen.run(d, in)
		} else {
			tr.model.g.Forward(d, in, nil)
		}
	})
	if err == nil {
		err = finishAll(tr.meds, d.notRun)
	} else {
		finishAll(tr.meds, quietly)
		for _, md := range tr.meds {
			if md.err != nil && err == nil {
				err = md.err
			}
		}
	}
	if err != nil {
		panic(err)
	}
}

// driver is the model side of a trace: the hook point every module call
// goes through, serving the bodies' requests.
type driver struct {
	tr      *Tracer
	kept    map[any]bool // memory of tensors handed to bodies or cached: never released
	seen    map[event]bool
	T, B    int
	step    int
	ctx     context.Context
	failed  error
	stopped bool
	running []*rt.Module // modules entered and not yet exited, innermost last
}

// protect runs the model, turning an abort into the error that caused it
// and a stop into a normal return.
func (d *driver) protect(fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			switch s := r.(type) {
			case abortSignal:
				err = s.err
			case stopSignal:
				d.stopped = true
			case *rt.Error:
				msg := s.Msg
				if n := len(d.running); n > 0 {
					msg = "in " + d.running[n-1].Path + ": " + msg
				}
				err = &Error{Kind: "tensor", Msg: msg}
			default:
				panic(r)
			}
		}
	}()
	fn()
	return d.failed
}

func (d *driver) abort(err error) {
	d.failed = err
	panic(abortSignal{err})
}

// after checks the bodies once an event was served.
func (d *driver) after(ev event) {
	d.seen[ev] = true
	for _, md := range d.tr.meds {
		if md.err != nil {
			d.abort(md.err)
		}
		if md.stopped {
			md.stopped = false
			panic(stopSignal{})
		}
	}
}

func (d *driver) interrupted() {
	if err := d.ctx.Err(); err != nil {
		d.abort(&Error{Kind: "interrupted", Msg: d.tr.scope.kind + " interrupted"})
	}
}

// notRun is the error for a request left waiting when the model finished.
func (d *driver) notRun(r *request) error {
	if d.stopped {
		return errUnwind
	}
	if r.ev.kind == evStep {
		return nil
	}
	return &Error{Kind: "not executed", Msg: fmt.Sprintf(
		"%s was not executed: the %s finished without running it (is the module used for this input, and was it requested in execution order?)", r.what, d.tr.scope.kind)}
}

// rowsView returns md's part of a batch tensor: its rows, without the left
// padding they all have in a padded batch.
func (d *driver) rowsView(md *mediator, mod *rt.Module, t *rt.Tensor) *rt.Tensor {
	if t == nil || t.Dim() == 0 {
		return t
	}
	if md.row == 0 && md.rows == d.B && md.pad == 0 {
		return t
	}
	v := t
	if t.Shape()[0] == d.B {
		v = t.Narrow(0, md.row, md.rows)
	}
	if md.pad > 0 {
		s := v.Shape()
		switch {
		case mod.Type == "Dropout" && mod.Name == "attn_dropout" && len(s) == 4:
			if d.step == 0 {
				v = v.Narrow(2, md.pad, s[2]-md.pad)
			}
			// The padding stays in the KV cache: the keys of every later
			// generation step start with it too.
			v = v.Narrow(3, md.pad, s[3]-md.pad)
		case d.step == 0 && len(s) >= 2 && s[1] == d.T:
			v = v.Narrow(1, md.pad, s[1]-md.pad)
		}
	}
	return v
}

func (d *driver) keep(t *rt.Tensor) {
	if t == nil {
		return
	}
	if d.kept == nil {
		d.kept = map[any]bool{}
	}
	d.kept[t.MemoryKey()] = true
}

// Keeps tells the model which intermediates a body may still read (all
// memory shared with a tensor handed out), so the rest of a traced forward
// pass reuses buffers like an untraced one.
func (d *driver) Keeps(t *rt.Tensor) bool { return d.kept[t.MemoryKey()] }

// Enter serves requests for a module's input and skips.
func (d *driver) Enter(mod *rt.Module, in []*rt.Tensor) ([]*rt.Tensor, *rt.Tensor) {
	d.interrupted()
	d.running = append(d.running, mod)
	ev := event{kind: evInput, mod: mod, step: d.step}
	var newIn []*rt.Tensor
	var skip *rt.Tensor
	// inputs returns the inputs as the body sees them. The model's token
	// ids and positions are host tensors on every device (the embedding
	// checks and gathers them without a device sync); a body sees them on
	// the model's device, as nnsight's model.input, and the model then
	// reads what the body saw (one download, only when a body asks).
	inputs := func() []*rt.Tensor {
		cur := in
		if newIn != nil {
			cur = newIn
		}
		if dev := d.tr.model.g.Device(); len(cur) > 0 && cur[0] != nil && cur[0].Device() != dev {
			newIn = append([]*rt.Tensor{cur[0].To(dev)}, cur[1:]...)
			cur = newIn
		}
		return cur
	}
	for _, md := range d.tr.meds {
		md.serve(ev, func() *Tensor {
			return d.hand(md, mod, inputs()[0], "input")
		}, func(r *request) {
			cur := inputs()
			if r.skip != nil {
				skip = d.placeSkip(md, mod, cur, r.skip)
				d.keep(skip)
				return
			}
			rep := d.place(md, mod, cur[0], r.set, "SetInput")
			d.keep(rep)
			newIn = append([]*rt.Tensor{rep}, cur[1:]...)
		})
	}
	d.after(ev)
	return newIn, skip
}

// Exit serves requests for a module's output.
func (d *driver) Exit(mod *rt.Module, out *rt.Tensor) *rt.Tensor {
	if n := len(d.running); n > 0 && d.running[n-1] == mod {
		d.running = d.running[:n-1]
	}
	ev := event{kind: evOutput, mod: mod, step: d.step}
	cur := out
	var replaced *rt.Tensor
	for _, md := range d.tr.meds {
		md.serve(ev, func() *Tensor { return d.hand(md, mod, cur, "output") }, func(r *request) {
			cur = d.place(md, mod, cur, r.set, "SetOutput")
			// The replacement may be the body's own tensor (a saved
			// activation, a steering vector): the model must not give its
			// memory back when it is done with the module's output.
			d.keep(cur)
			replaced = cur
		})
	}
	if d.step == 0 && cur != nil {
		shapes := d.tr.model.lastShapes
		if s, ok := shapes[mod.Path]; !ok || !slices.Equal(s, cur.Shape()) {
			shapes[mod.Path] = cur.Shape()
		}
	}
	if c := d.tr.cache; c != nil {
		p := mod.Path
		if d.tr.gen != nil && d.step > 0 {
			p = fmt.Sprintf("%s@%d", p, d.step)
		}
		c.put(p, wrap(cur, d.tr.scope))
		d.keep(cur)
	}
	d.after(ev)
	return replaced
}

// place installs a body's replacement value: the whole tensor for a body
// that owns the batch, else written into its rows.
func (d *driver) place(md *mediator, mod *rt.Module, cur, v *rt.Tensor, op string) *rt.Tensor {
	// A value on the wrong device would fail later, in whichever module
	// reads it first: say so here, naming the module it was given to.
	want := d.tr.model.g.Device() // a Skip's value: the model's device
	if cur != nil {
		want = cur.Device()
	}
	what := strings.ToLower(strings.TrimPrefix(op, "Set")) // what v replaces
	if op == "Skip" {
		what = "output"
	}
	if v.Device() != want {
		d.abort(&Error{Kind: "usage", Msg: fmt.Sprintf("%s on %s: the value is on %s, the %s on %s (move it with .To(%q))",
			op, mod.Path, v.Device(), what, want, want)})
	}
	if cur == nil || (md.row == 0 && md.rows == d.B && md.pad == 0) {
		if cur == nil && !(md.row == 0 && md.rows == d.B) {
			d.abort(&Error{Kind: "usage", Msg: op + " in a batch of several invokes is not supported; use a single input"})
		}
		if cur != nil && !slices.Equal(cur.Shape(), v.Shape()) {
			// The rest of the model (positions, attention mask, KV cache)
			// is sized for cur: broadcast v to it like an edit in place
			// would, or fail here rather than deep inside a later module.
			func() {
				defer d.abortOnShape(op, mod, v, "the "+what, cur.Shape())
				v = v.Expand(cur.Shape()...)
			}()
			v = v.Contiguous()
		}
		return v
	}
	view := d.rowsView(md, mod, cur)
	src := v
	func() {
		defer d.abortOnShape(op, mod, v, "this invoke's "+what, view.Shape())
		src = v.Expand(view.Shape()...)
	}()
	func() {
		defer guard(op + " on " + mod.Path)
		view.Copy(src)
	}()
	return cur
}

// placeSkip installs a Skip value: broadcast to the shape the module's
// output has for this input, like a SetOutput value, so that the rest of
// the model (sized for the input's rows and positions) never runs on
// something else.
func (d *driver) placeSkip(md *mediator, mod *rt.Module, in []*rt.Tensor, v *rt.Tensor) *rt.Tensor {
	var x *rt.Tensor
	if len(in) > 0 {
		x = in[0]
	}
	var want []int
	if x != nil {
		want = gpt2.OutputShape(mod, x.Shape())
	}
	if want == nil || slices.Equal(want, v.Shape()) || !(md.row == 0 && md.rows == d.B) {
		return d.place(md, mod, nil, v, "Skip")
	}
	func() {
		defer d.abortOnShape("Skip", mod, v, "the output", want)
		v = v.Expand(want...)
	}()
	return d.place(md, mod, nil, v.Contiguous(), "Skip")
}

// abortOnShape, deferred around broadcasting v to the target shape (a
// view: nothing is allocated, so the only error is the shape), turns the
// runtime's error into one that names the module and both shapes.
func (d *driver) abortOnShape(op string, mod *rt.Module, v *rt.Tensor, what string, target []int) {
	if r := recover(); r != nil {
		if _, ok := r.(*rt.Error); !ok {
			panic(r)
		}
		d.abort(&Error{Kind: "usage", Msg: fmt.Sprintf("%s on %s: the value has shape %v, %s has shape %v (a replacement must have that shape or broadcast to it)",
			op, mod.Path, v.Shape(), what, target)})
	}
}

// hand gives a body the live value t of a module's input or output. The
// value requires grad from here on, as every activation does in nnsight,
// so a backward block can ask for its gradient; only what is downstream
// of values a body touched is recorded. A body that owns part of a batch
// gets a view of its rows, and its gradient is the same view of t's.
func (d *driver) hand(md *mediator, mod *rt.Module, t *rt.Tensor, what string) *Tensor {
	if t == nil {
		return nil
	}
	// Token ids (the model's and the embedding's input) are not
	// differentiable.
	ids := what == "input" && (mod.Parent == nil || mod.Type == "Embedding")
	if t.Dim() > 0 && d.tr.gen == nil && !ids {
		t.RequiresGrad()
	}
	d.keep(t)
	v := &Tensor{t: d.rowsView(md, mod, t), scope: md.scope, label: mod.Path + "." + what}
	if v.t != t {
		v.base = t
		v.rows = func(x *rt.Tensor) *rt.Tensor { return d.rowsView(md, mod, x) }
	}
	return v
}

// body returns the running trace body for module access by e.
func (e *Envoy) body(op string) *mediator {
	checkBodyGoroutine(e.mod.Path + "." + op + "()")
	md := current
	if md != nil && md.tracer == nil {
		fail("usage", "%s.%s() called inside a backward block: read module values in the trace body before calling Backward, and their gradients with t.Grad() inside it", e.mod.Path, op)
	}
	if md == nil && collecting != nil {
		fail("usage", "%s.%s() called in the body of %s(nil, ...) outside tr.Invoke: with nil input, access modules inside the invoke bodies, tr.Invoke(input, func() { ... })", e.mod.Path, op, map[bool]string{true: "Generate", false: "Trace"}[collecting.gen != nil])
	}
	if md == nil || md.tracer == nil {
		fail("usage", "%s.%s() called outside a trace: call it inside model.Trace(input, func(tr *nnscope.Tracer) { ... })", e.mod.Path, op)
	}
	if md.tracer.model != e.model {
		fail("usage", "%s.%s(): the module belongs to another model than the running trace", e.mod.Path, op)
	}
	return md
}

func (e *Envoy) ask(op string, kind eventKind, set, skip *Tensor) *Tensor {
	md := e.body(op)
	if md.genOver {
		fail("usage", "%s.%s() after tr.Iter returned: the generation is over (tr.Iter runs until the last token); access modules inside the function given to tr.Iter, e.g. `if step == n { ... }`", e.Name(), op)
	}
	r := &request{ev: event{kind: kind, mod: e.mod, step: md.tracer.stepOf(md)}, what: e.Name() + "." + kind.String()}
	if md.tracer.gen != nil && r.ev.step > 0 {
		r.what = fmt.Sprintf("%s (step %d)", r.what, r.ev.step)
	}
	if set != nil {
		r.set = set.use(op)
	}
	if skip != nil {
		r.skip = skip.use(op)
	}
	return md.ask(r).value
}

// Output waits until the model has run this module and returns its output
// (for a block, the hidden state it returns). Edits in place change what
// the rest of the model sees.
func (e *Envoy) Output() *Tensor { return e.ask("Output", evOutput, nil, nil) }

// Input waits until the model is about to run this module and returns its
// (first) input.
func (e *Envoy) Input() *Tensor { return e.ask("Input", evInput, nil, nil) }

// Call runs the module's own computation on x, outside the model's pass
// and its hooks, as nnsight's model.lm_head(h) does: the logit lens is
// model.LMHead.Call(model.Transformer.LnF.Call(h)). Layer norms, Conv1D
// projections, the activation, dropouts (the identity), an MLP, lm_head,
// and a block or its attention (causal over x's tokens) take hidden
// states; wte and wpe take token ids or positions. Inside a trace the
// result takes part in gradients like any other op.
func (e *Envoy) Call(x *Tensor) *Tensor {
	op := e.mod.Path + ".Call"
	if e.mod.Path == "" {
		op = "model.Call"
	}
	defer guard(op)
	t := x.arg(op, "the input")
	if dev := e.model.g.Device(); t.Device() != dev {
		fail("usage", "%s: the input is on %s, the model on %s (move it with .To(%q))", op, t.Device(), dev, dev)
	}
	e.model.useGEMMPrecision()
	out, err := e.model.g.Apply(e.mod, t)
	if err != nil {
		fail("usage", "%s: %v", op, err)
	}
	return derive(out, x)
}

// SetOutput replaces the module's output with v.
func (e *Envoy) SetOutput(v *Tensor) {
	if v == nil {
		fail("usage", "%s.SetOutput(nil)", e.mod.Path)
	}
	e.ask("SetOutput", evOutput, v, nil)
}

// SetInput replaces the module's input with v.
func (e *Envoy) SetInput(v *Tensor) {
	if v == nil {
		fail("usage", "%s.SetInput(nil)", e.mod.Path)
	}
	e.ask("SetInput", evInput, v, nil)
}

// Skip does not run the module: v is its output instead. v must have the
// shape the output would have (or broadcast to it, as for SetOutput).
func (e *Envoy) Skip(v *Tensor) {
	if v == nil {
		fail("usage", "%s.Skip(nil)", e.mod.Path)
	}
	e.ask("Skip", evInput, nil, v)
}

// String summarizes the cache for printing.
func (c *Cache) String() string { return fmt.Sprintf("Cache(%d module outputs)", len(c.order)) }
