// Macros for exp(x) on 16 lanes, shared by gelu_amd64.s and exp_amd64.s
// with the constants of ·expPoly (exppoly_amd64.s).

// LOAD_EXP_POLY broadcasts ·expPoly into Z20-Z29: log2e, ln2 hi, ln2 lo,
// 1, then the Taylor coefficients 1/2 to 1/5040.
#define LOAD_EXP_POLY \
	VBROADCASTSS ·expPoly+0(SB), Z20; \
	VBROADCASTSS ·expPoly+4(SB), Z21; \
	VBROADCASTSS ·expPoly+8(SB), Z22; \
	VBROADCASTSS ·expPoly+12(SB), Z23; \
	VBROADCASTSS ·expPoly+16(SB), Z24; \
	VBROADCASTSS ·expPoly+20(SB), Z25; \
	VBROADCASTSS ·expPoly+24(SB), Z26; \
	VBROADCASTSS ·expPoly+28(SB), Z27; \
	VBROADCASTSS ·expPoly+32(SB), Z28; \
	VBROADCASTSS ·expPoly+36(SB), Z29

// EXP_Z2_Z5 sets Z5 = e^Z2 for Z2 already clamped, with LOAD_EXP_POLY's
// registers; it writes Z3 (n) and Z4 (r). x = n ln2 + r with
// n = round(x log2e), e^r by Horner's rule to degree 7, times 2^n.
#define EXP_Z2_Z5 \
	VMULPS Z20, Z2, Z3; \
	VRNDSCALEPS $0, Z3, Z3; \
	VMOVAPS Z2, Z4; \
	VFNMADD231PS Z3, Z21, Z4; \
	VFNMADD231PS Z3, Z22, Z4; \
	VMOVAPS Z29, Z5; \
	VFMADD213PS Z28, Z4, Z5; \
	VFMADD213PS Z27, Z4, Z5; \
	VFMADD213PS Z26, Z4, Z5; \
	VFMADD213PS Z25, Z4, Z5; \
	VFMADD213PS Z24, Z4, Z5; \
	VFMADD213PS Z23, Z4, Z5; \
	VFMADD213PS Z23, Z4, Z5; \
	VSCALEFPS Z3, Z5, Z5
