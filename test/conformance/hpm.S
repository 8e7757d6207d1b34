//! reference: spec
// Zihpm with no events: hpmcounter3-31, mhpmcounter3-31 and mhpmevent3-31 exist and read zero
// (writes ignored); mcounteren/scounteren implement all 32 bits, and gate the hpmcounters below
// M-mode like cycle/time/instret. (QEMU 7.2 implements counting mhpmcounters.)
#include "common.h"
TEST_BEGIN
  csrr a0, hpmcounter3
  CHK(a0, 0)
  csrr a0, hpmcounter31
  CHK(a0, 0)
  li t0, 1234
  csrw mhpmcounter3, t0
  csrr a0, mhpmcounter3
  CHK(a0, 0)
  csrw mhpmevent3, t0
  csrr a0, mhpmevent3
  CHK(a0, 0)
  csrw mhpmevent31, t0
  csrr a0, mhpmevent31
  CHK(a0, 0)
  li t0, -1
  csrw mcounteren, t0
  csrr a0, mcounteren
  CHK(a0, 0xffffffff)
  csrw scounteren, t0
  csrr a0, scounteren
  CHK(a0, 0xffffffff)
  li t0, 1 << 4
  csrw scounteren, t0
  li t0, ~(1 << 3)
  csrw mcounteren, t0
  GOTO_S(s1)
s1:
  csrr a0, hpmcounter4
  CHK(a0, 0)
  EXPECT_TRAP
  csrr a0, hpmcounter3                /* mcounteren bit 3 clear */
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  BACK_TO_M(m1)
m1:
  GOTO_U(u1)
u1:
  csrr a0, hpmcounter4                /* both counteren bits set */
  CHK(a0, 0)
  EXPECT_TRAP
  csrr a0, hpmcounter5                /* scounteren bit 5 clear */
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  BACK_TO_M(m2)
m2:
TEST_END
