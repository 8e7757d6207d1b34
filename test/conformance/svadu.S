//! march: rv64gc_zicbom_zicboz
//! reference: spec
// Svadu/Svade: menvcfg.ADUE resets to 0 (Svade: "a page-fault exception is raised" when A or D
// would need to be set, and the PTE stays unchanged); with ADUE = 1 (and an SFENCE.VMA)
// hardware sets A on any access and D on stores. CMO instructions check A (management) or A
// and D (CBO.ZERO) the same way and fault as stores.
#include "common.h"
#include "vm.h"
#define VA_BASE 0x40000000
#define ENV_CBO (ENVCFG_CBZE | ENVCFG_CBCFE | ENVCFG_CBIE_INVAL)
TEST_BEGIN
  csrr a0, menvcfg
  srli a0, a0, 61
  CHK(a0, 0)
  la s1, data_page
  li t0, 0x600d
  sd t0, 0(s1)
  SV39_MAP_PROGRAM
  /* l0[0]: A=0 | l0[1]: A=1, D=0 | l0[2]: X page with A=0 | l0[3]: A=0 (CMO) | l0[4]: A=1 D=0 (CMO) */
  SET_PTE(l0, 0, s1, PTE_V | PTE_R | PTE_W)
  SET_PTE(l0, 1, s1, PTE_V | PTE_R | PTE_W | PTE_A)
  la s2, x_page
  SET_PTE(l0, 2, s2, PTE_V | PTE_X)
  SET_PTE(l0, 3, s1, PTE_V | PTE_R | PTE_W)
  SET_PTE(l0, 4, s1, PTE_V | PTE_R | PTE_W | PTE_A)
  SATP_SV39(s0, root)
  li t0, ENV_CBO
  csrw menvcfg, t0
  csrw satp, s0
  sfence.vma
  GOTO_S(vs)
vs:
  /* ---- ADUE = 0 (Svade) */
  li s5, VA_BASE + 8
  EXPECT_TRAP
  ld a0, 0(s5)
  CHK_TRAP_R(CAUSE_LOAD_PAGE_FAULT, s5)
  LOAD_PTE(a0, l0, 0)
  andi a0, a0, PTE_A | PTE_D
  CHK(a0, 0)
  li s5, VA_BASE + 0x1010
  ld a0, 0(s5)                        /* A=1: loads are fine */
  CHK(a0, 0)
  EXPECT_TRAP
  sd a0, 0(s5)
  CHK_TRAP_R(CAUSE_STORE_PAGE_FAULT, s5)
  LOAD_PTE(a0, l0, 1)
  andi a0, a0, PTE_D
  CHK(a0, 0)
  li s5, VA_BASE + 0x2000
  REDIRECT_TRAP(vm_m1)
  jr s5
vm_m1:
  CHK_TRAP_R(CAUSE_FETCH_PAGE_FAULT, s5)
  GOTO_S(vs2)
vs2:
  li s5, VA_BASE + 0x3040
  EXPECT_TRAP
  cbo.clean (s5)
  CHK_TRAP_R(CAUSE_STORE_PAGE_FAULT, s5)
  li s5, VA_BASE + 0x4044
  cbo.flush (s5)                      /* management: A=1 is enough */
  EXPECT_TRAP
  cbo.zero (s5)                       /* zero also needs D */
  CHK_TRAP_R(CAUSE_STORE_PAGE_FAULT, s5)
  BACK_TO_M(vm_m2)
vm_m2:
  /* ---- ADUE = 1: hardware updates */
  li t0, MENVCFG_ADUE
  csrs menvcfg, t0
  csrr a0, menvcfg
  srli a0, a0, 61
  CHK(a0, 1)
  sfence.vma
  GOTO_S(vs3)
vs3:
  li s5, VA_BASE + 8
  ld a0, -8(s5)
  CHK(a0, 0x600d)
  LOAD_PTE(a0, l0, 0)
  andi a0, a0, PTE_A | PTE_D
  CHK(a0, PTE_A)
  li s5, VA_BASE + 0x1010
  li t0, 0x77
  sd t0, 0(s5)
  LOAD_PTE(a0, l0, 1)
  andi a0, a0, PTE_D
  CHK(a0, PTE_D)
  li s5, VA_BASE + 0x3040
  cbo.clean (s5)
  LOAD_PTE(a0, l0, 3)
  andi a0, a0, PTE_A | PTE_D
  CHK(a0, PTE_A)                      /* management sets A, never D */
  li s5, VA_BASE + 0x4044
  cbo.zero (s5)
  LOAD_PTE(a0, l0, 4)
  andi a0, a0, PTE_D
  CHK(a0, PTE_D)
  li s5, VA_BASE + 0x2000
  jalr s5                             /* x_page: li a0, 9; ret */
  CHK(a0, 9)
  BACK_TO_M(vm_m3)
vm_m3:
  SATP_OFF
TEST_END
  SV39_TABLES
data_page: .fill 512, 8, 0
  .text
  .balign 4096
x_page:
  li a0, 9
  ret
  .balign 4096
