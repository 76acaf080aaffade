package interp

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"strings"
)

// ---- range over a function (Go 1.23 iterators) ----
//
// yaegi v0.16.1 cannot range over a function (#1701). A loop over an
// iterator of package slices or maps ranges over its values collected
// first (rangeStdIterator); any other
//
//	for k, v := range seq { BODY }
//
// becomes a call of seq with the body as its yield function:
//
//	{ var _nns_sN int; seq((func(k K, v V) bool { if _nns_sN != 0 { _nnsrt.RangeDone(_nns_sN) }; BODY; return true })); _nns_sN = 2 }
//
// Inside BODY, `continue` of the loop becomes `return true` and `break`
// `{ _nns_sN = 1; return false }`. A statement that leaves the loop
// otherwise (a return of the enclosing function, a labeled break or
// continue of an outer statement) records a code in _nns_cN (the results
// in variables declared by the outermost such loop of the function) and
// returns false; after the call, `if _nns_cN == code { ... }` does it.
// Nested loops pass it on outward the same way. The iteration variables
// are parameters, so each iteration has its own (Go 1.22 semantics). As in
// Go, calling yield after the body returned false, or after the loop
// ended, panics (_nns_sN is 1, 2). A defer in the body (it would run at the
// end of each iteration) and a goto out of it are errors. With `=`, the
// parameters are fresh names assigned to the variables first thing. In a
// session, a top-level statement holding such a loop runs inside a
// closure (rfRoot, see Eval): its variables would be globals. A range
// over a value of a type parameter's type is not rewritten (yaegi's
// "nil type").
//
// The edits are added after every other rewrite (see run): the text that
// ends a rewritten return must follow the insertions at the return's end.

// rfLoop is a range-over-function loop being rewritten.
type rfLoop struct {
	n       *ast.RangeStmt
	labeled *ast.LabeledStmt // its label, nil if none
	id      int
	top     *rfLoop    // outermost range-over-function loop of the function (itself if none encloses it)
	params  []string   // types of the yield function's parameters
	codes   []rfAction // exits other than break and continue of this loop: code i+1
	rv      bool       // top only: returns with results, kept in _nns_rvN_i
}

// rfAction is a way out of a loop body other than its own break/continue.
type rfAction struct {
	tok   token.Token // RETURN, BREAK, CONTINUE
	label string      // BREAK, CONTINUE
	bare  bool        // RETURN without results
}

func (l *rfLoop) code(a rfAction) int {
	for i, c := range l.codes {
		if c == a {
			return i + 1
		}
	}
	l.codes = append(l.codes, a)
	return len(l.codes)
}

type rfFrame struct {
	label     string
	loop      bool // a continue target
	breakable bool
	rf        *rfLoop
}

// rfFunc is the function whose body is walked.
type rfFunc struct {
	sig    *types.Signature
	stack  []rfFrame
	labels map[string]token.Pos // label -> position of its statement
	gotos  map[string]bool      // labels a goto names
	edits  []edit
}

// rangeFuncs rewrites the range-over-function loops of every function of f.
func (r *rewriter) rangeFuncs(f *ast.File) {
	if r.info == nil {
		return
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncDecl:
			if n.Body != nil {
				r.rfBody(r.declSig(n), n.Body)
			}
		case *ast.FuncLit:
			sig, _ := r.typeOf(n).(*types.Signature)
			r.rfBody(sig, n.Body)
		}
		return true
	})
}

func (r *rewriter) rfBody(sig *types.Signature, body *ast.BlockStmt) {
	fn := &rfFunc{sig: sig, labels: map[string]token.Pos{}, gotos: map[string]bool{}}
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.LabeledStmt:
			fn.labels[n.Label.Name] = n.Pos()
		case *ast.BranchStmt:
			if n.Tok == token.GOTO && n.Label != nil {
				fn.gotos[n.Label.Name] = true
			}
		}
		return true
	})
	root := body == r.rootBody
	for _, s := range body.List {
		if root {
			r.rfRootStmt = s
		}
		r.rfStmt(fn, s, nil)
	}
	r.rfRootStmt = nil
	r.edits = append(r.edits, fn.edits...)
}

func (r *rewriter) rfStmt(fn *rfFunc, s ast.Stmt, lab *ast.LabeledStmt) {
	label := ""
	if lab != nil {
		label = lab.Label.Name
	}
	push := func(f rfFrame) { f.label = label; fn.stack = append(fn.stack, f) }
	pop := func() { fn.stack = fn.stack[:len(fn.stack)-1] }
	switch s := s.(type) {
	case *ast.LabeledStmt:
		r.rfStmt(fn, s.Stmt, s)
	case *ast.BlockStmt:
		r.rfList(fn, s.List)
	case *ast.IfStmt:
		r.rfList(fn, s.Body.List)
		if s.Else != nil {
			r.rfStmt(fn, s.Else, nil)
		}
	case *ast.ForStmt:
		push(rfFrame{loop: true, breakable: true})
		r.rfList(fn, s.Body.List)
		pop()
	case *ast.RangeStmt:
		l := r.rfLoopOf(fn, s)
		if l != nil {
			l.labeled = lab
		}
		push(rfFrame{loop: true, breakable: true, rf: l})
		r.rfList(fn, s.Body.List)
		pop()
		if l != nil {
			r.rfEmit(fn, l)
		}
	case *ast.SwitchStmt:
		push(rfFrame{breakable: true})
		for _, c := range s.Body.List {
			r.rfList(fn, c.(*ast.CaseClause).Body)
		}
		pop()
	case *ast.TypeSwitchStmt:
		push(rfFrame{breakable: true})
		for _, c := range s.Body.List {
			r.rfList(fn, c.(*ast.CaseClause).Body)
		}
		pop()
	case *ast.SelectStmt:
		push(rfFrame{breakable: true})
		for _, c := range s.Body.List {
			r.rfList(fn, c.(*ast.CommClause).Body)
		}
		pop()
	case *ast.BranchStmt:
		r.rfBranch(fn, s)
	case *ast.ReturnStmt:
		r.rfReturn(fn, s)
	case *ast.DeferStmt:
		if fn.innermost() != nil {
			r.errorf(s.Pos(), "defer in the body of a range over a function is not supported by the interpreter (the body runs as a function, so it would run at the end of each iteration): move the defer out of the loop")
		}
	}
}

func (r *rewriter) rfList(fn *rfFunc, list []ast.Stmt) {
	for _, s := range list {
		r.rfStmt(fn, s, nil)
	}
}

func (fn *rfFunc) innermost() *rfLoop {
	if i := fn.innermostIndex(); i >= 0 {
		return fn.stack[i].rf
	}
	return nil
}

// innermostIndex is the stack index of the innermost loop being rewritten,
// -1 when none.
func (fn *rfFunc) innermostIndex() int {
	for i := len(fn.stack) - 1; i >= 0; i-- {
		if fn.stack[i].rf != nil {
			return i
		}
	}
	return -1
}

// rangesOverFunc returns the iterator's signature when s is a loop that
// rangeFuncs rewrites (a range over a function that is not an iterator of
// package slices or maps), else nil.
func (r *rewriter) rangesOverFunc(s *ast.RangeStmt) *types.Signature {
	t := r.typeOf(s.X)
	if t == nil {
		return nil
	}
	sig, ok := t.Underlying().(*types.Signature)
	if !ok {
		return nil
	}
	if _, std := r.stdIteratorTypes(s, sig); std {
		return nil
	}
	return sig
}

// rfLoopOf returns the loop to rewrite if s ranges over a function that
// is not an iterator of package slices or maps (nil otherwise).
func (r *rewriter) rfLoopOf(fn *rfFunc, s *ast.RangeStmt) *rfLoop {
	sig := r.rangesOverFunc(s)
	if sig == nil {
		return nil
	}
	unsupported := func(format string, args ...any) *rfLoop {
		r.errorf(s.X.Pos(), "range over function is not supported by the interpreter here: "+format, args...)
		return nil
	}
	if sig.Params().Len() != 1 || sig.Results().Len() != 0 {
		return unsupported("not an iterator")
	}
	yield, ok := sig.Params().At(0).Type().Underlying().(*types.Signature)
	if !ok || yield.Params().Len() > 2 || yield.Results().Len() != 1 {
		return unsupported("not an iterator")
	}
	l := &rfLoop{n: s}
	for i := 0; i < yield.Params().Len(); i++ {
		ts, ok := r.typeString(yield.Params().At(i).Type())
		if !ok {
			return unsupported("its value type %s cannot be named in this file", yield.Params().At(i).Type())
		}
		l.params = append(l.params, ts)
	}
	if s.Tok == token.ASSIGN {
		for _, e := range []ast.Expr{s.Key, s.Value} {
			if e == nil {
				continue
			}
			if _, ok := e.(*ast.Ident); !ok {
				return unsupported("assign the values to variables (for k, v = range f), or define them (:=) and assign them in the body")
			}
		}
	}
	r.tmpCount++
	l.id = r.tmpCount
	l.top = l
	if in := fn.innermost(); in != nil {
		l.top = in.top
	}
	if r.rfRootStmt != nil {
		if r.rfRoot == nil {
			r.rfRoot = map[ast.Stmt]bool{}
		}
		r.rfRoot[r.rfRootStmt] = true
	}
	return l
}

// rfJump returns the text that performs a (a branch to a label, or a
// return with its results in the top loop's variables) from the current
// point of fn's walk, or "" when the statement needs no rewrite there.
func (r *rewriter) rfJump(fn *rfFunc, a rfAction) string {
	ri := fn.innermostIndex()
	if a.tok == token.RETURN {
		if ri < 0 {
			return ""
		}
		l := fn.stack[ri].rf
		return fmt.Sprintf("{ _nns_c%d = %d; _nns_s%d = 1; return false }", l.id, l.code(a), l.id)
	}
	ti := -1
	for i := len(fn.stack) - 1; i >= 0; i-- {
		f := fn.stack[i]
		if a.label != "" && f.label == a.label || a.label == "" && (a.tok == token.CONTINUE && f.loop || a.tok == token.BREAK && f.breakable) {
			ti = i
			break
		}
	}
	if ti < 0 || ti > ri {
		return "" // in the body, or no loop body to leave
	}
	l := fn.stack[ri].rf
	if ti == ri {
		if a.tok == token.CONTINUE {
			return "return true"
		}
		return fmt.Sprintf("{ _nns_s%d = 1; return false }", l.id)
	}
	return fmt.Sprintf("{ _nns_c%d = %d; _nns_s%d = 1; return false }", l.id, l.code(a), l.id)
}

func (r *rewriter) rfBranch(fn *rfFunc, s *ast.BranchStmt) {
	l := fn.innermost()
	if l == nil {
		return
	}
	switch s.Tok {
	case token.GOTO:
		if s.Label == nil {
			return
		}
		if p, ok := fn.labels[s.Label.Name]; !ok || p < l.n.Body.Lbrace || p > l.n.Body.Rbrace {
			r.errorf(s.Pos(), "goto out of the body of a range over a function is not supported by the interpreter")
		}
		return
	case token.BREAK, token.CONTINUE:
	default:
		return
	}
	a := rfAction{tok: s.Tok}
	if s.Label != nil {
		a.label = s.Label.Name
	}
	if text := r.rfJump(fn, a); text != "" {
		fn.add(r.off(s.Pos()), r.off(s.End()), text)
	}
}

func (r *rewriter) rfReturn(fn *rfFunc, s *ast.ReturnStmt) {
	l := fn.innermost()
	if l == nil {
		return
	}
	a := rfAction{tok: token.RETURN, bare: len(s.Results) == 0}
	jump := r.rfJump(fn, a)
	if a.bare {
		fn.add(r.off(s.Pos()), r.off(s.End()), jump)
		return
	}
	l.top.rv = true
	n := 1
	if fn.sig != nil {
		n = fn.sig.Results().Len()
	}
	vars := make([]string, n)
	for i := range vars {
		vars[i] = fmt.Sprintf("_nns_rv%d_%d", l.top.id, i)
	}
	if n == 0 {
		vars = []string{"_"} // results where there are none: yaegi reports it
	}
	p := r.off(s.Pos())
	if len(s.Results) == len(vars) {
		// One assignment each: yaegi v0.16.1 failed on `a, b = x, nil`
		// ("reflect: New(nil)") and lost a in `a, b = 1, f()` assigned
		// in a closure.
		fn.add(p, p+len("return"), "{ "+vars[0]+" = ")
		for i := 1; i < len(vars); i++ {
			fn.add(r.off(s.Results[i-1].End()), r.off(s.Results[i].Pos()), "; "+vars[i]+" = ")
		}
	} else {
		fn.add(p, p+len("return"), "{ "+strings.Join(vars, ", ")+" = ")
	}
	e := r.off(s.End())
	fn.add(e, e, "; "+jump+" }")
}

func (fn *rfFunc) add(from, to int, text string) {
	if from < 0 || to < from {
		return
	}
	fn.edits = append(fn.edits, edit{off: from, end: to, text: text})
}

// rfEmit rewrites loop l, whose body has been walked; fn's stack is the
// loop's surroundings.
func (r *rewriter) rfEmit(fn *rfFunc, l *rfLoop) {
	n := l.n
	for_, x0, x1 := r.off(n.For), r.off(n.X.Pos()), r.off(n.X.End())
	lb, rb := r.off(n.Body.Lbrace), r.off(n.Body.Rbrace)
	if for_ < 0 || x0 < 0 || x1 < 0 || lb < 0 || rb < 0 {
		return
	}
	var head strings.Builder
	fmt.Fprintf(&head, "{ var _nns_s%d int; ", l.id)
	if len(l.codes) > 0 {
		fmt.Fprintf(&head, "var _nns_c%d int; ", l.id)
	}
	if l.top == l && l.rv {
		if fn.sig == nil {
			r.errorf(n.X.Pos(), "range over function is not supported by the interpreter here: the results of the enclosing function are unknown")
			return
		}
		for i := 0; i < fn.sig.Results().Len(); i++ {
			ts, ok := r.typeString(fn.sig.Results().At(i).Type())
			if !ok {
				r.errorf(n.X.Pos(), "range over function is not supported by the interpreter here: return in its body, and the result type %s cannot be named", fn.sig.Results().At(i).Type())
				return
			}
			fmt.Fprintf(&head, "var _nns_rv%d_%d %s; ", l.id, i, ts)
		}
	}
	if l.labeled != nil {
		if fn.gotos[l.labeled.Label.Name] {
			r.errorf(l.labeled.Pos(), "goto to a range over a function is not supported by the interpreter")
			return
		}
		a, b := r.off(l.labeled.Label.Pos()), r.off(l.labeled.Colon)
		if a >= 0 && b >= a {
			fn.add(a, b+1, "")
		}
	}
	// Parameters: the iteration variables (defined), or fresh ones assigned
	// to them (=).
	names := []string{"_", "_"}
	var assign []string
	for i, e := range []ast.Expr{n.Key, n.Value} {
		id, ok := e.(*ast.Ident)
		if !ok || id.Name == "_" {
			continue
		}
		if n.Tok == token.DEFINE {
			names[i] = id.Name
		} else {
			names[i] = fmt.Sprintf("_nns_%c%d", "kv"[i], l.id)
			assign = append(assign, id.Name+" = "+names[i])
		}
	}
	var params []string
	for i, ts := range l.params {
		params = append(params, names[i]+" "+ts)
	}
	// yaegi reports a panic in the function at its first statement, the
	// check: at the offset of the range expression's end (the rewriter's
	// fnOff for the body, see protectOwnSite). It comes before the marker
	// of an empty body: a panic of the check is the iterator's.
	mid := fmt.Sprintf("((func(%s) bool { if _nns_s%d != 0 { %s.RangeDone(_nns_s%d) }; ", strings.Join(params, ", "), l.id, rtPkgName, l.id)
	for _, a := range assign {
		mid += a + "; "
	}
	var tail strings.Builder
	fmt.Fprintf(&tail, "; return true })); _nns_s%d = 2; ", l.id)
	for i, a := range l.codes {
		text := r.rfJump(fn, a)
		if text == "" {
			switch a.tok {
			case token.RETURN:
				if a.bare {
					text = "return"
				} else {
					var vars []string
					for j := 0; fn.sig != nil && j < fn.sig.Results().Len(); j++ {
						vars = append(vars, fmt.Sprintf("_nns_rv%d_%d", l.top.id, j))
					}
					text = "return " + strings.Join(vars, ", ")
				}
			default:
				text = a.tok.String() + " " + a.label
			}
		}
		fmt.Fprintf(&tail, "if _nns_c%d == %d { %s }; ", l.id, i+1, text)
	}
	tail.WriteString("}")
	r.usesRT = true
	fn.add(for_, x0, head.String())
	fn.add(x1, lb+1, mid)
	fn.add(rb, rb+1, tail.String())
}
