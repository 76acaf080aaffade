//go:build amd64 && !purego

#include "textflag.h"

// gelu_new(v) = 0.5 v (1 + tanh(u)), u = sqrt(2/pi) (v + 0.044715 v^3),
// computed as v / (1 + exp(-2u)) (the same function: 1 + tanh(u) =
// 2 / (1 + exp(-2u))), which is stable at both ends. exp(x) for
// x = -2u clamped to [-87, 87]: x = n ln2 + r, |r| <= ln2/2, e^r by its
// Taylor polynomial to degree 7, times 2^n with VSCALEFPS.

DATA geluC<>+0(SB)/4, $0x3d372713  // 0.044715
DATA geluC<>+4(SB)/4, $0xbfcc422a  // -2 sqrt(2/pi) = -1.5957691
DATA geluC<>+8(SB)/4, $0x42ae0000  // 87
DATA geluC<>+12(SB)/4, $0xc2ae0000 // -87
GLOBL geluC<>(SB), RODATA|NOPTR, $16

// func geluAVX512(o, x *float32, n int)
TEXT ·geluAVX512(SB), NOSPLIT, $0-24
	MOVQ o+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS geluC<>+0(SB), Z16  // c
	VBROADCASTSS geluC<>+4(SB), Z17  // -2k
	VBROADCASTSS geluC<>+8(SB), Z18  // 87
	VBROADCASTSS geluC<>+12(SB), Z19 // -87
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

loop:
	VMOVUPS (SI), Z0             // v
	VMULPS Z0, Z0, Z1            // v^2
	VMOVAPS Z23, Z2
	VFMADD231PS Z1, Z16, Z2      // 1 + c v^2
	VMULPS Z0, Z2, Z2            // v (1 + c v^2)
	VMULPS Z17, Z2, Z2           // x = -2u
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
	VADDPS Z23, Z5, Z5           // 1 + e^x
	VDIVPS Z5, Z0, Z6            // v / (1 + e^x)
	VMOVUPS Z6, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JNZ loop
	VZEROUPPER
	RET

DATA geluD<>+0(SB)/4, $0x3fcc422a // 2 sqrt(2/pi) = 1.5957691
DATA geluD<>+4(SB)/4, $0x3e095d4f // 3 * 0.044715 = 0.134145
GLOBL geluD<>(SB), RODATA|NOPTR, $8

// func geluGradAVX512(gi, gr, x *float32, n int)
// gi = g * d/dv [v s], s = 1/(1+e), e = exp(-2u):
// d = s + v s (1-s) 2 du/dv = s + v s^2 e 2k (1 + 3c v^2).
TEXT ·geluGradAVX512(SB), NOSPLIT, $0-32
	MOVQ gi+0(FP), DI
	MOVQ gr+8(FP), DX
	MOVQ x+16(FP), SI
	MOVQ n+24(FP), CX
	VBROADCASTSS geluC<>+0(SB), Z16
	VBROADCASTSS geluC<>+4(SB), Z17
	VBROADCASTSS geluC<>+8(SB), Z18
	VBROADCASTSS geluC<>+12(SB), Z19
	VBROADCASTSS ·expPoly+0(SB), Z20
	VBROADCASTSS ·expPoly+4(SB), Z21
	VBROADCASTSS ·expPoly+8(SB), Z22
	VBROADCASTSS ·expPoly+12(SB), Z23
	VBROADCASTSS ·expPoly+16(SB), Z24
	VBROADCASTSS ·expPoly+20(SB), Z25
	VBROADCASTSS ·expPoly+24(SB), Z26
	VBROADCASTSS ·expPoly+28(SB), Z27
	VBROADCASTSS ·expPoly+32(SB), Z28
	VBROADCASTSS ·expPoly+36(SB), Z29
	VBROADCASTSS geluD<>+0(SB), Z30  // 2k
	VBROADCASTSS geluD<>+4(SB), Z31  // 3c

gloop:
	VMOVUPS (SI), Z0             // v
	VMULPS Z0, Z0, Z1            // v^2
	VMOVAPS Z23, Z2
	VFMADD231PS Z1, Z16, Z2      // 1 + c v^2
	VMULPS Z0, Z2, Z2
	VMULPS Z17, Z2, Z2           // x = -2u
	VMINPS Z18, Z2, Z2
	VMAXPS Z19, Z2, Z2
	VMULPS Z20, Z2, Z3
	VRNDSCALEPS $0, Z3, Z3
	VMOVAPS Z2, Z4
	VFNMADD231PS Z3, Z21, Z4
	VFNMADD231PS Z3, Z22, Z4
	VMOVAPS Z29, Z5
	VFMADD213PS Z28, Z4, Z5
	VFMADD213PS Z27, Z4, Z5
	VFMADD213PS Z26, Z4, Z5
	VFMADD213PS Z25, Z4, Z5
	VFMADD213PS Z24, Z4, Z5
	VFMADD213PS Z23, Z4, Z5
	VFMADD213PS Z23, Z4, Z5
	VSCALEFPS Z3, Z5, Z5         // e
	VADDPS Z23, Z5, Z6           // 1 + e
	VDIVPS Z6, Z23, Z6           // s
	VMOVAPS Z23, Z7
	VFMADD231PS Z1, Z31, Z7      // 1 + 3c v^2
	VMULPS Z30, Z7, Z7           // 2k (1 + 3c v^2)
	VMULPS Z0, Z7, Z7            // v 2k (...)
	VMULPS Z6, Z5, Z9            // 1 - s = e s (never overflows, unlike e alone)
	VMULPS Z9, Z7, Z7
	VMULPS Z6, Z7, Z7            // * s
	VADDPS Z6, Z7, Z7            // d = s + ...
	VMOVUPS (DX), Z8
	VMULPS Z8, Z7, Z7            // g d
	VMOVUPS Z7, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	SUBQ $16, CX
	JNZ gloop
	VZEROUPPER
	RET
