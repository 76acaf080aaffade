// Package slices is the standard library's slices (its API as of Go 1.26)
// for nnscope scripts. yaegi v0.16.1 ships Go 1.22's without the sorting,
// Min/Max and iterator functions, and cannot infer type arguments; package
// interp compiles this file over it in every session and its rewriter adds
// the type arguments the type checker infers. So the file keeps to what
// yaegi runs: explicit instantiation inside, no builtin min/max/clear, no
// range over int or func. It is also compiled and tested as Go against the
// real package.
//
// Iterators are plain func types (iter.Seq[E] is func(yield func(E) bool)).
package slices

import (
	"sort"

	"nnscope/interp/generic/hostsort"
)

type ordered interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64 | ~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~uintptr | ~float32 | ~float64 | ~string
}

// All returns an iterator over the index-value pairs of s.
func All[S ~[]E, E any](s S) func(yield func(int, E) bool) {
	return func(yield func(int, E) bool) {
		for i, v := range s {
			if !yield(i, v) {
				return
			}
		}
	}
}

// Values returns an iterator over the elements of s.
func Values[S ~[]E, E any](s S) func(yield func(E) bool) {
	return func(yield func(E) bool) {
		for _, v := range s {
			if !yield(v) {
				return
			}
		}
	}
}

// Backward returns an iterator over the index-value pairs of s, last first.
func Backward[S ~[]E, E any](s S) func(yield func(int, E) bool) {
	return func(yield func(int, E) bool) {
		for i := len(s) - 1; i >= 0; i-- {
			if !yield(i, s[i]) {
				return
			}
		}
	}
}

// AppendSeq appends the values of seq to s.
func AppendSeq[S ~[]E, E any](s S, seq func(yield func(E) bool)) S {
	seq(func(v E) bool {
		s = append(s, v)
		return true
	})
	return s
}

// Collect returns the values of seq in a new slice.
//
// The functions of this file call no generic function of their own, not
// even small helpers: yaegi failed on SortedFunc's call of Collect for a
// struct type, and on Sort's call of a less[E] for a named float type, a
// script declares (nil dereferences in its compiler).
func Collect[E any](seq func(yield func(E) bool)) []E {
	var s []E
	seq(func(v E) bool {
		s = append(s, v)
		return true
	})
	return s
}

// Sorted returns the values of seq, sorted.
func Sorted[E ordered](seq func(yield func(E) bool)) []E {
	var s []E
	seq(func(v E) bool {
		s = append(s, v)
		return true
	})
	if !hostsort.Sort(any(s)) {
		sort.Slice(s, func(i, j int) bool { a, b := s[i], s[j]; return (a != a && b == b) || a < b })
	}
	return s
}

// SortedFunc returns the values of seq, sorted by cmp.
func SortedFunc[E any](seq func(yield func(E) bool), cmp func(E, E) int) []E {
	var s []E
	seq(func(v E) bool {
		s = append(s, v)
		return true
	})
	sort.Slice(s, func(i, j int) bool { return cmp(s[i], s[j]) < 0 })
	return s
}

// SortedStableFunc returns the values of seq, sorted by cmp, keeping the
// order of equal elements.
func SortedStableFunc[E any](seq func(yield func(E) bool), cmp func(E, E) int) []E {
	var s []E
	seq(func(v E) bool {
		s = append(s, v)
		return true
	})
	sort.SliceStable(s, func(i, j int) bool { return cmp(s[i], s[j]) < 0 })
	return s
}

// Chunk returns an iterator over consecutive sub-slices of up to n
// elements of s. It panics if n is less than 1.
func Chunk[S ~[]E, E any](s S, n int) func(yield func(S) bool) {
	if n < 1 {
		panic("cannot be less than 1")
	}
	return func(yield func(S) bool) {
		for i := 0; i < len(s); i += n {
			end := len(s)
			if len(s)-i > n {
				end = i + n
			}
			if !yield(s[i:end:end]) {
				return
			}
		}
	}
}

// Sort sorts x in increasing order (NaNs first).
func Sort[S ~[]E, E ordered](x S) {
	if hostsort.Sort(any(x)) {
		return
	}
	sort.Slice(x, func(i, j int) bool { a, b := x[i], x[j]; return (a != a && b == b) || a < b }) // cmp.Less
}

// SortFunc sorts x by cmp (negative: a before b). Not stable.
func SortFunc[S ~[]E, E any](x S, cmp func(a, b E) int) {
	sort.Slice(x, func(i, j int) bool { return cmp(x[i], x[j]) < 0 })
}

// SortStableFunc sorts x by cmp, keeping the order of equal elements.
func SortStableFunc[S ~[]E, E any](x S, cmp func(a, b E) int) {
	sort.SliceStable(x, func(i, j int) bool { return cmp(x[i], x[j]) < 0 })
}

// IsSorted reports whether x is sorted in increasing order.
func IsSorted[S ~[]E, E ordered](x S) bool {
	for i := len(x) - 1; i > 0; i-- {
		if a, b := x[i], x[i-1]; (a != a && b == b) || a < b {
			return false
		}
	}
	return true
}

// IsSortedFunc reports whether x is sorted by cmp.
func IsSortedFunc[S ~[]E, E any](x S, cmp func(a, b E) int) bool {
	for i := len(x) - 1; i > 0; i-- {
		if cmp(x[i], x[i-1]) < 0 {
			return false
		}
	}
	return true
}

// Min returns the smallest value of x; a NaN if x holds one. It panics if
// x is empty.
func Min[S ~[]E, E ordered](x S) E {
	if len(x) < 1 {
		panic("slices.Min: empty list")
	}
	m := x[0]
	for i := 1; i < len(x); i++ {
		if m != m {
			return m
		}
		if v := x[i]; v != v || v < m {
			m = v
		}
	}
	return m
}

// MinFunc returns the first minimal value of x by cmp. It panics if x is
// empty.
func MinFunc[S ~[]E, E any](x S, cmp func(a, b E) int) E {
	if len(x) < 1 {
		panic("slices.MinFunc: empty list")
	}
	m := x[0]
	for i := 1; i < len(x); i++ {
		if cmp(x[i], m) < 0 {
			m = x[i]
		}
	}
	return m
}

// Max returns the largest value of x; a NaN if x holds one. It panics if
// x is empty.
func Max[S ~[]E, E ordered](x S) E {
	if len(x) < 1 {
		panic("slices.Max: empty list")
	}
	m := x[0]
	for i := 1; i < len(x); i++ {
		if m != m {
			return m
		}
		if v := x[i]; v != v || v > m {
			m = v
		}
	}
	return m
}

// MaxFunc returns the first maximal value of x by cmp. It panics if x is
// empty.
func MaxFunc[S ~[]E, E any](x S, cmp func(a, b E) int) E {
	if len(x) < 1 {
		panic("slices.MaxFunc: empty list")
	}
	m := x[0]
	for i := 1; i < len(x); i++ {
		if cmp(x[i], m) > 0 {
			m = x[i]
		}
	}
	return m
}

// BinarySearch finds target in the sorted x: the position where it is or
// would be inserted, and whether it is there.
func BinarySearch[S ~[]E, E ordered](x S, target E) (int, bool) {
	compare := func(x, y E) int { // cmp.Compare
		if x != x {
			if y != y {
				return 0
			}
			return -1
		}
		if y != y || x > y {
			return +1
		}
		if x < y {
			return -1
		}
		return 0
	}
	lo, hi := 0, len(x)
	for lo < hi {
		h := int(uint(lo+hi) >> 1)
		if compare(x[h], target) < 0 {
			lo = h + 1
		} else {
			hi = h
		}
	}
	return lo, lo < len(x) && compare(x[lo], target) == 0
}

// BinarySearchFunc is BinarySearch with a comparison function.
func BinarySearchFunc[S ~[]E, E, T any](x S, target T, cmp func(E, T) int) (int, bool) {
	lo, hi := 0, len(x)
	for lo < hi {
		h := int(uint(lo+hi) >> 1)
		if cmp(x[h], target) < 0 {
			lo = h + 1
		} else {
			hi = h
		}
	}
	return lo, lo < len(x) && cmp(x[lo], target) == 0
}

// Equal reports whether s1 and s2 have the same length and equal elements
// (NaNs are not equal).
func Equal[S ~[]E, E comparable](s1, s2 S) bool {
	if len(s1) != len(s2) {
		return false
	}
	for i := range s1 {
		if s1[i] != s2[i] {
			return false
		}
	}
	return true
}

// EqualFunc is Equal with an equality function.
func EqualFunc[S1 ~[]E1, S2 ~[]E2, E1, E2 any](s1 S1, s2 S2, eq func(E1, E2) bool) bool {
	if len(s1) != len(s2) {
		return false
	}
	for i := range s1 {
		if !eq(s1[i], s2[i]) {
			return false
		}
	}
	return true
}

// Compare compares s1 and s2 element by element, then by length.
func Compare[S ~[]E, E ordered](s1, s2 S) int {
	compare := func(x, y E) int { // cmp.Compare
		if x != x {
			if y != y {
				return 0
			}
			return -1
		}
		if y != y || x > y {
			return +1
		}
		if x < y {
			return -1
		}
		return 0
	}
	for i := range s1 {
		if i >= len(s2) {
			return +1
		}
		if c := compare(s1[i], s2[i]); c != 0 {
			return c
		}
	}
	if len(s1) < len(s2) {
		return -1
	}
	return 0
}

// CompareFunc is Compare with a comparison function.
func CompareFunc[S1 ~[]E1, S2 ~[]E2, E1, E2 any](s1 S1, s2 S2, cmp func(E1, E2) int) int {
	for i := range s1 {
		if i >= len(s2) {
			return +1
		}
		if c := cmp(s1[i], s2[i]); c != 0 {
			return c
		}
	}
	if len(s1) < len(s2) {
		return -1
	}
	return 0
}

// Index returns the index of the first v in s, or -1.
func Index[S ~[]E, E comparable](s S, v E) int {
	for i := range s {
		if v == s[i] {
			return i
		}
	}
	return -1
}

// IndexFunc returns the index of the first element satisfying f, or -1.
func IndexFunc[S ~[]E, E any](s S, f func(E) bool) int {
	for i := range s {
		if f(s[i]) {
			return i
		}
	}
	return -1
}

// Contains reports whether v is in s.
func Contains[S ~[]E, E comparable](s S, v E) bool {
	for i := range s {
		if v == s[i] {
			return true
		}
	}
	return false
}

// ContainsFunc reports whether an element of s satisfies f.
func ContainsFunc[S ~[]E, E any](s S, f func(E) bool) bool {
	for i := range s {
		if f(s[i]) {
			return true
		}
	}
	return false
}

// Insert inserts v at s[i] and returns the result; it reuses s's array if
// it has room. It panics if i is out of range.
func Insert[S ~[]E, E any](s S, i int, v ...E) S {
	_ = s[i:] // bounds check
	n := len(s) + len(v)
	if n > cap(s) {
		out := make(S, 0, n)
		out = append(out, s[:i]...)
		out = append(out, v...)
		return append(out, s[i:]...)
	}
	vv := append([]E(nil), v...) // v may share s's array
	out := s[:n]
	copy(out[i+len(vv):], s[i:])
	copy(out[i:], vv)
	return out
}

// Delete removes s[i:j] and returns the result, zeroing the elements it
// leaves behind. It panics if s[i:j] is not a valid slice of s.
func Delete[S ~[]E, E any](s S, i, j int) S {
	_ = s[i:j:len(s)] // bounds check
	if i == j {
		return s
	}
	old := s
	s = append(s[:i], s[j:]...)
	for k, t := 0, old[len(s):]; k < len(t); k++ {
		var z E
		t[k] = z
	}
	return s
}

// DeleteFunc removes the elements that satisfy del, zeroing the elements
// it leaves behind.
func DeleteFunc[S ~[]E, E any](s S, del func(E) bool) S {
	i := 0
	for i < len(s) && !del(s[i]) {
		i++
	}
	if i == len(s) {
		return s
	}
	for j := i + 1; j < len(s); j++ {
		if v := s[j]; !del(v) {
			s[i] = v
			i++
		}
	}
	for k, t := 0, s[i:]; k < len(t); k++ {
		var z E
		t[k] = z
	}
	return s[:i]
}

// Replace replaces s[i:j] by v and returns the result, zeroing the
// elements it leaves behind. It panics if s[i:j] is not a valid slice of s.
func Replace[S ~[]E, E any](s S, i, j int, v ...E) S {
	_ = s[i:j] // bounds check
	n := len(s) - (j - i) + len(v)
	tail := append([]E(nil), s[j:]...)
	vv := append([]E(nil), v...)
	if n > cap(s) {
		out := make(S, 0, n)
		out = append(out, s[:i]...)
		out = append(out, vv...)
		return append(out, tail...)
	}
	out := s[:n]
	copy(out[i:], vv)
	copy(out[i+len(vv):], tail)
	if n < len(s) {
		for k, t := 0, s[n:]; k < len(t); k++ {
			var z E
			t[k] = z
		}
	}
	return out
}

// Clone returns a shallow copy of s (nil for nil).
func Clone[S ~[]E, E any](s S) S {
	if s == nil {
		return nil
	}
	out := make(S, len(s)) // not S([]E{}): yaegi fails on conversions to S
	copy(out, s)
	return out
}

// Compact replaces runs of equal elements by one copy, zeroing the
// elements it leaves behind.
func Compact[S ~[]E, E comparable](s S) S {
	if len(s) < 2 {
		return s
	}
	k, prev := 1, s[0]
	for i := 1; i < len(s); i++ {
		cur := s[i]
		if cur != prev {
			s[k] = cur
			k++
		}
		prev = cur
	}
	for k, t := 0, s[k:]; k < len(t); k++ {
		var z E
		t[k] = z
	}
	return s[:k]
}

// CompactFunc is Compact with an equality function; it keeps the first
// element of each run of elements equal to the one before.
func CompactFunc[S ~[]E, E any](s S, eq func(E, E) bool) S {
	if len(s) < 2 {
		return s
	}
	k, prev := 1, s[0]
	for i := 1; i < len(s); i++ {
		cur := s[i]
		if !eq(cur, prev) { // each element against the one before it in s
			s[k] = cur
			k++
		}
		prev = cur
	}
	for k, t := 0, s[k:]; k < len(t); k++ {
		var z E
		t[k] = z
	}
	return s[:k]
}

// Grow makes room for n more elements without another allocation. It
// panics if n is negative.
func Grow[S ~[]E, E any](s S, n int) S {
	if n < 0 {
		panic("cannot be negative")
	}
	if n -= cap(s) - len(s); n > 0 {
		s = append(s[:cap(s)], make([]E, n)...)[:len(s)]
	}
	return s
}

// Clip removes the unused capacity of s.
func Clip[S ~[]E, E any](s S) S {
	return s[:len(s):len(s)]
}

// Reverse reverses s in place.
func Reverse[S ~[]E, E any](s S) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}

// Concat returns a new slice with the elements of all slices in order.
func Concat[S ~[]E, E any](slices ...S) S {
	size := 0
	for _, s := range slices {
		size += len(s)
		if size < 0 {
			panic("len out of range")
		}
	}
	var out S
	if size > 0 {
		out = make(S, 0, size)
	}
	for _, s := range slices {
		out = append(out, s...)
	}
	return out
}

// Repeat returns s repeated count times. It panics if count is negative
// or the result is too long.
func Repeat[S ~[]E, E any](s S, count int) S {
	if count < 0 {
		panic("cannot be negative")
	}
	if len(s) > 0 && count > (1<<62)/len(s) {
		panic("the result of (len(x) * count) overflows")
	}
	out := make(S, 0, len(s)*count)
	for i := 0; i < count; i++ {
		out = append(out, s...)
	}
	return out
}
