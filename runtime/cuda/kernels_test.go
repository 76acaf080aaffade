package cuda

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var globalRE = regexp.MustCompile(`extern\s+"C"\s+__global__\s+void\s+(?:__launch_bounds__\s*\([^)]*\)\s+)?(\w+)\s*\(`)

// kernelsDefined parses the embedded sources for extern "C" kernels.
func kernelsDefined(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("kernels/*.cu")
	if err != nil || len(files) == 0 {
		t.Fatalf("no kernel sources: %v", err)
	}
	defs := map[string]string{}
	for _, f := range files {
		b, err := kernelFS.ReadFile(filepath.ToSlash(f))
		if err != nil {
			t.Fatalf("%s is not embedded: %v", f, err)
		}
		onDisk, _ := os.ReadFile(f)
		if string(onDisk) != string(b) {
			t.Fatalf("%s differs from the embedded copy", f)
		}
		for _, m := range globalRE.FindAllStringSubmatch(string(b), -1) {
			if prev, dup := defs[m[1]]; dup {
				t.Errorf("kernel %s defined in %s and %s", m[1], prev, f)
			}
			defs[m[1]] = f
			// Row kernels run up to 1024 threads a block (rowBlock): the
			// bound caps registers at 64 a thread so that a block always
			// fits, whatever the NVRTC release allocates.
			if !strings.Contains(m[0], "__launch_bounds__(1024)") {
				t.Errorf("kernel %s in %s lacks __launch_bounds__(1024)", m[1], f)
			}
		}
	}
	return defs
}

// TestKernelNames checks that every kernel the Go code launches (the
// string literal given to launch) is defined in the sources, and that
// every defined kernel is used.
func TestKernelNames(t *testing.T) {
	defs := kernelsDefined(t)
	used := map[string]bool{}
	fset := token.NewFileSet()
	goFiles, _ := filepath.Glob("*.go")
	for _, f := range goFiles {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "launch" && sel.Sel.Name != "rowKernel") {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok {
				if sel.Sel.Name == "launch" {
					if id, ok := call.Args[0].(*ast.Ident); ok && id.Name == "name" {
						return true // the forwarding call inside a helper
					}
				}
				t.Errorf("%s: %s called with a non-literal kernel name", fset.Position(call.Pos()), sel.Sel.Name)
				return true
			}
			name, _ := strconv.Unquote(lit.Value)
			used[name] = true
			if _, ok := defs[name]; !ok {
				t.Errorf("%s: kernel %q is not defined in kernels/*.cu", fset.Position(call.Pos()), name)
			}
			return true
		})
	}
	if len(used) < 15 {
		t.Errorf("found only %d launched kernels: %v", len(used), used)
	}
	for name, f := range defs {
		if !used[name] {
			t.Errorf("kernel %s (%s) is never launched", name, f)
		}
	}
}

// TestOpCodes checks the Go op constants against the #defines in
// elementwise.cu.
func TestOpCodes(t *testing.T) {
	b, err := kernelFS.ReadFile("kernels/elementwise.cu")
	if err != nil {
		t.Fatal(err)
	}
	def := map[string]int{}
	for _, m := range regexp.MustCompile(`#define\s+((?:BIN|UN)_\w+)\s+(\d+)`).FindAllStringSubmatch(string(b), -1) {
		v, _ := strconv.Atoi(m[2])
		def[m[1]] = v
	}
	bin := map[string]BinaryOp{"BIN_ADD": OpAdd, "BIN_SUB": OpSub, "BIN_MUL": OpMul, "BIN_DIV": OpDiv}
	un := map[string]UnaryOp{"UN_NEG": OpNeg, "UN_ABS": OpAbs, "UN_EXP": OpExp, "UN_LOG": OpLog, "UN_TANH": OpTanh,
		"UN_SQRT": OpSqrt, "UN_RELU": OpRelu, "UN_GELU_NEW": OpGeluNew, "UN_GELU": OpGelu, "UN_POW": OpPow,
		"UN_SCALE": OpScale, "UN_ADD_SCALAR": OpAddScalar, "UN_RSUB_SCALAR": OpRSubScalar, "UN_RDIV_SCALAR": OpRDivScalar}
	if len(def) != len(bin)+len(un) {
		t.Errorf("%d op #defines, Go has %d", len(def), len(bin)+len(un))
	}
	for k, v := range bin {
		if d, ok := def[k]; !ok || d != int(v) {
			t.Errorf("%s = %d in CUDA, %d in Go", k, d, v)
		}
	}
	for k, v := range un {
		if d, ok := def[k]; !ok || d != int(v) {
			t.Errorf("%s = %d in CUDA, %d in Go", k, d, v)
		}
	}
}

func TestKernelSource(t *testing.T) {
	src, err := kernelSource()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(src, "// Shared helpers") || !strings.Contains(src, "struct Dims") {
		t.Error("common.cuh does not come first")
	}
	for _, f := range []string{"elementwise", "reduce", "softmax", "layernorm", "embedding", "attention", "crossentropy", "linear"} {
		if !strings.Contains(src, "kernels/"+f+".cu") {
			t.Errorf("%s.cu missing from the translation unit", f)
		}
	}
	if strings.Contains(src, "#include") {
		t.Error("sources must not #include (NVRTC has no system headers here)")
	}
	code := regexp.MustCompile(`//[^\n]*`).ReplaceAllString(src, "")
	if strings.Count(code, "{") != strings.Count(code, "}") || strings.Count(code, "(") != strings.Count(code, ")") {
		t.Error("unbalanced braces or parentheses")
	}
}

// TestKernelsParseAsCPP type-checks the kernel sources with the host C++
// compiler and stand-ins for the CUDA builtins (testdata/cuda_stub.h), to
// catch typos before a GPU is at hand. It skips when g++ is missing.
func TestKernelsParseAsCPP(t *testing.T) {
	gxx, err := exec.LookPath("g++")
	if err != nil {
		t.Skip("no g++ here: kernel sources are only checked by NVRTC on a GPU machine")
	}
	src, err := kernelSource()
	if err != nil {
		t.Fatal(err)
	}
	stub, err := filepath.Abs("testdata/cuda_stub.h")
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "kernels.cpp")
	if err := os.WriteFile(f, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(gxx, "-std=c++17", "-fsyntax-only", "-Wall", "-Wno-unused-function",
		"-Wno-unused-variable", "-Wno-unknown-pragmas", "-include", stub, f).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Fatalf("g++ on the kernel sources: %v\n%s", err, out)
	}
}
