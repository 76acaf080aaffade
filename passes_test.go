package nnscope

import (
	"strings"
	"testing"
	"time"
)

// catchErr runs fn and returns the *Error it panics with (nil when none).
func catchErr(fn func()) (err *Error) {
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(*Error)
			if !ok {
				panic(r)
			}
			err = e
		}
	}()
	fn()
	return nil
}

// TestConcurrentTraceFailsLoudly: a second goroutine starting a trace,
// generation or backward pass while one runs gets a clear error at once,
// never a crash ("concurrent map writes"), a hang or values served to the
// wrong body (nnsight issue #280: not thread-safe, and silent about it).
// The running trace is unharmed and the model works afterwards.
func TestConcurrentTraceFailsLoudly(t *testing.T) {
	m, _ := tiny(t)
	var saved *Tensor
	m.Trace(prompt, func(tr *Tracer) { saved = m.Output().Sum().Save() })
	var want, got *Tensor
	m.Trace(prompt, func(tr *Tracer) { want = m.Transformer.H.At(1).Output().Save() })
	for _, c := range []struct {
		name string
		run  func()
	}{
		{"Trace", func() { m.Trace("Hello", func(tr *Tracer) {}) }},
		{"Generate", func() { m.Generate("Hello", MaxNewTokens(1)) }},
		{"Backward", func() { saved.Backward(nil, RetainGraph) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			errc := make(chan *Error, 1)
			m.Trace(prompt, func(tr *Tracer) {
				h := m.Transformer.H.At(0).Output()
				go func() { errc <- catchErr(c.run) }()
				var e *Error
				select {
				case e = <-errc:
				case <-time.After(20 * time.Second):
					t.Fatal("the second goroutine's pass neither ran nor failed")
				}
				if e == nil || e.Kind != "concurrency" || !strings.Contains(e.Msg, c.name+": another trace") {
					t.Errorf("concurrent %s: %v, want a concurrency error", c.name, e)
				}
				h.Add(0)
				got = m.Transformer.H.At(1).Output().Save()
			})
			if d := got.Sub(want).Abs().Max(); d != 0 {
				t.Errorf("the running trace changed by %v", d)
			}
		})
	}
}

// TestStrayGoroutineInTrace: a goroutine that a trace body started cannot
// take the body's place (its Output() was served as the body's request,
// and the body's own then failed "out of order"); nested traces and
// generations from the body itself still work.
func TestStrayGoroutineInTrace(t *testing.T) {
	m, _ := tiny(t)
	errc := make(chan *Error, 1)
	var ok bool
	m.Trace(prompt, func(tr *Tracer) {
		go func() { errc <- catchErr(func() { m.Transformer.H.At(2).Output() }) }()
		e := <-errc
		if e == nil || e.Kind != "concurrency" || !strings.Contains(e.Msg, "transformer.h.2.Output() called from a goroutine") {
			t.Errorf("Output() from a goroutine the body started: %v", e)
		}
		m.Transformer.H.At(1).Output()
		var inner *Tensor
		m.Trace("Hello", func(tr *Tracer) { inner = m.Output().Save() })
		g := m.Generate("Hello", MaxNewTokens(2))
		ok = inner.Shape()[1] == 1 && len(g.NewTokens()) == 2
		m.Output()
	})
	if !ok {
		t.Error("nested trace or generation in a body failed")
	}
	// After the trace: the usual "outside a trace" error, from any goroutine.
	go func() { errc <- catchErr(func() { m.Transformer.H.At(0).Output() }) }()
	if e := <-errc; e == nil || !strings.Contains(e.Msg, "outside a trace") {
		t.Errorf("after the trace: %v", e)
	}
	if e := catchErr(func() { m.Trace("Hi", func(tr *Tracer) {}) }); e != nil {
		t.Errorf("a trace after all this: %v", e)
	}
}
