//go:build amd64 && !purego

#include "textflag.h"

// The Argon2 compression function G (RFC 9106 section 3.5) in AVX2.
//
// A 1 KiB block is eight rows of 16 words. P (the BLAKE2b round with
// BlaMka's multiplications) runs on each row, then on each column (word
// pairs 2j, 2j+1 of every row). The 16 words P works on are held as four
// YMM registers a, b, c, d of four words: GB runs on the four columns of
// that 4x4 matrix at once, then the rows b, c, d are rotated by one, two
// and three words (VPERMQ) so that the diagonals line up, GB runs again,
// and the rotation is undone.

// VPSHUFB masks: rotate each 64-bit word right by 24 and by 16 bits.
DATA rot24<>+0x00(SB)/8, $0x0201000706050403
DATA rot24<>+0x08(SB)/8, $0x0a09080f0e0d0c0b
DATA rot24<>+0x10(SB)/8, $0x0201000706050403
DATA rot24<>+0x18(SB)/8, $0x0a09080f0e0d0c0b
GLOBL rot24<>(SB), (NOPTR+RODATA), $32

DATA rot16<>+0x00(SB)/8, $0x0100070605040302
DATA rot16<>+0x08(SB)/8, $0x09080f0e0d0c0b0a
DATA rot16<>+0x10(SB)/8, $0x0100070605040302
DATA rot16<>+0x18(SB)/8, $0x09080f0e0d0c0b0a
GLOBL rot16<>(SB), (NOPTR+RODATA), $32

// x += y + 2 * lo32(x) * lo32(y), per 64-bit lane; t is clobbered.
#define BLAMKA(x, y, t) \
	VPMULUDQ y, x, t; \
	VPADDQ   y, x, x; \
	VPADDQ   t, t, t; \
	VPADDQ   t, x, x

// GB of RFC 9106 section 3.6 on four columns at once. Y6 and Y7 hold the
// rot24 and rot16 masks.
#define GB(a, b, c, d, t) \
	BLAMKA(a, b, t); \
	VPXOR    a, d, d; \
	VPSHUFD  $0xb1, d, d; \
	BLAMKA(c, d, t); \
	VPXOR    c, b, b; \
	VPSHUFB  Y6, b, b; \
	BLAMKA(a, b, t); \
	VPXOR    a, d, d; \
	VPSHUFB  Y7, d, d; \
	BLAMKA(c, d, t); \
	VPXOR    c, b, b; \
	VPADDQ   b, b, t; \
	VPSRLQ   $63, b, b; \
	VPXOR    t, b, b

// P on the 16 words held in a, b, c, d.
#define ROUND(a, b, c, d, t) \
	GB(a, b, c, d, t); \
	VPERMQ $0x39, b, b; \
	VPERMQ $0x4e, c, c; \
	VPERMQ $0x93, d, d; \
	GB(a, b, c, d, t); \
	VPERMQ $0x93, b, b; \
	VPERMQ $0x4e, c, c; \
	VPERMQ $0x39, d, d

// func compressAVX2(out, x, y, q *block, xorInto bool)
TEXT ·compressAVX2(SB), NOSPLIT, $0-33
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DX
	MOVQ q+24(FP), BX
	MOVB xorInto+32(FP), AL
	VMOVDQU rot24<>(SB), Y6
	VMOVDQU rot16<>(SB), Y7

	// q = x XOR y
	XORQ CX, CX
xy:
	VMOVDQU (SI)(CX*1), Y0
	VPXOR   (DX)(CX*1), Y0, Y0
	VMOVDQU Y0, (BX)(CX*1)
	ADDQ    $32, CX
	CMPQ    CX, $1024
	JB      xy

	// P on each row: 16 consecutive words.
	MOVQ BX, R8
	MOVQ $8, CX
rows:
	VMOVDQU 0(R8), Y0
	VMOVDQU 32(R8), Y1
	VMOVDQU 64(R8), Y2
	VMOVDQU 96(R8), Y3
	ROUND(Y0, Y1, Y2, Y3, Y4)
	VMOVDQU Y0, 0(R8)
	VMOVDQU Y1, 32(R8)
	VMOVDQU Y2, 64(R8)
	VMOVDQU Y3, 96(R8)
	ADDQ    $128, R8
	DECQ    CX
	JNZ     rows

	// P on each column: words 2j and 2j+1 of rows 0..7, two rows a register.
	MOVQ BX, R8
	MOVQ $8, CX
cols:
	VMOVDQU      0(R8), X0
	VINSERTI128  $1, 128(R8), Y0, Y0
	VMOVDQU      256(R8), X1
	VINSERTI128  $1, 384(R8), Y1, Y1
	VMOVDQU      512(R8), X2
	VINSERTI128  $1, 640(R8), Y2, Y2
	VMOVDQU      768(R8), X3
	VINSERTI128  $1, 896(R8), Y3, Y3
	ROUND(Y0, Y1, Y2, Y3, Y4)
	VMOVDQU      X0, 0(R8)
	VEXTRACTI128 $1, Y0, 128(R8)
	VMOVDQU      X1, 256(R8)
	VEXTRACTI128 $1, Y1, 384(R8)
	VMOVDQU      X2, 512(R8)
	VEXTRACTI128 $1, Y2, 640(R8)
	VMOVDQU      X3, 768(R8)
	VEXTRACTI128 $1, Y3, 896(R8)
	ADDQ         $16, R8
	DECQ         CX
	JNZ          cols

	// out = q XOR x XOR y, XORed into out's old contents if xorInto.
	XORQ  CX, CX
	TESTB AL, AL
	JZ    set
into:
	VMOVDQU (BX)(CX*1), Y0
	VPXOR   (SI)(CX*1), Y0, Y0
	VPXOR   (DX)(CX*1), Y0, Y0
	VPXOR   (DI)(CX*1), Y0, Y0
	VMOVDQU Y0, (DI)(CX*1)
	ADDQ    $32, CX
	CMPQ    CX, $1024
	JB      into
	VZEROUPPER
	RET
set:
	VMOVDQU (BX)(CX*1), Y0
	VPXOR   (SI)(CX*1), Y0, Y0
	VPXOR   (DX)(CX*1), Y0, Y0
	VMOVDQU Y0, (DI)(CX*1)
	ADDQ    $32, CX
	CMPQ    CX, $1024
	JB      set
	VZEROUPPER
	RET
