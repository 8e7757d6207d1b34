//! reference: spec
// Sstc: stimecmp always exists in M-mode; below M it needs menvcfg.STCE and mcounteren.TM.
// With STCE = 1, STIP is `time >= stimecmp` and read-only in mip; the supervisor timer
// interrupt is taken (in S when delegated, in M otherwise) no earlier than stimecmp, and WFI
// wakes on it. With STCE = 0 again, STIP is software-writable as before.
// Reference: the specification. QEMU 7.2 has Sstc (sstc=true), but its spike board gives the
// hart no time source (no rdtime), and there QEMU makes stimecmp, like `time`, illegal.
#include "common.h"
#define SPIN_LIMIT 200000
TEST_BEGIN
  S_HANDLER_INSTALL
  li s0, -1
  csrw stimecmp, s0
  csrr a0, stimecmp
  CHK(a0, -1)
  li t0, 0x123456789
  csrw stimecmp, t0
  csrr a0, stimecmp
  CHK(a0, 0x123456789)
  csrw stimecmp, s0
  // ---- STCE = 0: S-mode access is illegal even with TM = 1
  li t0, COUNTEREN_TM
  csrw mcounteren, t0
  li t0, MENVCFG_STCE
  csrc menvcfg, t0
  GOTO_S(s1)
s1:
  EXPECT_TRAP
  csrr a0, stimecmp
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  BACK_TO_M(m1)
m1:
  // ---- STCE = 1, TM = 0: still illegal from S
  li t0, MENVCFG_STCE
  csrs menvcfg, t0
  csrr a0, menvcfg
  srli a0, a0, 63
  CHK(a0, 1)
  csrw mcounteren, zero
  GOTO_S(s2)
s2:
  EXPECT_TRAP
  csrr a0, stimecmp
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  BACK_TO_M(m2)
m2:
  li t0, COUNTEREN_TM
  csrw mcounteren, t0
  // ---- STIP follows time >= stimecmp and ignores writes to mip
  csrw stimecmp, s0
  csrr a0, mip
  andi a0, a0, MIP_STIP
  CHK(a0, 0)
  li t0, MIP_STIP
  csrs mip, t0
  csrr a0, mip
  andi a0, a0, MIP_STIP
  CHK(a0, 0)
  csrr t0, time
  li t1, 1000000
  add s2, t0, t1
  csrw stimecmp, s2
  csrr a0, mip
  andi a0, a0, MIP_STIP
  CHK(a0, 0)                          // 100 ms ahead: not yet
1:
  csrr t1, time
  bltu t1, s2, 1b
  li t2, SPIN_LIMIT
2:
  csrr a0, mip
  andi a0, a0, MIP_STIP
  bnez a0, 3f
  addi t2, t2, -1
  bnez t2, 2b
3:
  CHK(a0, MIP_STIP)
  li t0, MIP_STIP
  csrc mip, t0                        // read-only: stays pending
  csrr a0, mip
  andi a0, a0, MIP_STIP
  CHK(a0, MIP_STIP)
  csrw stimecmp, s0                   // a future compare value lowers it at once
  csrr a0, mip
  andi a0, a0, MIP_STIP
  CHK(a0, 0)
  // ---- delegated to S: taken in S, not before stimecmp
  li t0, MIP_STIP
  csrw mideleg, t0
  csrw mie, t0
  csrr t0, time
  li t1, 20000
  add s2, t0, t1
  csrw stimecmp, s2
  GOTO_S(s3)
s3:
  S_REDIRECT_TRAP(s3_got)
  csrsi sstatus, MSTATUS_SIE
4: j 4b
s3_got:
  csrr s4, time
  S_TRAP_FIELD(t5, TA_CAUSE)
  CHK(t5, INTR | 5)
  sltu a0, s4, s2
  CHK(a0, 0)
  // S programs its own timer: a future value clears STIP in sip
  li t0, -1
  csrw stimecmp, t0
  csrr a0, sip
  andi a0, a0, MIP_STIP
  CHK(a0, 0)
  // ---- WFI in S (SIE = 0) returns once STIP is pending
  csrr t0, time
  li t1, 5000
  add s2, t0, t1
  csrw stimecmp, s2
5:
  wfi
  csrr a0, sip
  andi a0, a0, MIP_STIP
  beqz a0, 5b
  csrr s4, time
  sltu a0, s4, s2
  CHK(a0, 0)
  li t0, -1
  csrw stimecmp, t0
  BACK_TO_M(m3)
m3:
  // ---- not delegated: the supervisor timer interrupt is taken in M
  csrw mideleg, zero
  li t0, MIP_STIP
  csrw mie, t0
  csrr t0, time
  li t1, 5000
  add s2, t0, t1
  csrw stimecmp, s2
  REDIRECT_TRAP(m3_got)
  csrsi mstatus, MSTATUS_MIE
6: j 6b
m3_got:
  csrr s4, time
  CHK_TRAP_CAUSE(INTR | 5)
  sltu a0, s4, s2
  CHK(a0, 0)
  csrw stimecmp, s0
  csrw mie, zero
  // ---- STCE = 0: STIP is the software-writable bit again
  li t0, MENVCFG_STCE
  csrc menvcfg, t0
  li t0, MIP_STIP
  csrs mip, t0
  csrr a0, mip
  andi a0, a0, MIP_STIP
  CHK(a0, MIP_STIP)
  csrc mip, t0
  csrr a0, mip
  andi a0, a0, MIP_STIP
  CHK(a0, 0)
TEST_END
