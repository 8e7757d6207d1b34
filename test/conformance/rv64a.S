// RV64A: lr/sc (success, failure after a completed sc, sc without reservation), every AMO in
// .w and .d form (old value returned, .w results sign-extended), aq/rl encodings, rd = x0,
// misaligned AMO -> store/AMO address misaligned (cause 6), misaligned lr -> cause 4.
// QEMU 7.2 reports misaligned AMOs as load-misaligned (4); see CHK_QUIRK in common.h.
#include "common.h"
// AMO(op, initial memory, operand, expected old value (rd), expected new memory)
#define AMO_D(op, init, opnd, expold, expnew) li a1, init; sd a1, 0(s0); li a2, opnd; op a0, a2, (s0); CHK(a0, expold); ld a3, 0(s0); CHK(a3, expnew)
#define AMO_W(op, init, opnd, expold, expnew) li a1, init; sd a1, 0(s0); li a2, opnd; op a0, a2, (s0); CHK(a0, expold); ld a3, 0(s0); CHK(a3, expnew)
TEST_BEGIN
  la s0, amo_data
  // ---- AMOs on doublewords
  AMO_D(amoswap.d, 0x1111111111111111, 0x2222222222222222, 0x1111111111111111, 0x2222222222222222)
  AMO_D(amoadd.d, 0x7fffffffffffffff, 1, 0x7fffffffffffffff, 0x8000000000000000)
  AMO_D(amoxor.d, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0, 0xff00ff00ff00ff00, 0xf0f0f0f0f0f0f0f0)
  AMO_D(amoand.d, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0, 0xff00ff00ff00ff00, 0x0f000f000f000f00)
  AMO_D(amoor.d, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0, 0xff00ff00ff00ff00, 0xfff0fff0fff0fff0)
  AMO_D(amomin.d, -5, 3, -5, -5)
  AMO_D(amomin.d, 5, -3, 5, -3)
  AMO_D(amomax.d, -5, 3, -5, 3)
  AMO_D(amomax.d, 0x8000000000000000, 0x7fffffffffffffff, 0x8000000000000000, 0x7fffffffffffffff)
  AMO_D(amominu.d, -5, 3, -5, 3)
  AMO_D(amominu.d, 2, -1, 2, 2)
  AMO_D(amomaxu.d, -5, 3, -5, -5)
  AMO_D(amomaxu.d, 0x7fffffffffffffff, 0x8000000000000000, 0x7fffffffffffffff, 0x8000000000000000)
  AMO_D(amoadd.d.aq, 1, 2, 1, 3)
  AMO_D(amoadd.d.rl, 1, 2, 1, 3)
  AMO_D(amoadd.d.aqrl, 1, 2, 1, 3)
  // ---- AMOs on words: only the addressed word changes, rd is sign-extended
  AMO_W(amoswap.w, 0x1111111180000000, 0x22222222, 0xffffffff80000000, 0x1111111122222222)
  AMO_W(amoadd.w, 0x000000007fffffff, 1, 0x7fffffff, 0x0000000080000000)
  AMO_W(amoadd.w, 0xaaaaaaaaffffffff, 1, -1, 0xaaaaaaaa00000000)
  AMO_W(amoxor.w, 0x12345678f0f0f0f0, 0xffffffffffffffff, 0xfffffffff0f0f0f0, 0x123456780f0f0f0f)
  AMO_W(amoand.w, 0x00000000f0f0f0f0, 0x0ff00ff0, 0xfffffffff0f0f0f0, 0x0000000000f000f0)
  AMO_W(amoor.w, 0x0000000070000000, 0x80000001, 0x70000000, 0x00000000f0000001)
  AMO_W(amomin.w, 0x0000000080000000, 0x7fffffff, 0xffffffff80000000, 0x0000000080000000)
  AMO_W(amomin.w, 0x0000000000000005, 0xfffffffe, 5, 0x00000000fffffffe)
  AMO_W(amomax.w, 0x0000000080000000, 0x7fffffff, 0xffffffff80000000, 0x000000007fffffff)
  AMO_W(amomax.w, 0x0000000000000005, 0x1000000006, 5, 6)   // upper operand bits ignored
  AMO_W(amominu.w, 0x0000000080000000, 0x7fffffff, 0xffffffff80000000, 0x000000007fffffff)
  AMO_W(amominu.w, 0x0000000000000005, 0xffffffff00000006, 5, 5)
  AMO_W(amomaxu.w, 0x0000000080000000, 0x7fffffff, 0xffffffff80000000, 0x0000000080000000)
  AMO_W(amomaxu.w, 0x0000000000000005, 0xfffffffe, 5, 0x00000000fffffffe)
  // word AMO on the upper half of a doubleword
  li a1, 0x0000000100000002
  sd a1, 0(s0)
  addi s1, s0, 4
  li a2, 0x7fffffff
  amoadd.w a0, a2, (s1)
  CHK(a0, 1)
  ld a3, 0(s0)
  CHK(a3, 0x8000000000000002)
  // rd = x0: memory still updated
  li a1, 10
  sd a1, 0(s0)
  li a2, 5
  amoadd.d x0, a2, (s0)
  ld a3, 0(s0)
  CHK(a3, 15)
  // rd == rs2
  li a2, 7
  amoswap.d a2, a2, (s0)
  CHK(a2, 15)
  ld a3, 0(s0)
  CHK(a3, 7)
  // ---- lr/sc
  li a1, 100
  sd a1, 0(s0)
  lr.d a0, (s0)
  CHK(a0, 100)
  addi a0, a0, 1
  sc.d a1, a0, (s0)
  CHK(a1, 0)                       // success writes 0
  ld a3, 0(s0)
  CHK(a3, 101)
  // sc after a completed sc: no reservation any more -> fails, memory unchanged
  li a0, 555
  sc.d a1, a0, (s0)
  CHK(a1, 1)
  ld a3, 0(s0)
  CHK(a3, 101)
  // word lr/sc with sign extension
  li a1, 0x00000000fffffffe
  sd a1, 8(s0)
  addi s1, s0, 8
  lr.w a0, (s1)
  CHK(a0, -2)
  li a2, 0x1234567890abcdef
  sc.w a1, a2, (s1)
  CHK(a1, 0)
  ld a3, 8(s0)
  CHK(a3, 0x0000000090abcdef)
  sc.w a1, a2, (s1)
  CHK(a1, 1)
  // lr.aq / sc.rl, aqrl encodings
  lr.d.aq a0, (s0)
  sc.d.rl a1, a0, (s0)
  CHK(a1, 0)
  lr.w.aqrl a0, (s0)
  sc.w.aqrl a1, a0, (s0)
  CHK(a1, 0)
  // sc to a different address than the reservation fails
  lr.d a0, (s0)
  addi s1, s0, 16
  li a0, 77
  sc.d a1, a0, (s1)
  CHK(a1, 1)
  ld a3, 16(s0)
  CHK(a3, 0)
  // ---- misaligned AMO -> cause 6 with mtval = address; memory unchanged
  addi s1, s0, 1
  EXPECT_TRAP
  amoadd.d a0, a2, (s1)
  TRAP_FIELD(t5, TA_CAUSE)
  CHK_QUIRK(t5, CAUSE_MISALIGNED_STORE, CAUSE_MISALIGNED_LOAD)
  TRAP_FIELD(t5, TA_TVAL)
  CHKR(t5, s1)
  addi s1, s0, 2
  EXPECT_TRAP
  amoswap.w a0, a2, (s1)
  TRAP_FIELD(t5, TA_CAUSE)
  CHK_QUIRK(t5, CAUSE_MISALIGNED_STORE, CAUSE_MISALIGNED_LOAD)
  TRAP_FIELD(t5, TA_TVAL)
  CHKR(t5, s1)
  addi s1, s0, 4
  EXPECT_TRAP
  amoor.d a0, a2, (s1)
  TRAP_FIELD(t5, TA_CAUSE)
  CHK_QUIRK(t5, CAUSE_MISALIGNED_STORE, CAUSE_MISALIGNED_LOAD)
  TRAP_FIELD(t5, TA_TVAL)
  CHKR(t5, s1)
  // misaligned lr -> load address misaligned
  addi s1, s0, 4
  EXPECT_TRAP
  lr.d a0, (s1)
  CHK_TRAP_R(CAUSE_MISALIGNED_LOAD, s1)
TEST_END

  .data
  .balign 64
amo_data: .fill 8, 8, 0
