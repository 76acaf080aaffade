package nnscope

import (
	"fmt"

	rt "nnscope/runtime"
)

// Interleaving, as nnsight does it: each body (a trace, an invoke, a
// backward block) runs in its own goroutine and the model (or the backward
// pass) runs in the caller's. They take turns through a one-slot mailbox:
// the body says what it waits for next (a module's input or output, a
// tensor's gradient) and blocks; the driver runs until that event, hands the
// live value over and blocks until the body asks for its next value or
// ends. Exactly one side runs at any time, so bodies may edit live values
// in place without locks.

// scope is the lifetime of values computed in a trace or backward block.
type scope struct {
	kind  string // "trace", "generation", "backward block"
	name  string // how errors name it, e.g. "trace at script.go:12"
	ended bool
}

// current is the mediator whose body runs now; nil for the script's own
// goroutine. Only the side about to block changes it, right before the
// handoff, and channel operations order those writes.
var current *mediator

// scopeOrNil returns the scope of the running body, if any.
func (m *mediator) scopeOrNil() *scope {
	if m == nil {
		return nil
	}
	return m.scope
}

type eventKind int

const (
	evInput eventKind = iota
	evOutput
	evGrad
	evStep // generation step begins
)

func (k eventKind) String() string {
	switch k {
	case evInput:
		return "input"
	case evOutput:
		return "output"
	case evGrad:
		return "gradient"
	}
	return "step"
}

// event identifies one point where a body can meet the driver.
type event struct {
	kind   eventKind
	mod    *rt.Module // input/output events
	step   int        // generation step
	tensor *rt.Tensor // gradient events
}

type request struct {
	ev       event
	set      *rt.Tensor // SetOutput / SetInput / SetGrad value
	skip     *rt.Tensor // Skip value
	stop     bool       // tr.Stop()
	finished bool       // the body returned or panicked
	err      error
	what     string // how errors describe the request ("transformer.h.3.output")
}

type response struct {
	value *Tensor
	err   error
	ended bool // the driver has no more events (generation over)
}

// mediator is one body and its mailbox.
type mediator struct {
	label  string
	scope  *scope
	tracer *Tracer // set for trace and invoke bodies
	body   func()
	reqs   chan *request
	resp   chan response
	parent *mediator

	pending *request // what the body waits for; nil once finished
	done    bool
	err     error
	stopped bool
	seen    func(event) bool // whether the driver already passed an event
	now     func(event) bool // whether an event is in progress (answer at once)
	step    int              // the generation step this body's requests refer to
	genOver bool             // a tr.Iter returned: the generation has ended
	inIter  bool             // inside a tr.Iter function

	// Invoke geometry: rows of the batch and left padding to hide.
	row, rows, pad int
}

// panicConverter turns a value recovered from a panicking body into an
// error; the interpreter installs one that adds the script position.
var panicConverter = defaultPanicConverter

func defaultPanicConverter(r any) error {
	if e, ok := r.(error); ok {
		return e
	}
	return fmt.Errorf("panic: %v", r)
}

// SetPanicConverter installs f (nil restores the default). Call it before
// any trace runs (the session does, once).
func SetPanicConverter(f func(any) error) {
	if f == nil {
		f = defaultPanicConverter
	}
	panicConverter = f
}

// unwind is panicked inside a body to end it quietly (trace stopped or
// aborted elsewhere).
type unwind struct{}

// errUnwind, as a response, ends a waiting body quietly.
var errUnwind = &Error{Kind: "unwind", Msg: "trace ended"}

// quietly is a notRun for finishAll that unwinds every waiting body.
func quietly(*request) error { return errUnwind }

func newMediator(label string, sc *scope, body func()) *mediator {
	return &mediator{label: label, scope: sc, body: body, reqs: make(chan *request), resp: make(chan response)}
}

// start runs the body until its first request.
func (m *mediator) start() {
	m.parent = current
	current = m
	go m.run()
	m.receive(<-m.reqs)
}

func (m *mediator) run() {
	g := enterBody()
	defer func() {
		r := &request{finished: true}
		if p := recover(); p != nil {
			switch e := p.(type) {
			case unwind:
			case stopSignal:
				r.stop = true
			default:
				// panicConverter adds the script position where it can
				// (an interpreter installs one); nnscope errors keep
				// their message.
				r.err = panicConverter(e)
			}
		}
		current = m.parent
		leaveBody(g)
		m.reqs <- r
	}()
	m.body()
}

type stopSignal struct{}

// receive records the body's next request, answering at once the ones that
// can never be served (their event already passed).
func (m *mediator) receive(r *request) {
	for {
		if r.finished {
			m.pending, m.done, m.err, m.stopped = nil, true, r.err, r.stop
			return
		}
		if m.now != nil && m.now(r.ev) {
			r = m.reply(response{})
			continue
		}
		if m.seen != nil && m.seen(r.ev) {
			r = m.reply(response{err: &Error{Kind: "out of order", Msg: fmt.Sprintf(
				"%s was requested out of order: the %s already passed it (access modules in the order the model runs them, and gradients in backprop order: later layers first)", r.what, m.scope.kind)}})
			continue
		}
		m.pending = r
		return
	}
}

// reply answers the pending request and waits for the body's next one.
func (m *mediator) reply(resp response) *request {
	current = m
	m.resp <- resp
	return <-m.reqs
}

// serve hands the event to the body while its pending request is for it.
// value makes the body's view of the live value; apply installs a
// replacement (SetOutput and friends) or a skip value.
func (m *mediator) serve(ev event, value func() *Tensor, apply func(r *request)) {
	for !m.done && m.pending != nil && m.pending.ev == ev {
		r := m.pending
		var resp response
		if r.set != nil || r.skip != nil {
			apply(r)
		} else {
			resp.value = value()
		}
		m.receive(m.reply(resp))
	}
}

// abandon ends a body that still waits. notRun says what each request
// gets: an error, or nil for "no more events" (a generation's last step).
func (m *mediator) abandon(notRun func(r *request) error) {
	for !m.done && m.pending != nil {
		if err := notRun(m.pending); err != nil {
			m.receive(m.reply(response{err: err}))
		} else {
			m.receive(m.reply(response{ended: true}))
		}
	}
}

// ask is the body side: wait for an event, return its value.
func (m *mediator) ask(r *request) response {
	current = m.parent
	m.reqs <- r
	resp := <-m.resp
	if resp.err == errUnwind {
		panic(unwind{})
	}
	if resp.err != nil {
		panic(resp.err)
	}
	return resp
}

// finishAll ends every body still waiting when the driver has no more
// events, and returns the first error of any body (bodies that waited for
// something that never happened fail with "not executed").
func finishAll(meds []*mediator, notRun func(r *request) error) error {
	var first error
	for _, m := range meds {
		m.abandon(notRun)
		if m.err != nil && first == nil {
			first = m.err
		}
	}
	return first
}
