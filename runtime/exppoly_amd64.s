//go:build amd64 && !purego

#include "textflag.h"

// The constants of exp(x) that gelu_amd64.s and exp_amd64.s share:
// x = n ln2 + r with ln2 split in two (n ln2hi is exact, so r keeps its
// low bits), e^r by its Taylor polynomial to degree 7. Each file keeps its
// own clamp bounds.

DATA ·expPoly+0(SB)/4, $0x3fb8aa3b  // log2(e)
DATA ·expPoly+4(SB)/4, $0x3f318000  // ln2 hi = 0.693359375
DATA ·expPoly+8(SB)/4, $0xb95e8083  // ln2 lo = -2.12194440e-4
DATA ·expPoly+12(SB)/4, $0x3f800000 // 1
DATA ·expPoly+16(SB)/4, $0x3f000000 // 1/2
DATA ·expPoly+20(SB)/4, $0x3e2aaaab // 1/6
DATA ·expPoly+24(SB)/4, $0x3d2aaaab // 1/24
DATA ·expPoly+28(SB)/4, $0x3c088889 // 1/120
DATA ·expPoly+32(SB)/4, $0x3ab60b61 // 1/720
DATA ·expPoly+36(SB)/4, $0x39500d01 // 1/5040
GLOBL ·expPoly(SB), RODATA|NOPTR, $40
