//go:build !race && !purego

#include "textflag.h"

// func Line(addr uintptr)
TEXT ·Line(SB), NOSPLIT|NOFRAME, $0-8
	MOVD	addr+0(FP), R0
	PRFM	(R0), PLDL1KEEP
	RET

// func Lines2(a, b uintptr)
TEXT ·Lines2(SB), NOSPLIT|NOFRAME, $0-16
	MOVD	a+0(FP), R0
	MOVD	b+8(FP), R1
	PRFM	(R0), PLDL1KEEP
	PRFM	(R1), PLDL1KEEP
	RET
