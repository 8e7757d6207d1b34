//! march: rv64gc_svinval
//! qemu-cpu: svinval=true
// Svinval: SFENCE.W.INVAL, SINVAL.VMA, SFENCE.INVAL.IR in sequence make a changed PTE visible
// like SFENCE.VMA; SINVAL.VMA needs the permissions of SFENCE.VMA (illegal in U-mode and in
// S-mode with mstatus.TVM = 1) while the two fences are "unaffected by the mstatus.TVM" field
// and illegal only in U-mode (QEMU 7.2 executes them in U-mode: checked on rvisor only).
#include "common.h"
#include "vm.h"
#define VA_BASE 0x40000000
TEST_BEGIN
  sfence.w.inval
  sinval.vma zero, zero
  sfence.inval.ir
  la s1, page_a
  li t0, 0xaaaa
  sd t0, 0(s1)
  la s2, page_b
  li t0, 0xbbbb
  sd t0, 0(s2)
  SV39_MAP_PROGRAM
  SET_PTE(l0, 0, s1, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)
  SATP_SV39(s0, root)
  li t0, MENVCFG_ADUE
  csrs menvcfg, t0
  csrw satp, s0
  sfence.vma
  GOTO_S(vs)
vs:
  li s5, VA_BASE
  ld a0, 0(s5)
  CHK(a0, 0xaaaa)
  /* remap VA_BASE to page_b, invalidate that address with the Svinval sequence */
  SET_PTE(l0, 0, s2, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)
  sfence.w.inval
  sinval.vma s5, zero
  sfence.inval.ir
  ld a0, 0(s5)
  CHK(a0, 0xbbbb)
  BACK_TO_M(m1)
m1:
  /* TVM = 1: SINVAL.VMA is illegal in S, the fences are not */
  li t0, MSTATUS_TVM
  csrs mstatus, t0
  GOTO_S(vs2)
vs2:
  EXPECT_TRAP
  sinval.vma zero, zero
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  TRAP_COUNT(s6)
  sfence.w.inval
  sfence.inval.ir
  TRAP_COUNT(a0)
  CHKR(a0, s6)
  BACK_TO_M(m2)
m2:
  li t0, MSTATUS_TVM
  csrc mstatus, t0
  csrw satp, zero                     /* U-mode runs untranslated */
  sfence.vma
  GOTO_U(vu)
vu:
  EXPECT_TRAP
  sinval.vma zero, zero
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
#ifndef QEMU_QUIRKS
  EXPECT_TRAP
  sfence.w.inval
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  EXPECT_TRAP
  sfence.inval.ir
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
#endif
  BACK_TO_M(m3)
m3:
TEST_END
  SV39_TABLES
page_a: .fill 512, 8, 0
page_b: .fill 512, 8, 0
