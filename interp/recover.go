package interp

import (
	"go/ast"
	"go/types"
	"reflect"
	"strconv"
)

// ---- recover() (yaegi hands back its own wrapping of the panic value) ----

// recoverCall rewrites a call of the builtin recover into
// _nnsrt.Recovered(recover()): yaegi v0.16.1 panics with a reflect.Value
// holding the script's panic value, and recover returns that
// reflect.Value, so r.(string), r.(error), r == "x" and type switches on
// the recovered value never matched (fmt printed it right, hiding the
// problem). Runtime errors raised by yaegi's reflect-based execution are
// recovered as runtime errors with Go's wording, as compiled Go gives
// them. `defer recover()` stays a no-op as in Go: the argument is
// evaluated when the defer statement runs, outside any panic.
func (r *rewriter) recoverCall(n *ast.CallExpr) {
	if len(n.Args) != 0 {
		return
	}
	a, b := r.off(n.Pos()), r.off(n.End())
	if a < 0 || b < 0 {
		return
	}
	r.usesRT = true
	// One replacement, not insertions around the call: a rewrite that
	// wraps an enclosing expression starting at the same offset (an
	// assertion, recover().(error)) inserts its text before it.
	r.add(a, b, rtPkgName+".Recovered("+r.src[a:b]+")")
}

// runtimeError is a runtime error the interpreter raised, as recovered by
// the script: like Go's runtime errors, an error with a RuntimeError
// method.
type runtimeError struct{ msg string }

func (e *runtimeError) Error() string { return e.msg }
func (e *runtimeError) RuntimeError() {}

// recovered is the value the script's recover() returns for v, the value
// yaegi's recover returned (see rewriter.recoverCall).
func recovered(v any) any {
	if rv, ok := v.(reflect.Value); ok {
		if !rv.IsValid() || !rv.CanInterface() {
			return nil
		}
		v = rv.Interface()
	}
	switch x := v.(type) {
	case string:
		if t := translatePanic(x); t != x {
			return &runtimeError{t}
		}
	case *reflect.ValueError:
		if t := translatePanic(x.Error()); t != x.Error() {
			return &runtimeError{t}
		}
	case error:
		if t, ok := interfaceConversion(x.Error()); ok {
			return &runtimeError{t}
		}
	}
	return v
}

// nilAssertLit returns, for an assertion to a non-empty interface that
// assertLit leaves to yaegi (no script type implements the interface,
// e.g. r.(error) or w.(io.Writer)), a function literal that checks for
// nil first and otherwise asserts as written: yaegi v0.16.1 dereferences
// nil when the operand is a nil interface value, so `if err, ok :=
// recover().(error); ok` crashed when nothing panicked.
func (r *rewriter) nilAssertLit(typ ast.Expr, comma bool) (string, bool) {
	t, _, text, ok := r.assertTarget(typ)
	if !ok {
		return "", false
	}
	if comma {
		return "func(_nns_v any) (" + text + ", bool) { if _nns_v == nil { return nil, false }; _nns_c, _nns_ok := _nns_v.(" + text + "); return _nns_c, _nns_ok }", true
	}
	r.usesRT = true
	iname := types.TypeString(t, func(p *types.Package) string { return p.Name() })
	return "func(_nns_v any) " + text + " { if _nns_v == nil { " + rtPkgName + ".AssertFail(\"\", " + strconv.Quote(iname) + ", \"\") }; return _nns_v.(" + text + ") }", true
}
