// Package interp runs nnscope scripts (Go source) with yaegi v0.16.1,
// adding what the REPL, `nnscope run FILE.go` and the notebook kernel need:
// a safe standard library (package nnscope/stdlib), per-run os.Args and
// flag set, os.Exit that ends only the script, incremental evaluation that
// mixes declarations and statements, errors that point at the user's
// source (file:line:col, also in REPL mode), and source rewrites that
// shield scripts from yaegi's known traps.
//
// Every input is parsed with go/parser and type-checked with go/types
// (host packages are described to the checker from the yaegi symbol
// tables; REPL input sees the previous declarations and globals). The
// rewrites are textual edits with a position map, so errors keep pointing
// at the user's text:
//
//   - closures capturing loop variables (#1634, #1713): a function literal
//     that refers to variables declared in a loop of the enclosing function
//     is wrapped as func() T { v := v; return <literal> }(), which gives Go
//     1.22 per-iteration values. Top-level REPL loops that declare
//     variables in their body run inside a closure (yaegi keeps such
//     declarations global, and `k := k` never terminated).
//   - range over an integer (#1701) becomes a 3-clause loop (range
//     expression evaluated once, typed like the integer); range over an
//     iterator of package slices or maps ranges over its values collected
//     first; range over another function becomes a call of the iterator
//     with the body as a function literal (rewrite_rangefunc.go): continue
//     returns true, break false, and a return of the enclosing function or
//     a labeled branch out of the loop is recorded and done after the call
//     (through nested loops too); yield called after the body returned
//     false, or after the loop, panics as in Go. A defer in the body and a
//     goto out of it are errors. When the type is unknown, yaegi's "nil
//     type" panic is translated into advice.
//   - min and max (#1674) call generic helpers with explicit type arguments
//     (constant calls are folded); clear calls a host function (maps and
//     slices).
//   - inferred generic calls (#1610) get their inferred type arguments
//     written explicitly; yaegi inference errors get a hint.
//   - "constant definition loop" (#806) is replaced by the type checker's
//     "undefined: name".
//   - the generic packages slices, maps and cmp are our own sources
//     (generic/), compiled into a script or session that imports one and
//     type-checked from the same text, so their calls get type arguments too (generic.go).
//   - function literals passed as call arguments are parenthesized (yaegi's
//     path for a literal passed straight to a host function kept every
//     value of the loop-body variables it assigned).
//   - type switches and assertions to interfaces (rewrite_types.go), fmt's
//     use of String/Error/%T and errors.As/Is/%w with script types
//     (rewrite_fmt.go), method values and expressions (rewrite_methods.go),
//     comma-ok assignments, recover(), encoding/json struct tags
//     (recover.go, jsonfix.go).
//   - in sessions: global definitions that call generic functions, var
//     declarations that read earlier globals, and comma-ok definitions run
//     inside function literals, which yaegi's global frame needs.
//
// Compilation runs on a goroutine with recover (yaegi's Eval does not
// recover compile-time panics) and execution uses ExecuteWithContext, so a
// cancelled context stops the script and the interpreter stays usable.
// A loop inside an interpreted closure called through a function value may
// not observe cancellation (yaegi limitation); the call returns anyway.
//
// Host goroutines that call script closures must use Protect: a panic in
// interpreted code on a host goroutine otherwise kills the process.
//
// Output: fmt.Print* write to Options.Stdout (yaegi virtualizes them);
// os.Stdout and os.Stderr are the Options writers too when those are not
// *os.File (then typed io.Writer). SetOutput switches the writers, e.g.
// per notebook cell.
package interp
