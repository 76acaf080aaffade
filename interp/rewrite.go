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

	// stmtPos registers the input offset of a statement and returns its
	// id for _nnsrt.At (nil: no statement positions).
	stmtPos func(off int) int
	// rootBody is the body of Eval's wrapper function: the input's
	// top-level statements, which yaegi runs in the session's global
	// frame. rootIDs collects the ids of the statement markers there
	// (function bodies excluded; see Interpreter.exec).
	rootBody *ast.BlockStmt
	inRoot   bool
	rootIDs  []int
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
	// Last: its insertions at an operand's start must follow the
	// statement markers at the same offset.
	defer r.assertions(f)
	defer r.nilAssertions(f)
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
		if !r.rangeStdIterator(n, u) {
			r.errorf(n.X.Pos(), "range over function is not supported by the interpreter: call the iterator with an explicit yield function instead")
		}
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
	call, ok := n.X.(*ast.CallExpr)
	if !ok {
		return false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	fn, ok := r.info.Uses[sel.Sel].(*types.Func)
	if !ok || fn.Pkg() == nil || (fn.Pkg().Path() != "slices" && fn.Pkg().Path() != "maps") {
		return false
	}
	if sig.Params().Len() != 1 || sig.Results().Len() != 0 {
		return false
	}
	yield, ok := sig.Params().At(0).Type().Underlying().(*types.Signature)
	if !ok || yield.Params().Len() < 1 || yield.Params().Len() > 2 {
		return false
	}
	var targs []string
	for i := 0; i < yield.Params().Len(); i++ {
		s, ok := r.typeString(yield.Params().At(i).Type())
		if !ok {
			return false
		}
		targs = append(targs, s)
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
		r.recoverCall(n, id)
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
				r.add(r.off(n.Pos()), r.off(n.End()), lit)
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
	savedRoot := r.inRoot
	r.inRoot = body != nil && body == r.rootBody
	defer func() { r.inRoot = savedRoot }()
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
	id := r.stmtPos(off)
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
		r.markEmptyLoop(s, s.Body)
		r.block(s.Body.List)
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
	defer func() {
		if !wrapped && r.argLits[fl] {
			// A function literal passed straight to a host function
			// (model.Trace(p, func(tr) {...})) takes yaegi's path that
			// keeps every variable it captures from a loop body alive
			// for good: a loop of traces each assigning a saved tensor to
			// a variable of the loop body grew by that tensor each
			// iteration. Parenthesized, it takes the closure path
			// (the one a literal assigned to a variable takes), which
			// does not.
			start, end := r.off(fl.Pos()), r.off(fl.End())
			r.add(start, start, "(")
			r.add(end, end, ")")
		}
	}()
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

// ---- type switches ----

// typeSwitch rewrites a type switch into a tagless switch on comma-ok
// assertions: yaegi v0.16.1 compares type names in a type switch, so
// `case error:` or `case fmt.Stringer:` never matched (also for host
// values), and `switch x := v.(type) { case T: ... }` panicked ("call of
// reflect.Value.Interface on zero Value") for a T value passed as an
// argument of type any, while `c, ok := v.(T)` works.
//
//	switch [init;] x := e.(type) { case A, B: ...; case C: ...; case nil: ... }
//
// becomes
//
//	switch [init;] { default: _nns_tsN := e; _, _nns_tsN_1 := _nns_tsN.(A); ...
//	switch { case _nns_tsN_1 || _nns_tsN_2: { x := _nns_tsN; _ = x; ... }
//	case _nns_tsN_3: { x, _ := _nns_tsN.(C); _ = x; ... } case _nns_tsN == nil: ... } }
//
// where an assertion to an interface is assertLit's. The assertions are
// made before the switch (they have no side effects): a closure that
// captured _nns_tsN made yaegi print the bound value as its internal
// representation. break and labels keep their meaning: nothing follows
// the inner switch.
func (r *rewriter) typeSwitch(s *ast.TypeSwitchStmt) {
	// A session's top-level statements run in yaegi's global frame, where
	// the clause variables came out undefined: Eval runs every top-level
	// statement holding a type switch in a closure (declaresInBlocks).
	if r.info == nil {
		return
	}
	typed := false
	for _, c := range s.Body.List {
		for _, e := range c.(*ast.CaseClause).List {
			if tv, ok := r.info.Types[e]; ok && tv.IsType() {
				typed = true
			} else if !ok || !tv.IsNil() {
				return // not type-checked: leave it to yaegi
			}
		}
	}
	if !typed {
		return
	}
	var bind string
	var ta *ast.TypeAssertExpr
	switch a := s.Assign.(type) {
	case *ast.AssignStmt:
		if len(a.Lhs) != 1 || len(a.Rhs) != 1 {
			return
		}
		id, ok := a.Lhs[0].(*ast.Ident)
		if !ok {
			return
		}
		bind = id.Name
		ta, _ = a.Rhs[0].(*ast.TypeAssertExpr)
	case *ast.ExprStmt:
		ta, _ = a.X.(*ast.TypeAssertExpr)
	}
	if ta == nil {
		return
	}
	start, xs, xe, end := r.off(s.Assign.Pos()), r.off(ta.X.Pos()), r.off(ta.X.End()), r.off(ta.End())
	rb := r.off(s.Body.Rbrace)
	if start < 0 || xs < 0 || xe < 0 || end < 0 || rb < 0 {
		return
	}
	r.tmpCount++
	tmp := fmt.Sprintf("_nns_ts%d", r.tmpCount)
	// The value switched on: a variable is used as it is, since copying
	// an error variable that holds a struct value panics in yaegi
	// ("reflect.Set: value of type struct {...} is not assignable to type
	// error"); any other expression is evaluated once, into tmp.
	v := tmp
	id, isIdent := ast.Unparen(ta.X).(*ast.Ident)
	if isIdent {
		v = id.Name
	}
	// assert returns the comma-ok assertion of v to the case type e.
	assert := func(e ast.Expr) string {
		if lit, ok := r.assertLit(e, true); ok {
			return lit + "(" + v + ")"
		}
		return concreteAssert(v, r.text(e.Pos(), e.End()), r.info.Types[e].Type)
	}
	type clause struct {
		from, to int
		cond     string
		at, end  int
		bind     string
	}
	var cls []clause
	var pre, names []string // the assertions, evaluated before the switch (a nil value fails them all)
	nb := 0
	for _, c := range s.Body.List {
		cc := c.(*ast.CaseClause)
		cl := clause{at: r.off(cc.Colon) + 1, end: r.off(cc.End())}
		single := ""
		if len(cc.List) > 0 {
			conds := make([]string, len(cc.List))
			for i, e := range cc.List {
				if tv := r.info.Types[e]; tv.IsNil() {
					conds[i] = v + " == nil"
					continue
				}
				if r.text(e.Pos(), e.End()) == "" {
					return
				}
				a := assert(e)
				nb++
				b := fmt.Sprintf("%s_%d", tmp, nb)
				names = append(names, b)
				pre = append(pre, "_, "+b+" = "+a+"; ")
				conds[i] = b
				if len(cc.List) == 1 {
					single = a
				}
			}
			cl.from, cl.to, cl.cond = r.off(cc.List[0].Pos()), r.off(cc.List[len(cc.List)-1].End()), strings.Join(conds, " || ")
			if cl.from < 0 || cl.to < 0 {
				return
			}
		}
		if bind != "" && bind != "_" {
			if single != "" {
				cl.bind = " " + bind + ", _ := " + single + "; _ = " + bind + ";"
			} else {
				cl.bind = " " + bind + " := " + v + "; _ = " + bind + ";"
			}
		}
		cls = append(cls, cl)
	}
	guard := ""
	if len(names) > 0 {
		guard = "var " + strings.Join(names, ", ") + " bool; if " + v + " != nil { " + strings.Join(pre, "") + "}; "
	}
	if isIdent {
		r.add(start, end, "{ default: "+guard+"switch ")
	} else {
		r.add(start, xs, "{ default: "+v+" := ")
		r.add(xe, end, "; "+guard+"switch ")
	}
	r.add(rb+1, rb+1, " }")
	for _, cl := range cls {
		if cl.cond != "" {
			r.add(cl.from, cl.to, cl.cond)
		}
		if cl.bind != "" {
			// A block per clause: yaegi confused the clauses' variables
			// of one name and different types.
			r.add(cl.at, cl.at, " {"+cl.bind)
			r.add(cl.end, cl.end, " }")
		}
	}
}

// concreteAssert returns the comma-ok assertion of the interface value v
// to type t (written ts) in the form yaegi gets right: for an error
// variable holding a script value, v.(T) of a struct type panicked
// ("reflect: call of reflect.Value.Elem on struct Value") while any(v).(T)
// works, and for a pointer type any(v).(*T) panicked while v.(*T) works
// (and yaegi's own type switch did not match *T at all).
func concreteAssert(v, ts string, t types.Type) string {
	if t != nil && !types.IsInterface(t) {
		if _, ptr := t.Underlying().(*types.Pointer); !ptr {
			return "any(" + v + ").(" + ts + ")"
		}
	}
	return v + ".(" + ts + ")"
}

// ---- type assertions to interfaces ----

// assertions rewrites the type assertions to interface types for which
// the package declares implementing types: yaegi v0.16.1 fails
// `x := v.(Shape)`, `x, ok := v.(Shape)` and `v.(fmt.Stringer).String()`
// on a value of a script type ("reflect.Set: value of type interface {}
// is not assignable to type interp.valueInterface", or ok false for a
// variable declared `var v any = T{}`), while a type switch on the
// script's concrete types works. `v.(I)` becomes assertLit's function
// literal called with v.
func (r *rewriter) assertions(f *ast.File) {
	if r.info == nil {
		return
	}
	comma := commaAsserts(f)
	ast.Inspect(f, func(n ast.Node) bool {
		ta, ok := n.(*ast.TypeAssertExpr)
		if !ok || ta.Type == nil {
			return true
		}
		lit, ok := r.assertLit(ta.Type, comma[ta])
		if !ok {
			return true
		}
		xs, xe, end := r.off(ta.X.Pos()), r.off(ta.X.End()), r.off(ta.End())
		if xs < 0 || xe < 0 || end < 0 {
			return true
		}
		r.add(xs, xs, lit+"(")
		r.add(xe, end, ")")
		return true
	})
}

// commaAsserts returns the type assertions of f in comma-ok form (v, ok
// := x.(T) and var v, ok = x.(T)).
func commaAsserts(f *ast.File) map[*ast.TypeAssertExpr]bool {
	comma := map[*ast.TypeAssertExpr]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.AssignStmt:
			if len(n.Lhs) == 2 && len(n.Rhs) == 1 {
				if ta, ok := ast.Unparen(n.Rhs[0]).(*ast.TypeAssertExpr); ok {
					comma[ta] = true
				}
			}
		case *ast.ValueSpec:
			if len(n.Names) == 2 && len(n.Values) == 1 {
				if ta, ok := ast.Unparen(n.Values[0]).(*ast.TypeAssertExpr); ok {
					comma[ta] = true
				}
			}
		}
		return true
	})
	return comma
}

// assertLit returns a function literal that does the assertion of an
// interface value to the interface type typ, through a type switch on the
// package's types (those implementing it are converted, the others fail
// as in Go); other values (host types, types declared in functions) take
// the assertion as written. With comma it returns (I, bool), else I. It
// reports false where typ is not an interface or no package-level type
// implements it.
func (r *rewriter) assertLit(typ ast.Expr, comma bool) (string, bool) {
	tv, ok := r.info.Types[typ]
	if !ok || !tv.IsType() || !types.IsInterface(tv.Type) {
		return "", false
	}
	it, _ := tv.Type.Underlying().(*types.Interface)
	if it == nil || !it.IsMethodSet() || it.NumMethods() == 0 {
		return "", false
	}
	text := r.text(typ.Pos(), typ.End())
	if text == "" {
		return "", false
	}
	var pkg *types.Package
	for _, o := range r.info.Defs {
		if o != nil && o.Pkg() != nil && o.Pkg().Path() == "main" {
			pkg = o.Pkg()
			break
		}
	}
	if pkg == nil {
		return "", false
	}
	goName := func(t types.Type) string {
		return types.TypeString(t, func(p *types.Package) string { return p.Name() })
	}
	iname := goName(tv.Type)
	scope := pkg.Scope()
	var cases []string
	found := false
	for _, name := range scope.Names() {
		tn, ok := scope.Lookup(name).(*types.TypeName)
		if !ok || tn.IsAlias() {
			continue
		}
		named, ok := tn.Type().(*types.Named)
		if !ok || named.TypeParams().Len() > 0 || types.IsInterface(named) {
			continue
		}
		for _, t := range []types.Type{named, types.NewPointer(named)} {
			ts, ok := r.typeString(t)
			if !ok {
				continue
			}
			is := "if _nns_c, _nns_ok := _nns_v.(" + ts + "); _nns_ok { "
			if types.Implements(t, it) {
				found = true
				if comma {
					cases = append(cases, is+"return _nns_c, true }; ")
				} else {
					cases = append(cases, is+"return _nns_c }; ")
				}
				continue
			}
			is = "if _, _nns_ok := _nns_v.(" + ts + "); _nns_ok { "
			if comma {
				cases = append(cases, is+"return nil, false }; ")
				continue
			}
			m, _ := types.MissingMethod(t, it, true)
			if m == nil {
				continue
			}
			r.usesRT = true
			cases = append(cases, is+fmt.Sprintf("%s.AssertFail(%q, %q, %q) }; ", rtPkgName, goName(t), iname, m.Name()))
		}
	}
	if !found {
		return "", false
	}
	var b strings.Builder
	if comma {
		b.WriteString("func(_nns_v any) (" + text + ", bool) { if _nns_v == nil { return nil, false }; ")
	} else {
		r.usesRT = true
		b.WriteString("func(_nns_v any) " + text + " { if _nns_v == nil { " + rtPkgName + ".AssertFail(\"\", " + strconv.Quote(iname) + ", \"\") }; ")
	}
	b.WriteString(strings.Join(cases, ""))
	if comma {
		b.WriteString("if _, _nns_ok := _nns_v.(" + text + "); _nns_ok { return _nns_v.(" + text + "), true }; return nil, false }")
	} else {
		// Another value: a host type that implements it, or Go's panic
		// (yaegi's own failure here read "nil is not main.Shape").
		var ms []string
		for i := 0; i < it.NumMethods(); i++ {
			ms = append(ms, strconv.Quote(it.Method(i).Name()))
		}
		b.WriteString("if _nns_c, _nns_ok := _nns_v.(" + text + "); _nns_ok { return _nns_c }; " +
			rtPkgName + ".AssertFailValue(_nns_v, " + strconv.Quote(iname) + ", " + strings.Join(ms, ", ") + "); return nil }")
	}
	return b.String(), true
}

// ---- fmt and the String and Error methods of script types ----

// fmtArgsFrom is where the operands start in the calls of package fmt
// (-1: after a format string, the argument before them).
var fmtArgsFrom = map[string]int{
	"Print": 0, "Println": 0, "Sprint": 0, "Sprintln": 0, "Fprint": 1, "Fprintln": 1, "Append": 1, "Appendln": 1,
	"Printf": -1, "Sprintf": -1, "Errorf": -1, "Fprintf": -2, "Appendf": -2,
}

// fmtCall makes fmt show values of script types through their String or
// Error method: yaegi hands fmt the bare value, without the methods, so
// fmt.Println(p) printed {1 2} for a Point whose String gives (1,2). An
// operand printed with %v, %s, %q, %x or %X (as Print and Println print
// every operand) whose static type is declared by the script and has
// one of the methods becomes _nnsrt.Shown(p.Error()) or
// _nnsrt.Shown(p.String()) (a pointer is checked for nil first, which fmt
// prints as <nil>): Shown is a host type whose String gives that text, so
// fmt formats it as it would the value.
func (r *rewriter) fmtCall(n *ast.CallExpr) {
	sel, ok := n.Fun.(*ast.SelectorExpr)
	if !ok || n.Ellipsis.IsValid() {
		return
	}
	pkg, ok := sel.X.(*ast.Ident)
	if !ok {
		return
	}
	pn, ok := r.info.Uses[pkg].(*types.PkgName)
	if !ok || pn.Imported().Path() != "fmt" {
		return
	}
	from, ok := fmtArgsFrom[sel.Sel.Name]
	if !ok {
		return
	}
	verbs := map[int]bool{}   // operand index -> shown through its methods
	wrapped := map[int]bool{} // operand index -> a %w operand
	if from >= 0 {
		for i := from; i < len(n.Args); i++ {
			verbs[i] = true
		}
	} else {
		fi := -from - 1
		if fi >= len(n.Args) {
			return
		}
		tv, ok := r.info.Types[n.Args[fi]]
		if !ok || tv.Value == nil || tv.Value.Kind() != constant.String {
			return
		}
		format := constant.StringVal(tv.Value)
		vs, ok := formatVerbs(format)
		if !ok {
			return
		}
		for k, v := range vs {
			verbs[fi+1+k] = v
		}
		for k, w := range formatW(format) {
			wrapped[fi+1+k] = w
		}
		r.typeVerbs(n.Args[fi], n.Args[fi+1:])
	}
	for i, arg := range n.Args {
		if verbs[i] {
			r.showByMethod(arg)
		} else if sel.Sel.Name == "Errorf" && wrapped[i] {
			r.asError(arg)
		}
	}
}

// typeVerbs makes %T name a script type as Go does (yaegi's stand-in type
// printed struct { X int; Y int } for a main.P): where the format is a
// string literal and an operand printed with %T has a static type that is
// not an interface and involves a type the script declares (so its
// dynamic type is that type), the verb becomes %s and the operand the
// type's name, evaluated still for its effects:
//
//	fmt.Printf("%T\n", p)  ->  fmt.Printf("%s\n", func(any) string { return "main.P" }(p))
func (r *rewriter) typeVerbs(format ast.Expr, operands []ast.Expr) {
	lit, ok := format.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return
	}
	a := r.off(lit.Pos())
	if a < 0 {
		return
	}
	raw := r.text(lit.Pos(), lit.End())
	for k, off := range verbOffsets(raw) {
		if k >= len(operands) || raw[off] != 'T' {
			continue
		}
		t := r.typeOf(operands[k])
		if t == nil || types.IsInterface(t) || !declaredByScript(t) {
			continue
		}
		name := types.TypeString(t, func(p *types.Package) string { return p.Name() })
		oa, ob := r.off(operands[k].Pos()), r.off(operands[k].End())
		if oa < 0 || ob < 0 {
			continue
		}
		r.add(a+off, a+off+1, "s")
		r.add(oa, oa, "func(any) string { return "+strconv.Quote(name)+" }(")
		r.add(ob, ob, ")")
	}
}

// verbOffsets returns the offset in a format literal's source text of each
// operand's verb letter, in order (nil for formats formatVerbs does not
// follow).
func verbOffsets(raw string) []int {
	if _, ok := formatVerbs(raw); !ok {
		return nil
	}
	var out []int
	for i := 0; i < len(raw); i++ {
		if raw[i] != '%' {
			continue
		}
		i++
		for i < len(raw) && strings.IndexByte("+-# 0123456789.", raw[i]) >= 0 {
			i++
		}
		if i < len(raw) && raw[i] != '%' {
			out = append(out, i)
		}
	}
	return out
}

// asError passes e, a value of a script type that implements error, as an
// error: yaegi hands fmt.Errorf's ...any the bare value, so %w printed
// %!w(*struct {...}) and wrapped nothing; through a parameter of type
// error it becomes a value that implements error for host code.
func (r *rewriter) asError(e ast.Expr) {
	t := r.typeOf(e)
	if t == nil || !r.scriptType(t) || !types.Implements(t, errorIface) {
		return
	}
	a, b := r.off(e.Pos()), r.off(e.End())
	if a < 0 || b < 0 {
		return
	}
	r.add(a, a, "func(_nns_e error) error { return _nns_e }(")
	r.add(b, b, ")")
}

var errorIface = types.Universe.Lookup("error").Type().Underlying().(*types.Interface)

// errorsAsCall rewrites errors.As(err, &target) for a target of a script
// type (and errors.Is, see below): the host's errors.As panicked ("*target
// must be interface or implement error": yaegi's type for it has no
// methods). The rewrite walks the chain of Unwrap itself, with the
// interpreter's type assertion.
func (r *rewriter) errorsAsCall(n *ast.CallExpr) {
	sel, ok := n.Fun.(*ast.SelectorExpr)
	if !ok || (sel.Sel.Name != "As" && sel.Sel.Name != "Is") || len(n.Args) != 2 {
		return
	}
	pkg, ok := sel.X.(*ast.Ident)
	if !ok {
		return
	}
	pn, ok := r.info.Uses[pkg].(*types.PkgName)
	if !ok || pn.Imported().Path() != "errors" {
		return
	}
	if sel.Sel.Name == "Is" {
		// errors.Is(err, target) for a target of a script pointer type:
		// the host compares yaegi's error wrappers, which are not
		// comparable (false where Go says true).
		t := r.typeOf(n.Args[1])
		if _, ptr := t.(*types.Pointer); !ptr || !r.scriptType(t) || !types.Implements(t, errorIface) {
			return
		}
		ts, ok := r.typeString(t)
		a, b := r.off(n.Pos()), r.off(n.Fun.End())
		if !ok || a < 0 || b < 0 {
			return
		}
		r.add(a, b, "func(_nns_e error, _nns_t "+ts+") bool { for _nns_e != nil { if _nns_c, _nns_ok := _nns_e.("+ts+
			"); _nns_ok && _nns_c == _nns_t { return true }; _nns_e = "+pkg.Name+".Unwrap(_nns_e) }; return false }")
		return
	}
	pt, ok := r.typeOf(n.Args[1]).(*types.Pointer)
	if !ok || types.IsInterface(pt.Elem()) || !r.scriptType(pt.Elem()) {
		return
	}
	ts, ok := r.typeString(pt.Elem())
	if !ok {
		return
	}
	a, b := r.off(n.Pos()), r.off(n.Fun.End())
	if a < 0 || b < 0 {
		return
	}
	r.add(a, b, "func(_nns_e error, _nns_t *"+ts+") bool { for _nns_e != nil { if _nns_c, _nns_ok := "+concreteAssert("_nns_e", ts, pt.Elem())+
		"; _nns_ok { *_nns_t = _nns_c; return true }; _nns_e = "+pkg.Name+".Unwrap(_nns_e) }; return false }")
}

// showByMethod wraps e, when its static type is a script type with an
// Error or String method, or a slice, array or map of such values, so that
// it reaches host code as its text (see fmtCall): fmt.Println(ps) of a
// []Point prints [(1,2) (3,4)] as in Go.
func (r *rewriter) showByMethod(e ast.Expr) {
	t := r.typeOf(e)
	if t == nil {
		return
	}
	ts, ok := r.typeString(t)
	if !ok {
		return
	}
	expr, ok := r.shownExpr(t, "_nns_x0", 0)
	a, b := r.off(e.Pos()), r.off(e.End())
	if !ok || a < 0 || b < 0 {
		return
	}
	r.usesRT = true
	r.add(a, a, "func(_nns_x0 "+ts+") any { return "+expr+" }(")
	r.add(b, b, ")")
}

// shownExpr returns an expression giving what fmt is to print for x, of
// type t: a value of a script type with an Error or String method as
// _nnsrt.Shown(x.String()) (a nil pointer as itself: fmt prints <nil>),
// a slice, array or map of such values as a []any or map[K]any of shown
// values. It reports false when t holds no such value.
func (r *rewriter) shownExpr(t types.Type, x string, depth int) (string, bool) {
	if depth > 3 {
		return "", false
	}
	if r.scriptType(t) {
		method := ""
		for _, m := range []string{"Error", "String"} {
			if hasStringMethod(t, m) {
				method = m
				break
			}
		}
		if method == "" {
			return "", false
		}
		if _, isPtr := t.Underlying().(*types.Pointer); isPtr {
			ts, ok := r.typeString(t)
			if !ok {
				return "", false
			}
			return "func(_nns_p " + ts + ") any { if _nns_p == nil { return _nns_p }; return " + rtPkgName + ".Shown(_nns_p." + method + "()) }(" + x + ")", true
		}
		return rtPkgName + ".Shown((" + x + ")." + method + "())", true
	}
	var elem, key types.Type
	switch u := t.Underlying().(type) {
	case *types.Slice:
		elem = u.Elem()
	case *types.Array:
		elem = u.Elem()
	case *types.Map:
		key, elem = u.Key(), u.Elem()
	default:
		return "", false
	}
	if _, named := t.(*types.Named); named && r.scriptType(t) {
		return "", false // a named slice type's own methods were handled above
	}
	ts, ok1 := r.typeString(t)
	v := fmt.Sprintf("_nns_x%d", depth+1)
	ex, ok2 := r.shownExpr(elem, v, depth+1)
	if !ok1 || !ok2 {
		return "", false
	}
	i := fmt.Sprintf("_nns_i%d", depth+1)
	o := fmt.Sprintf("_nns_o%d", depth+1)
	if key != nil {
		ks, ok := r.typeString(key)
		if !ok {
			return "", false
		}
		return "func(_nns_m " + ts + ") map[" + ks + "]any { if _nns_m == nil { return nil }; " + o + " := make(map[" + ks + "]any, len(_nns_m)); for " + i + ", " + v + " := range _nns_m { " +
			o + "[" + i + "] = " + ex + " }; return " + o + " }(" + x + ")", true
	}
	return "func(_nns_s " + ts + ") []any { " + o + " := make([]any, len(_nns_s)); for " + i + ", " + v + " := range _nns_s { " +
		o + "[" + i + "] = " + ex + " }; return " + o + " }(" + x + ")", true
}

// scriptType reports whether t is a named type the script declares, or a
// pointer to one.
func (r *rewriter) scriptType(t types.Type) bool {
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	nt, ok := t.(*types.Named)
	if !ok || types.IsInterface(nt) {
		return false
	}
	pkg := nt.Obj().Pkg()
	return pkg != nil && pkg.Path() == "main"
}

// hasStringMethod reports whether t's method set has name() string.
func hasStringMethod(t types.Type, name string) bool {
	sel := types.NewMethodSet(t).Lookup(nil, name)
	if sel == nil {
		return false
	}
	sig, ok := sel.Type().(*types.Signature)
	if !ok || sig.Params().Len() != 0 || sig.Results().Len() != 1 {
		return false
	}
	b, ok := sig.Results().At(0).Type().(*types.Basic)
	return ok && b.Kind() == types.String
}

// formatW returns, for each operand a format uses in order, whether its
// verb is %w (formats formatVerbs does not follow give nil).
func formatW(f string) []bool {
	if _, ok := formatVerbs(f); !ok {
		return nil
	}
	var out []bool
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		i++
		for i < len(f) && strings.IndexByte("+-# 0123456789.", f[i]) >= 0 {
			i++
		}
		if i < len(f) && f[i] != '%' {
			out = append(out, f[i] == 'w')
		}
	}
	return out
}

// formatVerbs returns, for each operand a format uses in order, whether
// its verb shows a Stringer through String (%v without #, %s, %q, %x,
// %X). It reports false for formats it does not follow (* widths,
// explicit argument indexes).
func formatVerbs(f string) ([]bool, bool) {
	var out []bool
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		i++
		sharp := false
		for i < len(f) && strings.IndexByte("+-# 0", f[i]) >= 0 {
			sharp = sharp || f[i] == '#'
			i++
		}
		for i < len(f) && (f[i] >= '0' && f[i] <= '9' || f[i] == '.') {
			i++
		}
		if i >= len(f) {
			return out, true
		}
		switch f[i] {
		case '%':
			continue
		case '*', '[':
			return nil, false
		}
		v := f[i]
		out = append(out, (v == 'v' && !sharp) || v == 's' || v == 'q' || v == 'x' || v == 'X')
	}
	return out, true
}

// ---- method values and method expressions of script types ----

// methodValue rewrites a method value or method expression of a script
// type that is not called on the spot. yaegi binds a method value's
// receiver when it is called, not when it is evaluated (bound := c.String;
// c = Blue; bound() gave Blue's string), and a method expression
// (Color.String) panicked when called ("Call with too many input
// arguments"). A method value becomes a function literal called with the
// receiver, which binds it once:
//
//	c.String  ->  func(_nns_r Color) func() string { return _nns_r.String }(c)
//
// (&c for a pointer method of an addressable value), and a method
// expression a function literal that calls the method.
func (r *rewriter) methodValue(n *ast.SelectorExpr) {
	if r.info == nil {
		return
	}
	sel := r.info.Selections[n]
	if sel == nil || (sel.Kind() != types.MethodVal && sel.Kind() != types.MethodExpr) {
		return
	}
	fn, ok := sel.Obj().(*types.Func)
	if !ok || !r.scriptType(sel.Recv()) || types.IsInterface(sel.Recv()) {
		return
	}
	msig, ok := fn.Type().(*types.Signature)
	if !ok {
		return
	}
	a, xe, b := r.off(n.Pos()), r.off(n.X.End()), r.off(n.End())
	if a < 0 || xe < 0 || b < 0 {
		return
	}
	if sel.Kind() == types.MethodVal {
		recv := sel.Recv()
		ptr := false
		if _, isPtr := msig.Recv().Type().(*types.Pointer); isPtr {
			if _, already := recv.Underlying().(*types.Pointer); !already {
				recv, ptr = types.NewPointer(recv), true
			}
		}
		rs, ok1 := r.typeString(recv)
		fs, ok2 := r.typeString(sel.Type())
		if !ok1 || !ok2 {
			return
		}
		pre := "func(_nns_r " + rs + ") " + fs + " { return _nns_r." + n.Sel.Name + " }("
		if ptr {
			pre += "&"
		}
		r.add(a, a, pre)
		r.add(xe, b, ")")
		return
	}
	// Method expression: T.M or (*T).M.
	sig, ok := sel.Type().(*types.Signature)
	if !ok || sig.Params().Len() < 1 {
		return
	}
	var params, args []string
	for i := 0; i < sig.Params().Len(); i++ {
		pt := sig.Params().At(i).Type()
		name := fmt.Sprintf("_nns_p%d", i)
		if sig.Variadic() && i == sig.Params().Len()-1 {
			ts, ok := r.typeString(pt.(*types.Slice).Elem())
			if !ok {
				return
			}
			params = append(params, name+" ..."+ts)
			args = append(args, name+"...")
			continue
		}
		ts, ok := r.typeString(pt)
		if !ok {
			return
		}
		params = append(params, name+" "+ts)
		if i > 0 {
			args = append(args, name)
		}
	}
	var results []string
	for i := 0; i < sig.Results().Len(); i++ {
		ts, ok := r.typeString(sig.Results().At(i).Type())
		if !ok {
			return
		}
		results = append(results, ts)
	}
	call := "_nns_p0." + n.Sel.Name + "(" + strings.Join(args, ", ") + ")"
	body := call
	if len(results) > 0 {
		body = "return " + call
	}
	r.add(a, b, "func("+strings.Join(params, ", ")+") ("+strings.Join(results, ", ")+") { "+body+" }")
}
