package interp

import (
	"fmt"
	"go/ast"
	"go/types"
	"strconv"
	"strings"
)

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
// literal called with v; an assertion to an interface no script type
// implements gets nilAssertLit's nil check instead.
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
			// One walk for both kinds: the outer assertion of
			// v.(io.Writer).(fmt.Stringer) is visited first, so nested
			// wrappers nest in the right order.
			if lit, ok = r.nilAssertLit(ta.Type, comma[ta]); !ok {
				return true
			}
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

// assertTarget reports whether typ, the type of an assertion, is a
// non-empty interface whose assertions the rewriter takes over (assertLit,
// nilAssertLit); it returns the type, its interface and typ's source text.
func (r *rewriter) assertTarget(typ ast.Expr) (t types.Type, it *types.Interface, text string, ok bool) {
	tv, ok := r.info.Types[typ]
	if !ok || !tv.IsType() || !types.IsInterface(tv.Type) {
		return nil, nil, "", false
	}
	it, _ = tv.Type.Underlying().(*types.Interface)
	if it == nil || !it.IsMethodSet() || it.NumMethods() == 0 {
		return nil, nil, "", false
	}
	text = r.text(typ.Pos(), typ.End())
	return tv.Type, it, text, text != ""
}

// assertLit returns a function literal that does the assertion of an
// interface value to the interface type typ, through a type switch on the
// package's types (those implementing it are converted, the others fail
// as in Go); other values (host types, types declared in functions) take
// the assertion as written. With comma it returns (I, bool), else I. It
// reports false where typ is not an interface or no package-level type
// implements it.
func (r *rewriter) assertLit(typ ast.Expr, comma bool) (string, bool) {
	t, it, text, ok := r.assertTarget(typ)
	if !ok {
		return "", false
	}
	goName := func(t types.Type) string {
		return types.TypeString(t, func(p *types.Package) string { return p.Name() })
	}
	iname := goName(t)
	var cases []string
	found := false
	for _, named := range r.scriptTypes() {
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

// mainPackage returns the script's package as the type checker saw it
// (nil if the input declares nothing).
func (r *rewriter) mainPackage() *types.Package {
	for _, o := range r.info.Defs {
		if o != nil && o.Pkg() != nil && o.Pkg().Path() == "main" {
			return o.Pkg()
		}
	}
	return nil
}

// scriptTypes returns the package-level named types of the script that are
// not generic and not interfaces.
func (r *rewriter) scriptTypes() []*types.Named {
	if r.named == nil {
		named := r.findScriptTypes()
		r.named = &named
	}
	return *r.named
}

func (r *rewriter) findScriptTypes() []*types.Named {
	pkg := r.mainPackage()
	if pkg == nil {
		return nil
	}
	var out []*types.Named
	scope := pkg.Scope()
	for _, name := range scope.Names() {
		tn, ok := scope.Lookup(name).(*types.TypeName)
		if !ok || tn.IsAlias() {
			continue
		}
		if named, ok := tn.Type().(*types.Named); ok && named.TypeParams().Len() == 0 && !types.IsInterface(named) {
			out = append(out, named)
		}
	}
	return out
}
