package interp

import (
	"go/ast"
	"go/types"
	"reflect"
	"strconv"
	"strings"
)

// ---- encoding/json and the struct types yaegi builds ----
//
// yaegi v0.16.1 builds a script's struct types with reflect.StructOf: an
// unexported field becomes an exported field named "X"+name, and an
// embedded field is marked embedded only when it is the struct's only
// field. Methods of script types are invisible to reflect. So
// encoding/json, which works on the reflect types, encoded unexported
// fields ("Xscore":0), nested embedded structs under their type name
// instead of promoting their fields, and ignored MarshalJSON methods.

// structTags gives the fields of a script struct type that encoding/json
// must not see, as Go's encoding/json does not, the tag json:"-":
// unexported fields and embedded fields of types that contribute nothing
// (an unexported non-struct type, a struct type without exported fields
// such as sync.Mutex).
func (r *rewriter) structTags(st *ast.StructType) {
	if st.Fields == nil {
		return
	}
	s, _ := r.typeOf(st).(*types.Struct)
	for _, f := range st.Fields.List {
		tag := ""
		if f.Tag != nil {
			t, err := strconv.Unquote(f.Tag.Value)
			if err != nil {
				continue
			}
			tag = t
		}
		if v, ok := reflect.StructTag(tag).Lookup("json"); ok && (v == "-" || len(f.Names) == 0) {
			continue // a tagged embedded field is a named field for both
		}
		hide := false
		if len(f.Names) > 0 {
			hide = true
			mixed := false
			for _, n := range f.Names {
				if n.IsExported() {
					hide = false
				} else {
					mixed = true
				}
			}
			if mixed && !hide {
				r.splitNames(f, tag)
				continue
			}
		} else if s != nil && s.NumFields() > 1 {
			// yaegi marks an only field embedded: encoding/json gets it right.
			t := r.typeOf(f.Type)
			if t == nil {
				continue
			}
			hide = !jsonVisibleEmbedded(t, nil)
		}
		if !hide {
			continue
		}
		lit := hiddenTag(tag)
		if f.Tag != nil {
			r.add(r.off(f.Tag.Pos()), r.off(f.Tag.End()), lit)
		} else if e := r.off(f.Type.End()); e >= 0 {
			r.add(e, e, " "+lit)
		}
	}
}

// hiddenTag is the tag literal for a field with tag that encoding/json
// must skip.
func hiddenTag(tag string) string {
	t := strings.TrimSpace(dropTagKey(tag, "json") + ` json:"-"`)
	if strings.Contains(t, "`") {
		return strconv.Quote(t)
	}
	return "`" + t + "`"
}

// splitNames declares the names of a field list that mixes exported and
// unexported names (A, b int) one by one, the unexported ones with the tag
// json:"-".
func (r *rewriter) splitNames(f *ast.Field, tag string) {
	typ := r.text(f.Type.Pos(), f.Type.End())
	if typ == "" || strings.Contains(typ, "struct") || strings.Contains(typ, "func") || strings.Contains(typ, "interface") {
		return // keep rewrites inside the type in one place
	}
	lit := func(n *ast.Ident) string {
		if !n.IsExported() {
			return hiddenTag(tag)
		}
		if f.Tag != nil {
			return f.Tag.Value
		}
		return ""
	}
	for i := 0; i+1 < len(f.Names); i++ {
		a, b := r.off(f.Names[i].End()), r.off(f.Names[i+1].Pos())
		if a < 0 || b < 0 {
			return
		}
		r.add(a, b, " "+typ+" "+lit(f.Names[i])+"; ")
	}
	last := f.Names[len(f.Names)-1]
	if last.IsExported() {
		return
	}
	if f.Tag != nil {
		r.add(r.off(f.Tag.Pos()), r.off(f.Tag.End()), lit(last))
	} else if e := r.off(f.Type.End()); e >= 0 {
		r.add(e, e, " "+lit(last))
	}
}

// dropTagKey returns tag without the key's key:"value" pair (the
// conventional format that reflect.StructTag.Lookup parses).
func dropTagKey(tag, key string) string {
	var out []string
	for tag != "" {
		i := 0
		for i < len(tag) && tag[i] == ' ' {
			i++
		}
		tag = tag[i:]
		if tag == "" {
			break
		}
		i = 0
		for i < len(tag) && tag[i] > ' ' && tag[i] != ':' && tag[i] != '"' && tag[i] != 0x7f {
			i++
		}
		if i == 0 || i+1 >= len(tag) || tag[i] != ':' || tag[i+1] != '"' {
			out = append(out, tag) // not conventional: keep the rest
			break
		}
		name := tag[:i]
		j := i + 2
		for j < len(tag) && tag[j] != '"' {
			if tag[j] == '\\' {
				j++
			}
			j++
		}
		if j >= len(tag) {
			out = append(out, tag)
			break
		}
		if name != key {
			out = append(out, tag[:j+1])
		}
		tag = tag[j+1:]
	}
	return strings.Join(out, " ")
}

// jsonVisibleEmbedded reports whether encoding/json encodes anything for an
// untagged embedded field of type t.
func jsonVisibleEmbedded(t types.Type, seen map[types.Type]bool) bool {
	exported := false
	if p, ok := types.Unalias(t).(*types.Pointer); ok {
		t = p.Elem()
	}
	t = types.Unalias(t)
	if n, ok := t.(*types.Named); ok {
		exported = n.Obj().Exported()
	}
	st, ok := t.Underlying().(*types.Struct)
	if !ok {
		return exported
	}
	return jsonVisibleFields(st, seen)
}

// jsonVisibleFields reports whether encoding/json encodes any field of st.
func jsonVisibleFields(st *types.Struct, seen map[types.Type]bool) bool {
	if seen == nil {
		seen = map[types.Type]bool{}
	}
	if seen[st] {
		return false
	}
	seen[st] = true
	for i := 0; i < st.NumFields(); i++ {
		f := st.Field(i)
		if v, ok := reflect.StructTag(st.Tag(i)).Lookup("json"); ok {
			if v == "-" {
				continue
			}
			if f.Exported() {
				return true
			}
		}
		if !f.Embedded() {
			if f.Exported() {
				return true
			}
			continue
		}
		if jsonVisibleEmbedded(f.Type(), seen) {
			return true
		}
	}
	return false
}

var jsonFuncs = map[string]int{ // function -> index of the value argument
	"encoding/json.Marshal":           0,
	"encoding/json.MarshalIndent":     0,
	"encoding/json.Unmarshal":         1,
	"(*encoding/json.Encoder).Encode": 0,
	"(*encoding/json.Decoder).Decode": 0,
}

// jsonCall reports, at a call of encoding/json with a value whose static
// type reaches a script type encoding/json would get wrong in the
// interpreter, a clear error instead of silently different JSON.
func (r *rewriter) jsonCall(n *ast.CallExpr) {
	sel, ok := n.Fun.(*ast.SelectorExpr)
	if !ok || r.info == nil {
		return
	}
	fn, ok := r.info.Uses[sel.Sel].(*types.Func)
	if !ok {
		return
	}
	i, ok := jsonFuncs[fn.FullName()]
	if !ok || i >= len(n.Args) {
		return
	}
	t := r.typeOf(n.Args[i])
	if t == nil {
		return
	}
	if msg := jsonProblem(t, map[types.Type]bool{}); msg != "" {
		what := "json." + fn.Name()
		if sig, ok := fn.Type().(*types.Signature); ok && sig.Recv() != nil {
			what = "json " + fn.Name()
		}
		r.errorf(n.Args[i].Pos(), "%s: %s", what, msg)
	}
}

// jsonProblem describes what the interpreter's encoding/json gets wrong
// for values of static type t ("" when nothing).
func jsonProblem(t types.Type, seen map[types.Type]bool) string {
	t = types.Unalias(t)
	if seen[t] {
		return ""
	}
	seen[t] = true
	switch u := t.(type) {
	case *types.Pointer:
		return jsonProblem(u.Elem(), seen)
	case *types.Slice:
		return jsonProblem(u.Elem(), seen)
	case *types.Array:
		return jsonProblem(u.Elem(), seen)
	case *types.Map:
		if m := jsonProblem(u.Key(), seen); m != "" {
			return m
		}
		return jsonProblem(u.Elem(), seen)
	case *types.Named:
		if u.Obj().Pkg() == nil || u.Obj().Pkg().Path() != "main" {
			return "" // a host type: a real reflect type with its methods
		}
		for _, m := range []string{"MarshalJSON", "UnmarshalJSON", "MarshalText", "UnmarshalText"} {
			if obj, _, _ := types.LookupFieldOrMethod(types.NewPointer(u), true, u.Obj().Pkg(), m); obj != nil {
				if _, isFunc := obj.(*types.Func); isFunc {
					return "type " + u.Obj().Name() + " has a " + m + " method, which encoding/json cannot see in the interpreter (methods of script types are not visible to reflection): convert the value to a plain struct, map or string yourself before encoding (or decode into one)"
				}
			}
		}
		if st, ok := u.Underlying().(*types.Struct); ok {
			return jsonStructProblem(st, u.Obj().Name(), seen)
		}
		return jsonProblem(u.Underlying(), seen)
	case *types.Struct:
		return jsonStructProblem(u, "struct{...}", seen)
	}
	return ""
}

func jsonStructProblem(st *types.Struct, name string, seen map[types.Type]bool) string {
	for i := 0; i < st.NumFields(); i++ {
		f := st.Field(i)
		v, tagged := reflect.StructTag(st.Tag(i)).Lookup("json")
		if v == "-" {
			continue
		}
		if f.Embedded() && !tagged && st.NumFields() > 1 && jsonVisibleEmbedded(f.Type(), nil) {
			if _, isStruct := deref(f.Type()).Underlying().(*types.Struct); isStruct {
				return "struct " + name + " embeds " + f.Name() + " next to other fields; the interpreter cannot promote an embedded struct's fields, so encoding/json would nest them under \"" + f.Name() + "\" instead of inlining them as Go does: give the field a name (and a json tag), or copy the fields into the outer struct"
			}
		}
		if !f.Exported() && !f.Embedded() {
			continue
		}
		if m := jsonProblem(f.Type(), seen); m != "" {
			return m
		}
	}
	return ""
}

func deref(t types.Type) types.Type {
	t = types.Unalias(t)
	if p, ok := t.(*types.Pointer); ok {
		return types.Unalias(p.Elem())
	}
	return t
}
