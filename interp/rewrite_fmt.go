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
	if !ok {
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
	if n.Ellipsis.IsValid() {
		// fmt.Println(vs...): the operands are the slice's elements.
		if from < 0 || len(n.Args) != from+1 {
			return
		}
		arg := n.Args[from]
		t := r.typeOf(arg)
		if t == nil {
			return
		}
		ts, ok1 := r.typeString(t)
		ex, ok2 := r.shownExpr(t, "_nns_x0", 0)
		a, z := r.off(arg.Pos()), r.off(arg.End())
		if !ok1 || !ok2 || a < 0 || z < 0 {
			return
		}
		r.usesRT = true
		r.add(a, a, "func(_nns_x0 "+ts+") []any { return "+ex+" }(")
		r.add(z, z, ")")
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
		vs, ok := scanFormat(constant.StringVal(tv.Value))
		if !ok {
			return
		}
		for k, v := range vs {
			verbs[fi+1+k] = v.showsText()
			wrapped[fi+1+k] = v.c == 'w'
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
	vs, _ := scanFormat(raw)
	for k, v := range vs {
		if k >= len(operands) || v.c != 'T' {
			continue
		}
		off := v.off
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
	if !ok || !r.scriptType(pt.Elem()) {
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
	if types.IsInterface(t) {
		r.showInterface(e)
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

// showInterface wraps e, of an interface type, so that a value of a
// script type in it reaches fmt as Go would print it: yaegi keeps a
// script value with methods in an interface as its own wrapper, which fmt
// printed as {0xc000... {0xc000... 409}}; and fmt could not see its
// String or Error method. The script's types with one are tried in turn,
// anything else is unwrapped (_nnsrt.Unwrap):
//
//	x  ->  func(_nns_v any) any { if _nns_c, _nns_ok := _nns_v.(P); _nns_ok { return _nnsrt.Shown(_nns_c.String()) }; ...; return _nnsrt.Unwrap(_nns_v) }(x)
func (r *rewriter) showInterface(e ast.Expr) {
	lit, ok := r.interfaceShown()
	a, z := r.off(e.Pos()), r.off(e.End())
	if !ok || a < 0 || z < 0 {
		return
	}
	r.usesRT = true
	r.add(a, a, lit+"(")
	r.add(z, z, ")")
}

// interfaceShown returns showInterface's function literal, of an any
// (false when the script declares no types).
func (r *rewriter) interfaceShown() (string, bool) {
	if r.shown == nil {
		lit, _ := r.buildInterfaceShown()
		r.shown = &lit
	}
	return *r.shown, *r.shown != ""
}

func (r *rewriter) buildInterfaceShown() (string, bool) {
	named := r.scriptTypes()
	if len(named) == 0 {
		return "", false // no script types: nothing of the script's to unwrap
	}
	var b strings.Builder
	b.WriteString("func(_nns_v any) any { if _nns_v == nil { return nil }; ")
	for _, n := range named {
		for _, ct := range []types.Type{n, types.NewPointer(n)} {
			ret, ok := r.shownExpr(ct, "_nns_c", 0)
			ts, ok2 := r.typeString(ct)
			if !ok || !ok2 {
				continue
			}
			b.WriteString("if _nns_c, _nns_ok := " + concreteAssert("_nns_v", ts, ct) + "; _nns_ok { return " + ret + " }; ")
		}
	}
	b.WriteString("return " + rtPkgName + ".Unwrap(_nns_v) }")
	return b.String(), true
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
	if types.IsInterface(t) {
		lit, ok := r.interfaceShown()
		return lit + "(" + x + ")", ok
	}
	if r.scriptType(t) {
		method := textMethod(t)
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

// textMethod returns the method fmt would print a value of type t with:
// Error, else String, if t's method set has it as name() string; "" if
// neither.
func textMethod(t types.Type) string {
	for _, m := range []string{"Error", "String"} {
		if hasStringMethod(t, m) {
			return m
		}
	}
	return ""
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

// fmtVerb is one operand's verb in a format: the letter, its offset in
// the format, and whether the # flag is set.
type fmtVerb struct {
	c     byte
	off   int
	sharp bool
}

// scanFormat returns the verbs of a format (or of a format literal's
// source text, whose escapes hold no %) in operand order. It reports false
// for formats it does not follow (* widths, explicit argument indexes).
func scanFormat(f string) ([]fmtVerb, bool) {
	var out []fmtVerb
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
		out = append(out, fmtVerb{c: f[i], off: i, sharp: sharp})
	}
	return out, true
}

// showsText reports whether verb v prints a Stringer through String (%v
// without #, %s, %q, %x, %X).
func (v fmtVerb) showsText() bool {
	return (v.c == 'v' && !v.sharp) || v.c == 's' || v.c == 'q' || v.c == 'x' || v.c == 'X'
}
