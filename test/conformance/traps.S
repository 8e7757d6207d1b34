// Synchronous traps: illegal instruction (mtval = instruction bits), ecall from M/S/U
// (causes 11/9/8), ebreak (mepc = pc; mtval = pc on rvisor), access faults on unmapped
// physical addresses (cause 1/5/7, mtval = address), delegation to S via medeleg,
// mret/sret state changes (MPP/MPIE/SPP/SPIE, MPRV cleared), TSR/TW/TVM.
#include "common.h"
TEST_BEGIN
  // ---- illegal instruction
  EXPECT_TRAP
  .word 0xffffffff
  CHK_TRAP(CAUSE_ILLEGAL, 0xffffffff)
  EXPECT_TRAP
  .half 0x0000                      // all-zero compressed instruction is illegal
  CHK_TRAP(CAUSE_ILLEGAL, 0)
  EXPECT_TRAP
  csrw cycle, a0                    // read-only CSR
  CHK_TRAP(CAUSE_ILLEGAL, 0xc0051073)
  // ---- ecall from M
  EXPECT_TRAP
ecall_m:
  ecall
  CHK_TRAP(CAUSE_MACHINE_ECALL, 0)
  TRAP_FIELD(t5, TA_EPC)
  la t0, ecall_m
  CHKR(t5, t0)
  // ---- ebreak: mepc = pc; mtval = pc (QEMU 7.2 writes 0, also allowed by the spec)
  EXPECT_TRAP
ebreak_m:
  ebreak
  CHK_TRAP_CAUSE(CAUSE_BREAKPOINT)
  TRAP_FIELD(t5, TA_EPC)
  la t0, ebreak_m
  CHKR(t5, t0)
  TRAP_FIELD(t5, TA_TVAL)
#ifdef QEMU_QUIRKS
  beqz t5, 1f
#endif
  CHKR(t5, t0)
1:
  // ---- access faults on unmapped physical memory
  li s1, 0
  EXPECT_TRAP
  ld a0, 0(s1)
  CHK_TRAP(CAUSE_LOAD_ACCESS, 0)
  li s1, 0x10
  EXPECT_TRAP
  sd a0, 0(s1)
  CHK_TRAP(CAUSE_STORE_ACCESS, 0x10)
  li s1, 0x8
  EXPECT_TRAP
  amoadd.d a0, a0, (s1)
  TRAP_FIELD(t5, TA_CAUSE)
  CHK_QUIRK(t5, CAUSE_STORE_ACCESS, CAUSE_LOAD_ACCESS)   // QEMU 7.2 reports AMO faults as loads
  TRAP_FIELD(t5, TA_TVAL)
  CHK(t5, 0x8)
  REDIRECT_TRAP(after_fetch)
  li s1, 0x100
  jr s1
after_fetch:
  CHK_TRAP(CAUSE_FETCH_ACCESS, 0x100)
  // ---- ecall from S and U (not delegated)
  GOTO_S(in_s)
in_s:
  REDIRECT_TRAP(back1)
  ecall
back1:
  CHK_TRAP_CAUSE(CAUSE_SUPERVISOR_ECALL)
  TRAP_FIELD(t5, TA_STATUS)            // MPP = S at trap time
  srli t5, t5, 11
  andi t5, t5, 3
  CHK(t5, 1)
  GOTO_U(in_u)
in_u:
  REDIRECT_TRAP(back2)
  ecall
back2:
  CHK_TRAP_CAUSE(CAUSE_USER_ECALL)
  TRAP_FIELD(t5, TA_STATUS)
  srli t5, t5, 11
  andi t5, t5, 3
  CHK(t5, 0)
  // ---- delegation: U ecall and illegal instruction go to S
  S_HANDLER_INSTALL
  li a1, (1 << CAUSE_USER_ECALL) | (1 << CAUSE_ILLEGAL)
  csrw medeleg, a1
  GOTO_S(s_mode)
s_mode:
  // enter U from S with sret
  li t0, MSTATUS_SPP
  csrc sstatus, t0
  li t0, MSTATUS_SPIE
  csrs sstatus, t0
  la t0, u_mode
  csrw sepc, t0
  sret
u_mode:
  S_EXPECT_TRAP
  .word 0xffffffff                  // illegal in U -> S handler
  S_REDIRECT_TRAP(s_back)
  ecall
s_back:
  CHK_S_TRAP(CAUSE_USER_ECALL, 0)
  csrr t5, sstatus                   // SPP = U at trap time -> after redirect SPP is S
  // the S handler recorded the illegal one before
  csrr a0, scause
  CHK(a0, CAUSE_USER_ECALL)
  // ecall from S is not delegated -> M
  BACK_TO_M(m_back)
m_back:
  CHK_TRAP_CAUSE(CAUSE_SUPERVISOR_ECALL)
  csrw medeleg, zero
  // ---- mret state changes: MIE <- MPIE, MPIE <- 1, MPP <- U (least privileged)
  li t0, MSTATUS_MPIE
  csrs mstatus, t0
  li t0, MSTATUS_MIE
  csrc mstatus, t0
  li t0, MSTATUS_MPP
  csrs mstatus, t0                  // MPP = M: mret stays in M
  la t0, after_mret
  csrw mepc, t0
  mret
after_mret:
  csrr a0, mstatus
  andi a1, a0, MSTATUS_MIE
  CHK(a1, MSTATUS_MIE)
  andi a1, a0, MSTATUS_MPIE
  CHK(a1, MSTATUS_MPIE)
  srli a1, a0, 11
  andi a1, a1, 3
  CHK(a1, 0)                        // MPP = U after mret
  li t0, MSTATUS_MIE
  csrc mstatus, t0
  // MPRV is cleared by an mret to a mode below M
  li t0, MSTATUS_MPRV
  csrs mstatus, t0
  GOTO_S(s_mprv)
s_mprv:
  BACK_TO_M(m_mprv)
m_mprv:
  csrr a0, mstatus
  li t0, MSTATUS_MPRV
  and a0, a0, t0
  CHK_QUIRK(a0, 0, MSTATUS_MPRV)     // QEMU 7.2 does not clear MPRV on mret (priv 1.12 rule)
  li t0, MSTATUS_MPRV
  csrc mstatus, t0
  // ---- sret state changes: SIE <- SPIE, SPIE <- 1, SPP <- U
  GOTO_S(s_sret)
s_sret:
  li t0, MSTATUS_SPIE | MSTATUS_SPP
  csrs sstatus, t0
  la t0, s_after
  csrw sepc, t0
  sret
s_after:
  csrr a0, sstatus
  andi a1, a0, MSTATUS_SIE
  CHK(a1, MSTATUS_SIE)
  andi a1, a0, MSTATUS_SPIE
  CHK(a1, MSTATUS_SPIE)
  andi a1, a0, MSTATUS_SPP
  CHK(a1, 0)
  li t0, MSTATUS_SIE
  csrc sstatus, t0
  BACK_TO_M(m_after_sret)
m_after_sret:
  // ---- TSR: sret in S traps; TVM: satp and sfence.vma in S trap; TW: wfi in S traps
  li t0, MSTATUS_TSR | MSTATUS_TVM | MSTATUS_TW
  csrs mstatus, t0
  GOTO_S(s_tsr)
s_tsr:
  EXPECT_TRAP
  sret
  CHK_TRAP(CAUSE_ILLEGAL, 0x10200073)
  EXPECT_TRAP
  csrr a0, satp
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  EXPECT_TRAP
  sfence.vma
  CHK_TRAP(CAUSE_ILLEGAL, 0x12000073)
  EXPECT_TRAP
  wfi
  CHK_TRAP(CAUSE_ILLEGAL, 0x10500073)
  BACK_TO_M(m_tsr)
m_tsr:
  li t0, MSTATUS_TSR | MSTATUS_TVM | MSTATUS_TW
  csrc mstatus, t0
  // mret in S is always illegal
  GOTO_S(s_mret)
s_mret:
  EXPECT_TRAP
  mret
  CHK_TRAP(CAUSE_ILLEGAL, 0x30200073)
  BACK_TO_M(m_end)
m_end:
  // ---- fence.i (Zifencei): modified code is visible after fence.i
  la s1, patch
  li t0, 0x00100513                 // addi a0, zero, 1
  sw t0, 0(s1)
  fence.i
  li a0, 0
patch:
  addi a0, zero, 2
  CHK(a0, 1)
TEST_END
