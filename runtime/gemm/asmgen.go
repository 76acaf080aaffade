//go:build ignore

// asmgen writes kernels_amd64.s. Run with: go run asmgen.go
package main

import (
	"bytes"
	"fmt"
	"os"
)

var buf bytes.Buffer

func p(format string, args ...any) { fmt.Fprintf(&buf, "\t"+format+"\n", args...) }
func label(l string)               { fmt.Fprintf(&buf, "%s:\n", l) }

// genAVX512Kernel writes the 12x32 outer-product micro-kernel.
//
//	func kernAVX512(k int, a, b *float32, bs int, c *float32, ldc int, alpha, beta float32, pf uintptr, pfs, pf2 int)
//
// a: packed A panel, k steps of 12 floats. b: B panel, k rows of 32 floats
// with row stride bs (elements). c: 12x32 tile with row stride ldc.
// pf: each step prefetches the lines at pf and pf+pf2, then advances pf
// by pfs bytes.
// Registers: Z0..Z23 accumulators (row i: Z2i, Z2i+1), Z24/Z25 B row,
// Z26..Z31 broadcasts.
func genAVX512Kernel(mr int, name string) {
	fmt.Fprintf(&buf, "\n// func %s(k int, a, b *float32, bs int, c *float32, ldc int, alpha, beta float32, pf uintptr, pfs, pf2 int)\n", name)
	fmt.Fprintf(&buf, "TEXT ·%s(SB), NOSPLIT, $0-80\n", name)
	p("MOVQ k+0(FP), CX")
	p("MOVQ a+8(FP), AX")
	p("MOVQ b+16(FP), BX")
	p("MOVQ bs+24(FP), DX")
	p("SHLQ $2, DX")
	p("MOVQ pf+56(FP), R8")
	p("MOVQ pfs+64(FP), R10")
	p("MOVQ pf2+72(FP), R11")
	for i := 0; i < 2*mr; i++ {
		p("VPXORD Z%d, Z%d, Z%d", i, i, i)
	}
	step := func(aoff int) {
		p("VMOVUPS (BX), Z24")
		p("VMOVUPS 64(BX), Z25")
		p("PREFETCHT2 (R8)")
		p("PREFETCHT2 (R8)(R11*1)")
		p("ADDQ DX, BX")
		p("ADDQ R10, R8")
		for i := 0; i < mr; i++ {
			t := 26 + i%6
			p("VBROADCASTSS %d(AX), Z%d", aoff+4*i, t)
			p("VFMADD231PS Z24, Z%d, Z%d", t, 2*i)
			p("VFMADD231PS Z25, Z%d, Z%d", t, 2*i+1)
		}
	}
	p("CMPQ CX, $4")
	p("JL %s_tail", name)
	label(name + "_loop4")
	for u := 0; u < 4; u++ {
		step(u * 4 * mr)
	}
	p("ADDQ $%d, AX", 4*4*mr)
	p("SUBQ $4, CX")
	p("CMPQ CX, $4")
	p("JGE %s_loop4", name)
	label(name + "_tail")
	p("TESTQ CX, CX")
	p("JE %s_store", name)
	step(0)
	p("ADDQ $%d, AX", 4*mr)
	p("DECQ CX")
	p("JMP %s_tail", name)
	label(name + "_store")
	p("MOVQ c+32(FP), DI")
	p("MOVQ ldc+40(FP), SI")
	p("SHLQ $2, SI")
	p("VBROADCASTSS alpha+48(FP), Z26")
	for i := 0; i < 2*mr; i++ {
		p("VMULPS Z26, Z%d, Z%d", i, i)
	}
	p("MOVL beta+52(FP), R9")
	p("ANDL $0x7fffffff, R9")
	p("JNE %s_beta", name)
	for i := 0; i < mr; i++ {
		p("VMOVUPS Z%d, (DI)", 2*i)
		p("VMOVUPS Z%d, 64(DI)", 2*i+1)
		if i < mr-1 {
			p("ADDQ SI, DI")
		}
	}
	p("VZEROUPPER")
	p("RET")
	label(name + "_beta")
	p("VBROADCASTSS beta+52(FP), Z27")
	for i := 0; i < mr; i++ {
		p("VFMADD231PS (DI), Z27, Z%d", 2*i)
		p("VFMADD231PS 64(DI), Z27, Z%d", 2*i+1)
		p("VMOVUPS Z%d, (DI)", 2*i)
		p("VMOVUPS Z%d, 64(DI)", 2*i+1)
		if i < mr-1 {
			p("ADDQ SI, DI")
		}
	}
	p("VZEROUPPER")
	p("RET")
}

// genAVX2Kernel writes the 6x16 AVX2+FMA micro-kernel with the same
// signature. Y0..Y11 accumulators, Y12/Y13 B row, Y14/Y15 broadcasts.
func genAVX2Kernel() {
	const mr = 6
	fmt.Fprintf(&buf, "\n// func kernAVX2(k int, a, b *float32, bs int, c *float32, ldc int, alpha, beta float32, pf uintptr, pfs, pf2 int)\n")
	fmt.Fprintf(&buf, "TEXT ·kernAVX2(SB), NOSPLIT, $0-80\n")
	p("MOVQ k+0(FP), CX")
	p("MOVQ a+8(FP), AX")
	p("MOVQ b+16(FP), BX")
	p("MOVQ bs+24(FP), DX")
	p("SHLQ $2, DX")
	p("MOVQ pf+56(FP), R8")
	p("MOVQ pfs+64(FP), R10")
	p("MOVQ pf2+72(FP), R11")
	for i := 0; i < 2*mr; i++ {
		p("VXORPS Y%d, Y%d, Y%d", i, i, i)
	}
	step := func(aoff int) {
		p("VMOVUPS (BX), Y12")
		p("VMOVUPS 32(BX), Y13")
		p("PREFETCHT2 (R8)")
		p("PREFETCHT2 (R8)(R11*1)")
		p("ADDQ DX, BX")
		p("ADDQ R10, R8")
		for i := 0; i < mr; i++ {
			t := 14 + i%2
			p("VBROADCASTSS %d(AX), Y%d", aoff+4*i, t)
			p("VFMADD231PS Y12, Y%d, Y%d", t, 2*i)
			p("VFMADD231PS Y13, Y%d, Y%d", t, 2*i+1)
		}
	}
	p("CMPQ CX, $4")
	p("JL avx2_tail")
	label("avx2_loop4")
	for u := 0; u < 4; u++ {
		step(u * 4 * mr)
	}
	p("ADDQ $%d, AX", 4*4*mr)
	p("SUBQ $4, CX")
	p("CMPQ CX, $4")
	p("JGE avx2_loop4")
	label("avx2_tail")
	p("TESTQ CX, CX")
	p("JE avx2_store")
	step(0)
	p("ADDQ $%d, AX", 4*mr)
	p("DECQ CX")
	p("JMP avx2_tail")
	label("avx2_store")
	p("MOVQ c+32(FP), DI")
	p("MOVQ ldc+40(FP), SI")
	p("SHLQ $2, SI")
	p("VBROADCASTSS alpha+48(FP), Y14")
	for i := 0; i < 2*mr; i++ {
		p("VMULPS Y14, Y%d, Y%d", i, i)
	}
	p("MOVL beta+52(FP), R9")
	p("ANDL $0x7fffffff, R9")
	p("JNE avx2_beta")
	for i := 0; i < mr; i++ {
		p("VMOVUPS Y%d, (DI)", 2*i)
		p("VMOVUPS Y%d, 32(DI)", 2*i+1)
		if i < mr-1 {
			p("ADDQ SI, DI")
		}
	}
	p("VZEROUPPER")
	p("RET")
	label("avx2_beta")
	p("VBROADCASTSS beta+52(FP), Y15")
	for i := 0; i < mr; i++ {
		p("VFMADD231PS (DI), Y15, Y%d", 2*i)
		p("VFMADD231PS 32(DI), Y15, Y%d", 2*i+1)
		p("VMOVUPS Y%d, (DI)", 2*i)
		p("VMOVUPS Y%d, 32(DI)", 2*i+1)
		if i < mr-1 {
			p("ADDQ SI, DI")
		}
	}
	p("VZEROUPPER")
	p("RET")
}

// genDotAVX512 writes the 5x4 dot-product kernel used for small m with
// transposed B:
//
//	func dotAVX512(k int, a *float32, lda, rows int, b *float32, ldb, cols int, c *float32, ldc int, alpha, beta float32)
//
// C[i][j] = alpha * sum_p A[i][p]*B[j][p] + beta*C[i][j] for i < rows (<=5),
// j < cols (<=4). Rows of A beyond rows (and of B beyond cols) are read
// from the last valid row, never from outside.
// Registers: acc(i,j) = Z(4i+j), Z20..Z23 B rows, Z24..Z28 A rows.
func genDotAVX512() {
	fmt.Fprintf(&buf, "\n// func dotAVX512(k int, a *float32, lda, rows int, b *float32, ldb, cols int, c *float32, ldc int, alpha, beta float32)\n")
	fmt.Fprintf(&buf, "TEXT ·dotAVX512(SB), NOSPLIT, $0-80\n")
	aRegs := []string{"R8", "R9", "R10", "R11", "R12"}
	bRegs := []string{"AX", "BX", "SI", "DI"}
	p("MOVQ lda+16(FP), DX")
	p("SHLQ $2, DX")
	p("MOVQ rows+24(FP), CX")
	p("MOVQ a+8(FP), R8")
	for i := 1; i < 5; i++ {
		p("LEAQ (%s)(DX*1), %s", aRegs[i-1], aRegs[i])
		p("CMPQ CX, $%d", i)
		p("CMOVQLE %s, %s", aRegs[i-1], aRegs[i])
	}
	p("MOVQ ldb+40(FP), DX")
	p("SHLQ $2, DX")
	p("MOVQ cols+48(FP), CX")
	p("MOVQ b+32(FP), AX")
	for j := 1; j < 4; j++ {
		p("LEAQ (%s)(DX*1), %s", bRegs[j-1], bRegs[j])
		p("CMPQ CX, $%d", j)
		p("CMOVQLE %s, %s", bRegs[j-1], bRegs[j])
	}
	if dotPF == 1 {
		p("LEAQ (AX)(DX*4), R13")
	} else {
		p("LEAQ (AX)(DX*8), R13")
	}
	for i := 0; i < 20; i++ {
		p("VPXORD Z%d, Z%d, Z%d", i, i, i)
	}
	p("XORQ DX, DX")
	p("MOVQ k+0(FP), CX")
	p("SHRQ $4, CX")
	p("JE dot_tail")
	body := func(masked bool) {
		ld := "VMOVUPS"
		mask := ""
		if masked {
			ld = "VMOVUPS.Z"
			mask = ", K1"
		}
		for j := 0; j < 4; j++ {
			p("%s (%s)(DX*1)%s, Z%d", ld, bRegs[j], mask, 20+j)
			if !masked && dotPF > 0 {
				// Next group(s) of B rows, assumed contiguous: 4 lines
				// per step cover 4 rows of k floats over the k loop.
				p("PREFETCHT0 %d(R13)(DX*4)", 64*j)
			}
		}
		for i := 0; i < 5; i++ {
			t := 24 + i
			p("%s (%s)(DX*1)%s, Z%d", ld, aRegs[i], mask, t)
			for j := 0; j < 4; j++ {
				p("VFMADD231PS Z%d, Z%d, Z%d", 20+j, t, 4*i+j)
			}
		}
	}
	label("dot_loop")
	body(false)
	p("ADDQ $64, DX")
	p("DECQ CX")
	p("JNE dot_loop")
	label("dot_tail")
	p("MOVQ k+0(FP), CX")
	p("ANDQ $15, CX")
	p("JE dot_reduce")
	p("MOVL $1, R13")
	p("SHLL CX, R13")
	p("DECL R13")
	p("KMOVW R13, K1")
	body(true)
	label("dot_reduce")
	// column mask K2 = (1<<cols)-1
	p("MOVQ cols+48(FP), CX")
	p("MOVL $1, R13")
	p("SHLL CX, R13")
	p("DECL R13")
	p("KMOVW R13, K2")
	p("MOVQ c+56(FP), DI")
	p("MOVQ ldc+64(FP), SI")
	p("SHLQ $2, SI")
	p("MOVQ rows+24(FP), CX")
	p("VBROADCASTSS alpha+72(FP), X29")
	p("VBROADCASTSS beta+76(FP), X30")
	p("MOVL beta+76(FP), R13")
	p("ANDL $0x7fffffff, R13")
	for i := 0; i < 5; i++ {
		var r [4]int
		for j := 0; j < 4; j++ {
			src := 4*i + j
			p("VEXTRACTF64X4 $1, Z%d, Y24", src)
			p("VADDPS Y24, Y%d, Y%d", src, src)
			p("VEXTRACTF32X4 $1, Y%d, X24", src)
			p("VADDPS X24, X%d, X%d", src, src)
			r[j] = src
			if src >= 16 {
				p("VMOVAPS X%d, X%d", src, src-16)
				r[j] = src - 16
			}
		}
		p("VHADDPS X%d, X%d, X%d", r[1], r[0], r[0])
		p("VHADDPS X%d, X%d, X%d", r[3], r[2], r[2])
		p("VHADDPS X%d, X%d, X%d", r[2], r[0], r[0])
		p("VMULPS X29, X%d, X%d", r[0], r[0])
		p("TESTL R13, R13")
		p("JE dot_nobeta%d", i)
		p("VMOVUPS.Z (DI), K2, X24")
		p("VFMADD231PS X24, X30, X%d", r[0])
		label(fmt.Sprintf("dot_nobeta%d", i))
		p("VMOVUPS X%d, K2, (DI)", r[0])
		if i < 4 {
			p("CMPQ CX, $%d", i+1)
			p("JLE dot_done")
			p("ADDQ SI, DI")
		}
	}
	label("dot_done")
	p("VZEROUPPER")
	p("RET")
}

// genPeak writes FMA throughput loops: 16 independent accumulators.
func genPeak() {
	for _, v := range []struct {
		name, reg string
	}{{"peakAVX512", "Z"}, {"peakAVX2", "Y"}} {
		nacc := 16
		if v.reg == "Y" {
			nacc = 12
		}
		fmt.Fprintf(&buf, "\n// func %s(iters int)\n", v.name)
		fmt.Fprintf(&buf, "TEXT ·%s(SB), NOSPLIT, $0-8\n", v.name)
		p("MOVQ iters+0(FP), CX")
		xor := "VXORPS"
		if v.reg == "Z" {
			xor = "VPXORD"
		}
		for i := 0; i < nacc+2; i++ {
			p("%s %s%d, %s%d, %s%d", xor, v.reg, i, v.reg, i, v.reg, i)
		}
		label(v.name + "_loop")
		for u := 0; u < 2; u++ {
			for i := 0; i < nacc; i++ {
				p("VFMADD231PS %s%d, %s%d, %s%d", v.reg, nacc, v.reg, nacc+1, v.reg, i)
			}
		}
		p("DECQ CX")
		p("JNE %s_loop", v.name)
		p("VZEROUPPER")
		p("RET")
	}
}

var dotPF = 1 // dot kernel prefetch distance in groups of 4 B rows (1 or 2)

func main() {
	if len(os.Args) > 1 {
		fmt.Sscan(os.Args[1], &dotPF)
	}
	buf.WriteString("// Code generated by asmgen.go; DO NOT EDIT.\n\n//go:build amd64 && !purego\n\n#include \"textflag.h\"\n")
	genAVX512Kernel(12, "kernAVX512")
	for _, mr := range []int{1, 2, 4, 8} {
		genAVX512Kernel(mr, fmt.Sprintf("kernAVX512x%d", mr))
	}
	genAVX2Kernel()
	genDotAVX512()
	genPeak()
	genSum()
	genPackBT()
	genPackA()
	if err := os.WriteFile("kernels_amd64.s", buf.Bytes(), 0o644); err != nil {
		panic(err)
	}
}

// genSum writes a streaming sum used to measure memory bandwidth:
//
//	func sumAVX512(x *float32, n int) float32   (n multiple of 64)
func genSum() {
	fmt.Fprintf(&buf, "\n// func sumAVX512(x *float32, n int) float32\n")
	fmt.Fprintf(&buf, "TEXT ·sumAVX512(SB), NOSPLIT, $0-20\n")
	p("MOVQ x+0(FP), AX")
	p("MOVQ n+8(FP), CX")
	p("SHRQ $6, CX")
	for i := 0; i < 4; i++ {
		p("VPXORD Z%d, Z%d, Z%d", i, i, i)
	}
	p("TESTQ CX, CX")
	p("JE sum_done")
	label("sum_loop")
	for i := 0; i < 4; i++ {
		p("VADDPS %d(AX), Z%d, Z%d", 64*i, i, i)
	}
	p("ADDQ $256, AX")
	p("DECQ CX")
	p("JNE sum_loop")
	label("sum_done")
	p("VADDPS Z1, Z0, Z0")
	p("VADDPS Z3, Z2, Z2")
	p("VADDPS Z2, Z0, Z0")
	p("VEXTRACTF64X4 $1, Z0, Y1")
	p("VADDPS Y1, Y0, Y0")
	p("VEXTRACTF128 $1, Y0, X1")
	p("VADDPS X1, X0, X0")
	p("VHADDPS X0, X0, X0")
	p("VHADDPS X0, X0, X0")
	p("VMOVSS X0, ret+16(FP)")
	p("VZEROUPPER")
	p("RET")
}

// transpose16 transposes the 16x16 block held in Z0..Z15 (row r in Zr)
// using Z16..Z31 as scratch; afterwards column c is in Zc.
func transpose16() {
	// stage 1: pairs of rows
	for i := 0; i < 8; i++ {
		p("VUNPCKLPS Z%d, Z%d, Z%d", 2*i+1, 2*i, 16+2*i)
		p("VUNPCKHPS Z%d, Z%d, Z%d", 2*i+1, 2*i, 16+2*i+1)
	}
	// stage 2: quads. For quad g (rows 4g..4g+3): t = 16+4g ..
	// u(4g+0) = lopd(t0,t2), u(4g+1) = hipd(t0,t2), u(4g+2) = lopd(t1,t3), u(4g+3) = hipd(t1,t3)
	for g := 0; g < 4; g++ {
		t := 16 + 4*g
		p("VUNPCKLPD Z%d, Z%d, Z%d", t+2, t, 4*g+0)
		p("VUNPCKHPD Z%d, Z%d, Z%d", t+2, t, 4*g+1)
		p("VUNPCKLPD Z%d, Z%d, Z%d", t+3, t+1, 4*g+2)
		p("VUNPCKHPD Z%d, Z%d, Z%d", t+3, t+1, 4*g+3)
	}
	// u(4g+q) lane L holds column 4L+q of rows 4g..4g+3.
	// stage 3: for each q: v0 = shuf(u q, u 4+q), v1 = ..., w0/w1 from u 8+q, u 12+q
	for q := 0; q < 4; q++ {
		p("VSHUFF32X4 $0x88, Z%d, Z%d, Z%d", 4+q, q, 16+4*q+0)
		p("VSHUFF32X4 $0xDD, Z%d, Z%d, Z%d", 4+q, q, 16+4*q+1)
		p("VSHUFF32X4 $0x88, Z%d, Z%d, Z%d", 12+q, 8+q, 16+4*q+2)
		p("VSHUFF32X4 $0xDD, Z%d, Z%d, Z%d", 12+q, 8+q, 16+4*q+3)
	}
	// stage 4: col q = shuf88(v0,w0), col 8+q = shufDD(v0,w0),
	// col 4+q = shuf88(v1,w1), col 12+q = shufDD(v1,w1)
	for q := 0; q < 4; q++ {
		v0, v1, w0, w1 := 16+4*q, 16+4*q+1, 16+4*q+2, 16+4*q+3
		p("VSHUFF32X4 $0x88, Z%d, Z%d, Z%d", w0, v0, q)
		p("VSHUFF32X4 $0xDD, Z%d, Z%d, Z%d", w0, v0, 8+q)
		p("VSHUFF32X4 $0x88, Z%d, Z%d, Z%d", w1, v1, 4+q)
		p("VSHUFF32X4 $0xDD, Z%d, Z%d, Z%d", w1, v1, 12+q)
	}
}

// genPackA writes the A packer for full 12-row panels (not transposed A):
//
//	func packAAVX512(dst, src *float32, lda, kc int)
//
// For p < kc (a multiple of 16) and i < 12: dst[p*12+i] = src[i*lda+p].
func genPackA() {
	fmt.Fprintf(&buf, "\n// func packAAVX512(dst, src *float32, lda, kc int)\n")
	fmt.Fprintf(&buf, "TEXT ·packAAVX512(SB), NOSPLIT, $0-32\n")
	p("MOVQ dst+0(FP), DI")
	p("MOVQ src+8(FP), SI")
	p("MOVQ lda+16(FP), DX")
	p("SHLQ $2, DX")
	p("MOVQ kc+24(FP), CX")
	p("SHRQ $4, CX")
	p("JE pa_done")
	p("MOVL $0x0fff, R8")
	p("KMOVW R8, K1")
	label("pa_loop")
	p("MOVQ SI, R9")
	for r := 0; r < 12; r++ {
		p("VMOVUPS (R9), Z%d", r)
		p("ADDQ DX, R9")
	}
	for r := 12; r < 16; r++ {
		p("VPXORD Z%d, Z%d, Z%d", r, r, r)
	}
	transpose16()
	for c := 0; c < 16; c++ {
		p("VMOVUPS Z%d, K1, %d(DI)", c, c*48)
	}
	p("ADDQ $64, SI")
	p("ADDQ $768, DI")
	p("DECQ CX")
	p("JNE pa_loop")
	label("pa_done")
	p("VZEROUPPER")
	p("RET")
}

// genPackBT writes the transposing B packer for the AVX-512 kernel:
//
//	func packBTAVX512(dst, src *float32, ldb, kc int)
//
// For p < kc (a multiple of 16) and r < 32: dst[p*32+r] = src[r*ldb+p].
func genPackBT() {
	fmt.Fprintf(&buf, "\n// func packBTAVX512(dst, src *float32, ldb, kc int)\n")
	fmt.Fprintf(&buf, "TEXT ·packBTAVX512(SB), NOSPLIT, $0-32\n")
	p("MOVQ dst+0(FP), DI")
	p("MOVQ src+8(FP), SI")
	p("MOVQ ldb+16(FP), DX")
	p("SHLQ $2, DX")
	p("MOVQ kc+24(FP), CX")
	p("SHRQ $4, CX")
	p("JE pbt_done")
	label("pbt_loop")
	for h := 0; h < 2; h++ {
		if h == 0 {
			p("MOVQ SI, R9")
		}
		for r := 0; r < 16; r++ {
			p("VMOVUPS (R9), Z%d", r)
			p("ADDQ DX, R9")
		}
		transpose16()
		for c := 0; c < 16; c++ {
			p("VMOVUPS Z%d, %d(DI)", c, c*128+h*64)
		}
	}
	p("ADDQ $64, SI")
	p("ADDQ $2048, DI")
	p("DECQ CX")
	p("JNE pbt_loop")
	label("pbt_done")
	p("VZEROUPPER")
	p("RET")
}

// genPrefetch
