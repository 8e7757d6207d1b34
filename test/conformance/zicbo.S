//! march: rv64gc_zicbom_zicboz_zicbop
//! reference: spec
// Zicbom/Zicboz/Zicbop (CMO 1.0), 64-byte blocks. CBO.ZERO zeroes exactly the aligned block
// holding rs1 (and invalidates decoded code there); CBO.CLEAN/FLUSH/INVAL change nothing
// visible; PREFETCH.I/R/W never fault, even unmapped. Below M-mode each needs its menvcfg
// enable, and in U-mode also senvcfg's (CBIE = 00 illegal, 01 flush, 11 invalidate; 10 is
// reserved: WARL keeps the old value). Under translation the instructions fault as stores with
// tval = rs1: CBO.ZERO needs write permission, the management ones read (or write) permission.
#include "common.h"
#include "vm.h"
#define VA_BASE 0x40000000
#define ENV_ALL (ENVCFG_CBZE | ENVCFG_CBCFE | ENVCFG_CBIE_INVAL)
TEST_BEGIN
  /* ---- M-mode: CBO.ZERO on an unaligned address zeroes its whole block only */
  la s1, blocks
  li t0, -1
  li t1, 0
1:
  add t2, s1, t1
  sd t0, 0(t2)
  addi t1, t1, 8
  li t2, 192
  bltu t1, t2, 1b
  addi a1, s1, 64 + 0x28
  cbo.zero (a1)
  ld a0, 56(s1)
  CHK(a0, -1)                         /* block before */
  ld a0, 64(s1)
  CHK(a0, 0)
  ld a0, 64 + 0x28(s1)
  CHK(a0, 0)
  ld a0, 64 + 56(s1)
  CHK(a0, 0)
  ld a0, 128(s1)
  CHK(a0, -1)                         /* block after */
  /* management operations keep the data */
  addi a1, s1, 130
  cbo.clean (a1)
  cbo.flush (a1)
  cbo.inval (a1)
  ld a0, 128(s1)
  CHK(a0, -1)
  /* prefetch hints: no effect, no fault, even at an address that is not memory */
  li a1, 0x7000
  prefetch.i 0(a1)
  prefetch.r 32(a1)
  prefetch.w -32(a1)
  /* ---- CBO.ZERO over code that already ran: the zeroed block no longer holds it */
  la s2, code_block
  jalr s2
  CHK(a0, 42)
  cbo.zero (s2)
  fence.i
  REDIRECT_TRAP(code_gone)
  jalr s2
  li t5, 0
  li t6, 0
  j fail
code_gone:
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  TRAP_FIELD(a0, TA_EPC)
  CHKR(a0, s2)
  /* ---- menvcfg fields are WARL: CBIE = 10 is reserved and keeps the old value */
  li t0, ENV_ALL
  csrw menvcfg, t0
  csrr a0, menvcfg
  andi a0, a0, 0xff
  CHK(a0, ENV_ALL)
  li t0, ENVCFG_CBIE_FLUSH
  csrc menvcfg, t0                    /* 11 -> 10: reserved */
  csrr a0, menvcfg
  andi a0, a0, 0xf0
  CHK(a0, ENVCFG_CBZE | ENVCFG_CBCFE | ENVCFG_CBIE_INVAL)
  li t0, ENVCFG_CBIE_INVAL
  csrc menvcfg, t0
  li t0, ENVCFG_CBIE_FLUSH
  csrs menvcfg, t0
  csrr a0, menvcfg
  andi a0, a0, 0xf0
  CHK(a0, ENVCFG_CBZE | ENVCFG_CBCFE | ENVCFG_CBIE_FLUSH)
  /* ---- S-mode with menvcfg = 0: all four are illegal */
  csrw menvcfg, zero
  addi a1, s1, 64
  GOTO_S(s_off)
s_off:
  EXPECT_TRAP
  cbo.zero (a1)
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  EXPECT_TRAP
  cbo.clean (a1)
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  EXPECT_TRAP
  cbo.flush (a1)
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  EXPECT_TRAP
  cbo.inval (a1)
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  prefetch.r 0(a1)
  BACK_TO_M(m1)
m1:
  /* ---- each enable alone */
  li t0, ENVCFG_CBZE
  csrw menvcfg, t0
  GOTO_S(s_z)
s_z:
  li t0, -1
  sd t0, 64(s1)
  cbo.zero (a1)
  ld a0, 64(s1)
  CHK(a0, 0)
  EXPECT_TRAP
  cbo.clean (a1)
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  BACK_TO_M(m2)
m2:
  li t0, ENVCFG_CBCFE | ENVCFG_CBIE_FLUSH
  csrw menvcfg, t0
  GOTO_S(s_cf)
s_cf:
  TRAP_COUNT(s6)
  cbo.clean (a1)
  cbo.flush (a1)
  cbo.inval (a1)                      /* CBIE = 01: performs a flush */
  TRAP_COUNT(a0)
  CHKR(a0, s6)
  EXPECT_TRAP
  cbo.zero (a1)
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  BACK_TO_M(m3)
m3:
  /* ---- U-mode: menvcfg enables everything, senvcfg = 0 -> illegal; then senvcfg too */
  li t0, ENV_ALL
  csrw menvcfg, t0
  csrw senvcfg, zero
  GOTO_U(u_off)
u_off:
  EXPECT_TRAP
  cbo.zero (a1)
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  EXPECT_TRAP
  cbo.clean (a1)
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  EXPECT_TRAP
  cbo.inval (a1)
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  BACK_TO_M(m4)
m4:
  li t0, ENVCFG_CBZE | ENVCFG_CBCFE | ENVCFG_CBIE_FLUSH
  csrw senvcfg, t0
  csrr a0, senvcfg
  CHK(a0, ENVCFG_CBZE | ENVCFG_CBCFE | ENVCFG_CBIE_FLUSH)
  GOTO_U(u_on)
u_on:
  li t0, -1
  sd t0, 64(s1)
  TRAP_COUNT(s6)
  cbo.zero (a1)
  cbo.clean (a1)
  cbo.flush (a1)
  cbo.inval (a1)
  TRAP_COUNT(a0)
  CHKR(a0, s6)
  ld a0, 64(s1)
  CHK(a0, 0)
  BACK_TO_M(m5)
m5:
  /* ---- under Sv39: l0[0] read-only, l0[1] read-write, l0[2] invalid */
  la s3, data_page
  li t0, -1
  sd t0, 0x40(s3)
  SET_PTR(root, 1, l1)
  li t3, 0x80000000
  SET_PTE(root, 2, t3, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D)
  SET_PTR(l1, 0, l0)
  SET_PTE(l0, 0, s3, PTE_V | PTE_R | PTE_A)
  SET_PTE(l0, 1, s3, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)
  SATP_SV39(s0, root)
  li t0, MENVCFG_ADUE
  csrs menvcfg, t0
  csrw satp, s0
  sfence.vma
  GOTO_S(s_vm)
s_vm:
  li s5, VA_BASE + 0x48               /* read-only: zero faults, clean is fine */
  EXPECT_TRAP
  cbo.zero (s5)
  CHK_TRAP_R(CAUSE_STORE_PAGE_FAULT, s5)
  ld a0, 0x40(s3)
  CHK(a0, -1)
  cbo.clean (s5)
  cbo.inval (s5)
  li s5, VA_BASE + 0x2013             /* invalid: every CBO faults as a store */
  EXPECT_TRAP
  cbo.flush (s5)
  CHK_TRAP_R(CAUSE_STORE_PAGE_FAULT, s5)
  EXPECT_TRAP
  cbo.inval (s5)
  CHK_TRAP_R(CAUSE_STORE_PAGE_FAULT, s5)
  EXPECT_TRAP
  cbo.zero (s5)
  CHK_TRAP_R(CAUSE_STORE_PAGE_FAULT, s5)
  prefetch.w 0(s5)                    /* hints never fault */
  li s5, VA_BASE + 0x1050             /* read-write: zero works through the mapping */
  cbo.zero (s5)
  ld a0, 0x40(s3)
  CHK(a0, 0)
  BACK_TO_M(m6)
m6:
  SATP_OFF
TEST_END
  .data
  .balign 64
blocks: .fill 24, 8, 0
  .balign 64
code_block:
  li a0, 42
  ret
  .balign 4096
root: .fill 512, 8, 0
l1: .fill 512, 8, 0
l0: .fill 512, 8, 0
data_page: .fill 512, 8, 0
