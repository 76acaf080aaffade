// Package hostsort sorts slices of the basic ordered types in compiled
// code for the interpreted slices package: a sort through interpreted
// comparisons costs about a microsecond a comparison, so sorting the 50257
// logits of one position took most of a second.
package hostsort

import "slices"

// Sort sorts x in place in increasing order, NaNs first, as slices.Sort
// does, and reports whether x had one of the types it knows.
func Sort(x any) bool {
	switch v := x.(type) {
	case []float32:
		slices.Sort(v)
	case []float64:
		slices.Sort(v)
	case []int:
		slices.Sort(v)
	case []int64:
		slices.Sort(v)
	case []int32:
		slices.Sort(v)
	case []int16:
		slices.Sort(v)
	case []int8:
		slices.Sort(v)
	case []uint:
		slices.Sort(v)
	case []uint64:
		slices.Sort(v)
	case []uint32:
		slices.Sort(v)
	case []uint16:
		slices.Sort(v)
	case []uint8:
		slices.Sort(v)
	case []uintptr:
		slices.Sort(v)
	case []string:
		slices.Sort(v)
	default:
		return false
	}
	return true
}
