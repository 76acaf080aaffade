//go:build ignore

// The generic standard packages as scripts use them. TestGenericStd runs
// this file interpreted and compiled and wants the same output.
package main

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
)

type Scores []float64

type Score float64

type tok struct {
	text string
	p    float32
}

func byP(a, b tok) int { return cmp.Compare(b.p, a.p) }

var xs = []int{5, 2, 8, 2, 9}
var top = slices.Max(xs)

func main() {
	nan := math.NaN()
	f := []float64{3, nan, -1, 2, math.Inf(1), 0}
	g := slices.Clone(f)
	slices.Sort(g)
	fmt.Println(g, slices.IsSorted(g), slices.IsSorted(f), slices.Min(f), slices.Max(f))
	f32 := []float32{0.5, -2, 7, 1}
	slices.Sort(f32)
	fmt.Println(f32, slices.Min(f32), slices.Max(f32), top)
	s := Scores{0.3, 0.1, 0.2}
	slices.Sort(s)
	sc := []Score{2, 1, Score(math.NaN()), 3}
	slices.Sort(sc) // a named element type: the interpreted comparison
	fmt.Println(s, sc, slices.IsSorted(sc), slices.Max(sc[1:]), slices.Sorted(slices.Values([]Score{9, 8})))
	n, okn := slices.BinarySearch(sc[1:], 2)
	fmt.Println(n, okn, slices.Compare([]Score{1, 2}, []Score{1, 3}))
	words := strings.Fields("the cat sat on the mat")
	slices.Sort(words)
	fmt.Println(words, slices.Compact(slices.Clone(words)))
	i, found := slices.BinarySearch(words, "on")
	j, found2 := slices.BinarySearch(words, "dog")
	fmt.Println(i, found, j, found2)
	k, ok := slices.BinarySearchFunc(words, 'o', func(w string, r rune) int { return cmp.Compare(rune(w[0]), r) })
	fmt.Println(k, ok)

	toks := []tok{{"a", 0.1}, {"b", 0.6}, {"c", 0.1}, {"d", 0.2}}
	slices.SortStableFunc(toks, byP)
	fmt.Println(toks, slices.IsSortedFunc(toks, byP))
	fmt.Println(slices.MinFunc(toks, byP), slices.MaxFunc(toks, byP))
	fmt.Println(slices.IndexFunc(toks, func(t tok) bool { return t.text == "d" }),
		slices.ContainsFunc(toks, func(t tok) bool { return t.p > 0.5 }))

	a := []int{1, 2, 3, 4, 5}
	b := slices.Insert(slices.Clone(a), 2, 10, 11)
	c := slices.Delete(slices.Clone(a), 1, 3)
	d := slices.Replace(slices.Clone(a), 0, 2, 7)
	e := slices.DeleteFunc(slices.Clone(a), func(x int) bool { return x%2 == 0 })
	fmt.Println(b, c, d, e, slices.Index(a, 4), slices.Contains(a, 6))
	fmt.Println(slices.Equal(a, []int{1, 2, 3, 4, 5}), slices.Compare(a, b), slices.Compare(b, a), slices.Compare(a, a))
	r := slices.Clone(a)
	slices.Reverse(r)
	fmt.Println(r, slices.Concat(a[:2], r[:1], nil), slices.Repeat([]string{"ab"}, 3))
	fmt.Println(len(slices.Grow([]int{1}, 10)), cap(slices.Grow([]int{1}, 10)) >= 11, cap(slices.Clip(make([]int, 2, 9))))
	fmt.Println(slices.EqualFunc(a, []string{"1", "2", "3", "4", "5"}, func(x int, y string) bool { return fmt.Sprint(x) == y }))
	fmt.Println(slices.CompactFunc([]string{"a", "A", "b", "B", "a"}, strings.EqualFold))
	fmt.Println(slices.Collect(slices.Values(a)), slices.AppendSeq([]int{0}, slices.Values(a[3:])))
	fmt.Println(slices.Sorted(slices.Values([]string{"z", "y"})), slices.SortedFunc(slices.Values(toks), byP)[0])
	for i, v := range slices.All([]string{"x", "y"}) {
		fmt.Print(i, v, " ")
	}
	for i, v := range slices.Backward(a) {
		if i < 3 {
			break
		}
		fmt.Print(i, v, " ")
	}
	for ch := range slices.Chunk(a, 2) {
		fmt.Print(ch)
	}
	fmt.Println()

	m := map[string]int{"b": 2, "a": 1, "c": 3}
	mc := maps.Clone(m)
	mc["d"] = 4
	fmt.Println(len(m), len(mc), maps.Equal(m, mc), slices.Sorted(maps.Keys(mc)), slices.Sorted(maps.Values(m)))
	maps.DeleteFunc(mc, func(k string, v int) bool { return v%2 == 0 })
	maps.Copy(mc, map[string]int{"z": 26})
	fmt.Println(mc)
	pairs := maps.Collect(slices.All([]string{"p", "q"}))
	maps.Insert(pairs, maps.All(map[int]string{5: "r"}))
	fmt.Println(pairs, maps.EqualFunc(m, map[string]float64{"a": 1, "b": 2, "c": 3}, func(x int, y float64) bool { return float64(x) == y }))
	sum := 0
	for k, v := range maps.All(m) {
		sum += len(k) * v
	}
	for v := range maps.Values(m) {
		sum += v
	}
	fmt.Println(sum, maps.Clone(map[int]int(nil)) == nil)

	fmt.Println(cmp.Compare(1, 2), cmp.Compare(nan, 0.0), cmp.Less(nan, -1.0), cmp.Or("", "x", "y"), cmp.Or(0, 0))
	lo, hi := min(3, 1, 2), max(2.5, 1)
	fmt.Println(lo, hi, min("b", "a"), max(xs[0], xs[2]))
}
