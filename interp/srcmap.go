package interp

import (
	"sort"
	"strings"
)

// edit replaces src[off:end] with text. Insertions have off == end.
type edit struct {
	off, end int
	text     string
	seq      int // insertion order, to keep several insertions at one offset stable
}

// srcMap maps offsets of a rewritten source back to the source it came from.
type srcMap struct {
	edits []edit // sorted, applied
}

// applyEdits returns src with the edits applied, and the map from the
// offsets of the result back to offsets of src. Overlapping edits are
// dropped (the first one wins).
func applyEdits(src string, edits []edit) (string, *srcMap) {
	for i := range edits {
		edits[i].seq = i
	}
	sort.SliceStable(edits, func(i, j int) bool {
		if edits[i].off != edits[j].off {
			return edits[i].off < edits[j].off
		}
		// Insertions before replacements at the same offset.
		ii, ij := edits[i].off == edits[i].end, edits[j].off == edits[j].end
		if ii != ij {
			return ii
		}
		return edits[i].seq < edits[j].seq
	})
	var b strings.Builder
	m := &srcMap{}
	last := 0
	for _, e := range edits {
		if e.off < last || e.end > len(src) {
			continue // overlapping: skip
		}
		b.WriteString(src[last:e.off])
		b.WriteString(e.text)
		last = e.end
		m.edits = append(m.edits, e)
	}
	b.WriteString(src[last:])
	return b.String(), m
}

// orig maps an offset of the rewritten source to an offset of the original.
// Offsets inside inserted text map to the start of the edit.
func (m *srcMap) orig(off int) int {
	if m == nil {
		return off
	}
	delta := 0 // rewritten - original
	for _, e := range m.edits {
		newStart := e.off + delta
		if off < newStart {
			break
		}
		newEnd := newStart + len(e.text)
		if off < newEnd {
			return e.off
		}
		delta += len(e.text) - (e.end - e.off)
	}
	return off - delta
}

// lineCol converts a byte offset of src to 1-based line and column (bytes).
func lineCol(src string, off int) (int, int) {
	if off > len(src) {
		off = len(src)
	}
	if off < 0 {
		off = 0
	}
	line := 1 + strings.Count(src[:off], "\n")
	col := off - strings.LastIndex(src[:off], "\n")
	return line, col
}

// offsetOf converts a 1-based line and column of src to a byte offset.
func offsetOf(src string, line, col int) int {
	off := 0
	for l := 1; l < line; l++ {
		i := strings.IndexByte(src[off:], '\n')
		if i < 0 {
			return len(src)
		}
		off += i + 1
	}
	off += col - 1
	if off > len(src) {
		off = len(src)
	}
	return off
}

// blankExcept returns src with every byte outside the given ranges replaced
// by a space, newlines kept, so offsets, lines and columns are unchanged.
func blankExcept(src string, keep [][2]int) string {
	b := []byte(src)
	in := make([]bool, len(b))
	for _, r := range keep {
		for i := r[0]; i < r[1] && i < len(b); i++ {
			in[i] = true
		}
	}
	for i := range b {
		if !in[i] && b[i] != '\n' {
			b[i] = ' '
		}
	}
	return string(b)
}
