// RV64I: every base instruction, W forms, shift amounts 0/31/32/63, lui/auipc, branches,
// jal/jalr (incl. clearing bit 0 of the target), loads/stores of every width and sign.
#include "common.h"
TEST_BEGIN
  // ---- add/sub/addw/subw/addi/addiw
  TEST_RR(add, 1, 2, 3)
  TEST_RR(add, -1, 1, 0)
  TEST_RR(add, 0x7fffffffffffffff, 1, 0x8000000000000000)
  TEST_RR(add, 0xffffffff, 1, 0x100000000)
  TEST_RR(sub, 0, 1, -1)
  TEST_RR(sub, 0x8000000000000000, 1, 0x7fffffffffffffff)
  TEST_RR(addw, 0x7fffffff, 1, 0xffffffff80000000)
  TEST_RR(addw, 0xffffffff, 1, 0)
  TEST_RR(addw, 0x123456789, 0, 0x23456789)
  TEST_RR(subw, 0, 1, -1)
  TEST_RR(subw, 0x80000000, 1, 0x7fffffff)
  TEST_RR(subw, 0x100000000, 0, 0)
  TEST_RI(addi, 5, -6, -1)
  TEST_RI(addi, 0, 2047, 2047)
  TEST_RI(addi, 0, -2048, -2048)
  TEST_RI(addi, 0x7fffffffffffffff, 1, 0x8000000000000000)
  TEST_RI(addiw, 0x7fffffff, 1, 0xffffffff80000000)
  TEST_RI(addiw, 0xfffffffff, 0, -1)
  TEST_RI(addiw, 0x80000000, -1, 0x7fffffff)
  // sext.w is addiw rd, rs, 0
  TEST_R(sext.w, 0x1800000000, 0)
  TEST_R(sext.w, 0x00000000fffffffe, -2)
  // ---- logic
  TEST_RR(and, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0, 0x0f000f000f000f00)
  TEST_RR(or,  0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0, 0xfff0fff0fff0fff0)
  TEST_RR(xor, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0, 0xf0f0f0f0f0f0f0f0)
  TEST_RI(andi, 0xff00ff00ff00ff00, -16, 0xff00ff00ff00ff00)
  TEST_RI(andi, 0xff00ff00ff00ff0f, 0x70f, 0x70f & 0xff0f)
  TEST_RI(ori, 0, -1, -1)
  TEST_RI(ori, 0x1000, 0x7ff, 0x17ff)
  TEST_RI(xori, 0x00ff00ff00ff00ff, -1, 0xff00ff00ff00ff00)
  TEST_RI(xori, 0x12345678, 0x0f0, 0x12345688)
  // ---- compares
  TEST_RR(slt, -1, 0, 1)
  TEST_RR(slt, 0, -1, 0)
  TEST_RR(slt, 0x8000000000000000, 0x7fffffffffffffff, 1)
  TEST_RR(slt, 5, 5, 0)
  TEST_RR(sltu, -1, 0, 0)
  TEST_RR(sltu, 0, -1, 1)
  TEST_RR(sltu, 0x7fffffffffffffff, 0x8000000000000000, 1)
  TEST_RI(slti, -5, -4, 1)
  TEST_RI(slti, 0x8000000000000000, -2048, 1)
  TEST_RI(slti, 2047, 2047, 0)
  TEST_RI(sltiu, 0, -1, 1)          // imm sign-extended, then unsigned
  TEST_RI(sltiu, -2, -1, 1)
  TEST_RI(sltiu, -1, -1, 0)
  TEST_R(seqz, 0, 1)
  TEST_R(snez, 0, 0)
  TEST_R(snez, 0x8000000000000000, 1)
  li a1, 7
  sltu a0, zero, a1                 // snez
  CHK(a0, 1)
  // ---- shifts (register shamt uses the low 6 / 5 bits)
  TEST_RR(sll, 1, 0, 1)
  TEST_RR(sll, 1, 31, 0x80000000)
  TEST_RR(sll, 1, 32, 0x100000000)
  TEST_RR(sll, 1, 63, 0x8000000000000000)
  TEST_RR(sll, 1, 64, 1)
  TEST_RR(sll, 3, 0xffffffffffffffc1, 6)
  TEST_RR(srl, 0x8000000000000000, 0, 0x8000000000000000)
  TEST_RR(srl, 0x8000000000000000, 31, 0x100000000)
  TEST_RR(srl, 0x8000000000000000, 32, 0x80000000)
  TEST_RR(srl, 0x8000000000000000, 63, 1)
  TEST_RR(srl, -1, 65, 0x7fffffffffffffff)
  TEST_RR(sra, 0x8000000000000000, 0, 0x8000000000000000)
  TEST_RR(sra, 0x8000000000000000, 31, 0xffffffff00000000)
  TEST_RR(sra, 0x8000000000000000, 32, 0xffffffff80000000)
  TEST_RR(sra, 0x8000000000000000, 63, -1)
  TEST_RR(sra, 0x7fffffffffffffff, 63, 0)
  TEST_RI(slli, 1, 0, 1)
  TEST_RI(slli, 1, 31, 0x80000000)
  TEST_RI(slli, 1, 32, 0x100000000)
  TEST_RI(slli, 0xff, 63, 0x8000000000000000)
  TEST_RI(srli, -1, 0, -1)
  TEST_RI(srli, -1, 31, 0x1ffffffff)
  TEST_RI(srli, -1, 32, 0xffffffff)
  TEST_RI(srli, -1, 63, 1)
  TEST_RI(srai, 0x8000000000000000, 0, 0x8000000000000000)
  TEST_RI(srai, 0x8000000000000000, 31, 0xffffffff00000000)
  TEST_RI(srai, 0x8000000000000000, 32, 0xffffffff80000000)
  TEST_RI(srai, 0x8000000000000000, 63, -1)
  TEST_RI(srai, 0x4000000000000000, 62, 1)
  // W shifts: 32-bit result sign-extended, shamt uses 5 bits
  TEST_RR(sllw, 1, 0, 1)
  TEST_RR(sllw, 1, 31, 0xffffffff80000000)
  TEST_RR(sllw, 1, 32, 1)
  TEST_RR(sllw, 0xffffffff00000003, 1, 6)
  TEST_RR(srlw, 0xffffffff80000000, 0, 0xffffffff80000000)
  TEST_RR(srlw, 0xffffffff80000000, 31, 1)
  TEST_RR(srlw, 0xffffffff80000000, 32, 0xffffffff80000000)
  TEST_RR(srlw, 0x00000000fffffff0, 4, 0x0fffffff)
  TEST_RR(sraw, 0x0000000080000000, 0, 0xffffffff80000000)
  TEST_RR(sraw, 0x0000000080000000, 31, -1)
  TEST_RR(sraw, 0x7fffffff00000000, 4, 0)
  TEST_RR(sraw, 0x0000000040000000, 63, 0)
  TEST_RI(slliw, 1, 0, 1)
  TEST_RI(slliw, 1, 31, 0xffffffff80000000)
  TEST_RI(slliw, 0x123456789, 4, 0x34567890)
  TEST_RI(srliw, 0xffffffff80000000, 0, 0xffffffff80000000)
  TEST_RI(srliw, 0xffffffff80000000, 31, 1)
  TEST_RI(srliw, -1, 1, 0x7fffffff)
  TEST_RI(sraiw, 0x80000000, 0, 0xffffffff80000000)
  TEST_RI(sraiw, 0x80000000, 31, -1)
  TEST_RI(sraiw, 0x7fffffff, 31, 0)
  TEST_RI(sraiw, 0xf00000000000ff00, 8, 0xff)
  // ---- lui / auipc
  lui a0, 0x80000
  CHK(a0, 0xffffffff80000000)
  lui a0, 0x7ffff
  CHK(a0, 0x7ffff000)
  lui a0, 0xfffff
  CHK(a0, 0xfffffffffffff000)
auipc_here:
  auipc a0, 0
  la a1, auipc_here
  CHKR(a0, a1)
auipc2:
  auipc a0, 1
  la a1, auipc2 + 0x1000
  CHKR(a0, a1)
auipc3:
  auipc a0, 0xfffff
  la a1, auipc3 - 0x1000
  CHKR(a0, a1)
  // ---- writes to x0 are discarded
  li a1, 5
  addi x0, a1, 1
  add x0, a1, a1
  lui x0, 0x12345
  CHK(x0, 0)
  // ---- branches (taken and not taken, signed/unsigned boundaries)
#define BR_TAKEN(br, x, y) li a1, x; li a2, y; li a0, 0; br a1, a2, 1f; li a0, 1; 1: CHK(a0, 0)
#define BR_NOT(br, x, y) li a1, x; li a2, y; li a0, 0; br a1, a2, 1f; li a0, 1; 1: CHK(a0, 1)
  BR_TAKEN(beq, -1, -1)
  BR_NOT(beq, 0, 0x100000000)
  BR_TAKEN(bne, 0, 0x100000000)
  BR_NOT(bne, 5, 5)
  BR_TAKEN(blt, -1, 0)
  BR_NOT(blt, 0, -1)
  BR_NOT(blt, 3, 3)
  BR_TAKEN(blt, 0x8000000000000000, 0x7fffffffffffffff)
  BR_TAKEN(bge, 0, -1)
  BR_TAKEN(bge, 3, 3)
  BR_NOT(bge, -1, 0)
  BR_TAKEN(bltu, 0, -1)
  BR_NOT(bltu, -1, 0)
  BR_NOT(bltu, 7, 7)
  BR_TAKEN(bgeu, -1, 0)
  BR_TAKEN(bgeu, 7, 7)
  BR_NOT(bgeu, 0x7fffffffffffffff, 0x8000000000000000)
  // backward branch loop: sum 1..10
  li a0, 0
  li a1, 10
2:
  add a0, a0, a1
  addi a1, a1, -1
  bnez a1, 2b
  CHK(a0, 55)
  // ---- jal / jalr
  jal a1, 3f
jal_ret:
  j fail
3:
  la a2, jal_ret
  CHKR(a1, a2)
  la a2, jalr_target
  addi a2, a2, 1                    // odd target: bit 0 must be cleared
  jalr a1, 0(a2)
jalr_ret:
  j fail
  .balign 4
jalr_target:
  la a2, jalr_ret
  CHKR(a1, a2)
  la a2, jalr_target2 - 16
  jalr a1, 16(a2)                   // offset added before clearing bit 0
  j fail
jalr_target2:
  la a2, jalr_target3 - 5
  jalr a2, 6(a2)                    // rd == rs1: target uses the old value
  j fail
  .balign 4
jalr_target3:
  // jal x0 (j) and jalr x0 (ret) write nothing
  la a1, 4f
  jalr x0, 0(a1)
  j fail
4:
  CHK(x0, 0)
  // ---- loads and stores of every width
  la s0, scratch
  li a1, 0x8877665544332211
  sd a1, 0(s0)
  li a1, 0xfedcba9876543210
  sd a1, 8(s0)
  ld a0, 0(s0)
  CHK(a0, 0x8877665544332211)
  lw a0, 4(s0)
  CHK(a0, 0xffffffff88776655)
  lwu a0, 4(s0)
  CHK(a0, 0x88776655)
  lw a0, 0(s0)
  CHK(a0, 0x44332211)
  lh a0, 6(s0)
  CHK(a0, 0xffffffffffff8877)
  lhu a0, 6(s0)
  CHK(a0, 0x8877)
  lh a0, 2(s0)
  CHK(a0, 0x4433)
  lb a0, 7(s0)
  CHK(a0, 0xffffffffffffff88)
  lbu a0, 7(s0)
  CHK(a0, 0x88)
  lb a0, 1(s0)
  CHK(a0, 0x22)
  ld a0, 8(s0)
  CHK(a0, 0xfedcba9876543210)
  addi s1, s0, 16
  ld a0, -8(s1)                     // negative offset
  CHK(a0, 0xfedcba9876543210)
  li a1, 0xa5
  sb a1, 0(s0)
  li a1, 0xbeef
  sh a1, 2(s0)
  li a1, 0xcafef00d
  sw a1, 4(s0)
  ld a0, 0(s0)
  CHK(a0, 0xcafef00dbeef22a5)
  li a1, -1
  sb a1, 15(s0)
  ld a0, 8(s0)
  CHK(a0, 0xffdcba9876543210)
  // store then load through the same register pair, overlapping
  li a1, 0x1122334455667788
  sd a1, 16(s0)
  sw zero, 18(s0)
  ld a0, 16(s0)
  CHK(a0, 0x1122000000007788)
  // ---- fence / fence.i / nop / hint forms
  fence
  fence rw, rw
  fence.tso
  fence.i
  nop
  addi x0, x0, 5
TEST_END

  .data
  .balign 64
scratch: .fill 8, 8, 0
