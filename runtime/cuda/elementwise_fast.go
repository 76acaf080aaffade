package cuda

// Kernel choice for the elementwise ops (Binary, Copy, Unary): float4
// variants where every operand they load or store as float4 is 16-byte
// aligned, and binary_row for a contiguous tensor and a row vector
// broadcast down it (Linear's bias add); the scalar kernels otherwise.

// aligned16 reports whether b's first element is 16-byte aligned (a float4
// load or store from it does not fault); the nil Buffer counts as aligned.
func aligned16(b Buffer) bool { return b.Addr()%16 == 0 }

// vec4Strides rewrites a coalesced shape sh and strides st (st[0] the
// output's; coalesce's own slices, changed in place) for a float4 strided
// kernel (binary_strided4, copy_strided4): the last dimension counted in
// float4s and each last stride of 1 made 4, with vec[j] set for operand j
// loaded as float4s (a last stride of 0: splat). It fails, changing
// nothing, unless the last dimension is a multiple of 4, out's last stride
// is 1, and every other operand's is 1 or 0; an operand stepping by
// float4s must also start 16-byte aligned (bufs[j]) and have every other
// stride a multiple of 4, so that each of its float4s is aligned.
func vec4Strides(sh []int, st [][]int, bufs ...Buffer) (vec [3]bool, ok bool) {
	last := len(sh) - 1
	if sh[last]%4 != 0 || st[0][last] != 1 {
		return vec, false
	}
	for j, s := range st {
		switch s[last] {
		case 0:
			continue // splat: any offset
		case 1:
		default:
			return vec, false
		}
		if !aligned16(bufs[j]) {
			return vec, false
		}
		for _, x := range s[:last] {
			if x%4 != 0 {
				return vec, false
			}
		}
		vec[j] = true
	}
	sh[last] /= 4
	for _, s := range st {
		s[last] *= 4
	}
	return vec, true
}

// b2i is a kernel's int flag.
func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// binaryContig launches out[i] = a[i*sa] op b[i*sb] over n elements, sa
// and sb in {0, 1}: binary_contig4 when both walk by 1 and the three start
// 16-byte aligned, binary_contig otherwise.
func (d *Device) binaryContig(op BinaryOp, out, a, b Buffer, n, sa, sb int) error {
	if sa == 1 && sb == 1 && n >= 4 && aligned16(out) && aligned16(a) && aligned16(b) {
		return d.launch("binary_contig4", dim3{x: gridFor(n/4, blk)}, dim3{x: blk}, 0, out, a, b, n, int(op))
	}
	return d.launch("binary_contig", dim3{x: gridFor(n, blk)}, dim3{x: blk}, 0, out, a, b, n, sa, sb, int(op))
}

// binaryFast launches out = a op b over the coalesced shape sh and strides
// st (out's, a's, b's) with binaryContig when the three walk one
// dimension by 1 or 0, or binary_row(4) when out and one operand are
// [rows, n] contiguous and the other a [n] row broadcast down them. It
// reports false, launching nothing, for any other layout.
func (d *Device) binaryFast(op BinaryOp, out, a, b Buffer, sh []int, st [][]int) (bool, error) {
	unit := func(s int) bool { return s == 0 || s == 1 }
	if len(sh) == 1 && (st[0][0] == 1 || sh[0] == 1) && unit(st[1][0]) && unit(st[2][0]) {
		return true, d.binaryContig(op, out, a, b, sh[0], st[1][0], st[2][0])
	}
	if len(sh) != 2 {
		return false, nil
	}
	rows, ncol := sh[0], sh[1]
	dense := func(s []int) bool { return s[0] == ncol && s[1] == 1 }
	row := func(s []int) bool { return s[0] == 0 && s[1] == 1 }
	x, r, rowIsA := a, b, false
	switch {
	case !dense(st[0]):
		return false, nil
	case dense(st[1]) && row(st[2]):
	case row(st[1]) && dense(st[2]):
		x, r, rowIsA = b, a, true
	default:
		return false, nil
	}
	n := rows * ncol
	if ncol%4 == 0 && aligned16(out) && aligned16(x) && aligned16(r) {
		return true, d.launch("binary_row4", dim3{x: gridFor(n/4, blk)}, dim3{x: blk}, 0, out, x, r, n/4, ncol/4, b2i(rowIsA), int(op))
	}
	return true, d.launch("binary_row", dim3{x: gridFor(n, blk)}, dim3{x: blk}, 0, out, x, r, n, ncol, b2i(rowIsA), int(op))
}
