package slices

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	std "slices"
	"testing"
)

// The implementation must agree with the standard library on every
// input: these tests run it compiled; package interp runs it interpreted.

func randFloats(r *rand.Rand) []float64 {
	n := r.IntN(12)
	s := make([]float64, n, n+r.IntN(4))
	for i := range s {
		switch r.IntN(8) {
		case 0:
			s[i] = math.NaN()
		case 1:
			s[i] = math.Inf(r.IntN(2)*2 - 1)
		default:
			s[i] = float64(r.IntN(5)) - 2
		}
	}
	if n == 0 && r.IntN(2) == 0 {
		return nil
	}
	return s
}

// same compares values with NaNs equal to each other, and nil to nil
// only. (Capacities of new arrays depend on append's growth.)
func same(a, b []float64) bool {
	if (a == nil) != (b == nil) || len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && !(a[i] != a[i] && b[i] != b[i]) {
			return false
		}
	}
	return true
}

// shares reports whether r uses s's array.
func shares(r, s []float64) bool {
	return cap(r) > 0 && cap(s) > 0 && &r[:1][0] == &s[:1][0]
}

func panics(f func()) (p bool) {
	defer func() { p = recover() != nil }()
	f()
	return false
}

func cmpF(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestAgainstStandardLibrary(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 20000; iter++ {
		a, b := randFloats(r), randFloats(r)
		i, j := r.IntN(len(a)+2)-1, r.IntN(len(a)+2)-1
		v := randFloats(r)
		check := func(name string, ours, theirs func(s []float64) any) {
			t.Helper()
			s1, s2 := std.Clone(a), std.Clone(a)
			if a != nil {
				s1, s2 = append(s1[:0:0], a...), append(s2[:0:0], a...)
				s1, s2 = std.Grow(s1, cap(a)-len(a)), std.Grow(s2, cap(a)-len(a))
			}
			var got, want any
			pg := panics(func() { got = ours(s1) })
			pw := panics(func() { want = theirs(s2) })
			if pg != pw {
				t.Fatalf("%s(%v, i=%d j=%d v=%v): panics %v, standard library %v", name, a, i, j, v, pg, pw)
			}
			if pg {
				return
			}
			gf, ok1 := got.([]float64)
			wf, ok2 := want.([]float64)
			if ok1 && ok2 {
				if !same(gf, wf) || shares(gf, s1) != shares(wf, s2) {
					t.Fatalf("%s(%v, i=%d j=%d v=%v) = %v (in place %v), standard library %v (in place %v)", name, a, i, j, v, gf, shares(gf, s1), wf, shares(wf, s2))
				}
			} else if !reflect.DeepEqual(got, want) && fmt.Sprint(got) != fmt.Sprint(want) { // Sprint: NaNs alike
				t.Fatalf("%s(%v, %v, i=%d j=%d) = %v, standard library %v", name, a, b, i, j, got, want)
			}
			if !same(s1[:cap(s1)], s2[:cap(s2)]) {
				t.Fatalf("%s(%v, i=%d j=%d v=%v) left its input as %v, standard library %v", name, a, i, j, v, s1[:cap(s1)], s2[:cap(s2)])
			}
		}
		check("Sort", func(s []float64) any { Sort(s); return s }, func(s []float64) any { std.Sort(s); return s })
		check("SortFunc", func(s []float64) any { SortStableFunc(s, cmpF); return s }, func(s []float64) any { std.SortStableFunc(s, cmpF); return s })
		check("IsSorted", func(s []float64) any { return IsSorted(s) }, func(s []float64) any { return std.IsSorted(s) })
		check("Min", func(s []float64) any { return Min(s) }, func(s []float64) any { return std.Min(s) })
		check("Max", func(s []float64) any { return Max(s) }, func(s []float64) any { return std.Max(s) })
		check("MinFunc", func(s []float64) any { return MinFunc(s, cmpF) }, func(s []float64) any { return std.MinFunc(s, cmpF) })
		check("MaxFunc", func(s []float64) any { return MaxFunc(s, cmpF) }, func(s []float64) any { return std.MaxFunc(s, cmpF) })
		tgt := float64(r.IntN(5) - 2)
		check("BinarySearch", func(s []float64) any {
			std.Sort(s)
			k, ok := BinarySearch(s, tgt)
			return [2]any{k, ok}
		}, func(s []float64) any {
			std.Sort(s)
			k, ok := std.BinarySearch(s, tgt)
			return [2]any{k, ok}
		})
		check("Equal", func(s []float64) any { return Equal(s, b) }, func(s []float64) any { return std.Equal(s, b) })
		check("Compare", func(s []float64) any { return Compare(s, b) }, func(s []float64) any { return std.Compare(s, b) })
		check("Index", func(s []float64) any { return Index(s, tgt) }, func(s []float64) any { return std.Index(s, tgt) })
		check("Insert", func(s []float64) any { return Insert(s, i, v...) }, func(s []float64) any { return std.Insert(s, i, v...) })
		check("Delete", func(s []float64) any { return Delete(s, i, j) }, func(s []float64) any { return std.Delete(s, i, j) })
		check("DeleteFunc", func(s []float64) any { return DeleteFunc(s, func(x float64) bool { return x > 0 }) },
			func(s []float64) any { return std.DeleteFunc(s, func(x float64) bool { return x > 0 }) })
		check("Replace", func(s []float64) any { return Replace(s, i, j, v...) }, func(s []float64) any { return std.Replace(s, i, j, v...) })
		check("Compact", func(s []float64) any { return Compact(s) }, func(s []float64) any { return std.Compact(s) })
		check("CompactFunc", func(s []float64) any { return CompactFunc(s, func(x, y float64) bool { return x == y || x+1 == y }) },
			func(s []float64) any {
				return std.CompactFunc(s, func(x, y float64) bool { return x == y || x+1 == y })
			})
		check("Reverse", func(s []float64) any { Reverse(s); return s }, func(s []float64) any { std.Reverse(s); return s })
		check("Clip", func(s []float64) any { return Clip(s) }, func(s []float64) any { return std.Clip(s) })
		check("Grow", func(s []float64) any { return len(Grow(s, i)) }, func(s []float64) any { return len(std.Grow(s, i)) })
		check("Repeat", func(s []float64) any { return Repeat(s, j) }, func(s []float64) any { return std.Repeat(s, j) })
		check("Collect", func(s []float64) any { return Collect(Values(s)) }, func(s []float64) any { return std.Collect(std.Values(s)) })
		check("Sorted", func(s []float64) any { return Sorted(Values(s)) }, func(s []float64) any { return std.Sorted(std.Values(s)) })
		check("Backward", func(s []float64) any {
			var out []any
			Backward(s)(func(k int, x float64) bool { out = append(out, k, x); return k > j })
			return out
		}, func(s []float64) any {
			var out []any
			for k, x := range std.Backward(s) {
				out = append(out, k, x)
				if k <= j {
					break
				}
			}
			return out
		})
		if j > 0 {
			check("Chunk", func(s []float64) any {
				var out [][]float64
				Chunk(s, j)(func(c []float64) bool { out = append(out, c); return true })
				return len(out)
			}, func(s []float64) any { return len(std.Collect(std.Chunk(s, j))) })
		}
		if c, w := Concat(a, b, v), std.Concat(a, b, v); !same(std.Clip(c), std.Clip(w)) { // capacity may differ
			t.Fatalf("Concat(%v, %v, %v) = %v, standard library %v", a, b, v, c, w)
		}
		if c, w := Clone(a), std.Clone(a); (c == nil) != (w == nil) || !Equal(c, w) && !same(c, w) {
			t.Fatalf("Clone(%v) = %v, standard library %v", a, c, w)
		}
	}
}

func TestSortTypes(t *testing.T) {
	type named []int
	x := named{3, 1, 2}
	Sort(x) // not a type hostsort knows: the fallback
	if !std.Equal(x, named{1, 2, 3}) {
		t.Fatal(x)
	}
	f := []float32{2, float32(math.NaN()), -1}
	Sort(f)
	if f[0] == f[0] || f[1] != -1 || f[2] != 2 {
		t.Fatal(f)
	}
	s := []string{"b", "a"}
	Sort(s)
	if s[0] != "a" {
		t.Fatal(s)
	}
}
