package nnscope

import "sync"

// One pass at a time. A trace, a generation and a backward pass share
// process-wide state (the running body, the model's buffers), so, as in
// nnsight (which is not thread-safe either), two of them must not run at
// once. What nests is fine: a trace, generation or backward pass started
// from the body of a running one runs while the outer one waits for that
// body. Anything else — a second goroutine starting a trace while one
// runs, or a goroutine that a body started reaching into the trace —
// fails at once with an error saying so, instead of racing (a crash, a
// hang, or values served to the wrong body).
var passes struct {
	sync.Mutex
	depth  int             // passes running now, nested ones included
	bodies map[uintptr]int // goroutines running a body now (goroutineID)
}

// beginPass registers a trace, generation or backward pass (what names it
// for the error) started by the calling goroutine, and returns the
// function that ends it. It fails when another pass is running and the
// caller is not one of its bodies.
func beginPass(what string) (end func()) {
	g := goroutineID()
	passes.Lock()
	if passes.depth > 0 && passes.bodies[g] == 0 {
		passes.Unlock()
		fail("concurrency", "%s: another trace, generation or backward pass is running on another goroutine: nnscope runs one at a time (models and traces are not safe for concurrent use); wait for it to end first (one goroutine for traces, or a sync.Mutex around each), or start this one from inside the running trace's body", what)
	}
	passes.depth++
	passes.Unlock()
	return func() {
		passes.Lock()
		passes.depth--
		passes.Unlock()
	}
}

// enterBody and leaveBody mark the calling goroutine as running a body.
func enterBody() uintptr {
	g := goroutineID()
	passes.Lock()
	if passes.bodies == nil {
		passes.bodies = map[uintptr]int{}
	}
	passes.bodies[g]++
	passes.Unlock()
	return g
}

func leaveBody(g uintptr) {
	passes.Lock()
	if passes.bodies[g]--; passes.bodies[g] <= 0 {
		delete(passes.bodies, g)
	}
	passes.Unlock()
}

// checkBodyGoroutine fails when a pass is running and the caller, about to
// use the running body's state (op names what it does), is not a body: a
// goroutine that a body started, or one running beside the trace. Its
// request would otherwise be taken for the body's own.
func checkBodyGoroutine(op string) {
	g := goroutineID()
	passes.Lock()
	stray := passes.depth > 0 && passes.bodies[g] == 0
	passes.Unlock()
	if stray {
		fail("concurrency", "%s called from a goroutine that is not the running trace's (or backward block's) body, such as one the body started: module values and gradients are served to the body itself, one request at a time; call it in the body (and Save() what another goroutine should read after the trace)", op)
	}
}
