package runtime

import (
	"fmt"
	"slices"
	"strings"

	"nnscope/runtime/cuda"
)

// node is one recorded op on the autograd tape: the inputs it read and the
// function that maps the gradient of its output to gradients of its inputs.
// backward receives needs[i] == inputs[i].requiresGrad and may return nil for
// inputs that need nothing, so a backward to one layer computes no weight
// gradients and nothing below that layer.
type node struct {
	op       string
	inputs   []*Tensor
	gens     []int // per input: its write generation when read
	backward func(g *Tensor, needs []bool) []*Tensor
	saved    []savedVersion
	// region, on a view's node, is the view's geometry on its input (the
	// makeView apply), for adding the view's gradient into a pending
	// gradient of the input in place (scatterView); nil for other ops.
	region  func(*Tensor) *Tensor
	freed   bool
	gensBuf [3]int // backs gens for ops of up to 3 inputs: no allocation of its own
}

// input returns input j as this op read it: an op that computed new
// values from a tensor later written in place (h.Copy(h.Add(1))) sends its
// gradient to the history the tensor had then, as in PyTorch, not to the
// write (which would make a cycle or misroute it). That holds for views
// too (v := h.Slice("0"); y := v.Mul(2); h.Fill(0): y's gradient reaches
// h's history before the fill); a view used after a write to its base
// first takes the write's history (refreshView), as PyTorch regenerates a
// view's grad_fn.
func (n *node) input(j int) *Tensor {
	in := n.inputs[j]
	if in == nil || n.gens[j] >= len(in.olds) {
		return in
	}
	return in.olds[n.gens[j]]
}

// savedVersion remembers the storage version of a tensor an op kept for its
// backward, to detect in-place writes that would make the gradient wrong.
type savedVersion struct {
	t       *Tensor
	version int
}

// GradHook sees the gradient flowing into a tensor during a backward pass and
// may return a replacement (nil keeps it). The gradient is this pass's own,
// never an accumulated one.
type GradHook func(grad *Tensor) *Tensor

// gradDisabled counts the NoGrad calls running; reads are racy only if a
// caller toggles it while ops run in other goroutines, which we do not do.
var gradDisabled int

// NoGrad runs fn without recording ops on the tape.
func NoGrad(fn func()) {
	gradDisabled++
	defer func() { gradDisabled-- }()
	fn()
}

// record attaches an op to out when any input requires grad. The closure
// form keeps each op's backward next to its forward.
func record(out *Tensor, op string, inputs []*Tensor, backward func(g *Tensor) []*Tensor) {
	recordNeeds(out, op, inputs, func(g *Tensor, _ []bool) []*Tensor { return backward(g) })
}

func recordNeeds(out *Tensor, op string, inputs []*Tensor, backward func(g *Tensor, needs []bool) []*Tensor, saved ...*Tensor) {
	if gradDisabled > 0 {
		return
	}
	for _, in := range inputs {
		if in != out {
			in.refreshView()
		}
	}
	recordRaw(out, op, inputs, backward, saved...)
}

// recordRaw is recordNeeds without refreshing views among the inputs (the
// write itself, which makes them stale, records its nodes with it).
func recordRaw(out *Tensor, op string, inputs []*Tensor, backward func(g *Tensor, needs []bool) []*Tensor, saved ...*Tensor) {
	if gradDisabled > 0 {
		return
	}
	any := false
	for _, in := range inputs {
		if in != nil && in.requiresGrad {
			any = true
			break
		}
	}
	if !any {
		return
	}
	n := &node{op: op, inputs: inputs, backward: backward}
	if len(inputs) <= len(n.gensBuf) {
		n.gens = n.gensBuf[:len(inputs)]
	} else {
		n.gens = make([]int, len(inputs))
	}
	for j, in := range inputs {
		if in == nil {
			continue // gens[j] stays 0
		}
		n.gens[j] = len(in.olds)
		// The backward may read any input, also one that needs no
		// gradient (the values v of probs @ v, a layer's input for its
		// weight's gradient), possibly through another view of its
		// memory: Release must not give that memory back.
		if in.st != nil {
			in.st.taped = true
		}
	}
	for _, s := range saved {
		if s == nil { // an optional operand left out (LayerNorm without gain or bias)
			continue
		}
		n.saved = append(n.saved, savedVersion{s, s.st.version})
	}
	out.node = n
	out.requiresGrad = true
}

// savedIf returns t when cond, else nil (which recordNeeds skips): an op
// saves, for the check against in-place writes, only the operands its
// backward will read, as PyTorch does. Gradients of x*y need y for x and
// x for y, so x*2 or x@W with constant W keep no x, and an edit like
// out.Copy(out.Mul(2)) leaves the backward valid.
func savedIf(cond bool, t *Tensor) *Tensor {
	if cond {
		return t
	}
	return nil
}

// RequiresGrad marks t so that ops using it from now on are recorded and a
// backward pass computes its gradient. On an intermediate value it makes t
// a leaf of the graphs built after it.
func (t *Tensor) RequiresGrad() *Tensor {
	t.requiresGrad = true
	return t
}

// SetRequiresGrad turns gradient tracking on or off for a leaf.
func (t *Tensor) SetRequiresGrad(on bool) *Tensor {
	t.requiresGrad = on
	if !on {
		t.node = nil
	}
	return t
}

// RequiresGradEnabled reports whether t takes part in autograd.
func (t *Tensor) RequiresGradEnabled() bool { return t.needsGrad() }

// needsGrad is t.requiresGrad for a tensor about to be read: a view whose
// base was written since it was made first takes the write's history
// (refreshView), which may require grad where the view's did not.
func (t *Tensor) needsGrad() bool {
	t.refreshView()
	return t.requiresGrad
}

// IsLeaf reports whether t was not produced by a recorded op.
func (t *Tensor) IsLeaf() bool { return t.node == nil }

// Grad returns the gradient accumulated into a leaf by backward passes
// (nil if none). Per-pass gradients of any tensor are read with hooks.
func (t *Tensor) Grad() *Tensor { return t.grad }

// ZeroGrad clears the accumulated gradient.
func (t *Tensor) ZeroGrad() { t.grad = nil }

// RegisterHook adds a hook that runs every time a gradient flows into t. It
// returns a function that removes the hook.
func (t *Tensor) RegisterHook(h GradHook) (remove func()) {
	t.hooks = append(t.hooks, h)
	idx := len(t.hooks) - 1
	return func() {
		if idx < len(t.hooks) {
			t.hooks[idx] = nil
		}
	}
}

// BackwardOptions tune one backward pass.
type BackwardOptions struct {
	// RetainGraph keeps the graph so a later backward can run through it.
	RetainGraph bool
	// Grad seeds the pass; nil means ones (the usual scalar loss case).
	Grad *Tensor
	// OnGrad, if set, is called for every tensor as soon as its gradient
	// for this pass is complete (after its own hooks) and may replace it.
	// The intervention layer builds blocking .Grad() reads on it. When
	// OnGrad returns nil the pass goes on using grad's memory (a leaf may
	// keep it as .grad, a later gradient may be summed into it in place):
	// to hold on to grad, keep a copy or return grad itself.
	OnGrad func(t *Tensor, grad *Tensor) *Tensor
	// Stop, if set, ends the pass early when it returns true (checked
	// between ops), e.g. once every gradient a script asked for is known.
	Stop func() bool
}

// Backward computes gradients of t with respect to every tensor that
// requires grad and reaches t, running hooks as each gradient completes.
func (t *Tensor) Backward(opts ...BackwardOptions) (err error) {
	var o BackwardOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	t.refreshView()
	if !t.requiresGrad {
		return errorf("backward: tensor of shape %v does not require grad (call RequiresGrad on a tensor it depends on before computing it)", t.shape)
	}
	seed := o.Grad
	if seed == nil {
		seed = newLike(t, t.shape...)
		seed.Fill(1)
	} else if !slices.Equal(seed.shape, t.shape) {
		return errorf("backward: gradient shape %v does not match tensor shape %v", seed.shape, t.shape)
	} else if seed.Device() != t.Device() {
		return errorf("backward: the seed gradient is on %s, the tensor on %s (move it with .To(%q))", seed.Device(), t.Device(), t.Device())
	}

	// The graph as it is when the pass starts: a hook or an OnGrad body
	// that writes one of its tensors in place gives that tensor a new
	// history, which this pass must not follow (it lost the gradient).
	order := topoOrder(t)
	nodes := make([]*node, len(order))
	inputs := make([][]*Tensor, len(order))
	for i, x := range order {
		n := x.node
		if n == nil {
			continue
		}
		if n.freed {
			return errorf("backward: the graph through %q was already freed by an earlier backward pass; pass RetainGraph to the first Backward to run backward twice", n.op)
		}
		if err := n.checkSaved(); err != nil {
			return err
		}
		nodes[i] = n
		inputs[i] = make([]*Tensor, len(n.inputs))
		for j := range n.inputs {
			inputs[i][j] = n.input(j)
		}
	}
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(*Error); ok {
				err = e
				return
			}
			panic(r)
		}
	}()

	// pending gradients. own: g is this pass's alone (an op's backward
	// allocated it and gave it to x only, no hook saw it, OnGrad did not
	// return it: see OnGrad), so a leaf can keep it without a copy and a
	// second gradient of x is summed into it in place. With every
	// parameter requiring grad, copies and sums of fresh gradients were
	// most of a backward pass's memory.
	type pending struct {
		g   *Tensor
		own bool
	}
	grads := map[*Tensor]pending{t: {seed, o.Grad == nil}}
	for i := len(order) - 1; i >= 0; i-- {
		x := order[i]
		p, ok := grads[x]
		if !ok {
			continue
		}
		g, own := p.g, p.own
		delete(grads, x)
		if len(x.hooks) > 0 {
			// One gradient tensor may flow into several inputs (an add
			// passes it on unchanged): give hooks a private copy so an
			// in-place edit changes only this tensor's gradient.
			g = g.Detach().Clone()
			own = false // a hook may keep it
		}
		for _, h := range x.hooks {
			if h != nil {
				if r := h(g); r != nil {
					g = checkGradShape(x, r)
				}
			}
		}
		if o.OnGrad != nil {
			if r := o.OnGrad(x, g); r != nil {
				g = checkGradShape(x, r)
				own = false
			}
		}
		n, ins := nodes[i], inputs[i]
		if n == nil {
			if x.grad == nil {
				// Kept as is only when contiguous (a leaf's .grad is
				// plain memory, as PyTorch's AccumulateGrad makes it): a
				// sum's gradient is an expanded view (stride 0), one
				// number for all, and a transpose's a reordered view.
				if own && g.IsContiguous() && !hasOverlap(g) {
					x.grad = g
				} else {
					x.grad = g.Detach().Clone()
				}
			} else if !addInPlace(x.grad, g) {
				// In place when it can be, as PyTorch accumulates: a
				// reference to the .grad taken before this pass sees the sum.
				x.grad = x.grad.addNoGrad(g)
			}
			if outlivesScope(x) {
				Escape(x.grad) // the leaf's gradient outlives the pass with it
			}
		} else {
			if err := n.checkSaved(); err != nil {
				panic(err) // written by a hook during this pass
			}
			needs := make([]bool, len(ins))
			for j, in := range ins {
				needs[j] = in != nil && in.requiresGrad
			}
			if n.region != nil && needs[0] {
				if prev, ok := grads[ins[0]]; ok && prev.own && scatterView(n.region, prev.g, g) {
					if o.Stop != nil && o.Stop() {
						break
					}
					continue // g is in the base's gradient
				}
			}
			seq := storageSeq.Load()
			gs := n.runBackward(g, needs)
			for j, in := range ins {
				if !needs[j] || j >= len(gs) || gs[j] == nil {
					continue
				}
				gi := gs[j]
				if !slices.Equal(gi.shape, in.shape) {
					panic(errorf("internal: %s backward gave gradient of shape %v for input of shape %v", n.op, gi.shape, in.shape))
				}
				if prev, ok := grads[in]; ok {
					if !prev.own || !addInPlace(prev.g, gi) {
						grads[in] = pending{prev.g.addNoGrad(gi), true}
					}
				} else {
					// Allocated by this backward, or g handed on (as
					// such or as a view), and given to no other input.
					grads[in] = pending{gi, (gi.st.seq > seq || own && gi.st == g.st) && !storageShared(gs, j)}
				}
			}
		}
		if o.Stop != nil && o.Stop() {
			break
		}
	}
	if !o.RetainGraph {
		for _, n := range nodes {
			if n != nil {
				n.freed = true
				n.backward, n.region = nil, nil
			}
		}
	}
	return nil
}

// runBackward runs n's backward without recording, naming the op in an
// error it raises (a GPU out of memory said only how much it asked for).
func (n *node) runBackward(g *Tensor, needs []bool) (gs []*Tensor) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(*Error); ok && !strings.HasPrefix(e.Msg, "backward") {
				panic(errorf("backward of %s: %s", n.op, e.Msg))
			}
			panic(r)
		}
	}()
	NoGrad(func() { gs = n.backward(g, needs) })
	return gs
}

// checkSaved reports a value n kept for its backward that was written in
// place since.
func (n *node) checkSaved() *Error {
	for _, s := range n.saved {
		if s.t.st.version != s.version {
			return errorf("backward: a value saved by %q (shape %v) was modified in place after it was used; clone it before editing", n.op, s.t.shape)
		}
	}
	return nil
}

// checkGradShape checks a gradient replacement (from a hook or OnGrad)
// against the tensor it is the gradient of: the same shape, and the same
// device (the backward kernels of x's ops read it there).
func checkGradShape(x, g *Tensor) *Tensor {
	if !slices.Equal(g.shape, x.shape) {
		panic(errorf("gradient replacement has shape %v, want %v", g.shape, x.shape))
	}
	if g.Device() != x.Device() {
		panic(errorf("gradient replacement is on %s, the tensor and its gradient on %s (move it with .To(%q))", g.Device(), x.Device(), x.Device()))
	}
	return g
}

// topoOrder lists the tensors that t depends on through recorded ops, each
// after all its inputs.
func topoOrder(t *Tensor) []*Tensor {
	var order []*Tensor
	seen := map[*Tensor]bool{}
	type frame struct {
		t *Tensor
		i int
	}
	stack := []frame{{t, 0}}
	seen[t] = true
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		if f.t.node != nil && f.i < len(f.t.node.inputs) {
			in := f.t.node.input(f.i)
			f.i++
			if in != nil && in.requiresGrad && !seen[in] {
				seen[in] = true
				stack = append(stack, frame{in, 0})
			}
			continue
		}
		order = append(order, f.t)
		stack = stack[:len(stack)-1]
	}
	return order
}

// storageShared says whether gs[j] shares memory with another of gs.
func storageShared(gs []*Tensor, j int) bool {
	for k, o := range gs {
		if k != j && o != nil && o.st == gs[j].st {
			return true
		}
	}
	return false
}

// addInPlace adds b into a (same shapes) on a's memory, on either device,
// and says whether it did. It does not when a is a file mapping, has
// elements that overlap (an expanded view), or shares memory with b.
func addInPlace(a, b *Tensor) bool {
	if a.st == b.st || a.st.readOnly || hasOverlap(a) {
		return false
	}
	switch {
	case a.onGPU() && b.onGPU():
		// Elementwise with out and a the same view: each element is read
		// before it is written by the same thread.
		check("gradient accumulation", gpuDev.Binary(cuda.OpAdd, a.gs(), a.gs(), b.gs()))
	case a.onGPU() || b.onGPU():
		return false
	case a.IsContiguous() && b.IsContiguous():
		ad := a.raw()
		vadd(ad, ad, b.raw())
	default: // strided (a transposed weight's gradient is a view)
		copyStrided(a, a.addNoGrad(b))
	}
	a.st.version++
	return true
}

// addNoGrad returns a+b for gradient accumulation (same shapes).
func (t *Tensor) addNoGrad(b *Tensor) *Tensor {
	if sameDevice("gradient accumulation", t, b) {
		var out *Tensor
		NoGrad(func() { out = gpuBinary(t, b, "Add") })
		return out
	}
	out := New(t.shape...)
	a, bb := t.Data(), b.Data()
	o := out.raw()
	for i := range o {
		o[i] = a[i] + bb[i]
	}
	return out
}

// GraphString describes the ops recorded behind t, for debugging.
func (t *Tensor) GraphString() string {
	s := ""
	for _, x := range topoOrder(t) {
		op := "leaf"
		if x.node != nil {
			op = x.node.op
		}
		s += fmt.Sprintf("%s %v\n", op, x.shape)
	}
	return s
}
