package nnscope

import (
	"fmt"
	"strings"

	rt "nnscope/runtime"
)

// Error is what nnscope's API panics with when a script misuses it. The
// interpreter reports it at the script line that made the call.
type Error struct {
	Kind string // "out of order", "not executed", "not saved", "grad", "usage", "interrupted", ...
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

func fail(kind, format string, args ...any) {
	panic(&Error{Kind: kind, Msg: fmt.Sprintf(format, args...)})
}

// guard turns an engine error (a *runtime.Error panic) into an nnscope
// error with context, leaving other panics alone.
func guard(what string) {
	if r := recover(); r != nil {
		if e, ok := r.(*rt.Error); ok {
			panic(&Error{Kind: "tensor", Msg: withContext(what, e.Msg)})
		}
		panic(r)
	}
}

// withContext prefixes an engine message with what was being done, unless
// the engine already named it ("Item: ..." stays, not "Item: Item: ...").
func withContext(what, msg string) string {
	if rest, ok := strings.CutPrefix(msg, what); ok && (strings.HasPrefix(rest, ":") || strings.HasPrefix(rest, "(")) {
		return msg
	}
	return what + ": " + msg
}
