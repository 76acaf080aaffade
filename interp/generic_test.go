package interp

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestGenericStd runs testdata/generic_std.go, which uses the generic
// packages slices, maps and cmp and the min/max builtins, and wants the
// output the compiled program gives (generic_std.out, checked against `go
// run` when the go command is there).
func TestGenericStd(t *testing.T) {
	path := filepath.Join("testdata", "generic_std.go")
	want, err := os.ReadFile(filepath.Join("testdata", "generic_std.out"))
	if err != nil {
		t.Fatal(err)
	}
	in, out := newTest(t)
	if err := in.RunFile(context.Background(), path, nil); err != nil {
		t.Fatalf("%v\noutput so far:\n%s", err, out)
	}
	if got := out.String(); got != string(want) {
		t.Errorf("interpreted output differs from the compiled program's:\n%s", lineDiff(got, string(want)))
	}
	if testing.Short() {
		return
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Logf("no go command: generic_std.out not checked against a compiled run")
		return
	}
	native, err := exec.Command(goBin, "run", path).CombinedOutput()
	if err != nil {
		t.Fatalf("go run %s: %v\n%s", path, err, native)
	}
	if string(native) != string(want) {
		t.Errorf("generic_std.out is stale; the compiled program prints:\n%s", lineDiff(string(native), string(want)))
	}
}

// lineDiff lists the lines where got and want differ.
func lineDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	var b strings.Builder
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			b.WriteString("line " + strconv.Itoa(i+1) + ":\n  got  " + gl + "\n  want " + wl + "\n")
		}
	}
	return b.String()
}

// In a session, definitions whose value calls a generic function (min and
// max included) and var declarations that read earlier globals failed in
// yaegi's global frame ("constant definition loop", "variable definition
// loop"; the variable stayed zero).
func TestSessionGlobalDefinitions(t *testing.T) {
	in, out := newTest(t)
	for _, src := range []string{
		`import ("fmt"; "maps"; "slices")`,
		`x := []int{3, 1, 2}`,
		`m := max(x[0], x[1])`,
		`k := slices.Max(x)`,
		`i, found := slices.BinarySearch([]int{1, 3}, 3)`,
		`var q = len(x) + m`,
		`var w float64 = float64(x[1]) / 2`,
		`var lo = min(x[2], 7)`,
		`var e error = nil`,
		`keys := slices.Sorted(maps.Keys(map[string]int{"b": 1, "a": 2}))`,
		`n := 0`,
		`for v := range slices.Values(x) { n += v }`,
		`slices.Sort(x)`,
		`fmt.Println(m, k, i, found, q, w, lo, e == nil, keys, n, x)`,
	} {
		eval(t, in, src)
	}
	if got, want := out.String(), "3 3 1 true 6 0.5 2 true [a b] 6 [1 2 3]\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	// Defined again with another type, and shown.
	if r := eval(t, in, `k := slices.Max([]float64{0.5, 2.5})`); r.HasValue {
		t.Fatal("a definition has no value to show")
	}
	if r := eval(t, in, `k`); r.Value.Interface() != 2.5 {
		t.Fatalf("k = %v", r.Value)
	}
	if r := eval(t, in, `var z = slices.Index(x, 3)`); r.HasValue {
		t.Fatal("a declaration has no value to show")
	}
	if r := eval(t, in, `z`); r.Value.Interface() != 2 {
		t.Fatalf("z = %v", r.Value)
	}
}

func TestMissingImportHint(t *testing.T) {
	in, _ := newTest(t)
	eval(t, in, `x := []int{1}`)
	for src, want := range map[string]string{
		`slices.Max(x)`: `undefined: slices (missing import "slices"?)`,
		`sort.Ints(x)`:  `undefined: sort (missing import "sort"?)`,
		`func f() string { return strings.ToUpper("a") }`: `undefined: strings (missing import "strings"?)`,
		`foo(x)`: `undefined: foo`,
	} {
		_, err := in.Eval(context.Background(), src)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Count(err.Error(), "missing import") > 1 {
			t.Errorf("Eval(%q): %v, want %q", src, err, want)
		}
	}
}

// Sorting tensors and indices by their values, as scripts rank tokens.
func TestGenericWithHostTypes(t *testing.T) {
	out, err := runSrc(t, `package main

import (
	"cmp"
	"fmt"
	"slices"

	"nnscope"
)

func main() {
	ts := []*nnscope.Tensor{nnscope.Full(3, 2), nnscope.Full(1, 2), nnscope.Full(2, 2)}
	slices.SortFunc(ts, func(a, b *nnscope.Tensor) int { return cmp.Compare(a.Sum().Item(), b.Sum().Item()) })
	vals := nnscope.NewTensor([]float64{0.1, 0.7, 0.2}, 3).Float32s()
	idx := []int{0, 1, 2}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(vals[b], vals[a]) })
	fmt.Println(ts[0].Sum().Item(), ts[2].Sum().Item(), idx, slices.Max(vals), slices.Index(idx, 2))
}
`)
	if err != nil {
		t.Fatal(err)
	}
	if out != "2 6 [1 2 0] 0.7 1\n" {
		t.Fatalf("got %q", out)
	}
}
