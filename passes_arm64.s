#include "textflag.h"

// func getg() uintptr: the running goroutine's g (its identity while it lives).
TEXT ·getg(SB), NOSPLIT, $0-8
	MOVD g, R0
	MOVD R0, ret+0(FP)
	RET
