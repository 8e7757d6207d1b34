//! reference: spec
// Smstateen/Ssstateen: mstateen0-3 reset to zero; their WARL bits here are SE (bit 63: access
// to sstateenN below M) and, in mstateen0, ENVCFG (bit 62: access to senvcfg below M). No state
// of this hart is controlled by an sstateen bit, so sstateen0-3 read as zero and ignore writes.
#include "common.h"
#define SE (1 << 63)
#define ENVCFG (1 << 62)
TEST_BEGIN
  csrr a0, mstateen0
  CHK(a0, 0)
  li t0, -1
  csrw mstateen0, t0
  csrr a0, mstateen0
  CHK(a0, SE | ENVCFG)
  csrw mstateen1, t0
  csrr a0, mstateen1
  CHK(a0, SE)
  csrw mstateen3, t0
  csrr a0, mstateen3
  CHK(a0, SE)
  csrw sstateen0, t0
  csrr a0, sstateen0
  CHK(a0, 0)
  // ---- mstateen0 = 0: S-mode may reach neither senvcfg nor sstateen0
  csrw mstateen0, zero
  csrw mstateen1, zero
  GOTO_S(s1)
s1:
  EXPECT_TRAP
  csrr a0, senvcfg
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  EXPECT_TRAP
  csrw senvcfg, zero
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  EXPECT_TRAP
  csrr a0, sstateen0
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  EXPECT_TRAP
  csrr a0, sstateen1
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  BACK_TO_M(m1)
m1:
  // ---- ENVCFG only: senvcfg works in S, sstateen0 still traps
  li t0, ENVCFG
  csrw mstateen0, t0
  GOTO_S(s2)
s2:
  li t0, ENVCFG_FIOM
  csrw senvcfg, t0
  csrr a0, senvcfg
  CHK(a0, ENVCFG_FIOM)
  EXPECT_TRAP
  csrr a0, sstateen0
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  BACK_TO_M(m2)
m2:
  // ---- SE0 (and mstateen1.SE): the sstateen CSRs read zero in S, senvcfg traps
  li t0, SE
  csrw mstateen0, t0
  csrw mstateen1, t0
  GOTO_S(s3)
s3:
  li t0, -1
  csrw sstateen0, t0
  csrr a0, sstateen0
  CHK(a0, 0)
  csrr a0, sstateen1
  CHK(a0, 0)
  EXPECT_TRAP
  csrr a0, senvcfg
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  EXPECT_TRAP
  csrr a0, sstateen2                  /* mstateen2.SE = 0 */
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  BACK_TO_M(m3)
m3:
  // ---- U-mode never reaches the S-level sstateen CSRs, nor mstateen
  GOTO_U(u1)
u1:
  EXPECT_TRAP
  csrr a0, sstateen0
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  EXPECT_TRAP
  csrr a0, mstateen0
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  BACK_TO_M(m4)
m4:
TEST_END
