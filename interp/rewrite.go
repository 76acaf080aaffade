package interp

import (
	"fmt"
	"go/ast"
	"go/constant"
	"go/token"
	"go/types"
	"strconv"
	"strings"
)

// Names of the helpers that rewritten sources refer to.
const (
	helperMin   = "_nns_min"
	helperMax   = "_nns_max"
	rtPkgName   = "_nnsrt"
	rtPkgPath   = "nnscope/interp/rt"
	helperClear = rtPkgName + ".Clear"
)

// helperSource declares the generic helpers used for the min and max
// builtins, which yaegi lacks (#1674). They are always called with explicit
// type arguments when the type is known (inferred calls fail, #1610).
const helperSource = `
type _nns_ordered interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64 | ~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~uintptr | ~float32 | ~float64 | ~string
}

func _nns_min[T _nns_ordered](x T, y ...T) T {
	if x != x {
		return x
	}
	for _, v := range y {
		if v != v {
			return v
		}
		if v < x {
			x = v
		}
	}
	return x
}

// _nns_seq and _nns_seq2 collect the values of an iterator of package
// slices or maps for a range loop (see rangeStdIterator).
func _nns_seq[V any](seq func(yield func(V) bool)) []V {
	var out []V
	seq(func(v V) bool {
		out = append(out, v)
		return true
	})
	return out
}

type _nns_pair[K, V any] struct {
	k K
	v V
}

func _nns_seq2[K, V any](seq func(yield func(K, V) bool)) []_nns_pair[K, V] {
	var out []_nns_pair[K, V]
	seq(func(k K, v V) bool {
		out = append(out, _nns_pair[K, V]{k, v})
		return true
	})
	return out
}

func _nns_max[T _nns_ordered](x T, y ...T) T {
	if x != x {
		return x
	}
	for _, v := range y {
		if v != v {
			return v
		}
		if v > x {
			x = v
		}
	}
	return x
}
`

// rewriter computes source edits that work around yaegi's traps. All
// offsets are offsets of the user's input text.
type rewriter struct {
	src     string // the user's input
	fset    *token.FileSet
	toInput func(token.Pos) int // position in the parsed file -> input offset (-1: not in input)
	info    *types.Info         // may be nil
	imports map[string]string   // package path -> local name usable in the input
	edits   []edit
	errs    []*Error
	// session is set for REPL and notebook inputs (Eval), where the
	// input's declarations are the session's globals; varStmts are the
	// offsets of the var declarations varAsDefine made statements.
	session  bool
	varStmts []int
	argLits  map[*ast.FuncLit]bool // function literals that are call arguments
	usesMin  bool
	usesRT   bool
	tmpCount int
	cur      *lvFunc // function being walked by the loop-variable pass

	// stmtPos registers the input offset of a statement, and that of the
	// start of the body of the function it is in (-1: none), and returns
	// its id for _nnsrt.At (nil: no statement positions).
	stmtPos func(off, fnOff int) int
	// fnOff is the input offset after the opening brace of the body of
	// the function being walked, or for a range-over-function loop's body
	// the end of its range expression: where yaegi reports a panic in the
	// function (see protectOwnSite).
	fnOff int
	// rootBody is the body of Eval's wrapper function: the input's
	// top-level statements, which yaegi runs in the session's global
	// frame. rootIDs collects the ids of the statement markers there
	// (function bodies excluded; see Interpreter.exec).
	rootBody *ast.BlockStmt
	inRoot   bool
	rootIDs  []int
	// rfRoot: the top-level statements of a session input that hold a
	// range-over-function loop (run inside a closure, see Eval);
	// rfRootStmt: the one being walked.
	rfRoot     map[ast.Stmt]bool
	rfRootStmt ast.Stmt

	// Computed once per input: every interface assertion and every
	// interface-typed fmt operand asks for them.
	named *[]*types.Named // scriptTypes
	shown *string         // interfaceShown's literal ("" when none)
}

func (r *rewriter) off(p token.Pos) int { return r.toInput(p) }

func (r *rewriter) text(from, to token.Pos) string {
	a, b := r.off(from), r.off(to)
	if a < 0 || b < a || b > len(r.src) {
		return ""
	}
	return r.src[a:b]
}

func (r *rewriter) add(from, to int, text string) {
	if from < 0 || to < from {
		return
	}
	r.edits = append(r.edits, edit{off: from, end: to, text: text})
}

func (r *rewriter) errorf(p token.Pos, format string, args ...any) {
	o := r.off(p)
	line, col := lineCol(r.src, o)
	r.errs = append(r.errs, &Error{Pos: Position{Line: line, Column: col}, Msg: fmt.Sprintf(format, args...), Kind: KindCompile})
}

func (r *rewriter) typeOf(e ast.Expr) types.Type {
	if r.info == nil {
		return nil
	}
	tv, ok := r.info.Types[e]
	if !ok || tv.Type == nil {
		return nil
	}
	if b, ok := tv.Type.(*types.Basic); ok && b.Kind() == types.Invalid {
		return nil
	}
	return tv.Type
}

// typeString prints t as it must be written in the input, or reports false.
func (r *rewriter) typeString(t types.Type) (string, bool) {
	ok := true
	s := types.TypeString(t, func(p *types.Package) string {
		if p.Path() == "main" {
			return ""
		}
		if n, found := r.imports[p.Path()]; found {
			return n
		}
		ok = false
		return p.Name()
	})
	if strings.Contains(s, "invalid type") || strings.Contains(s, "untyped") {
		return s, false
	}
	return s, ok
}

// run walks the file and collects edits.
func (r *rewriter) run(f *ast.File) {
	// Last, the range-over-function loops: the text ending a return in
	// their bodies must follow every other insertion at its end.
	defer r.rangeFuncs(f)
	// Then: its insertions at an operand's start must follow the
	// statement markers at the same offset.
	defer r.assertions(f)
	r.argLits = map[*ast.FuncLit]bool{}
	called := map[ast.Expr]bool{} // the function operands of calls
	ast.Inspect(f, func(n ast.Node) bool {
		if c, ok := n.(*ast.CallExpr); ok {
			called[ast.Unparen(c.Fun)] = true
			for _, a := range c.Args {
				if fl, ok := a.(*ast.FuncLit); ok {
					r.argLits[fl] = true
				}
			}
		}
		return true
	})
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if ok && fd.Body != nil {
			r.fn(fd.Type, fd.Recv, fd.Body)
			continue
		}
		r.expr(d)
	}
	for _, d := range f.Decls {
		var sig *types.Signature
		if fd, ok := d.(*ast.FuncDecl); ok {
			sig = r.declSig(fd)
		}
		r.boolsIntoInterfaces(d, sig)
	}
	// Package-level and session-level definitions.
	for _, d := range f.Decls {
		if gd, ok := d.(*ast.GenDecl); ok && gd.Tok == token.VAR {
			if r.session && r.varAsDefine(gd) {
				continue
			}
			for _, sp := range gd.Specs {
				if vs, ok := sp.(*ast.ValueSpec); ok {
					r.globalValues(vs.Values, len(vs.Names))
				}
			}
		}
	}
	if r.rootBody != nil {
		for _, st := range r.rootBody.List {
			if as, ok := st.(*ast.AssignStmt); ok && as.Tok == token.DEFINE {
				if !r.commaOk(as) {
					r.globalValues(as.Rhs, len(as.Lhs))
				}
			}
		}
	}
	// Expression-level rewrites, over the whole file.
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.RangeStmt:
			r.rangeStmt(n)
		case *ast.CallExpr:
			r.call(n)
		case *ast.FuncDecl:
			if n.Body != nil {
				r.nameParams(n.Recv)
				r.nameParams(n.Type.Params)
			}
		case *ast.FuncLit:
			r.nameParams(n.Type.Params)
		case *ast.AssignStmt:
			if n.Tok == token.ASSIGN {
				r.commaOk(n)
			}
		case *ast.SelectorExpr:
			if !called[n] {
				r.methodValue(n)
			}
		case *ast.StructType:
			r.structTags(n)
		}
		return true
	})
}

// boolsIntoInterfaces wraps in bool(...) the comparisons and negations
// that n (a declaration, or the body of a function of signature sig)
// returns as, or declares into, an interface: yaegi v0.16.1 panics
// storing such a result straight into an interface ("reflect: call of
// reflect.Value.SetBool on interface Value" for `return a == b` from a
// func returning any, or `var v any = !ok`); a conversion first is fine.
func (r *rewriter) boolsIntoInterfaces(n ast.Node, sig *types.Signature) {
	ast.Inspect(n, func(m ast.Node) bool {
		switch m := m.(type) {
		case *ast.FuncLit:
			s, _ := r.typeOf(m).(*types.Signature)
			r.boolsIntoInterfaces(m.Body, s)
			return false
		case *ast.ReturnStmt:
			if sig != nil && len(m.Results) == sig.Results().Len() {
				for i, e := range m.Results {
					if types.IsInterface(sig.Results().At(i).Type()) {
						r.boolIntoInterface(e)
					}
				}
			}
		case *ast.ValueSpec:
			if m.Type != nil {
				if t := r.typeOf(m.Type); t != nil && types.IsInterface(t) {
					for _, v := range m.Values {
						r.boolIntoInterface(v)
					}
				}
			}
		}
		return true
	})
}

// declSig is the signature of the function fd declares (nil when the
// type checker did not see it).
func (r *rewriter) declSig(fd *ast.FuncDecl) *types.Signature {
	if r.info == nil || r.info.Defs[fd.Name] == nil {
		return nil
	}
	sig, _ := r.info.Defs[fd.Name].Type().(*types.Signature)
	return sig
}

// boolIntoInterface wraps e in a conversion when it is a comparison
// (bool(...)) or a negation (to its own type: a named bool type keeps it).
func (r *rewriter) boolIntoInterface(e ast.Expr) {
	conv := "bool"
	switch x := ast.Unparen(e).(type) {
	case *ast.BinaryExpr:
		switch x.Op {
		case token.EQL, token.NEQ, token.LSS, token.LEQ, token.GTR, token.GEQ:
		default:
			return
		}
	case *ast.UnaryExpr:
		t := r.typeOf(x)
		if x.Op != token.NOT || t == nil {
			return
		}
		if b, ok := t.(*types.Basic); !ok || b.Kind() != types.UntypedBool {
			var ok bool
			if conv, ok = r.typeString(t); !ok {
				return
			}
		}
	default:
		return
	}
	a, b := r.off(e.Pos()), r.off(e.End())
	if a < 0 || b < 0 {
		return
	}
	r.add(a, a, conv+"(")
	r.add(b, b, ")")
}

// nameParams names unnamed parameters "_": yaegi assigns the arguments
// of a function whose parameters have no names to the wrong frame slots
// ("reflect.Set: value of type int is not assignable to type func()" for
// f := func(int) {}; f(1)). Go has all parameters named or none.
func (r *rewriter) nameParams(fl *ast.FieldList) {
	if fl == nil {
		return
	}
	for _, f := range fl.List {
		if len(f.Names) > 0 {
			return
		}
		if o := r.off(f.Type.Pos()); o >= 0 {
			r.add(o, o, "_ ")
		}
	}
}

// ---- range over int / func (#1701) ----

func (r *rewriter) rangeStmt(n *ast.RangeStmt) {
	t := r.typeOf(n.X)
	if t == nil {
		return
	}
	switch u := t.Underlying().(type) {
	case *types.Signature:
		// Other functions: see rangeFuncs.
		r.rangeStdIterator(n, u)
	case *types.Basic:
		if u.Info()&types.IsInteger == 0 {
			return
		}
		ts := "int"
		if u.Info()&types.IsUntyped == 0 {
			var ok bool
			if ts, ok = r.typeString(t); !ok {
				r.errorf(n.X.Pos(), "range over integer of type %s is not supported by the interpreter: use a 3-clause for loop", t)
				return
			}
		}
		if n.Tok == token.ASSIGN {
			r.errorf(n.For, "range over integer with '=' is not supported by the interpreter: use a 3-clause for loop")
			return
		}
		r.tmpCount++
		limit := fmt.Sprintf("_nns_n%d", r.tmpCount)
		key := fmt.Sprintf("_nns_i%d", r.tmpCount)
		if id, ok := n.Key.(*ast.Ident); ok && id.Name != "_" {
			key = id.Name
		}
		// for KEY := range X {  ->  for KEY, LIMIT := T(0), T(X); KEY < LIMIT; KEY++ {
		r.add(r.off(n.For), r.off(n.X.Pos()), fmt.Sprintf("for %s, %s := %s(0), %s(", key, limit, ts, ts))
		r.add(r.off(n.X.End()), r.off(n.X.End()), fmt.Sprintf("); %s < %s; %s++", key, limit, key))
	}
}

// rangeStdIterator rewrites a range over an iterator that a function of
// package slices or maps returns: those are finite and have no side
// effects, so the loop can range over their values collected first.
//
//	for k := range maps.Keys(m) {     ->  for _, k := range _nns_seq[K](maps.Keys(m)) {
//	for i, v := range slices.All(s) {  ->  for _, _nns_pN := range _nns_seq2[int, V](slices.All(s)) { i, v := _nns_pN.k, _nns_pN.v;
func (r *rewriter) rangeStdIterator(n *ast.RangeStmt, sig *types.Signature) bool {
	targs, ok := r.stdIteratorTypes(n, sig)
	if !ok {
		return false
	}
	r.usesMin = true // the helpers live with _nns_min
	x0, x1 := r.off(n.X.Pos()), r.off(n.X.End())
	if len(targs) == 1 {
		if n.Key != nil {
			r.add(r.off(n.Key.Pos()), r.off(n.Key.Pos()), "_, ")
		}
		r.add(x0, x0, "_nns_seq["+targs[0]+"](")
		r.add(x1, x1, ")")
		return true
	}
	r.tmpCount++
	pair := fmt.Sprintf("_nns_p%d", r.tmpCount)
	var lhs, rhs []string
	for i, e := range []ast.Expr{n.Key, n.Value} {
		if e == nil {
			continue
		}
		if id, ok := e.(*ast.Ident); ok && id.Name == "_" {
			continue
		}
		lhs = append(lhs, r.text(e.Pos(), e.End()))
		rhs = append(rhs, pair+"."+[]string{"k", "v"}[i])
	}
	if n.Key == nil {
		r.add(x0, x0, "_nns_seq2["+strings.Join(targs, ", ")+"](")
		r.add(x1, x1, ")")
		return true
	}
	r.add(r.off(n.Key.Pos()), x0, "_, "+pair+" := range ")
	r.add(x0, x0, "_nns_seq2["+strings.Join(targs, ", ")+"](")
	r.add(x1, x1, ")")
	if len(lhs) > 0 {
		tok := ":="
		if n.Tok == token.ASSIGN {
			tok = "="
		}
		b := r.off(n.Body.Lbrace) + 1
		r.add(b, b, " "+strings.Join(lhs, ", ")+" "+tok+" "+strings.Join(rhs, ", ")+";")
	}
	return true
}

// stdIteratorTypes reports whether n ranges over an iterator that a
// function of package slices or maps returns, and the types of its values.
func (r *rewriter) stdIteratorTypes(n *ast.RangeStmt, sig *types.Signature) ([]string, bool) {
	call, ok := n.X.(*ast.CallExpr)
	if !ok || r.info == nil {
		return nil, false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return nil, false
	}
	fn, ok := r.info.Uses[sel.Sel].(*types.Func)
	if !ok || fn.Pkg() == nil || (fn.Pkg().Path() != "slices" && fn.Pkg().Path() != "maps") {
		return nil, false
	}
	if sig.Params().Len() != 1 || sig.Results().Len() != 0 {
		return nil, false
	}
	yield, ok := sig.Params().At(0).Type().Underlying().(*types.Signature)
	if !ok || yield.Params().Len() < 1 || yield.Params().Len() > 2 {
		return nil, false
	}
	var targs []string
	for i := 0; i < yield.Params().Len(); i++ {
		s, ok := r.typeString(yield.Params().At(i).Type())
		if !ok {
			return nil, false
		}
		targs = append(targs, s)
	}
	return targs, true
}

// ---- builtins min, max, clear (#1674) and inferred generic calls (#1610) ----

func (r *rewriter) isBuiltin(id *ast.Ident) bool {
	if r.info == nil {
		return true
	}
	obj, ok := r.info.Uses[id]
	if !ok {
		return true // unresolved: assume the builtin
	}
	_, ok = obj.(*types.Builtin)
	return ok
}

func (r *rewriter) call(n *ast.CallExpr) {
	if id, ok := n.Fun.(*ast.Ident); ok && (id.Name == "min" || id.Name == "max" || id.Name == "clear") && r.isBuiltin(id) {
		r.builtinCall(n, id)
		return
	}
	if id, ok := n.Fun.(*ast.Ident); ok && id.Name == "recover" && r.isBuiltin(id) {
		r.recoverCall(n)
		return
	}
	if r.info == nil {
		return
	}
	r.fmtCall(n)
	r.errorsAsCall(n)
	r.jsonCall(n)
	var id *ast.Ident
	switch f := n.Fun.(type) {
	case *ast.Ident:
		id = f
	case *ast.SelectorExpr:
		id = f.Sel
	default:
		return
	}
	inst, ok := r.info.Instances[id]
	if !ok || inst.TypeArgs.Len() == 0 {
		return
	}
	var args []string
	for i := 0; i < inst.TypeArgs.Len(); i++ {
		s, ok := r.typeString(inst.TypeArgs.At(i))
		if !ok {
			return
		}
		args = append(args, s)
	}
	end := r.off(n.Fun.End())
	r.add(end, end, "["+strings.Join(args, ", ")+"]")
}

// varAsDefine turns a session input's `var x = v` into `x := v`, and
// `var x T = v` into `x := func() (T) { return v }()` (the return converts
// as the declaration would): yaegi fails on a global var declaration whose
// value reads a global an earlier input defined with ':=' ("variable
// definition loop", and x stayed zero), and runs the definition. It
// records the declaration's offset in varStmts (it now runs as a
// statement) and reports whether it rewrote gd.
func (r *rewriter) varAsDefine(gd *ast.GenDecl) bool {
	if gd.Lparen.IsValid() || len(gd.Specs) != 1 {
		return false
	}
	vs, ok := gd.Specs[0].(*ast.ValueSpec)
	if !ok || len(vs.Values) == 0 {
		return false
	}
	start, names, vals := r.off(gd.Pos()), r.off(vs.Names[0].Pos()), r.off(vs.Values[0].Pos())
	after := r.off(vs.Names[len(vs.Names)-1].End())
	if vs.Type != nil {
		after = r.off(vs.Type.End())
	}
	if start < 0 || names < 0 || after < 0 || vals < after || vals > len(r.src) {
		return false
	}
	eq := strings.IndexByte(r.src[after:vals], '=')
	if eq < 0 {
		return false
	}
	if vs.Type == nil {
		r.add(start, names, "")
		r.add(after+eq, after+eq+1, ":=")
		r.globalValues(vs.Values, len(vs.Names))
	} else {
		t := r.text(vs.Type.Pos(), vs.Type.End())
		if len(vs.Values) != len(vs.Names) || t == "" {
			return false
		}
		r.add(start, names, "")
		ts := strings.TrimSuffix(strings.Repeat(t+", ", len(vs.Names)), ", ")
		r.add(r.off(vs.Names[len(vs.Names)-1].End()), vals, " := func() ("+ts+") { return ")
		end := r.off(vs.Values[len(vs.Values)-1].End())
		r.add(end, end, " }()")
	}
	r.varStmts = append(r.varStmts, start)
	return true
}

// commaOk evaluates a comma-ok form (x.(T), m[k] or <-ch) assigned to two
// variables inside a function literal, into new variables:
//
//	v, ok = m[k]  ->  v, ok = func() (V, bool) { _nns_a, _nns_b := m[k]; return _nns_a, _nns_b }()
//
// yaegi left v unchanged instead of zero when the form failed, in an
// assignment (v, ok = m["missing"] kept v's old value); and a session's
// top-level definition (v, ok := ...) failed in its global frame with
// "nil type" (reported as an unrelated range error), leaving v and ok
// undefined.
func (r *rewriter) commaOk(as *ast.AssignStmt) bool {
	if r.info == nil || len(as.Lhs) != 2 || len(as.Rhs) != 1 {
		return false
	}
	switch e := ast.Unparen(as.Rhs[0]).(type) {
	case *ast.TypeAssertExpr:
		if e.Type == nil {
			return false
		}
	case *ast.IndexExpr:
		if t := r.typeOf(e.X); t == nil {
			return false
		} else if _, ok := t.Underlying().(*types.Map); !ok {
			return false
		}
	case *ast.UnaryExpr:
		if e.Op != token.ARROW {
			return false
		}
	default:
		return false
	}
	t := r.typeOf(as.Rhs[0])
	if t == nil {
		return false
	}
	if tup, ok := t.(*types.Tuple); ok && tup.Len() == 2 {
		t = tup.At(0).Type()
	}
	ts, ok := r.typeString(t)
	a, b := r.off(as.Rhs[0].Pos()), r.off(as.Rhs[0].End())
	if !ok || a < 0 || b < 0 {
		return false
	}
	r.add(a, a, "func() ("+ts+", bool) { _nns_a, _nns_b := ")
	r.add(b, b, "; return _nns_a, _nns_b }()")
	return true
}

// globalValues wraps the values of a global definition that call a
// generic function (min and max included, which become generic helpers)
// in a function literal: yaegi fails on `m := F[T](x)` and `var m =
// F[T](x)` in the global frame ("constant definition loop") and runs the
// same inside a function. So in a REPL session `m := max(a, b)` becomes
// `m := func() (int) { return _nns_max[int](a, b) }()`.
func (r *rewriter) globalValues(values []ast.Expr, names int) {
	if r.info == nil || len(values) == 0 || !r.callsGeneric(values) {
		return
	}
	var vtypes []types.Type
	if len(values) == 1 && names > 1 {
		tup, ok := r.typeOf(values[0]).(*types.Tuple)
		if !ok {
			return
		}
		for i := 0; i < tup.Len(); i++ {
			vtypes = append(vtypes, tup.At(i).Type())
		}
	} else {
		for _, v := range values {
			vtypes = append(vtypes, r.typeOf(v))
		}
	}
	var ts []string
	for _, t := range vtypes {
		if t == nil {
			return
		}
		if b, ok := t.(*types.Basic); ok && b.Info()&types.IsUntyped != 0 {
			t = types.Default(t)
		}
		s, ok := r.typeString(t)
		if !ok {
			return
		}
		ts = append(ts, s)
	}
	r.add(r.off(values[0].Pos()), r.off(values[0].Pos()), "func() ("+strings.Join(ts, ", ")+") { return ")
	end := r.off(values[len(values)-1].End())
	r.add(end, end, " }()")
}

// callsGeneric reports whether the expressions call a generic function
// (or the builtin min or max with a value that is not constant), outside
// function literals.
func (r *rewriter) callsGeneric(es []ast.Expr) bool {
	found := false
	for _, e := range es {
		ast.Inspect(e, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncLit:
				return false
			case *ast.Ident:
				if _, ok := r.info.Instances[n]; ok {
					found = true
				}
			case *ast.CallExpr:
				if id, ok := n.Fun.(*ast.Ident); ok && (id.Name == "min" || id.Name == "max") && r.isBuiltin(id) {
					if tv, ok := r.info.Types[n]; !ok || tv.Value == nil {
						found = true
					}
				}
			}
			return !found
		})
	}
	return found
}

func (r *rewriter) builtinCall(n *ast.CallExpr, id *ast.Ident) {
	if id.Name == "clear" {
		r.usesRT = true
		r.add(r.off(id.Pos()), r.off(id.End()), helperClear)
		return
	}
	r.usesMin = true
	helper := helperMin
	if id.Name == "max" {
		helper = helperMax
	}
	if r.info != nil {
		if tv, ok := r.info.Types[n]; ok && tv.Value != nil {
			// Constant result: replace the call by the constant.
			lit := constLiteral(tv.Value)
			if lit != "" {
				if b, ok := tv.Type.(*types.Basic); !ok || b.Info()&types.IsUntyped == 0 {
					if ts, ok := r.typeString(tv.Type); ok {
						lit = ts + "(" + lit + ")"
					} else {
						lit = ""
					}
				}
			}
			if lit != "" {
				// Parenthesized: the call may be an operand of a
				// selector or an index (min(0, 0).M() is not 0.M()).
				r.add(r.off(n.Pos()), r.off(n.End()), "("+lit+")")
				return
			}
		}
	}
	t := r.typeOf(n)
	if t != nil {
		if b, ok := t.(*types.Basic); ok && b.Info()&types.IsUntyped != 0 {
			t = types.Default(t)
		}
		if ts, ok := r.typeString(t); ok {
			r.add(r.off(id.Pos()), r.off(id.End()), helper+"["+ts+"]")
			return
		}
	}
	r.add(r.off(id.Pos()), r.off(id.End()), helper)
}

func constLiteral(v constant.Value) string {
	switch v.Kind() {
	case constant.Int:
		return v.String()
	case constant.Float:
		f, _ := constant.Float64Val(v)
		s := strconv.FormatFloat(f, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eEnN") {
			s += ".0"
		}
		return s
	case constant.String:
		return strconv.Quote(constant.StringVal(v))
	}
	return ""
}

// ---- loop variables captured by closures (#1634, #1713) ----

type lvScope map[string]bool // name -> declared inside a loop of the current function

type lvFunc struct {
	scopes    []lvScope
	loopDepth int
}

func (lf *lvFunc) push() { lf.scopes = append(lf.scopes, lvScope{}) }
func (lf *lvFunc) pop()  { lf.scopes = lf.scopes[:len(lf.scopes)-1] }
func (lf *lvFunc) declare(name string) {
	if name != "_" && name != "" {
		lf.scopes[len(lf.scopes)-1][name] = lf.loopDepth > 0
	}
}
func (lf *lvFunc) lookup(name string) (inLoop, found bool) {
	for i := len(lf.scopes) - 1; i >= 0; i-- {
		if v, ok := lf.scopes[i][name]; ok {
			return v, true
		}
	}
	return false, false
}

func (r *rewriter) fn(typ *ast.FuncType, recv *ast.FieldList, body *ast.BlockStmt) {
	savedRoot, savedFn := r.inRoot, r.fnOff
	r.inRoot = body != nil && body == r.rootBody
	r.fnOff = -1
	if o := r.off(body.Lbrace); o >= 0 {
		r.fnOff = o + 1
	}
	defer func() { r.inRoot, r.fnOff = savedRoot, savedFn }()
	saved := r.cur
	r.cur = &lvFunc{}
	r.cur.push()
	for _, fl := range []*ast.FieldList{recv, typ.Params, typ.Results} {
		if fl == nil {
			continue
		}
		for _, f := range fl.List {
			for _, n := range f.Names {
				r.cur.declare(n.Name)
			}
		}
	}
	if r.stmtPos != nil {
		// Count call depth: runaway recursion in interpreted code would
		// overflow the Go stack, a fatal error that takes the REPL or
		// kernel down; past the limit it is an ordinary panic instead.
		if o := r.off(body.Lbrace); o >= 0 {
			r.usesRT = true
			r.add(o+1, o+1, " "+rtPkgName+".Enter(); defer "+rtPkgName+".Leave();")
		}
	}
	r.block(body.List)
	r.cur = saved
}

func (r *rewriter) block(list []ast.Stmt) {
	r.cur.push()
	for _, s := range list {
		r.markStmt(s)
		r.stmt(s)
	}
	r.cur.pop()
}

// markStmt records where each statement starts: yaegi v0.16.1 reports a
// panic at the start of the function it happened in, so every statement
// first tells the host its position (a ~200 ns host call), and errors point
// at the statement that was running.
func (r *rewriter) markStmt(s ast.Stmt) {
	if r.stmtPos == nil {
		return
	}
	if _, ok := s.(*ast.EmptyStmt); ok {
		return
	}
	off := r.off(s.Pos())
	if off < 0 {
		return
	}
	r.usesRT = true
	r.add(off, off, fmt.Sprintf("%s.At(%d); ", rtPkgName, r.markID(off)))
}

// markID registers a statement marker at input offset off.
func (r *rewriter) markID(off int) int {
	id := r.stmtPos(off, r.fnOff)
	if r.inRoot {
		r.rootIDs = append(r.rootIDs, id)
	}
	return id
}

// markEmptyLoop puts a statement marker in a loop body that has no
// statement of its own (for {}): every iteration then calls the host,
// which is where an interrupt stops interpreted code (see stmtAt).
func (r *rewriter) markEmptyLoop(loop ast.Stmt, body *ast.BlockStmt) {
	if r.stmtPos == nil || body == nil {
		return
	}
	for _, st := range body.List {
		if _, ok := st.(*ast.EmptyStmt); !ok {
			return
		}
	}
	at, in := r.off(loop.Pos()), r.off(body.Lbrace)
	if at < 0 || in < 0 {
		return
	}
	r.usesRT = true
	r.add(in+1, in+1, fmt.Sprintf(" %s.At(%d); ", rtPkgName, r.markID(at)))
}

func (r *rewriter) stmt(s ast.Stmt) {
	if s == nil {
		return
	}
	lf := r.cur
	switch s := s.(type) {
	case *ast.BlockStmt:
		r.block(s.List)
	case *ast.AssignStmt:
		for _, e := range s.Rhs {
			r.expr(e)
		}
		if s.Tok == token.DEFINE {
			for _, e := range s.Lhs {
				if id, ok := e.(*ast.Ident); ok {
					lf.declare(id.Name)
				}
			}
		} else {
			for _, e := range s.Lhs {
				r.expr(e)
			}
		}
	case *ast.DeclStmt:
		if gd, ok := s.Decl.(*ast.GenDecl); ok {
			for _, sp := range gd.Specs {
				switch sp := sp.(type) {
				case *ast.ValueSpec:
					for _, v := range sp.Values {
						r.expr(v)
					}
					for _, n := range sp.Names {
						lf.declare(n.Name)
					}
				case *ast.TypeSpec:
					lf.declare(sp.Name.Name)
				}
			}
		}
	case *ast.ForStmt:
		lf.push()
		lf.loopDepth++
		r.stmt(s.Init)
		r.expr(s.Cond)
		r.stmt(s.Post)
		r.markEmptyLoop(s, s.Body)
		r.block(s.Body.List)
		lf.loopDepth--
		lf.pop()
	case *ast.RangeStmt:
		r.expr(s.X)
		lf.push()
		lf.loopDepth++
		if s.Tok == token.DEFINE {
			for _, e := range []ast.Expr{s.Key, s.Value} {
				if id, ok := e.(*ast.Ident); ok {
					lf.declare(id.Name)
				}
			}
		} else {
			r.expr(s.Key)
			r.expr(s.Value)
		}
		savedFn := r.fnOff
		if r.rangesOverFunc(s) != nil {
			// The body runs as a function, whose first statement (the
			// rewrite's) maps to the range expression's end (see rfEmit).
			r.fnOff = r.off(s.X.End())
		}
		r.markEmptyLoop(s, s.Body)
		r.block(s.Body.List)
		r.fnOff = savedFn
		lf.loopDepth--
		lf.pop()
	case *ast.IfStmt:
		lf.push()
		r.stmt(s.Init)
		r.expr(s.Cond)
		r.block(s.Body.List)
		r.stmt(s.Else)
		lf.pop()
	case *ast.SwitchStmt:
		lf.push()
		r.stmt(s.Init)
		r.expr(s.Tag)
		for _, c := range s.Body.List {
			cc := c.(*ast.CaseClause)
			for _, e := range cc.List {
				r.expr(e)
			}
			r.block(cc.Body)
		}
		lf.pop()
	case *ast.TypeSwitchStmt:
		r.typeSwitch(s)
		lf.push()
		r.stmt(s.Init)
		var sym string
		switch a := s.Assign.(type) {
		case *ast.AssignStmt:
			if id, ok := a.Lhs[0].(*ast.Ident); ok {
				sym = id.Name
			}
			for _, e := range a.Rhs {
				r.expr(e)
			}
		case *ast.ExprStmt:
			r.expr(a.X)
		}
		for _, c := range s.Body.List {
			cc := c.(*ast.CaseClause)
			lf.push()
			lf.declare(sym)
			r.block(cc.Body)
			lf.pop()
		}
		lf.pop()
	case *ast.SelectStmt:
		for _, c := range s.Body.List {
			cc := c.(*ast.CommClause)
			lf.push()
			r.stmt(cc.Comm)
			r.block(cc.Body)
			lf.pop()
		}
	case *ast.LabeledStmt:
		r.stmt(s.Stmt)
	case *ast.GoStmt:
		r.expr(s.Call)
		r.goStmt(s)
	default:
		r.expr(s)
	}
}

// goStmt protects a goroutine the script starts: a panic in interpreted
// code on a goroutine yaegi starts kills the whole process (the REPL, the
// kernel). `go F(A, B)` becomes
//
//	_nnsrt.Go(func() func() { g0 := F; g1 := A; g2 := B; return func() { g0(g1, g2) } }())
//
// so F and its arguments are evaluated where the go statement is, as Go
// does, and the call runs on a goroutine that recovers and reports.
// Only the text around F and the arguments changes, so rewrites inside
// them stay valid.
func (r *rewriter) goStmt(s *ast.GoStmt) {
	c := s.Call
	start, fun := r.off(s.Pos()), r.off(c.Fun.Pos())
	lp, rp := r.off(c.Lparen), r.off(c.Rparen)
	if start < 0 || fun < 0 || lp < 0 || rp < 0 {
		return
	}
	r.usesRT = true
	if id, ok := c.Fun.(*ast.Ident); ok && builtinNames[id.Name] && r.isBuiltin(id) {
		// A builtin is not a value: call it inside the goroutine.
		r.add(start, fun, rtPkgName+".Go(func() { ")
		r.add(r.off(s.End()), r.off(s.End()), " })")
		return
	}
	r.tmpCount++
	name := func(i int) string { return fmt.Sprintf("_nns_g%d_%d", r.tmpCount, i) }
	// One := per value: yaegi v0.16.1 leaves a func value nil in a
	// multi-value := (g, a := f, x).
	r.add(start, fun, rtPkgName+".Go(func() func() { "+name(0)+" := ")
	args := make([]string, len(c.Args))
	for i := range args {
		args[i] = name(i + 1)
	}
	call := name(0) + "(" + strings.Join(args, ", ")
	if c.Ellipsis.IsValid() {
		call += "..."
	}
	tail := "; return func() { " + call + ") } }())"
	if len(c.Args) == 0 {
		r.add(lp, rp+1, tail)
		return
	}
	r.add(lp, r.off(c.Args[0].Pos()), "; "+name(1)+" := ")
	for i := 1; i < len(c.Args); i++ {
		r.add(r.off(c.Args[i-1].End()), r.off(c.Args[i].Pos()), "; "+name(i+1)+" := ")
	}
	r.add(r.off(c.Args[len(c.Args)-1].End()), rp+1, tail)
}

var builtinNames = map[string]bool{"append": true, "cap": true, "clear": true, "close": true, "complex": true,
	"copy": true, "delete": true, "imag": true, "len": true, "make": true, "max": true, "min": true, "new": true,
	"panic": true, "print": true, "println": true, "real": true, "recover": true}

// expr looks for function literals in n (not descending into them: each is
// handled as a new function).
func (r *rewriter) expr(n ast.Node) {
	if n == nil {
		return
	}
	if e, ok := n.(ast.Expr); ok && e == nil {
		return
	}
	ast.Inspect(n, func(x ast.Node) bool {
		fl, ok := x.(*ast.FuncLit)
		if !ok {
			return true
		}
		r.funcLit(fl)
		return false
	})
}

func (r *rewriter) funcLit(fl *ast.FuncLit) {
	wrapped := false
	if r.cur != nil {
		own := map[string]bool{}
		for _, f := range fl.Type.Params.List {
			for _, n := range f.Names {
				own[n.Name] = true
			}
		}
		if fl.Type.Results != nil {
			for _, f := range fl.Type.Results.List {
				for _, n := range f.Names {
					own[n.Name] = true
				}
			}
		}
		// A variable the literal writes to (x = ..., x++, &x) must stay
		// shared with the loop body: copying it would make the write
		// invisible outside (a trace body assigning a result the loop then
		// prints). Only read-only captures are copied.
		for _, n := range writtenNames(fl.Body) {
			own[n] = true
		}
		var names []string
		seen := map[string]bool{}
		ast.Inspect(fl.Body, func(x ast.Node) bool {
			switch x := x.(type) {
			case *ast.SelectorExpr:
				ast.Inspect(x.X, func(y ast.Node) bool {
					if id, ok := y.(*ast.Ident); ok {
						r.capture(id.Name, own, seen, &names)
					}
					return true
				})
				return false
			case *ast.Ident:
				r.capture(x.Name, own, seen, &names)
			}
			return true
		})
		if len(names) > 0 {
			wrapped = true
			typ := r.text(fl.Type.Pos(), fl.Type.End())
			var b strings.Builder
			b.WriteString("func() " + typ + " { ")
			for _, n := range names {
				fmt.Fprintf(&b, "%s := %s; _ = %s; ", n, n, n)
			}
			b.WriteString("return ")
			start, end := r.off(fl.Pos()), r.off(fl.End())
			r.add(start, start, b.String())
			r.add(end, end, " }()")
		}
	}
	r.fn(fl.Type, nil, fl.Body)
	if !wrapped && r.argLits[fl] {
		// A function literal passed straight to a host function
		// (model.Trace(p, func(tr) {...})) takes yaegi's path that keeps
		// every variable it captures from a loop body alive for good: a
		// loop of traces each assigning a saved tensor to a variable of
		// the loop body grew by that tensor each iteration. Parenthesized,
		// it takes the closure path (the one a literal assigned to a
		// variable takes), which does not.
		start, end := r.off(fl.Pos()), r.off(fl.End())
		r.add(start, start, "(")
		r.add(end, end, ")")
	}
}

func (r *rewriter) capture(name string, own, seen map[string]bool, names *[]string) {
	if own[name] || seen[name] {
		return
	}
	seen[name] = true
	if inLoop, found := r.cur.lookup(name); found && inLoop {
		*names = append(*names, name)
	}
}

// writtenNames lists identifiers assigned, incremented or address-taken
// anywhere in body (declarations with := are not writes to outer names).
func writtenNames(body *ast.BlockStmt) []string {
	var out []string
	add := func(e ast.Expr) {
		for {
			switch x := e.(type) {
			case *ast.Ident:
				out = append(out, x.Name)
				return
			case *ast.IndexExpr:
				e = x.X // a[i] = v writes into a's elements: a slice or map stays shared anyway
				return
			case *ast.StarExpr, *ast.SelectorExpr:
				return
			case *ast.ParenExpr:
				e = x.X
			default:
				return
			}
		}
	}
	ast.Inspect(body, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.AssignStmt:
			if x.Tok != token.DEFINE {
				for _, l := range x.Lhs {
					add(l)
				}
			}
		case *ast.IncDecStmt:
			add(x.X)
		case *ast.UnaryExpr:
			if x.Op == token.AND {
				add(x.X)
			}
		case *ast.RangeStmt:
			if x.Tok == token.ASSIGN {
				if x.Key != nil {
					add(x.Key)
				}
				if x.Value != nil {
					add(x.Value)
				}
			}
		}
		return true
	})
	return out
}
