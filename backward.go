package nnscope

import (
	"fmt"
	"slices"

	rt "nnscope/runtime"
)

// BackwardOption configures Backward.
type BackwardOption func(*backwardOptions)

type backwardOptions struct{ retain bool }

// RetainGraph keeps the graph after a backward pass so another pass can
// run through it (PyTorch's retain_graph=True).
var RetainGraph BackwardOption = func(o *backwardOptions) { o.retain = true }

// Backward runs a backward pass from x (ones as the seed gradient, the
// usual case being a scalar loss) with body interleaved: inside body,
// t.Grad() waits until the pass produces t's gradient and returns it
// live, so edits change what flows further back. Gradients come in
// backprop order (later layers first). body may be nil. Works inside a
// trace and on saved tensors after it.
func (x *Tensor) Backward(body func(), opts ...BackwardOption) {
	t := x.use("Backward")
	defer beginPass("Backward")()
	if current != nil && current.scope.kind == "backward block" {
		// The outer pass waits for this body: a pass run from here left
		// the outer block's Grad() without a value (a nil dereference).
		fail("usage", "Backward called inside a backward block: run the second backward pass after the block returns (pass nnscope.RetainGraph to the first)")
	}
	if !t.RequiresGradEnabled() && x.scope != nil && x.scope.kind == "generation" {
		fail("grad", "Backward: %s comes from a generation, which runs without gradients (as Hugging Face's generate does): take gradients in a model.Trace", x.describe())
	}
	var o backwardOptions
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	sc := &scope{kind: "backward block", name: "backward block"}
	defer func() { sc.ended = true }()
	seen := map[*rt.Tensor]bool{}
	var md *mediator
	if body != nil {
		md = newMediator("backward block", sc, body)
		md.seen = func(ev event) bool { return ev.kind == evGrad && seen[ev.tensor] }
		md.start()
		if md.err != nil {
			panic(md.err)
		}
	}
	ctx := sessionContext()
	var bodyErr error
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				if a, ok := r.(abortSignal); ok {
					err = a.err
					return
				}
				panic(r)
			}
		}()
		return t.Backward(rt.BackwardOptions{RetainGraph: o.retain, OnGrad: func(v, g *rt.Tensor) *rt.Tensor {
			if ctx.Err() != nil {
				panic(abortSignal{&Error{Kind: "interrupted", Msg: "backward pass interrupted"}})
			}
			if md == nil || md.done {
				return nil
			}
			ev := event{kind: evGrad, tensor: v}
			var priv *rt.Tensor
			out := g
			md.serve(ev, func() *Tensor {
				// The body gets a private copy: the engine may share one
				// gradient tensor between several inputs (a residual
				// add), and an edit must only change this one's.
				if priv == nil {
					priv = g.Detach().Clone()
					out = priv
				}
				return wrap(priv, sc)
			}, func(r *request) { out = r.set })
			seen[v] = true
			if md.err != nil {
				bodyErr = md.err
				panic(abortSignal{md.err})
			}
			if out == g {
				return nil
			}
			if v.IsLeaf() {
				return out // copied into .grad now
			}
			// The body keeps what it read or gave and may edit it after
			// moving on; the pass may read this gradient later (an add or
			// a reshape hands it on as is), so it goes on with the values
			// the body left now: a late edit changes no other gradient.
			return out.Detach().Clone()
		}})
	}()
	if md != nil {
		notReached := func(r *request) error {
			return &Error{Kind: "not executed", Msg: fmt.Sprintf("%s: no gradient reached it in this backward pass (call RequiresGrad() on it, or on a tensor it depends on, before computing the loss; and make sure the loss depends on it)", r.what)}
		}
		if err != nil {
			notReached = quietly
		}
		if e := finishAll([]*mediator{md}, notReached); e != nil && err == nil {
			err = e
		}
	}
	if bodyErr != nil {
		err = bodyErr
	}
	if err != nil {
		if e, ok := err.(*rt.Error); ok {
			err = &Error{Kind: "grad", Msg: e.Msg}
		}
		panic(err)
	}
}

// Grad waits, inside a backward block, until the backward pass produces
// this tensor's gradient, and returns it live: in-place edits
// (g.Fill(0)) change what flows further back.
func (x *Tensor) Grad() *Tensor {
	t := x.use("Grad")
	checkBodyGoroutine("Grad()")
	md := current
	if md == nil || md.scope.kind != "backward block" {
		fail("grad", "Grad() called outside a backward block: call it inside loss.Backward(func() { ... })")
	}
	if !t.RequiresGradEnabled() && x.scope != nil && x.scope.kind == "generation" {
		fail("grad", "Grad(): %s comes from a generation, which runs without gradients (as Hugging Face's generate does): take gradients in a model.Trace", x.describe())
	}
	if !t.RequiresGradEnabled() {
		fail("grad", "Grad(): %s does not require grad: call RequiresGrad() on it (or on a tensor it depends on) before computing the loss", x.describe())
	}
	if x.base != nil {
		g := md.ask(&request{ev: event{kind: evGrad, tensor: x.base}, what: "gradient of " + x.describe()}).value
		return &Tensor{t: x.rows(g.t), scope: g.scope}
	}
	return md.ask(&request{ev: event{kind: evGrad, tensor: t}, what: "gradient of " + x.describe()}).value
}

// SetGrad replaces, inside a backward block, the gradient that flows into
// this tensor and further back.
func (x *Tensor) SetGrad(g *Tensor) {
	t := x.use("SetGrad")
	checkBodyGoroutine("SetGrad()")
	md := current
	if md == nil || md.scope.kind != "backward block" {
		fail("grad", "SetGrad() called outside a backward block: call it inside loss.Backward(func() { ... })")
	}
	v := g.use("SetGrad")
	if !slices.Equal(v.Shape(), t.Shape()) {
		fail("grad", "SetGrad: gradient of shape %v for a tensor of shape %v", v.Shape(), t.Shape())
	}
	if v.Device() != t.Device() {
		fail("grad", "SetGrad: the gradient is on %s, %s on %s (move it with .To(%q))", v.Device(), x.describe(), t.Device(), t.Device())
	}
	if x.base != nil {
		g := md.ask(&request{ev: event{kind: evGrad, tensor: x.base}, what: "gradient of " + x.describe()}).value
		x.rows(g.t).Copy(v)
		return
	}
	md.ask(&request{ev: event{kind: evGrad, tensor: t}, set: v, what: "gradient of " + x.describe()})
}

// AccumulatedGrad returns the gradient a parameter (or other leaf that
// requires grad) accumulated over backward passes, or nil. Each pass adds
// into it in place, as into PyTorch's .grad, so a tensor returned earlier
// sees later passes; Fill(0) on it clears it for the next.
func (x *Tensor) AccumulatedGrad() *Tensor {
	g := x.use("AccumulatedGrad").Grad()
	if g == nil {
		return nil
	}
	return wrap(g, nil)
}

func (x *Tensor) describe() string {
	if x.label != "" {
		return x.label
	}
	return fmt.Sprintf("tensor of shape %v", x.t.Shape())
}
