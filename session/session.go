// Package session is one nnscope scripting session: the interpreter set up
// with the nnscope API and the safe standard library, wired so that trace
// bodies report script positions and Ctrl-C (a cancelled context) stops a
// running trace. `nnscope run`, the REPL and the Jupyter kernel all use it.
package session

import (
	"context"
	"errors"
	"io"
	"sync"

	"nnscope"
	"nnscope/interp"
	_ "nnscope/stdlib" // registers the nnscope API for scripts
)

// PreImports are evaluated first in every REPL session and notebook, so
// that `nnscope.LanguageModel(...)` and `fmt.Println(...)` work without an
// import line (an import of either still works).
var PreImports = []string{`import "fmt"`, `import "nnscope"`}

// Session evaluates scripts and REPL/notebook input.
type Session struct {
	in *interp.Interpreter
}

// Options are the interpreter's options.
type Options = interp.Options

var once sync.Once

// New starts a session.
func New(o Options) *Session {
	once.Do(func() {
		nnscope.SetPanicConverter(convertPanic)
	})
	return &Session{in: interp.New(o)}
}

// convertPanic turns a value recovered in a trace or backward body into an
// error with the script position; nnscope's own errors keep their message.
func convertPanic(v any) error {
	if e, ok := v.(*interp.Error); ok {
		// an inner body's error (a backward block inside a trace body),
		// already positioned: "panic: FILE:LINE: ..." would repeat it
		return e
	}
	err := interp.RecoveredError(v)
	var ie *interp.Error
	if errors.As(err, &ie) {
		if ne, ok := ie.Value.(*nnscope.Error); ok {
			ie.Msg = ne.Msg
			ie.Kind = interp.KindRuntime
		}
	}
	return err
}

// withContext makes ctx interrupt traces while fn runs.
func withContext(ctx context.Context, fn func() error) error {
	nnscope.SetContext(ctx)
	defer nnscope.SetContext(nil)
	return fn()
}

// RunFile runs a script file (package main) with args as its command line.
func (s *Session) RunFile(ctx context.Context, path string, args []string) error {
	return withContext(ctx, func() error { return tidy(s.in.RunFile(ctx, path, args)) })
}

// Eval evaluates REPL or notebook input in the session.
func (s *Session) Eval(ctx context.Context, src string) (interp.Result, error) {
	return s.EvalAs(ctx, "", src)
}

// EvalAs is Eval for input read from the file name (the REPL's :load):
// errors in it, also later ones in the functions it declared, name the file.
func (s *Session) EvalAs(ctx context.Context, name, src string) (res interp.Result, err error) {
	err = withContext(ctx, func() error {
		var e error
		res, e = s.in.EvalAs(ctx, name, src)
		return tidy(e)
	})
	return res, err
}

// IsComplete reports whether src is a complete input (for multi-line entry).
func (s *Session) IsComplete(src string) (bool, string) { return s.in.IsComplete(src) }

// Complete returns completions for the word before cursor.
func (s *Session) Complete(src string, cursor int) []string { return s.in.Complete(src, cursor) }

// SetOutput redirects script output (per notebook cell).
func (s *Session) SetOutput(stdout, stderr io.Writer) { s.in.SetOutput(stdout, stderr) }

// tidy drops "panic: " from nnscope errors raised in the script's own
// goroutine (a Trace that failed), which are usage errors, not crashes.
func tidy(err error) error {
	var ie *interp.Error
	if errors.As(err, &ie) {
		var ne *nnscope.Error
		if v, ok := ie.Value.(*nnscope.Error); ok {
			ne = v
		} else if v, ok := ie.Value.(*interp.Error); ok {
			return v // a body's error, already positioned
		}
		if ne != nil {
			ie.Msg = ne.Msg
			ie.Kind = interp.KindRuntime
		}
	}
	return err
}

// SetArgs sets the command line later input sees (os.Args, flag.Parse) and
// gives it a fresh flag set.
func (s *Session) SetArgs(args []string) { s.in.SetArgs(args) }
