//go:build amd64 && !purego

#include "textflag.h"
#include "exppoly_amd64.h"

// exp(v scale - shift): x clamped to [-110, 87] (e^-110 underflows to 0,
// so -Inf inputs give exactly 0), then EXP_Z2_Z5 (exppoly_amd64.h).

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
	LOAD_EXP_POLY
	VXORPS Z15, Z15, Z15             // lane sums

eloop:
	VMOVUPS (SI), Z0
	VMULPS Z16, Z0, Z2           // v scale
	VSUBPS Z17, Z2, Z2           // x = v scale - shift
	VMINPS Z18, Z2, Z2
	VMAXPS Z19, Z2, Z2
	EXP_Z2_Z5                    // e^x
	VMOVUPS Z5, (DI)
	VADDPS Z5, Z15, Z15
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JNZ eloop
	VMOVUPS Z15, (DX)
	VZEROUPPER
	RET
