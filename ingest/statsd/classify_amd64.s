//go:build !purego

#include "textflag.h"

// The five structural bytes and the line end, each broadcast to 32.
DATA structural<>+0x00(SB)/8, $0x3a3a3a3a3a3a3a3a // ':'
DATA structural<>+0x08(SB)/8, $0x3a3a3a3a3a3a3a3a
DATA structural<>+0x10(SB)/8, $0x3a3a3a3a3a3a3a3a
DATA structural<>+0x18(SB)/8, $0x3a3a3a3a3a3a3a3a
DATA structural<>+0x20(SB)/8, $0x2c2c2c2c2c2c2c2c // ','
DATA structural<>+0x28(SB)/8, $0x2c2c2c2c2c2c2c2c
DATA structural<>+0x30(SB)/8, $0x2c2c2c2c2c2c2c2c
DATA structural<>+0x38(SB)/8, $0x2c2c2c2c2c2c2c2c
DATA structural<>+0x40(SB)/8, $0x7c7c7c7c7c7c7c7c // '|'
DATA structural<>+0x48(SB)/8, $0x7c7c7c7c7c7c7c7c
DATA structural<>+0x50(SB)/8, $0x7c7c7c7c7c7c7c7c
DATA structural<>+0x58(SB)/8, $0x7c7c7c7c7c7c7c7c
DATA structural<>+0x60(SB)/8, $0x4040404040404040 // '@'
DATA structural<>+0x68(SB)/8, $0x4040404040404040
DATA structural<>+0x70(SB)/8, $0x4040404040404040
DATA structural<>+0x78(SB)/8, $0x4040404040404040
DATA structural<>+0x80(SB)/8, $0x3d3d3d3d3d3d3d3d // '='
DATA structural<>+0x88(SB)/8, $0x3d3d3d3d3d3d3d3d
DATA structural<>+0x90(SB)/8, $0x3d3d3d3d3d3d3d3d
DATA structural<>+0x98(SB)/8, $0x3d3d3d3d3d3d3d3d
DATA structural<>+0xa0(SB)/8, $0x0a0a0a0a0a0a0a0a // '\n'
DATA structural<>+0xa8(SB)/8, $0x0a0a0a0a0a0a0a0a
DATA structural<>+0xb0(SB)/8, $0x0a0a0a0a0a0a0a0a
DATA structural<>+0xb8(SB)/8, $0x0a0a0a0a0a0a0a0a
GLOBL structural<>(SB), RODATA|NOPTR, $192

// func classifyAVX2(p *byte, out *uint64, n int)
TEXT ·classifyAVX2(SB), NOSPLIT, $0-24
	MOVQ	p+0(FP), SI
	MOVQ	out+8(FP), DI
	MOVQ	n+16(FP), CX
	VMOVDQU	structural<>+0x00(SB), Y8
	VMOVDQU	structural<>+0x20(SB), Y9
	VMOVDQU	structural<>+0x40(SB), Y10
	VMOVDQU	structural<>+0x60(SB), Y11
	VMOVDQU	structural<>+0x80(SB), Y12
	VMOVDQU	structural<>+0xa0(SB), Y13
	TESTQ	CX, CX
	JZ	done
loop:
	VMOVDQU	0(SI), Y0
	VMOVDQU	32(SI), Y1
	VPCMPEQB	Y8, Y0, Y2
	VPCMPEQB	Y8, Y1, Y3
	VPCMPEQB	Y9, Y0, Y4
	VPCMPEQB	Y9, Y1, Y5
	VPOR	Y4, Y2, Y2
	VPOR	Y5, Y3, Y3
	VPCMPEQB	Y10, Y0, Y4
	VPCMPEQB	Y10, Y1, Y5
	VPOR	Y4, Y2, Y2
	VPOR	Y5, Y3, Y3
	VPCMPEQB	Y11, Y0, Y4
	VPCMPEQB	Y11, Y1, Y5
	VPOR	Y4, Y2, Y2
	VPOR	Y5, Y3, Y3
	VPCMPEQB	Y12, Y0, Y4
	VPCMPEQB	Y12, Y1, Y5
	VPOR	Y4, Y2, Y2
	VPOR	Y5, Y3, Y3
	VPMOVMSKB	Y2, AX
	VPMOVMSKB	Y3, BX
	SHLQ	$32, BX
	ORQ	BX, AX
	MOVQ	AX, 0(DI)
	VPCMPEQB	Y13, Y0, Y4
	VPCMPEQB	Y13, Y1, Y5
	VPMOVMSKB	Y4, AX
	VPMOVMSKB	Y5, BX
	SHLQ	$32, BX
	ORQ	BX, AX
	MOVQ	AX, 8(DI)
	ADDQ	$64, SI
	ADDQ	$16, DI
	DECQ	CX
	JNZ	loop
done:
	VZEROUPPER
	RET
