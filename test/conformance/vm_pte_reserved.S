//! cpu: rv64gc
// Without Svpbmt and Svnapot (the rv64gc profile), PTE bits 63:54 are reserved: a leaf or a
// non-leaf PTE with any of them set faults (N, PBMT, bit 54), even with menvcfg written.
#include "common.h"
#include "vm.h"
#define VA_BASE 0x40000000
#define PTR_VA  0x40200000
TEST_BEGIN
  la s1, data_page
  li t0, 0x1234
  sd t0, 0(s1)
  SV39_MAP_PROGRAM
  SET_PTE_EXT(0, 0)
  SET_PTE_EXT(1, PTE_PBMT_NC)
  SET_PTE_EXT(2, PTE_N)
  SET_PTE_EXT(3, 1 << 54)
  la t0, l0
  srli t0, t0, 12
  slli t0, t0, 10
  li t1, PTE_PBMT_IO | PTE_V
  or t0, t0, t1
  la t1, l1
  sd t0, 8(t1)
  SATP_SV39(s0, root)
  li t0, MENVCFG_PBMTE
  csrs menvcfg, t0                    /* read-only zero without Svpbmt */
  csrr a0, menvcfg
  srli a0, a0, 62
  CHK_QUIRK(a0, 0, 1)                 /* QEMU 7.2 keeps PBMTE writable without Svpbmt */
  csrw satp, s0
  sfence.vma
  GOTO_S(vs)
vs:
  li s5, VA_BASE
  ld a0, 0(s5)
  CHK(a0, 0x1234)
  li s5, VA_BASE + 0x1008
  EXPECT_TRAP
  ld a0, 0(s5)
  CHK_TRAP_R(CAUSE_LOAD_PAGE_FAULT, s5)
  li s5, VA_BASE + 0x2010
  EXPECT_TRAP
  ld a0, 0(s5)
  CHK_TRAP_R(CAUSE_LOAD_PAGE_FAULT, s5)
  li s5, VA_BASE + 0x3018
  EXPECT_TRAP
  sd a0, 0(s5)
  CHK_TRAP_R(CAUSE_STORE_PAGE_FAULT, s5)
  li s5, PTR_VA
  EXPECT_TRAP
  ld a0, 0(s5)
  CHK_TRAP_R(CAUSE_LOAD_PAGE_FAULT, s5)
  BACK_TO_M(vm_m)
vm_m:
  SATP_OFF
TEST_END
  SV39_TABLES
data_page: .fill 512, 8, 0
