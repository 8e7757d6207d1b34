//! qemu-cpu: svpbmt=true
// Svpbmt (Sv39) with menvcfg.PBMTE = 1: leaves with PBMT = PMA, NC or IO map RAM as usual
// (memory types change nothing visible here); PBMT on a non-leaf PTE faults. Checked on
// rvisor only (QEMU 7.2 ignores them, see QEMU_QUIRKS): the reserved PBMT value 3 faults,
// reserved bits 60:54 fault, and with PBMTE = 0 "the implementation behaves as though Svpbmt
// were not implemented" (PBMT bits fault) after an SFENCE.VMA.
#include "common.h"
#include "vm.h"
#define VA_BASE 0x40000000
#define PTR_VA  0x40200000                /* l1[1]: non-leaf with PBMT = NC */
/* l0[idx] = RW leaf for data_page with extra high bits `ext` (clobbers t0, t1) */
TEST_BEGIN
  la s1, data_page
  li t0, 0x5a5a5a5a12345678
  sd t0, 0(s1)
  SV39_MAP_PROGRAM
  SET_PTE_EXT(0, 0)
  SET_PTE_EXT(1, PTE_PBMT_NC)
  SET_PTE_EXT(2, PTE_PBMT_IO)
  SET_PTE_EXT(3, PTE_PBMT_RSV)
  SET_PTE_EXT(4, 1 << 54)
  /* l1[1]: pointer to l0 with PBMT = NC */
  la t0, l0
  srli t0, t0, 12
  slli t0, t0, 10
  li t1, PTE_PBMT_NC | PTE_V
  or t0, t0, t1
  la t1, l1
  sd t0, 8(t1)
  SATP_SV39(s0, root)
  li t0, MENVCFG_PBMTE | MENVCFG_ADUE
  csrs menvcfg, t0
  csrw satp, s0
  sfence.vma
  GOTO_S(vs)
vs:
  li s5, VA_BASE
  ld a0, 0(s5)
  CHK(a0, 0x5a5a5a5a12345678)
  li s5, VA_BASE + 0x1000
  ld a0, 0(s5)
  CHK(a0, 0x5a5a5a5a12345678)
  li s5, VA_BASE + 0x2000
  li t0, 0x77
  sd t0, 8(s5)
  ld a0, 8(s1)
  CHK(a0, 0x77)
  ld a0, 0(s5)
  CHK(a0, 0x5a5a5a5a12345678)
  li s5, PTR_VA + 0x8
  EXPECT_TRAP
  ld a0, 0(s5)
  CHK_TRAP_R(CAUSE_LOAD_PAGE_FAULT, s5)
#ifndef QEMU_QUIRKS   /* QEMU 7.2 accepts PBMT = 3 and ignores bits 60:54 and PBMTE */
  li s5, VA_BASE + 0x3010
  EXPECT_TRAP
  ld a0, 0(s5)
  CHK_TRAP_R(CAUSE_LOAD_PAGE_FAULT, s5)
  li s5, VA_BASE + 0x4020
  EXPECT_TRAP
  sd a0, 0(s5)
  CHK_TRAP_R(CAUSE_STORE_PAGE_FAULT, s5)
  BACK_TO_M(vm_m1)
vm_m1:
  li t0, MENVCFG_PBMTE
  csrc menvcfg, t0
  sfence.vma
  GOTO_S(vs2)
vs2:
  li s5, VA_BASE + 0x1000
  EXPECT_TRAP
  ld a0, 0(s5)
  CHK_TRAP_R(CAUSE_LOAD_PAGE_FAULT, s5)
  li s5, VA_BASE
  ld a0, 0(s5)
  CHK(a0, 0x5a5a5a5a12345678)
#endif
  BACK_TO_M(vm_m)
vm_m:
  SATP_OFF
TEST_END
  SV39_TABLES
data_page: .fill 512, 8, 0
