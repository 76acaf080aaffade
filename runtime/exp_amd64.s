//go:build amd64 && !purego

#include "textflag.h"

// exp(v scale - shift) by the polynomial of exppoly_amd64.s: x clamped
// to [-110, 87] (e^-110 underflows to 0, so -Inf inputs give exactly 0),
// x = n ln2 + r, e^r by its Taylor polynomial to degree 7, times 2^n
// with VSCALEFPS.

DATA expC<>+0(SB)/4, $0x42ae0000  // 87
DATA expC<>+4(SB)/4, $0xc2dc0000  // -110
GLOBL expC<>(SB), RODATA|NOPTR, $8

// func expShiftAVX512(o, x *float32, n int, scale, shift float32, acc *[16]float32)
// o[i] = exp(x[i] scale - shift) for n a multiple of 16; acc gets the 16
// lane sums of o.
TEXT ·expShiftAVX512(SB), NOSPLIT, $0-40
	MOVQ o+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ acc+32(FP), DX
	VBROADCASTSS scale+24(FP), Z16
	VBROADCASTSS shift+28(FP), Z17
	VBROADCASTSS expC<>+0(SB), Z18   // 87
	VBROADCASTSS expC<>+4(SB), Z19   // -110
	VBROADCASTSS ·expPoly+0(SB), Z20 // log2e
	VBROADCASTSS ·expPoly+4(SB), Z21 // ln2 hi
	VBROADCASTSS ·expPoly+8(SB), Z22 // ln2 lo
	VBROADCASTSS ·expPoly+12(SB), Z23 // 1
	VBROADCASTSS ·expPoly+16(SB), Z24 // 1/2
	VBROADCASTSS ·expPoly+20(SB), Z25 // 1/6
	VBROADCASTSS ·expPoly+24(SB), Z26 // 1/24
	VBROADCASTSS ·expPoly+28(SB), Z27 // 1/120
	VBROADCASTSS ·expPoly+32(SB), Z28 // 1/720
	VBROADCASTSS ·expPoly+36(SB), Z29 // 1/5040
	VXORPS Z15, Z15, Z15             // lane sums

eloop:
	VMOVUPS (SI), Z0
	VMULPS Z16, Z0, Z2           // v scale
	VSUBPS Z17, Z2, Z2           // x = v scale - shift
	VMINPS Z18, Z2, Z2
	VMAXPS Z19, Z2, Z2
	VMULPS Z20, Z2, Z3           // x log2e
	VRNDSCALEPS $0, Z3, Z3       // n = round(x log2e)
	VMOVAPS Z2, Z4
	VFNMADD231PS Z3, Z21, Z4     // r = x - n ln2hi
	VFNMADD231PS Z3, Z22, Z4     // r -= n ln2lo
	VMOVAPS Z29, Z5              // p = 1/5040
	VFMADD213PS Z28, Z4, Z5      // p = p r + 1/720
	VFMADD213PS Z27, Z4, Z5      // + 1/120
	VFMADD213PS Z26, Z4, Z5      // + 1/24
	VFMADD213PS Z25, Z4, Z5      // + 1/6
	VFMADD213PS Z24, Z4, Z5      // + 1/2
	VFMADD213PS Z23, Z4, Z5      // + 1
	VFMADD213PS Z23, Z4, Z5      // + 1: p = e^r
	VSCALEFPS Z3, Z5, Z5         // e^x = p 2^n
	VMOVUPS Z5, (DI)
	VADDPS Z5, Z15, Z15
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JNZ eloop
	VMOVUPS Z15, (DX)
	VZEROUPPER
	RET
