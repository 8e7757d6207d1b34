// Zicntr: cycle/time/instret readable in M; from S/U only when mcounteren (and, for U,
// scounteren) allow; instret advances by exactly the number of retired instructions.
// (QEMU runs this with -icount so its counters are exact; its spike board has no time CSR,
// so the QEMU_QUIRKS build skips reading time where it must succeed.)
#include "common.h"
TEST_BEGIN
  csrr t0, minstret
  csrr t1, minstret
  sub a0, t1, t0
  CHK(a0, 1)
  csrr t0, instret
  nop
  addi a1, a1, 1
  c.nop
  csrr t1, instret
  sub a0, t1, t0
  CHK(a0, 4)
  // a loop of 10 x 3 instructions
  li a1, 10
  csrr t0, minstret
1: addi a1, a1, -1
  nop
  bnez a1, 1b
  csrr t1, minstret
  sub a0, t1, t0
  CHK(a0, 31)
  // writable in M
  li a1, 1000
  csrw minstret, a1
  csrr a0, minstret
  li t0, 1000
  bltu a0, t0, fail
  csrr a0, cycle
  csrr a1, cycle
  bltu a1, a0, fail
#ifndef QEMU_QUIRKS   /* QEMU's spike board has no time CSR (rdtime traps there) */
  csrr a0, time
  csrr a1, time
  bltu a1, a0, fail
#endif
  // mcounteren = 0: S-mode reads trap
  S_HANDLER_INSTALL
  csrw mcounteren, zero
  csrw scounteren, zero
  GOTO_S(s1)
s1:
  EXPECT_TRAP
  csrr a0, instret
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  EXPECT_TRAP
  csrr a0, cycle
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  EXPECT_TRAP
  csrr a0, time
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  BACK_TO_M(m1)
m1:
  li a1, 7
  csrw mcounteren, a1
  GOTO_S(s2)
s2:
  csrr a0, cycle
#ifndef QEMU_QUIRKS
  csrr a0, time
#endif
  csrr t0, instret
  csrr t1, instret
  sub a0, t1, t0
  CHK(a0, 1)
  BACK_TO_M(m2)
m2:
  // U: needs both mcounteren and scounteren
  GOTO_U(u1)
u1:
  EXPECT_TRAP
  csrr a0, instret
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  BACK_TO_M(m3)
m3:
  li a1, 4                          // only IR in scounteren
  csrw scounteren, a1
  GOTO_U(u2)
u2:
  csrr t0, instret
  csrr t1, instret
  sub a0, t1, t0
  CHK(a0, 1)
  EXPECT_TRAP
  csrr a0, cycle
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  BACK_TO_M(m4)
m4:
TEST_END
