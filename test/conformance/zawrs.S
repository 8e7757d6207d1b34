//! march: rv64gc_zawrs
//! reference: spec
// Zawrs: WRS.NTO and WRS.STO complete (a stall may end "for any reason"; here at once) in every
// mode. With mstatus.TW = 1 below M-mode, WRS.NTO raises an illegal instruction when it would
// stall past the time limit (zero here): a valid reservation and no pending interrupt. Without
// a reservation, or with an interrupt pending (even disabled), it completes; WRS.STO is not
// subject to TW; in M-mode TW does not apply.
#include "common.h"
TEST_BEGIN
  la s1, word
  TRAP_COUNT(s6)
  lr.d a0, (s1)
  wrs.nto
  lr.d a0, (s1)
  wrs.sto
  li t0, MSTATUS_TW
  csrs mstatus, t0
  lr.d a0, (s1)
  wrs.nto                             /* M-mode: TW does not apply */
  TRAP_COUNT(a0)
  CHKR(a0, s6)
  GOTO_S(s1_)
s1_:
  TRAP_COUNT(s6)
  lr.d a0, (s1)
  wrs.sto
  sc.d a1, a0, (s1)                   /* a store ends the reservation */
  wrs.nto                             /* no reservation: no stall, no exception */
  TRAP_COUNT(a0)
  CHKR(a0, s6)
  EXPECT_TRAP
  lr.d a0, (s1)                       /* adjacent: the reservation is still valid at wrs.nto */
  wrs.nto
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  BACK_TO_M(m1)
m1:
  /* a pending interrupt (enabled in mie, masked by SIE = 0 in S) ends the wait too */
  li t0, MIP_SSIP
  csrw mideleg, t0
  csrw mie, t0
  csrs mip, t0
  GOTO_S(s2)
s2:
  TRAP_COUNT(s6)
  lr.d a0, (s1)
  wrs.nto
  TRAP_COUNT(a0)
  CHKR(a0, s6)
  BACK_TO_M(m2)
m2:
  li t0, MIP_SSIP
  csrc mip, t0
  csrw mie, zero
  csrw mideleg, zero
  GOTO_U(u2)
u2:
  EXPECT_TRAP
  lr.d a0, (s1)                       /* adjacent: the reservation is still valid at wrs.nto */
  wrs.nto
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  BACK_TO_M(m3)
m3:
  /* TW = 0: U-mode waits too ("WRS.NTO, unlike WFI, is not specified to cause an
     illegal-instruction exception if executed in U-mode when the governing TW bit is 0") */
  li t0, MSTATUS_TW
  csrc mstatus, t0
  GOTO_U(u3)
u3:
  TRAP_COUNT(s6)
  lr.d a0, (s1)
  wrs.nto
  wrs.sto
  TRAP_COUNT(a0)
  CHKR(a0, s6)
  BACK_TO_M(m4)
m4:
TEST_END
  .data
  .balign 8
word: .dword 0
