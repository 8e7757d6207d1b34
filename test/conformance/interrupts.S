// Interrupts: supervisor software interrupt set by M (mip.SSIP), delegated with mideleg and
// taken in S (stvec direct and vectored); machine timer via CLINT mtimecmp/mtime; WFI wakes
// on a pending (even disabled) interrupt; priority MSI > MTI when both are pending.
#include "common.h"
TEST_BEGIN
  li s0, CLINT_MTIMECMP
  li t0, -1
  sd t0, 0(s0)
  // ---- SSIP delegated to S, stvec direct
  S_HANDLER_INSTALL
  li t0, MIP_SSIP
  csrw mideleg, t0
  csrw mie, t0
  csrs mip, t0                       // pending before entering S (SIE=0 there)
  GOTO_S(s1)
s1:
  S_REDIRECT_TRAP(s1_got)
  csrsi sstatus, MSTATUS_SIE
1: j 1b
s1_got:
  S_TRAP_FIELD(t5, TA_CAUSE)
  CHK(t5, INTR | 1)
  csrci sip, MIP_SSIP
  csrr a0, sip
  andi a0, a0, MIP_SSIP
  CHK(a0, 0)
  // ---- vectored stvec: SSI goes to base + 4 * 1
  la t0, s_vectors
  ori t0, t0, 1
  csrw stvec, t0
  csrsi sip, MIP_SSIP                 // S may set its own SSIP
  csrsi sstatus, MSTATUS_SIE
2: j 2b
vec_done:
  csrr a0, scause
  CHK(a0, INTR | 1)
  BACK_TO_M(m1)
m1:
  csrw mideleg, zero
  csrw mie, zero
  csrci mip, MIP_SSIP
  // ---- machine timer interrupt
  li s1, CLINT_MTIME
  ld t0, 0(s1)
  addi t0, t0, 50
  sd t0, 0(s0)                        // mtimecmp = now + 50
  li t0, MIP_MTIP
  csrw mie, t0
  REDIRECT_TRAP(timer_got)
  csrsi mstatus, MSTATUS_MIE
3: j 3b
timer_got:
  CHK_TRAP_CAUSE(INTR | 7)
  csrr a0, mip
  andi a0, a0, MIP_MTIP
  CHK(a0, MIP_MTIP)                   // still pending until mtimecmp moves
  li t0, -1
  sd t0, 0(s0)
  csrr a0, mip
  andi a0, a0, MIP_MTIP
  CHK(a0, 0)
  // ---- WFI returns when an enabled-in-mie interrupt is pending, even with MIE=0
  ld t0, 0(s1)
  addi t0, t0, 20
  sd t0, 0(s0)
  csrci mstatus, MSTATUS_MIE
4: wfi
  csrr a0, mip
  andi a0, a0, MIP_MTIP
  beqz a0, 4b
  // ---- priority: MSI before MTI (MTIP still pending, set MSIP through the CLINT)
  li s3, CLINT_MSIP
  li t0, 1
  sw t0, 0(s3)
  li t0, MIP_MTIP | MIP_MSIP
  csrw mie, t0
  REDIRECT_TRAP(prio1)
  csrsi mstatus, MSTATUS_MIE
5: j 5b
prio1:
  CHK_TRAP_CAUSE(INTR | 3)
  sw zero, 0(s3)
  REDIRECT_TRAP(prio2)
  csrsi mstatus, MSTATUS_MIE
6: j 6b
prio2:
  CHK_TRAP_CAUSE(INTR | 7)
  li t0, -1
  sd t0, 0(s0)
  csrw mie, zero
  // ---- mie gates: pending but not enabled -> no interrupt
  TRAP_COUNT(s2)
  csrsi mip, MIP_SSIP
  csrsi mstatus, MSTATUS_MIE
  nop
  nop
  csrci mstatus, MSTATUS_MIE
  csrci mip, MIP_SSIP
  TRAP_COUNT(a0)
  CHKR(a0, s2)
  j done

  .balign 64
  .option push
  .option norvc                       // 4-byte vector entries
s_vectors:
  j s_vec_bad
  j s_vec_ssi
  j s_vec_bad
  j s_vec_bad
  j s_vec_bad
  j s_vec_bad
  .option pop
s_vec_bad:
  li t5, 0
  li t6, 0
  j fail
s_vec_ssi:
  csrci sip, MIP_SSIP
  csrci sstatus, MSTATUS_SIE
  li t0, MSTATUS_SPIE
  csrc sstatus, t0
  li t0, MSTATUS_SPP
  csrs sstatus, t0
  la t0, vec_done
  csrw sepc, t0
  sret
done:
TEST_END
