package interp

import (
	"fmt"
	"go/ast"
	"go/types"
	"strings"
)

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
	if !ok || !r.scriptType(sel.Recv()) {
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
