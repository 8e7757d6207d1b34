//! reference: spec
// Sdtrig with no triggers (debug spec, trigger module registers): tselect holds no valid
// index, so a write of 5 does not read back; tdata1 reads type 0 ("there is no trigger at this
// tselect") and ignores writes; tdata2/tdata3 read 0; tinfo's info field is 1 (only type 0)
// with version 1 (Sdtrig 1.0). They are M-mode CSRs: S-mode access is illegal.
#include "common.h"
#define TINFO 0x7a4
TEST_BEGIN
  csrr a0, tselect
  CHK(a0, 0)
  li t0, 5
  csrw tselect, t0
  csrr a0, tselect
  CHK(a0, 0)
  csrr a0, tdata1
  srli a1, a0, 60
  CHK(a1, 0)
  li t0, (2 << 60) | (1 << 6) | 4     /* an mcontrol execute trigger in M-mode */
  csrw tdata1, t0
  csrr a0, tdata1
  CHK(a0, 0)
  li t0, 0x80001000
  csrw tdata2, t0
  csrr a0, tdata2
  CHK(a0, 0)
  csrr a0, tdata3
  CHK(a0, 0)
  csrr a0, TINFO
  CHK(a0, (1 << 24) | 1)
  GOTO_S(s1)
s1:
  EXPECT_TRAP
  csrr a0, tselect
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  EXPECT_TRAP
  csrr a0, tdata1
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  BACK_TO_M(m1)
m1:
TEST_END
