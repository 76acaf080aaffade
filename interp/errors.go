package interp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	yaegi "github.com/traefik/yaegi/interp"

	"nnscope/stdlib"
)

// Kind classifies an *Error.
type Kind int

const (
	// KindCompile: the source does not parse, type-check or compile.
	KindCompile Kind = iota
	// KindRuntime: the script stopped for another reason than a panic
	// (cancellation through the context, a flag parsing failure...).
	KindRuntime
	// KindPanic: the script panicked.
	KindPanic
)

func (k Kind) String() string {
	switch k {
	case KindCompile:
		return "compile"
	case KindRuntime:
		return "runtime"
	case KindPanic:
		return "panic"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Position is a place in the user's source. Filename is empty for REPL
// input; Line is 0 when the position is unknown.
//
// Input numbers the session inputs (REPL lines, notebook cells) of an
// Interpreter from 1; it is 0 in files. An error of Eval at a position in
// an earlier input than the one evaluated (a function defined there) has
// Filename "earlier input": its line and column are not the current
// input's.
type Position struct {
	Filename     string
	Line, Column int
	Input        int
}

func (p Position) String() string {
	var s string
	if p.Line > 0 {
		s = strconv.Itoa(p.Line) + ":" + strconv.Itoa(p.Column)
	}
	if p.Filename != "" {
		if s == "" {
			return p.Filename
		}
		return p.Filename + ":" + s
	}
	return s
}

// Error is the error returned for a script failure. Its message is of the
// form "script.go:12:5: undefined: foo" ("12:5: ..." for REPL input).
//
// For panics, Pos is the statement that was running (yaegi v0.16.1 itself
// only reports the start of the function; see rewriter.markStmt).
type Error struct {
	Pos   Position
	Msg   string
	Kind  Kind
	Value any // the panic value, for KindPanic
}

func (e *Error) String() string {
	if p := e.Pos.String(); p != "" {
		return p + ": " + e.Msg
	}
	return e.Msg
}

func (e *Error) Error() string { return e.String() }

// Unwrap returns the panic value when it is an error.
func (e *Error) Unwrap() error {
	if err, ok := e.Value.(error); ok {
		return err
	}
	return nil
}

// ExitError is returned by RunFile when the script called os.Exit with a
// non-zero code, or when its flag parsing failed (code 2).
type ExitError = stdlib.ExitError

// ExitCode reports the exit code carried by err, if it is (or wraps) an
// ExitError.
func ExitCode(err error) (int, bool) {
	var e ExitError
	if errors.As(err, &e) {
		return e.Code, true
	}
	return 0, false
}

// ---- positions of panics in interpreted code ----

// yaegi prints "LINE:COL: panic: FUNC(...)" to the interpreter's stderr for
// each interpreted frame a panic unwinds. The filter below swallows those
// lines and keeps the innermost position per goroutine, so that the error
// can point at the script line.
var panicLineRE = regexp.MustCompile(`^(?:[^\s:]*:)?(\d+):(\d+): panic: .*\(\.\.\.\)\n?$`)

var panicSites sync.Map // goroutine id -> site

// site is where yaegi reported a panic on a goroutine: the start of the
// innermost interpreted function's body, and the statement that ran last
// (on any goroutine) when it did.
type site struct {
	pos  Position
	last int64 // stmts.last
}

func goid() int64 {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	return parseGoid(buf[:n])
}

func parseGoid(stack []byte) int64 {
	s := bytes.TrimPrefix(stack, []byte("goroutine "))
	if i := bytes.IndexByte(s, ' '); i > 0 {
		id, _ := strconv.ParseInt(string(s[:i]), 10, 64)
		return id
	}
	return 0
}

// takeSite removes and returns what yaegi reported for goroutine id.
func takeSite(id int64) site {
	v, _ := panicSites.LoadAndDelete(id)
	s, _ := v.(site)
	return s
}

type stderrFilter struct {
	in *Interpreter
}

func (f stderrFilter) Write(p []byte) (int, error) {
	if m := panicLineRE.FindSubmatch(p); m != nil {
		line, _ := strconv.Atoi(string(m[1]))
		col, _ := strconv.Atoi(string(m[2]))
		id := goid()
		if _, seen := panicSites.Load(id); !seen {
			panicSites.Store(id, site{f.in.userPos(line, col), stmts.last.Load()})
		}
		return len(p), nil
	}
	return f.in.stderr.Write(p)
}

// switchWriter forwards to a writer that can be replaced (SetOutput). It
// serializes writes: goroutines a script starts print concurrently, and
// the writer behind (a buffer, a notebook stream) need not be safe for that.
type switchWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *switchWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w == nil {
		return len(p), nil
	}
	return s.w.Write(p)
}

func (s *switchWriter) set(w io.Writer) {
	s.mu.Lock()
	s.w = w
	s.mu.Unlock()
}

// panicError builds the error for a recovered panic value.
func panicError(v any, pos Position) error {
	if rv, ok := v.(reflect.Value); ok && rv.IsValid() && rv.CanInterface() {
		v = rv.Interface()
	}
	if e, ok := v.(ExitError); ok {
		return e
	}
	if p, ok := v.(yaegi.Panic); ok {
		v = p.Value
		if e, ok := v.(ExitError); ok {
			return e
		}
	}
	return &Error{Pos: pos, Msg: "panic: " + translatePanic(panicString(v)), Kind: KindPanic, Value: v}
}

// reflectPanics are the messages yaegi's reflect-based execution panics
// with where compiled Go gives a runtime error; the script author sees
// Go's wording.
var reflectPanics = map[string]string{
	"reflect: slice index out of range":               "runtime error: index out of range",
	"reflect: array index out of range":               "runtime error: index out of range",
	"reflect: string index out of range":              "runtime error: index out of range",
	"reflect.Value.Slice: slice index out of bounds":  "runtime error: slice bounds out of range",
	"reflect.Value.Slice3: slice index out of bounds": "runtime error: slice bounds out of range",
	"reflect.MakeSlice: negative len":                 "runtime error: makeslice: len out of range",
	"reflect.MakeSlice: negative cap":                 "runtime error: makeslice: cap out of range",
	"reflect.MakeSlice: len > cap":                    "runtime error: makeslice: cap out of range",
	"reflect.Value.Call: call of nil function":        "runtime error: invalid memory address or nil pointer dereference",
}

// interfaceConversion returns yaegi's "pos: interface conversion: ..."
// panic without its interpreter position (Go's own wording).
func interfaceConversion(msg string) (string, bool) {
	if loc := posRE.FindStringIndex(msg); loc != nil && strings.HasPrefix(msg[loc[1]:], "interface conversion:") {
		return msg[loc[1]:], true
	}
	return "", false
}

// translatePanic rewrites a panic message from the interpreter's
// machinery into what compiled Go reports, and drops the position yaegi
// puts in some messages (a place in its rewritten source, not the user's).
func translatePanic(msg string) string {
	if t, ok := reflectPanics[msg]; ok {
		return t
	}
	if strings.HasPrefix(msg, "reflect: call of reflect.Value.") && strings.HasSuffix(msg, " on zero Value") {
		// yaegi dereferencing a nil pointer
		return "runtime error: invalid memory address or nil pointer dereference"
	}
	if t, ok := interfaceConversion(msg); ok {
		return t
	}
	if msg == "reflect: call of reflect.Value.IsNil on struct Value" || msg == "reflect: call of reflect.Value.Elem on struct Value" ||
		strings.HasPrefix(msg, "reflect.Set: value of type struct {") && strings.HasSuffix(msg, "is not assignable to type error") {
		// yaegi v0.16.1 cannot hold a struct value in an error variable
		// (err != nil, err2 := err and passing it on all panic).
		return msg + " (the interpreter cannot hold a struct value in an error variable: give the type's Error method a pointer receiver, func (e *T) Error() string, and use &T{...})"
	}
	return msg
}

func panicString(v any) string {
	switch x := v.(type) {
	case error:
		return x.Error()
	case fmt.Stringer:
		return x.String()
	case string:
		return x
	}
	return fmt.Sprintf("%v", v)
}

// Protect calls fn and turns a panic into an error. Host code that calls
// script closures on its own goroutines (for example a model running a
// trace body) must go through Protect (or its own recover): an unrecovered
// panic in interpreted code on a host goroutine terminates the whole
// process. The error is an *Error of kind KindPanic that carries the script
// position of the panic when it is known, or an ExitError when the script
// called os.Exit.
func Protect(fn func()) (err error) {
	id := goid()
	panicSites.Delete(id)
	defer func() {
		if r := recover(); r != nil {
			err = panicError(r, sitePos(id))
		}
	}()
	fn()
	return nil
}

// posRE matches the position prefix of yaegi and go/scanner messages.
var posRE = regexp.MustCompile(`^(?:[^\s:]*:)?(\d+):(\d+): `)

var importRE = regexp.MustCompile(`import "([^"]+)" error: unable to find source`)

// translate rewrites a few misleading yaegi messages.
func translateMsg(msg string) string {
	switch {
	case strings.Contains(msg, "undefined type for") || strings.Contains(msg, "cannot infer"):
		return msg + " (the interpreter cannot infer type arguments here: instantiate the generic function explicitly, e.g. F[int](x))"
	case strings.Contains(msg, "unable to find source related to"):
		// yaegi looks for packages it has no symbols for in GOPATH.
		if m := importRE.FindStringSubmatch(msg); m != nil {
			return fmt.Sprintf("import %q: not available to nnscope scripts (they can import %s)", m[1], strings.Join(importable(), ", "))
		}
	case msg == "nil type":
		return "range over an integer or a function is not supported by the interpreter here (its type could not be determined): use a 3-clause for loop"
	}
	return msg
}

// RecoveredError converts a value recovered on the current goroutine (in
// the deferred function of host code that ran script code) into an error
// carrying the script position, like Protect does.
func RecoveredError(v any) error {
	return panicError(v, sitePos(goid()))
}

// Statement positions (see rewriter.markStmt). Scripts' bodies run one at a
// time (a trace body and the model take turns), so one "last statement"
// for the process names the statement that was running when a panic
// started, whichever goroutine ran it.
var stmts struct {
	mu sync.Mutex
	// each statement, and the start of the body of the function it is in
	// (Line 0: unknown)
	all  []struct{ pos, fn Position }
	last atomic.Int64 // index+1 into all; 0: none since the last reset
}

// registerStmt registers a statement at p, in the function whose body
// starts at fn, and returns its id.
func registerStmt(p, fn Position) int {
	stmts.mu.Lock()
	defer stmts.mu.Unlock()
	stmts.all = append(stmts.all, struct{ pos, fn Position }{p, fn})
	return len(stmts.all) - 1
}

// stmtAt is _nnsrt.At: the script is about to run statement id. It is
// also where an interrupted evaluation stops: every statement and every
// loop iteration passes here, so the interpreted code unwinds at once and
// the evaluation ends before the next one compiles (yaegi's own stop
// returns before its goroutine has finished, and that goroutine raced
// with the next input's compilation).
func stmtAt(id int) {
	stmts.last.Store(int64(id) + 1)
	if interrupting.Load() || (deadStmtCount.Load() > 0 && isDeadStmt(id)) {
		panic(errInterrupted)
	}
}

// Statements of an input whose evaluation was abandoned (an interrupt
// that stopped it with yaegi's stop after interruptGrace, while it was
// blocked in a host call such as time.Sleep). yaegi stops the function
// frames of an abandoned evaluation, but its top-level statements run in
// the session's global frame, which the next evaluation revives: once the
// host call returned, the rest of the interrupted input ran, beside later
// inputs. Its top-level statement markers stop it instead.
var (
	deadStmts     sync.Map // statement id -> struct{}
	deadStmtCount atomic.Int64
)

func killStmts(ids []int) {
	for _, id := range ids {
		if _, loaded := deadStmts.LoadOrStore(id, struct{}{}); !loaded {
			deadStmtCount.Add(1)
		}
	}
}

func isDeadStmt(id int) bool {
	_, ok := deadStmts.Load(id)
	return ok
}

// interrupting is set while an evaluation is being interrupted.
var interrupting atomic.Bool

var errInterrupted = errors.New("interrupted")

func resetStmt() { stmts.last.Store(0) }

// lastStmt returns the position of the statement that ran last.
func lastStmt() (Position, bool) {
	i := stmts.last.Load()
	if i == 0 {
		return Position{}, false
	}
	stmts.mu.Lock()
	defer stmts.mu.Unlock()
	return stmts.all[i-1].pos, true
}

// sitePos picks the best position for a panic: the running statement, else
// the start of the function yaegi reported.
func sitePos(id int64) Position {
	if p, ok := lastStmt(); ok {
		takeSite(id)
		return p
	}
	return takeSite(id).pos
}

// protectOwnSite is Protect for a goroutine running beside others: the
// process-wide last statement may belong to another goroutine. yaegi
// reports, for this goroutine, the start of the function that panicked;
// the statement that ran last when it did is the one that panicked if it
// is in that function (else another goroutine ran a statement since, and
// the function's start is the position).
func protectOwnSite(fn func()) (err error) {
	id := goid()
	panicSites.Delete(id)
	defer func() {
		if r := recover(); r != nil {
			err = panicError(r, ownStmt(takeSite(id)))
		}
	}()
	fn()
	return nil
}

// ownStmt returns the position of the statement s.last when it is in the
// function whose body starts at s.pos, else s.pos.
func ownStmt(s site) Position {
	if s.last == 0 || s.pos.Line == 0 {
		return s.pos
	}
	stmts.mu.Lock()
	defer stmts.mu.Unlock()
	i := s.last - 1
	if i >= int64(len(stmts.all)) {
		return s.pos
	}
	if fn := stmts.all[i].fn; fn.Line == s.pos.Line && fn.Column == s.pos.Column && fn.Input == s.pos.Input {
		return stmts.all[i].pos
	}
	return s.pos
}

// MaxCallDepth bounds nested calls of interpreted functions (all
// goroutines together): a Go stack overflow cannot be recovered and would
// take the REPL or kernel down. yaegi unwinds a panic in time quadratic in
// the depth (it recovers and re-panics in every frame), so the limit is
// modest: 2000 unwinds in about a second.
const MaxCallDepth = 2000

var callDepth atomic.Int64

func enterCall() {
	if callDepth.Add(1) > MaxCallDepth {
		callDepth.Add(-1)
		panic(fmt.Sprintf("stack overflow: more than %d nested calls (runaway recursion?)", MaxCallDepth))
	}
}

func leaveCall() { callDepth.Add(-1) }

// importable lists the packages scripts can import, sorted: the symbol
// tables are keyed "import/path/name".
func importable() []string {
	seen := map[string]bool{}
	var out []string
	for k := range stdlib.Symbols {
		if i := strings.LastIndex(k, "/"); i > 0 && !seen[k[:i]] {
			seen[k[:i]] = true
			out = append(out, k[:i])
		}
	}
	for _, g := range genericSources {
		if !seen[g.path] {
			seen[g.path] = true
			out = append(out, g.path)
		}
	}
	sort.Strings(out)
	return out
}
