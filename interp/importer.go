package interp

import (
	"fmt"
	"go/constant"
	"go/token"
	"go/types"
	"path"
	"reflect"
	"sort"
	"strings"
)

// symImporter builds go/types packages from yaegi symbol tables, so the
// source rewriter can type-check scripts that use host packages.
type symImporter struct {
	syms  map[string]map[string]reflect.Value // import path -> symbols
	pkgs  map[string]*types.Package
	named map[reflect.Type]*types.Named
}

func newSymImporter(tables []map[string]map[string]reflect.Value) *symImporter {
	im := &symImporter{
		syms:  map[string]map[string]reflect.Value{},
		pkgs:  map[string]*types.Package{},
		named: map[reflect.Type]*types.Named{},
	}
	for _, t := range tables {
		for k, v := range t {
			p := path.Dir(k)
			if im.syms[p] == nil {
				im.syms[p] = map[string]reflect.Value{}
			}
			for n, s := range v {
				im.syms[p][n] = s
			}
		}
	}
	return im
}

func (im *symImporter) pkg(p string) *types.Package {
	if pk := im.pkgs[p]; pk != nil {
		return pk
	}
	name := path.Base(p)
	if strings.HasPrefix(name, "v") && len(name) > 1 && name[1] >= '0' && name[1] <= '9' {
		name = path.Base(path.Dir(p)) // math/rand/v2 -> rand
	}
	pk := types.NewPackage(p, name)
	im.pkgs[p] = pk
	return pk
}

// Import implements types.Importer. The generic packages (slices, maps,
// cmp) are checked from the sources the interpreter runs (generic.go).
func (im *symImporter) Import(p string) (*types.Package, error) {
	if pk := im.pkgs[p]; pk != nil && pk.Complete() {
		return pk, nil
	}
	if gp, err := im.genericPackage(p); gp != nil || err != nil {
		if err != nil {
			return nil, err
		}
		im.pkgs[p] = gp
		return gp, nil
	}
	pk := im.pkg(p)
	syms, ok := im.syms[p]
	if !ok {
		return nil, fmt.Errorf("package %s not known", p)
	}
	names := make([]string, 0, len(syms))
	for n := range syms {
		names = append(names, n)
	}
	sort.Strings(names)
	sc := pk.Scope()
	for _, n := range names {
		if !token.IsExported(n) {
			continue
		}
		v := syms[n]
		if !v.IsValid() {
			continue
		}
		if sc.Lookup(n) != nil {
			continue
		}
		switch {
		case v.CanAddr(): // variable
			sc.Insert(types.NewVar(token.NoPos, pk, n, im.typ(v.Type())))
		case v.Kind() == reflect.Ptr && v.IsNil(): // type
			t := v.Type().Elem()
			if nt, ok := im.typ(t).(*types.Named); ok && nt.Obj().Pkg() == pk && nt.Obj().Name() == n {
				sc.Insert(nt.Obj())
			} else {
				sc.Insert(types.NewTypeName(token.NoPos, pk, n, im.typ(t)))
			}
		case v.Kind() == reflect.Func:
			if sig, ok := im.typ(v.Type()).(*types.Signature); ok {
				sc.Insert(types.NewFunc(token.NoPos, pk, n, sig))
			}
		default:
			if cv, ok := v.Interface().(constant.Value); ok {
				var t types.Type
				switch cv.Kind() {
				case constant.Bool:
					t = types.Typ[types.UntypedBool]
				case constant.String:
					t = types.Typ[types.UntypedString]
				case constant.Int:
					t = types.Typ[types.UntypedInt]
				case constant.Float:
					t = types.Typ[types.UntypedFloat]
				default:
					t = types.Typ[types.UntypedComplex]
				}
				sc.Insert(types.NewConst(token.NoPos, pk, n, t, cv))
				continue
			}
			if cv := constant.Make(v.Interface()); cv.Kind() != constant.Unknown {
				sc.Insert(types.NewConst(token.NoPos, pk, n, im.typ(v.Type()), cv))
				continue
			}
			sc.Insert(types.NewVar(token.NoPos, pk, n, im.typ(v.Type())))
		}
	}
	pk.MarkComplete()
	return pk, nil
}

var basicKinds = map[reflect.Kind]types.BasicKind{
	reflect.Bool: types.Bool, reflect.Int: types.Int, reflect.Int8: types.Int8,
	reflect.Int16: types.Int16, reflect.Int32: types.Int32, reflect.Int64: types.Int64,
	reflect.Uint: types.Uint, reflect.Uint8: types.Uint8, reflect.Uint16: types.Uint16,
	reflect.Uint32: types.Uint32, reflect.Uint64: types.Uint64, reflect.Uintptr: types.Uintptr,
	reflect.Float32: types.Float32, reflect.Float64: types.Float64,
	reflect.Complex64: types.Complex64, reflect.Complex128: types.Complex128,
	reflect.String: types.String, reflect.UnsafePointer: types.UnsafePointer,
}

var errorType = reflect.TypeOf((*error)(nil)).Elem()

// typ converts a reflect type to a go/types type.
func (im *symImporter) typ(t reflect.Type) types.Type {
	if t == errorType {
		return types.Universe.Lookup("error").Type()
	}
	if t.Name() != "" && t.PkgPath() == "" {
		if b, ok := basicKinds[t.Kind()]; ok && t.Name() == types.Typ[b].Name() {
			return types.Typ[b]
		}
	}
	if t.Name() != "" && t.PkgPath() != "" {
		if nt := im.named[t]; nt != nil {
			return nt
		}
		name := t.Name()
		if i := strings.IndexByte(name, '['); i >= 0 {
			name = name[:i] // instantiated generic: keep a plain name
		}
		tn := types.NewTypeName(token.NoPos, im.pkg(t.PkgPath()), name, nil)
		nt := types.NewNamed(tn, nil, nil)
		im.named[t] = nt
		nt.SetUnderlying(im.underlying(t))
		if t.Kind() != reflect.Interface {
			seen := map[string]bool{}
			for _, rt := range []reflect.Type{t, reflect.PointerTo(t)} {
				for i := 0; i < rt.NumMethod(); i++ {
					m := rt.Method(i)
					if seen[m.Name] || !token.IsExported(m.Name) {
						continue
					}
					seen[m.Name] = true
					var recv types.Type = nt
					if rt != t {
						recv = types.NewPointer(nt)
					}
					sig := im.sig(m.Type, 1, types.NewVar(token.NoPos, tn.Pkg(), "", recv))
					nt.AddMethod(types.NewFunc(token.NoPos, tn.Pkg(), m.Name, sig))
				}
			}
		}
		return nt
	}
	return im.underlying(t)
}

func (im *symImporter) underlying(t reflect.Type) types.Type {
	if b, ok := basicKinds[t.Kind()]; ok {
		return types.Typ[b]
	}
	switch t.Kind() {
	case reflect.Ptr:
		return types.NewPointer(im.typ(t.Elem()))
	case reflect.Slice:
		return types.NewSlice(im.typ(t.Elem()))
	case reflect.Array:
		return types.NewArray(im.typ(t.Elem()), int64(t.Len()))
	case reflect.Map:
		return types.NewMap(im.typ(t.Key()), im.typ(t.Elem()))
	case reflect.Chan:
		dir := types.SendRecv
		switch t.ChanDir() {
		case reflect.SendDir:
			dir = types.SendOnly
		case reflect.RecvDir:
			dir = types.RecvOnly
		}
		return types.NewChan(dir, im.typ(t.Elem()))
	case reflect.Func:
		return im.sig(t, 0, nil)
	case reflect.Struct:
		var fields []*types.Var
		var tags []string
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			var pk *types.Package
			if f.PkgPath != "" {
				pk = im.pkg(f.PkgPath)
			}
			fields = append(fields, types.NewField(token.NoPos, pk, f.Name, im.typ(f.Type), f.Anonymous))
			tags = append(tags, string(f.Tag))
		}
		return types.NewStruct(fields, tags)
	case reflect.Interface:
		var methods []*types.Func
		for i := 0; i < t.NumMethod(); i++ {
			m := t.Method(i)
			var pk *types.Package
			if m.PkgPath != "" {
				pk = im.pkg(m.PkgPath)
			}
			methods = append(methods, types.NewFunc(token.NoPos, pk, m.Name, im.sig(m.Type, 0, nil)))
		}
		it := types.NewInterfaceType(methods, nil)
		it.Complete()
		return it
	}
	return types.Typ[types.Invalid]
}

// sig converts a func type, skipping the first skip inputs (the receiver).
func (im *symImporter) sig(t reflect.Type, skip int, recv *types.Var) *types.Signature {
	var params, results []*types.Var
	for i := skip; i < t.NumIn(); i++ {
		params = append(params, types.NewParam(token.NoPos, nil, "", im.typ(t.In(i))))
	}
	for i := 0; i < t.NumOut(); i++ {
		results = append(results, types.NewParam(token.NoPos, nil, "", im.typ(t.Out(i))))
	}
	return types.NewSignatureType(recv, nil, nil, types.NewTuple(params...), types.NewTuple(results...), t.IsVariadic())
}
