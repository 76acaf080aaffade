package interp

import (
	_ "embed"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"reflect"

	yaegi "github.com/traefik/yaegi/interp"

	"nnscope/interp/generic/hostsort"
)

// The generic standard packages. yaegi v0.16.1 ships Go 1.22's slices,
// maps and cmp as sources it interprets, without slices.Sort, Min, Max or
// the iterator functions, with a maps.Clone that returns its argument, and
// it cannot infer type arguments (#1610). Ours (package generic/...) are
// compiled over them in every session, and the type checker reads the same
// files, so the rewriter can add the type arguments it infers:
// slices.Sort(x) runs as slices.Sort[[]float32, float32](x).
var (
	//go:embed generic/cmp/cmp.go
	cmpSource string
	//go:embed generic/slices/slices.go
	slicesSource string
	//go:embed generic/maps/maps.go
	mapsSource string
)

// genericSources maps an import path to its source, in compile order.
var genericSources = []struct{ path, src string }{
	{"cmp", cmpSource},
	{"slices", slicesSource},
	{"maps", mapsSource},
}

// hostsortTable makes package hostsort importable by the slices source.
var hostsortTable = map[string]map[string]reflect.Value{
	"nnscope/interp/generic/hostsort/hostsort": {"Sort": reflect.ValueOf(hostsort.Sort)},
}

// importsGeneric reports whether f imports one of the generic packages.
func importsGeneric(f *ast.File) bool {
	for p := range fileImports(f) {
		for _, g := range genericSources {
			if g.path == p {
				return true
			}
		}
	}
	return false
}

// compileGeneric compiles the generic packages into yi, after its
// standard library symbols. It costs about 2 ms, so it is done only for a
// script or session that imports one of them.
func compileGeneric(yi *yaegi.Interpreter) error {
	for _, g := range genericSources {
		if _, err := yi.Compile(g.src); err != nil {
			return fmt.Errorf("compiling the interpreter's package %s: %w", g.path, err)
		}
	}
	return nil
}

// genericPackage type-checks the source of a generic package for the
// rewriter, or returns nil if path is not one.
func (im *symImporter) genericPackage(path string) (*types.Package, error) {
	for _, g := range genericSources {
		if g.path != path {
			continue
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path+".go", g.src, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		conf := types.Config{Importer: im}
		pkg, err := conf.Check(path, fset, []*ast.File{f}, nil)
		if err != nil {
			return nil, err
		}
		return pkg, nil
	}
	return nil, nil
}
