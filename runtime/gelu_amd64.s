//go:build amd64 && !purego

#include "textflag.h"
#include "exppoly_amd64.h"

// gelu_new(v) = 0.5 v (1 + tanh(u)), u = sqrt(2/pi) (v + 0.044715 v^3),
// computed as v / (1 + exp(-2u)) (the same function: 1 + tanh(u) =
// 2 / (1 + exp(-2u))), which is stable at both ends: exp(x) for
// x = -2u clamped to [-87, 87] by EXP_Z2_Z5 (exppoly_amd64.h).

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
	LOAD_EXP_POLY

loop:
	VMOVUPS (SI), Z0             // v
	VMULPS Z0, Z0, Z1            // v^2
	VMOVAPS Z23, Z2
	VFMADD231PS Z1, Z16, Z2      // 1 + c v^2
	VMULPS Z0, Z2, Z2            // v (1 + c v^2)
	VMULPS Z17, Z2, Z2           // x = -2u
	VMINPS Z18, Z2, Z2
	VMAXPS Z19, Z2, Z2
	EXP_Z2_Z5                    // e^x
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
	LOAD_EXP_POLY
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
	EXP_Z2_Z5                    // e^x
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
