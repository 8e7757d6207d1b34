// RV64C: every compressed instruction of RV64GC, written with explicit c.* mnemonics so the
// assembler cannot silently pick the 32-bit form. Compressed register fields use x8..x15.
#include "common.h"
  .option rvc
TEST_BEGIN
  // ---- quadrant 1: c.li c.lui c.addi c.addiw c.addi16sp c.nop
  c.li a0, -32
  CHK(a0, -32)
  c.li a0, 31
  CHK(a0, 31)
  c.lui a0, 1
  CHK(a0, 0x1000)
  c.lui a0, 0xfffe0                 // nzimm[17:12] = 0x20 -> sign-extended
  CHK(a0, 0xfffffffffffe0000)
  c.lui a0, 0x1f
  CHK(a0, 0x1f000)
  li a0, 10
  c.addi a0, -11
  CHK(a0, -1)
  li a0, 0x7fffffffffffffff
  c.addi a0, 1
  CHK(a0, 0x8000000000000000)
  li a0, 0x7fffffff
  c.addiw a0, 1
  CHK(a0, 0xffffffff80000000)
  li a0, 0x100000005
  c.addiw a0, 0                     // sext.w
  CHK(a0, 5)
  mv s2, sp
  li sp, 0x1000
  c.addi16sp sp, -512
  mv a0, sp
  CHK(a0, 0x0e00)
  c.addi16sp sp, 496
  mv a0, sp
  CHK(a0, 0x0ff0)
  mv sp, s2
  c.nop
  // ---- c.addi4spn
  mv s2, sp
  li sp, 0x2000
  c.addi4spn a0, sp, 1020
  CHK(a0, 0x23fc)
  c.addi4spn s1, sp, 4
  CHK(s1, 0x2004)
  mv sp, s2
  // ---- CA: c.sub c.xor c.or c.and c.subw c.addw
  li a0, 5
  li a1, 7
  c.sub a0, a1
  CHK(a0, -2)
  li a0, 0xff00
  li a1, 0x0ff0
  c.xor a0, a1
  CHK(a0, 0xf0f0)
  li a0, 0xff00
  c.or a0, a1
  CHK(a0, 0xfff0)
  li a0, 0xff00
  c.and a0, a1
  CHK(a0, 0x0f00)
  li a0, 0x80000000
  li a1, 1
  c.subw a0, a1
  CHK(a0, 0x7fffffff)
  li a0, 0
  c.subw a0, a1
  CHK(a0, -1)
  li a0, 0x7fffffff
  c.addw a0, a1
  CHK(a0, 0xffffffff80000000)
  li a0, 0x1ffffffff
  c.addw a0, a1
  CHK(a0, 0)
  // ---- CB: c.srli c.srai c.andi
  li a0, -1
  c.srli a0, 63
  CHK(a0, 1)
  li a0, -1
  c.srli a0, 32
  CHK(a0, 0xffffffff)
  li a0, 0x8000000000000000
  c.srai a0, 63
  CHK(a0, -1)
  li a0, 0x8000000000000000
  c.srai a0, 1
  CHK(a0, 0xc000000000000000)
  li a0, 0x4000000000000000
  c.srai a0, 32
  CHK(a0, 0x40000000)
  li a0, -1
  c.andi a0, -32
  CHK(a0, -32)
  li a0, 0x3f
  c.andi a0, 0x15
  CHK(a0, 0x15)
  // ---- CI: c.slli (any register, shamt up to 63)
  li t0, 1
  c.slli t0, 63
  CHK(t0, 0x8000000000000000)
  li t0, 3
  c.slli t0, 32
  CHK(t0, 0x300000000)
  li t0, 1
  c.slli t0, 1
  CHK(t0, 2)
  // ---- CR: c.mv c.add
  li t1, 0x123456789
  c.mv t0, t1
  CHK(t0, 0x123456789)
  li t0, -1
  c.add t0, t1
  CHK(t0, 0x123456788)
  // ---- loads/stores: c.lw c.ld c.sw c.sd (rs1' base), c.fld c.fsd
  la s0, cdata
  li a1, 0x8877665544332211
  c.sd a1, 0(s0)
  c.ld a0, 0(s0)
  CHK(a0, 0x8877665544332211)
  c.lw a0, 4(s0)
  CHK(a0, 0xffffffff88776655)
  li a1, 0x00000000deadbeef
  c.sw a1, 8(s0)
  c.lw a0, 8(s0)
  CHK(a0, 0xffffffffdeadbeef)
  li a2, 0x400921fb54442d18   // pi
  c.sd a2, 248(s0)               // max offset for c.sd/c.ld
  c.ld a0, 248(s0)
  CHKR(a0, a2)
  c.sw a2, 124(s0)               // max offset for c.sw/c.lw
  c.lw a0, 124(s0)
  CHK(a0, 0x54442d18)
  c.fld fa0, 248(s0)
  fmv.x.d a0, fa0
  CHKR(a0, a2)
  c.fsd fa0, 16(s0)
  ld a0, 16(s0)
  CHKR(a0, a2)
  // ---- stack-pointer based: c.lwsp c.ldsp c.swsp c.sdsp c.fldsp c.fsdsp
  mv s2, sp
  la sp, cdata
  li t0, 0x1122334455667788
  c.sdsp t0, 32(sp)
  c.ldsp t1, 32(sp)
  CHKR(t1, t0)
  c.lwsp t1, 36(sp)
  CHK(t1, 0x11223344)
  li t0, 0xfedcba98
  c.swsp t0, 40(sp)
  c.lwsp t1, 40(sp)
  CHK(t1, 0xfffffffffedcba98)
  c.sdsp t0, 504(sp)             // max offset for c.sdsp/c.ldsp
  c.ldsp t2, 504(sp)
  CHK(t2, 0xfedcba98)
  c.swsp t0, 252(sp)             // max offset for c.swsp/c.lwsp
  c.lwsp t2, 252(sp)
  CHK(t2, 0xfffffffffedcba98)
  li t0, 0x3ff0000000000000      // 1.0
  sd t0, 48(sp)
  c.fldsp ft1, 48(sp)
  c.fsdsp ft1, 56(sp)
  c.ldsp t1, 56(sp)
  CHK(t1, 0x3ff0000000000000)
  fmv.x.d t1, ft1
  CHK(t1, 0x3ff0000000000000)
  mv sp, s2
  // ---- control flow: c.j c.jr c.jalr c.beqz c.bnez
  li a0, 0
  c.j 1f
  li a0, 1
1:
  CHK(a0, 0)
  li a0, 0
  li s1, 0
  c.beqz s1, 2f
  li a0, 1
2:
  CHK(a0, 0)
  li s1, 0x100000000             // nonzero only in the upper half
  c.beqz s1, 3f
  c.bnez s1, 4f
3:
  li a0, 1
4:
  CHK(a0, 0)
  li s1, 0
  c.bnez s1, 5f
  li a0, 2
5:
  CHK(a0, 2)
  la t0, 6f
  c.jr t0
  j fail
6:
  la t0, cfunc
  c.jalr t0
c_ret:
  la t1, c_ret
  CHKR(ra, t1)                   // ra = address of c.jalr + 2
  CHK(a0, 0x77)
  // c.jr to an odd address clears bit 0... (jalr semantics)
  la t0, 7f
  addi t0, t0, 1
  c.jr t0
  j fail
  .balign 4
7:
  // ---- c.ebreak: breakpoint, mepc = its address
  EXPECT_TRAP
c_brk:
  c.ebreak
  CHK_TRAP_CAUSE(CAUSE_BREAKPOINT)
  TRAP_FIELD(t5, TA_EPC)
  la t0, c_brk
  CHKR(t5, t0)
  // ---- mixing 16- and 32-bit instructions at 2-byte alignment
  .balign 4
  c.nop
  addi a0, zero, 0x55            // a 32-bit instruction at pc % 4 == 2
  c.nop
  CHK(a0, 0x55)
TEST_END

  .text
cfunc:
  li a0, 0x77
  ret

  .data
  .balign 64
cdata: .fill 64, 8, 0
