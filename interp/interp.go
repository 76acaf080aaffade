package interp

import (
	"context"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"go/types"
	"io"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	yaegi "github.com/traefik/yaegi/interp"

	"nnscope/stdlib"
)

// Options configure an Interpreter.
type Options struct {
	Stdin          io.Reader // default os.Stdin
	Stdout, Stderr io.Writer // default os.Stdout, os.Stderr
	// Args is os.Args as seen by Eval input (RunFile sets its own).
	Args []string
	// Env is the environment scripts see through os.Getenv & co (writes
	// stay inside the interpreter). Nil means a copy of os.Environ().
	Env []string
	// Symbols are extra symbol tables (yaegi extract format) made
	// importable, in addition to stdlib.Symbols.
	Symbols []map[string]map[string]reflect.Value
	// GoroutinePanic, when set, is called after a panic in a goroutine the
	// script started has been reported on Stderr (nnscope run ends the
	// process, as a compiled program would). Unset, the session lives on.
	GoroutinePanic func(error)
}

// Result is the outcome of Eval. HasValue reports whether the input ended
// with an expression whose value should be displayed.
type Result struct {
	Value    reflect.Value
	HasValue bool
}

// Interpreter evaluates scripts. Its methods are safe for concurrent use,
// but evaluations are serialized.
type Interpreter struct {
	mu     sync.Mutex
	opts   Options
	stdout switchWriter
	stderr switchWriter
	tables []map[string]map[string]reflect.Value
	im     *symImporter

	// REPL session.
	sess        *yaegi.Interpreter
	sessImports map[string]string // path -> local name
	sessGeneric bool              // the generic packages are compiled into sess
	sessDecls   []ctxDecl
	sessFuncs   []*sessFunc       // function declarations, to evaluate again (see refreshCallers)
	globalTypes map[string]string // global -> its type as the session writes it (recordGlobalTypes)
	typeTexts   map[string]string // type name -> its definition (yaegi cannot change it)
	rootIDs     []int             // statement markers of the input's top level (see exec)
	inputNo     int               // number of the input being evaluated (Position.Input)
	inputName   string            // its file name (EvalAs), "" for typed input
	helpersDone bool

	// chunk table for position mapping; line numbers are unique per
	// Interpreter (each chunk is padded with newlines).
	chunkMu  sync.Mutex
	chunks   []*chunk
	nextLine int

	// Per-run state of the flag and os replacements.
	flagSet   *flag.FlagSet
	flagUsage func()
	// flagsAtParse: the flags defined when the script last called
	// flag.Parse on flagSet (see flagTable's define).
	flagsAtParse map[string]bool
	osArgs       []string
}

type ctxDecl struct {
	names []string
	text  string
}

// chunk is one source text handed to yaegi.
type chunk struct {
	firstLine int    // yaegi line of the first line of text
	text      string // rewritten text (without padding)
	m         *srcMap
	input     string // the user's source, before rewriting
	filename  string
	inputNo   int // the session input it is part of (0: a file)
	base      int // offset in input where text's source starts (a declaration evaluated again)
}

// New returns an interpreter.
func New(opts Options) *Interpreter {
	if opts.Stdin == nil {
		opts.Stdin = os.Stdin
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	if opts.Env == nil {
		opts.Env = os.Environ()
	}
	if opts.Args == nil {
		opts.Args = []string{"nnscope"}
	}
	in := &Interpreter{opts: opts, nextLine: 2}
	in.stdout.set(opts.Stdout)
	in.stderr.set(opts.Stderr)
	in.tables = append([]map[string]map[string]reflect.Value{stdlib.Symbols}, opts.Symbols...)
	in.tables = append(in.tables, hostsortTable, map[string]map[string]reflect.Value{
		rtPkgPath + "/rt": {"Clear": reflect.ValueOf(clearAny), "At": reflect.ValueOf(stmtAt), "Go": reflect.ValueOf(in.goProtected),
			"Enter": reflect.ValueOf(enterCall), "Leave": reflect.ValueOf(leaveCall),
			"AssertFail": reflect.ValueOf(assertFail), "AssertFailValue": reflect.ValueOf(assertFailValue),
			"Shown":     reflect.ValueOf(func(s string) any { return shownText{s} }),
			"Recovered": reflect.ValueOf(recovered), "Unwrap": reflect.ValueOf(unwrapValue),
			"RangeDone": reflect.ValueOf(rangeDone)},
	})
	return in
}

// SetOutput redirects script output (fmt.Print*, os.Stdout/os.Stderr when
// the original writers were not files, panics) for the following
// evaluations, e.g. to capture the output of one notebook cell.
func (in *Interpreter) SetOutput(stdout, stderr io.Writer) {
	in.stdout.set(stdout)
	in.stderr.set(stderr)
}

// assertError is the panic of a failed type assertion to an interface
// that the rewriter made (see rewriter.assertLit); like Go's
// *runtime.TypeAssertionError it is a runtime.Error.
type assertError struct{ msg string }

func (e *assertError) Error() string { return e.msg }
func (e *assertError) RuntimeError() {}

// assertFail panics as Go does when an assertion to interface iface fails:
// the value is nil (have == "") or its type have lacks method missing.
func assertFail(have, iface, missing string) {
	if have == "" {
		panic(&assertError{"interface conversion: interface is nil, not " + iface})
	}
	panic(&assertError{"interface conversion: " + have + " is not " + iface + ": missing method " + missing})
}

// rangeDone panics as Go does when an iterator calls its yield function
// after the loop body returned false (state 1) or after the loop ended
// (state 2); see rewriter.rangeFuncs.
func rangeDone(state int) {
	if state == 1 {
		panic(&runtimeError{"runtime error: range function continued iteration after function for loop body returned false"})
	}
	panic(&runtimeError{"runtime error: range function continued iteration after whole loop exit"})
}

// shownText is what fmt gets for a value of a script type with a String or
// Error method (see rewriter.fmtCall): its text, formatted as the value
// would be. Not of kind string, so that Print puts spaces between
// operands as it does between values that are not strings.
type shownText struct{ s string }

func (s shownText) String() string { return s.s }

// assertFailValue panics as Go does when the assertion of v (not of a
// type the script declares) to interface iface, of the given methods,
// fails.
func assertFailValue(v any, iface string, methods ...string) {
	t := reflect.TypeOf(v)
	if t == nil {
		assertFail("", iface, "")
	}
	for _, m := range methods {
		if _, ok := t.MethodByName(m); !ok {
			assertFail(t.String(), iface, m)
		}
	}
	assertFail(t.String(), iface, methods[0])
}

// goProtected runs fn on a new goroutine that recovers a panic and reports
// it on the script's stderr (see rewriter.goStmt): the session lives on.
func (in *Interpreter) goProtected(fn func()) {
	go func() {
		if err := protectOwnSite(fn); err != nil {
			fmt.Fprintf(&in.stderr, "panic in a goroutine the script started: %v\n", err)
			if in.opts.GoroutinePanic != nil {
				in.opts.GoroutinePanic(err)
			}
		}
	}()
}

// clearAny implements the clear builtin for maps and slices.
func clearAny(v any) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map, reflect.Slice:
		rv.Clear()
	case reflect.Invalid:
	default:
		panic(fmt.Sprintf("invalid argument: clear(%T): argument must be a map or slice", v))
	}
}

// newYaegi creates a yaegi interpreter with the symbol tables and the
// per-interpreter replacements installed.
func (in *Interpreter) newYaegi() (*yaegi.Interpreter, error) {
	yi := yaegi.New(yaegi.Options{
		Stdin:  in.opts.Stdin,
		Stdout: &in.stdout,
		Stderr: stderrFilter{in},
		Args:   in.opts.Args,
		Env:    in.opts.Env,
	})
	for _, t := range in.tables {
		if err := yi.Use(t); err != nil {
			return nil, err
		}
	}
	osTable := map[string]reflect.Value{
		"Args": reflect.ValueOf(&in.osArgs).Elem(),
	}
	if _, ok := in.opts.Stdout.(*os.File); !ok {
		var w io.Writer = &in.stdout
		osTable["Stdout"] = reflect.ValueOf(&w).Elem()
	}
	if _, ok := in.opts.Stderr.(*os.File); !ok {
		var w io.Writer = &in.stderr
		osTable["Stderr"] = reflect.ValueOf(&w).Elem()
	}
	if err := yi.Use(yaegi.Exports{"os/os": osTable, "flag/flag": in.flagTable()}); err != nil {
		return nil, err
	}
	return yi, nil
}

func (in *Interpreter) importer() *symImporter {
	if in.im == nil {
		in.im = newSymImporter(in.tables)
	}
	return in.im
}

// addChunk registers text and returns it numbered so that its lines are
// unique among all chunks of this interpreter. A line directive numbers
// it: padding with newlines made every input as long as the whole session
// so far, and yaegi's file set keeps a line table for each, so a session's
// memory (and compile time) grew with the square of its inputs. The
// directive follows a newline because yaegi may prepend "package main;"
// and a directive must start its line.
func (in *Interpreter) addChunk(c *chunk) string {
	in.chunkMu.Lock()
	defer in.chunkMu.Unlock()
	c.firstLine = in.nextLine
	in.nextLine += strings.Count(c.text, "\n") + 2
	in.chunks = append(in.chunks, c)
	return "\n//line :" + strconv.Itoa(c.firstLine) + ":1\n" + c.text
}

// userPos maps a yaegi line:col to the user's position.
func (in *Interpreter) userPos(line, col int) Position {
	in.chunkMu.Lock()
	var c *chunk
	i := sort.Search(len(in.chunks), func(i int) bool { return in.chunks[i].firstLine > line })
	if i > 0 {
		c = in.chunks[i-1]
	}
	in.chunkMu.Unlock()
	if c == nil {
		return Position{Line: line, Column: col}
	}
	off := offsetOf(c.text, line-c.firstLine+1, col)
	off = c.m.orig(off) + c.base
	if off > len(c.input) {
		// In an appended helper: no user position.
		return Position{Filename: c.filename, Input: c.inputNo}
	}
	l, cl := lineCol(c.input, off)
	return Position{Filename: c.filename, Line: l, Column: cl, Input: c.inputNo}
}

// convertErr turns an error from yaegi into an *Error with a user position.
func (in *Interpreter) convertErr(err error, kind Kind) error {
	if err == nil {
		return nil
	}
	if p, ok := err.(yaegi.Panic); ok {
		pos := sitePos(parseGoid(p.Stack))
		if kind == KindCompile {
			return &Error{Msg: translateMsg(panicString(p.Value)), Kind: KindCompile}
		}
		return panicError(p.Value, pos)
	}
	if el, ok := err.(scanner.ErrorList); ok && len(el) > 0 {
		e := el[0]
		return &Error{Pos: in.userPos(e.Pos.Line, e.Pos.Column), Msg: e.Msg, Kind: KindCompile}
	}
	msg := err.Error()
	if m := posRE.FindStringSubmatchIndex(msg); m != nil {
		var line, col int
		fmt.Sscan(msg[m[2]:m[3]], &line)
		fmt.Sscan(msg[m[4]:m[5]], &col)
		return &Error{Pos: in.userPos(line, col), Msg: translateMsg(msg[m[1]:]), Kind: kind}
	}
	return &Error{Msg: translateMsg(msg), Kind: kind}
}

// exec compiles and runs src on yi, recovering compile-time panics.
func (in *Interpreter) exec(ctx context.Context, yi *yaegi.Interpreter, src string) (reflect.Value, error) {
	type result struct {
		prog *yaegi.Program
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			if p := recover(); p != nil {
				r = result{err: &Error{Msg: translateMsg(panicString(p)), Kind: KindCompile}}
			}
			ch <- r
		}()
		r.prog, r.err = yi.Compile(src)
	}()
	// Compilation is not abandoned on an interrupt: yaegi's state must not
	// be in use by a goroutine when the next input compiles.
	r := <-ch
	interrupted := func() (reflect.Value, error) {
		return reflect.Value{}, &Error{Msg: "interrupted: " + ctx.Err().Error(), Kind: KindRuntime, Value: ctx.Err()}
	}
	if ctx.Err() != nil {
		return interrupted()
	}
	if r.err != nil {
		if e, ok := r.err.(*Error); ok {
			return reflect.Value{}, e
		}
		return reflect.Value{}, in.convertErr(r.err, KindCompile)
	}
	// An interrupt first asks the code to stop at its next statement or
	// loop iteration (stmtAt), and waits until it has: yaegi's own stop
	// returns while its goroutine still runs, which raced with the next
	// input's compilation. Code blocked elsewhere (a channel, a host call
	// that does not return) gets yaegi's stop after interruptGrace.
	inner, stop := context.WithCancel(context.Background())
	defer stop()
	type execResult struct {
		v   reflect.Value
		err error
	}
	done := make(chan execResult, 1)
	interrupting.Store(false)
	go func() {
		v, err := yi.ExecuteWithContext(inner, r.prog)
		done <- execResult{v, err}
	}()
	select {
	case res := <-done:
		if res.err != nil {
			return res.v, in.convertErr(res.err, KindRuntime)
		}
		return res.v, nil
	case <-ctx.Done():
	}
	interrupting.Store(true)
	defer interrupting.Store(false)
	select {
	case <-done:
	case <-time.After(interruptGrace):
		killStmts(in.rootIDs)
		stop()
		<-done
	}
	return interrupted()
}

// interruptGrace is how long an interrupt waits for interpreted code to
// reach a statement before yaegi is told to stop it.
var interruptGrace = 2 * time.Second

// typeCheck type-checks files leniently; the info is partial on errors.
func (in *Interpreter) typeCheck(fset *token.FileSet, pkg *types.Package, files []*ast.File) (*types.Info, []types.Error) {
	info := &types.Info{
		Types:      map[ast.Expr]types.TypeAndValue{},
		Uses:       map[*ast.Ident]types.Object{},
		Defs:       map[*ast.Ident]types.Object{},
		Instances:  map[*ast.Ident]types.Instance{},
		Selections: map[*ast.SelectorExpr]*types.Selection{},
	}
	var errs []types.Error
	conf := types.Config{
		Importer: in.importer(),
		Error: func(err error) {
			if te, ok := err.(types.Error); ok {
				errs = append(errs, te)
			}
		},
		FakeImportC: true,
	}
	func() {
		defer func() { _ = recover() }() // never let the checker break a run
		_ = types.NewChecker(&conf, fset, pkg, info).Files(files)
	}()
	return info, errs
}

// undefinedErr returns the first "undefined:" error of the type checker,
// used to replace yaegi's misleading "constant definition loop" (#806).
func undefinedErr(errs []types.Error, src func(token.Pos) Position) *Error {
	for _, e := range errs {
		if strings.HasPrefix(e.Msg, "undefined: ") {
			return typeErr(e, src)
		}
	}
	return nil
}

// RunFile runs the script at path (package main with func main) in a fresh
// interpreter state, with os.Args = [path, args...] and a fresh flag set.
// It returns nil on success, an ExitError when the script exits with a
// non-zero code, or an *Error.
func (in *Interpreter) RunFile(ctx context.Context, path string, args []string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return in.RunSource(ctx, path, string(b), args)
}

// RunSource is RunFile with the source given; path is used for messages
// and os.Args[0].
func (in *Interpreter) RunSource(ctx context.Context, path, src string, args []string) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	resetStmt()
	in.rootIDs = nil

	text, m, terrs, toPos, err := in.prepareFile(path, src)
	if err != nil {
		return err
	}

	yi, err := in.newYaegi()
	if err != nil {
		return err
	}
	if f, err := parser.ParseFile(token.NewFileSet(), path, src, parser.ImportsOnly); err == nil && importsGeneric(f) {
		if err := compileGeneric(yi); err != nil {
			return err
		}
	}
	argv := append([]string{path}, args...)
	in.newFlagSet(argv, &in.stderr)
	padded := in.addChunk(&chunk{text: text, m: m, input: src, filename: path})
	_, err = in.exec(ctx, yi, padded)
	return in.finish(err, terrs, toPos)
}

// prepareFile parses, type-checks and rewrites a script file (the traps'
// shields and statement positions), returning the text yaegi runs.
func (in *Interpreter) prepareFile(path, src string) (text string, m *srcMap, terrs []types.Error, toPos func(token.Pos) Position, err error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, parser.AllErrors)
	if err != nil {
		if el, ok := err.(scanner.ErrorList); ok && len(el) > 0 {
			return "", nil, nil, nil, &Error{Pos: Position{Filename: path, Line: el[0].Pos.Line, Column: el[0].Pos.Column}, Msg: el[0].Msg, Kind: KindCompile}
		}
		return "", nil, nil, nil, &Error{Pos: Position{Filename: path}, Msg: err.Error(), Kind: KindCompile}
	}
	tf := fset.File(f.Pos())
	toPos = func(p token.Pos) Position {
		pp := fset.Position(p)
		return Position{Filename: path, Line: pp.Line, Column: pp.Column}
	}
	if err := checkMain(f, toPos); err != nil {
		return "", nil, nil, nil, err
	}
	var info *types.Info
	info, terrs = in.typeCheck(fset, types.NewPackage("main", "main"), []*ast.File{f})
	rw := &rewriter{
		src:     src,
		fset:    fset,
		toInput: func(p token.Pos) int { return tf.Offset(p) },
		info:    info,
		imports: fileImports(f),
		stmtPos: func(off, fnOff int) int {
			l, c := lineCol(src, off)
			var fn Position
			if fnOff >= 0 {
				fl, fc := lineCol(src, fnOff)
				fn = Position{Filename: path, Line: fl, Column: fc}
			}
			return registerStmt(Position{Filename: path, Line: l, Column: c}, fn)
		},
	}
	rw.run(f)
	if len(rw.errs) > 0 {
		e := rw.errs[0]
		e.Pos.Filename = path
		return "", nil, nil, nil, e
	}
	if rw.usesRT {
		o := tf.Offset(f.Name.End())
		rw.add(o, o, "; import "+rtPkgName+" \""+rtPkgPath+"\"")
	}
	text, m = applyEdits(src, rw.edits)
	if rw.usesMin {
		text += "\n" + helperSource
	}

	return text, m, terrs, toPos, nil
}

// checkMain reports a file that would run nothing: another package than
// main, no func main, or a main with parameters or results (yaegi runs
// such a file without an error and without calling anything).
func checkMain(f *ast.File, toPos func(token.Pos) Position) error {
	if f.Name.Name != "main" {
		return &Error{Pos: toPos(f.Name.Pos()), Msg: "package " + f.Name.Name + ": a script must be package main (with func main)", Kind: KindCompile}
	}
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Recv != nil || fd.Name.Name != "main" {
			continue
		}
		if fd.Type.Params.NumFields() > 0 || fd.Type.Results.NumFields() > 0 {
			return &Error{Pos: toPos(fd.Name.Pos()), Msg: "func main must have no arguments and no return values", Kind: KindCompile}
		}
		return nil
	}
	p := toPos(f.Name.Pos())
	p.Line, p.Column = 0, 0
	return &Error{Pos: p, Msg: "function main is undeclared in the main package (a script runs its func main)", Kind: KindCompile}
}

func (in *Interpreter) finish(err error, terrs []types.Error, toPos func(token.Pos) Position) error {
	if err == nil {
		return nil
	}
	if e, ok := err.(ExitError); ok {
		if e.Code == 0 {
			return nil
		}
		return e
	}
	e, ok := err.(*Error)
	if !ok || e.Kind != KindCompile {
		return err
	}
	e.Msg = importHint(e.Msg)
	if internalCompileErr(e.Msg) && len(terrs) > 0 {
		// yaegi crashed on code the type checker rejects (e.g. indexing
		// a struct pointer): its message is an internal one without the
		// user's position; the checker's names the mistake.
		return typeErr(terrs[0], toPos)
	}
	// yaegi's "undefined method: Mlp" points at the statement; the
	// checker's names the receiver's type, the spot and the right
	// spelling ("..., but does have field MLP").
	for _, pre := range []string{"undefined method: ", "undefined field: ", "undefined selector: ", "undefined selector "} {
		if name, ok := strings.CutPrefix(e.Msg, pre); ok {
			for _, t := range terrs {
				if strings.Contains(t.Msg, "has no field or method "+name) {
					return typeErr(t, toPos)
				}
			}
		}
	}
	// slices.Max(x) without import "slices": yaegi finds its own
	// interpreted package anyway (without Max, or failing to infer E); and
	// "constant definition loop" (#806): the checker's "undefined: name".
	if strings.Contains(e.Msg, "undefined type for") || strings.Contains(e.Msg, "cannot infer") ||
		strings.HasPrefix(e.Msg, "undefined selector: ") || strings.Contains(e.Msg, "constant definition loop") {
		if u := undefinedErr(terrs, toPos); u != nil {
			return u
		}
	}
	if strings.Contains(e.Msg, "constant definition loop") {
		if len(terrs) > 0 {
			return typeErr(terrs[0], toPos)
		}
		e.Msg = "undefined identifier in initialization (" + e.Msg + ")"
	}
	return err
}

// importHint adds the import that "undefined: NAME" is missing when NAME
// is a package scripts can import.
func importHint(msg string) string {
	name, ok := strings.CutPrefix(msg, "undefined: ")
	if !ok || strings.Contains(msg, "(missing import") {
		return msg
	}
	for _, p := range importable() {
		if p == name || strings.HasSuffix(p, "/"+name) {
			return msg + fmt.Sprintf(" (missing import %q?)", p)
		}
	}
	return msg
}

// typeErr is a type checker error as the script's compile error, with a
// hint for the mistakes nnsight users make.
func typeErr(t types.Error, toPos func(token.Pos) Position) *Error {
	msg := t.Msg
	if strings.HasPrefix(msg, "cannot index") && strings.Contains(msg, "nnscope.ModuleList") {
		msg += ": use .At(i) for block i (negative counts from the end)"
	}
	msg = importHint(msg)
	return &Error{Pos: toPos(t.Pos), Msg: msg, Kind: KindCompile}
}

// internalCompileErr reports a compile error that is a panic recovered
// inside yaegi's compiler rather than a diagnostic about the source.
func internalCompileErr(msg string) bool {
	return strings.Contains(msg, "CFG post-order panic") || strings.Contains(msg, "CFG pre-order panic") ||
		strings.Contains(msg, "runtime error:") || strings.Contains(msg, "reflect:")
}

func fileImports(f *ast.File) map[string]string {
	m := map[string]string{}
	for _, is := range f.Imports {
		p := strings.Trim(is.Path.Value, "\"`")
		name := p[strings.LastIndex(p, "/")+1:]
		if strings.HasPrefix(name, "v") && len(name) > 1 && name[1] >= '0' && name[1] <= '9' && strings.Contains(p, "/") {
			q := p[:strings.LastIndex(p, "/")]
			name = q[strings.LastIndex(q, "/")+1:]
		}
		if is.Name != nil {
			name = is.Name.Name
		}
		if name != "_" && name != "." {
			m[p] = name
		}
	}
	return m
}
