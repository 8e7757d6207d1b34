// Zcb (simple compressed instructions): c.lbu, c.lhu, c.lh, c.sb, c.sh at every offset,
// c.zext.b, c.sext.b, c.zext.h, c.sext.h, c.zext.w, c.not, c.mul on edge values, and the
// reserved encodings around them (c.sh with bit 6 set, unary funct 110/111) trap as illegal.
// QEMU 7.2 and binutils 2.40 lack Zcb: encoded with .hword (register numbers in x8..x15);
// expected values from the spec.
//! reference: spec
#include "common.h"
  .option rvc
#define CR(n) ((n) - 8)
.macro C_LBU rd, rs1, uimm
  .hword 0x8000 | (CR(\rs1) << 7) | ((\uimm & 1) << 6) | ((\uimm >> 1) << 5) | (CR(\rd) << 2)
.endm
.macro C_LHU rd, rs1, uimm
  .hword 0x8400 | (CR(\rs1) << 7) | ((\uimm >> 1) << 5) | (CR(\rd) << 2)
.endm
.macro C_LH rd, rs1, uimm
  .hword 0x8440 | (CR(\rs1) << 7) | ((\uimm >> 1) << 5) | (CR(\rd) << 2)
.endm
.macro C_SB rs2, rs1, uimm
  .hword 0x8800 | (CR(\rs1) << 7) | ((\uimm & 1) << 6) | ((\uimm >> 1) << 5) | (CR(\rs2) << 2)
.endm
.macro C_SH rs2, rs1, uimm
  .hword 0x8c00 | (CR(\rs1) << 7) | ((\uimm >> 1) << 5) | (CR(\rs2) << 2)
.endm
/* 100111 rd' 11 op 01: op 0 c.zext.b, 1 c.sext.b, 2 c.zext.h, 3 c.sext.h, 4 c.zext.w, 5 c.not */
.macro C_UNARY op, rd
  .hword 0x9c61 | (CR(\rd) << 7) | (\op << 2)
.endm
.macro C_MUL rd, rs2
  .hword 0x9c41 | (CR(\rd) << 7) | (CR(\rs2) << 2)
.endm
#define C_ZEXT_B 0
#define C_SEXT_B 1
#define C_ZEXT_H 2
#define C_SEXT_H 3
#define C_ZEXT_W 4
#define C_NOT 5
/* a0 = x10, a1 = x11, a2 = x12, s0 = x8, s1 = x9 */
#define TEST_CU(op, x, expected) li a0, x; C_UNARY op, 10; CHK(a0, expected)
TEST_BEGIN
  la s0, data
  // ---- c.lbu: bytes 80 ff 01 7f at offsets 0..3, zero-extended
  C_LBU 10, 8, 0
  CHK(a0, 0x80)
  C_LBU 10, 8, 1
  CHK(a0, 0xff)
  C_LBU 10, 8, 2
  CHK(a0, 0x01)
  C_LBU 11, 8, 3
  CHK(a1, 0x7f)
  C_LBU 8, 8, 1                      // rd = rs1
  CHK(s0, 0xff)
  la s0, data
  // ---- c.lhu / c.lh: halfwords ff80 7f01 at offsets 0, 2
  C_LHU 10, 8, 0
  CHK(a0, 0xff80)
  C_LHU 10, 8, 2
  CHK(a0, 0x7f01)
  C_LH 10, 8, 0
  CHK(a0, 0xffffffffffffff80)
  C_LH 10, 8, 2
  CHK(a0, 0x7f01)
  la s1, data + 4                    // 00 80 ff ff: halfwords 8000 ffff
  C_LH 12, 9, 0
  CHK(a2, 0xffffffffffff8000)
  C_LH 12, 9, 2
  CHK(a2, 0xffffffffffffffff)
  C_LHU 12, 9, 2
  CHK(a2, 0xffff)
  // ---- c.sb at offsets 0..3 (only the low byte of rs2), c.sh at 0, 2
  la s1, buf
  li a0, 0x1234567890abcd11
  C_SB 10, 9, 0
  li a0, 0x22
  C_SB 10, 9, 1
  li a0, -0xcd                       // low byte 0x33
  C_SB 10, 9, 2
  li a0, 0x44
  C_SB 10, 9, 3
  li a0, 0x7777666655558888
  C_SH 10, 9, 0                      // offset 0 again: overwrites bytes 0, 1
  ld a1, 0(s1)
  CHK(a1, 0x0000000044338888)
  li a0, 0xfedcba98
  C_SH 10, 9, 2
  ld a1, 0(s1)
  CHK(a1, 0x00000000ba988888)
  // ---- c.zext.b, c.sext.b, c.zext.h, c.sext.h, c.zext.w, c.not
  TEST_CU(C_ZEXT_B, 0xffffffffffffff80, 0x80)
  TEST_CU(C_ZEXT_B, 0x0123456789abcdef, 0xef)
  TEST_CU(C_ZEXT_B, 0, 0)
  TEST_CU(C_SEXT_B, 0x80, 0xffffffffffffff80)
  TEST_CU(C_SEXT_B, 0x7f, 0x7f)
  TEST_CU(C_SEXT_B, 0x0123456789abcdef, 0xffffffffffffffef)
  TEST_CU(C_SEXT_B, 0xffffffffffffff00, 0)
  TEST_CU(C_ZEXT_H, 0xffffffffffff8000, 0x8000)
  TEST_CU(C_ZEXT_H, 0x0123456789abcdef, 0xcdef)
  TEST_CU(C_SEXT_H, 0x8000, 0xffffffffffff8000)
  TEST_CU(C_SEXT_H, 0x7fff, 0x7fff)
  TEST_CU(C_SEXT_H, 0x0123456789abcdef, 0xffffffffffffcdef)
  TEST_CU(C_ZEXT_W, 0xffffffff80000000, 0x80000000)
  TEST_CU(C_ZEXT_W, 0x0123456789abcdef, 0x89abcdef)
  TEST_CU(C_ZEXT_W, 0xffffffffffffffff, 0xffffffff)
  TEST_CU(C_NOT, 0x0123456789abcdef, 0xfedcba9876543210)
  TEST_CU(C_NOT, 0, 0xffffffffffffffff)
  TEST_CU(C_NOT, 0xffffffffffffffff, 0)
  // ---- c.mul: the low 64 bits of the product
  li a0, 0x0123456789abcdef
  li a1, 0xfedcba9876543210
  C_MUL 10, 11
  CHK(a0, 0x2236d88fe5618cf0)
  CHK(a1, 0xfedcba9876543210)
  li a0, -3
  li a1, 7
  C_MUL 10, 11
  CHK(a0, -21)
  li a0, 0x100000001
  C_MUL 10, 10                       // rs2 = rd
  CHK(a0, 0x200000001)
  // ---- reserved encodings next to Zcb's
  EXPECT_TRAP
  .hword 0x8c40 | (CR(9) << 7) | (CR(10) << 2)   // c.sh with bit 6 set
  CHK_TRAP(CAUSE_ILLEGAL, 0x8c40 | (CR(9) << 7) | (CR(10) << 2))
  EXPECT_TRAP
  C_UNARY 6, 10
  CHK_TRAP(CAUSE_ILLEGAL, 0x9c61 | (CR(10) << 7) | (6 << 2))
  EXPECT_TRAP
  C_UNARY 7, 10
  CHK_TRAP(CAUSE_ILLEGAL, 0x9c61 | (CR(10) << 7) | (7 << 2))
  EXPECT_TRAP
  .hword 0x9000 | (CR(9) << 7) | (CR(10) << 2)   // quadrant 0, funct6 100100: reserved
  CHK_TRAP(CAUSE_ILLEGAL, 0x9000 | (CR(9) << 7) | (CR(10) << 2))
TEST_END
  .data
  .balign 8
data: .byte 0x80, 0xff, 0x01, 0x7f, 0x00, 0x80, 0xff, 0xff
buf: .dword 0
