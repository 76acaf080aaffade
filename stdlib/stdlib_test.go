package stdlib

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/traefik/yaegi/extract"
)

// generateLines returns the argument lists of the yaegi extract
// //go:generate directives in stdlib.go.
func generateLines(t *testing.T) [][]string {
	t.Helper()
	src, err := os.ReadFile("stdlib.go")
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for _, line := range strings.Split(string(src), "\n") {
		const prefix = "//go:generate go run github.com/traefik/yaegi/cmd/yaegi extract "
		if strings.HasPrefix(line, prefix) {
			out = append(out, strings.Fields(strings.TrimPrefix(line, prefix)))
		}
	}
	if len(out) == 0 {
		t.Fatal("no go:generate directives found")
	}
	return out
}

// TestGeneratedUpToDate re-runs the extraction in memory and compares it with
// the committed files: it fails when the toolchain's standard library (or the
// package list) changed and `go generate ./stdlib` must be run again.
func TestGeneratedUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("extraction type-checks the standard library sources")
	}
	fileName := strings.NewReplacer("/", "-", ".", "_", "~", "_")
	for _, args := range generateLines(t) {
		ext := extract.Extractor{Dest: "stdlib"}
		var pkgs []string
		for i := 0; i < len(args); i++ {
			switch args[i] {
			case "-name":
				i++
			case "-exclude":
				i++
				ext.Exclude = strings.Split(args[i], ",")
			default:
				pkgs = append(pkgs, args[i])
			}
		}
		for _, pkg := range pkgs {
			var buf bytes.Buffer
			ip, err := ext.Extract(pkg, "stdlib", &buf)
			if err != nil {
				t.Fatalf("extract %s: %v", pkg, err)
			}
			name := fileName.Replace(ip) + ".go"
			have, err := os.ReadFile(name)
			if err != nil {
				t.Errorf("%s: %v (run go generate ./stdlib)", pkg, err)
				continue
			}
			if !bytes.Equal(have, buf.Bytes()) {
				t.Errorf("%s is stale: run go generate ./stdlib", name)
			}
		}
	}
}

func TestSafeSubset(t *testing.T) {
	for _, bad := range []string{"os/exec/exec", "syscall/syscall", "unsafe/unsafe", "plugin/plugin", "net/net", "reflect/reflect", "os/signal/signal"} {
		if _, ok := Symbols[bad]; ok {
			t.Errorf("%s must not be exposed", bad)
		}
	}
	for _, bad := range []string{"StartProcess", "FindProcess"} {
		if _, ok := Symbols["os/os"][bad]; ok {
			t.Errorf("os.%s must not be exposed", bad)
		}
	}
	for _, want := range []string{"fmt/fmt", "math/rand/v2/rand", "encoding/json/json", "os/os", "cmp/cmp"} {
		if _, ok := Symbols[want]; !ok {
			t.Errorf("%s missing", want)
		}
	}
	re := regexp.MustCompile(`^exit status 3$`)
	func() {
		defer func() {
			r := recover()
			e, ok := r.(ExitError)
			if !ok || !re.MatchString(e.Error()) {
				t.Errorf("os.Exit(3) panicked with %v", r)
			}
		}()
		Symbols["os/os"]["Exit"].Interface().(func(int))(3)
	}()
}
