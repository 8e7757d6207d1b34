//! qemu-cpu: svnapot=true
// Svnapot (Sv39): a 64 KiB NAPOT leaf (N = 1, ppn[3:0] = 1000) maps the 16 pages of its
// naturally aligned region, with vpn[3:0] replacing ppn[3:0] (also when only one of the 16
// PTEs is filled in); a store sets D in the PTE it walked; the other N encodings are reserved
// and fault: ppn[3:0] = 0000 or 0100, N on a 2 MiB leaf, N on a non-leaf PTE.
#include "common.h"
#include "vm.h"
#define VA_BASE   0x40000000
#define NAPOT_VA  (VA_BASE + 0x10000)     /* l0[16..31]: the whole 64 KiB */
#define SINGLE_VA (VA_BASE + 0x28000)     /* l0[40] alone: page 40 & 15 = 8 of the region */
#define BAD0_VA   (VA_BASE + 0x30000)     /* l0[48]: N with ppn[3:0] = 0000 */
#define BAD4_VA   (VA_BASE + 0x31000)     /* l0[49]: N with ppn[3:0] = 0100 */
#define SUPER_VA  (VA_BASE + 0x600000)    /* l1[3]: 2 MiB leaf with N */
#define PTR_VA    (VA_BASE + 0x800000)    /* l1[4]: non-leaf with N */
#define MARK_OFF  0x10
/* NAPOT PTE for the 64 KiB region at `base_reg` (clobbers t1) */
#define NAPOT_PTE(dst, base_reg, low) srli dst, base_reg, 12; ori dst, dst, low; slli dst, dst, 10; li t1, PTE_N | PTE_V | PTE_R | PTE_W | PTE_A; or dst, dst, t1
TEST_BEGIN
  /* each 4 KiB page k of the region holds 0x100 + k at MARK_OFF */
  la s1, region
  li t2, 0
1:
  slli t0, t2, 12
  add t0, t0, s1
  addi t1, t2, 0x100
  sd t1, MARK_OFF(t0)
  addi t2, t2, 1
  li t0, 16
  bltu t2, t0, 1b
  SV39_MAP_PROGRAM
  /* l0[16..31] = the NAPOT PTE (ppn[3:0] = 1000) */
  NAPOT_PTE(s4, s1, 8)
  la t0, l0
  addi t0, t0, 16 * 8
  li t2, 16
2:
  sd s4, 0(t0)
  addi t0, t0, 8
  addi t2, t2, -1
  bnez t2, 2b
  la t0, l0
  sd s4, 40 * 8(t0)
  NAPOT_PTE(a0, s1, 0)
  sd a0, 48 * 8(t0)
  NAPOT_PTE(a0, s1, 4)
  sd a0, 49 * 8(t0)
  /* l1[3]: 2 MiB leaf at 0x80000000 with N; l1[4]: pointer to l0 with N */
  li t0, 0x80000000
  srli t0, t0, 12
  slli t0, t0, 10
  li t1, PTE_N | PTE_V | PTE_R | PTE_A
  or t0, t0, t1
  la t1, l1
  sd t0, 3 * 8(t1)
  la t0, l0
  srli t0, t0, 12
  slli t0, t0, 10
  li t2, PTE_N | PTE_V
  or t0, t0, t2
  sd t0, 4 * 8(t1)
  SATP_SV39(s0, root)
  li t0, MENVCFG_ADUE
  csrs menvcfg, t0
  csrw satp, s0
  sfence.vma
  GOTO_S(vs)
vs:
  /* every page of the region through its own PTE */
  li s5, NAPOT_VA + MARK_OFF
  ld a0, 0(s5)
  CHK(a0, 0x100)
  li s5, NAPOT_VA + 0x5000 + MARK_OFF
  ld a0, 0(s5)
  CHK(a0, 0x105)
  li s5, NAPOT_VA + 0xf000 + MARK_OFF
  ld a0, 0(s5)
  CHK(a0, 0x10f)
  /* a lone NAPOT PTE still uses vpn[3:0] */
  li s5, SINGLE_VA + MARK_OFF
  ld a0, 0(s5)
  CHK(a0, 0x108)
  /* a store goes to the right page and sets D in the PTE it walked */
  li s5, NAPOT_VA + 0x7000 + MARK_OFF
  li t0, 0x777
  sd t0, 0(s5)
  la t1, region
  li t2, 0x7000 + MARK_OFF
  add t1, t1, t2
  ld a0, 0(t1)
  CHK(a0, 0x777)
  LOAD_PTE(a0, l0, 23)
  andi a0, a0, PTE_D
  CHK(a0, PTE_D)
  LOAD_PTE(a0, l0, 22)
  andi a0, a0, PTE_D
  CHK(a0, 0)
  /* reserved N encodings: load page faults with the exact address */
  li s5, BAD0_VA + 0x18
  EXPECT_TRAP
  ld a0, 0(s5)
  CHK_TRAP_R(CAUSE_LOAD_PAGE_FAULT, s5)
  li s5, BAD4_VA + 0x20
  EXPECT_TRAP
  sd a0, 0(s5)
  CHK_TRAP_R(CAUSE_STORE_PAGE_FAULT, s5)
  li s5, SUPER_VA + 0x40
  EXPECT_TRAP
  lw a0, 0(s5)
  CHK_TRAP_R(CAUSE_LOAD_PAGE_FAULT, s5)
  li s5, PTR_VA + 0x10000
  EXPECT_TRAP
  lw a0, 0(s5)
  CHK_TRAP_R(CAUSE_LOAD_PAGE_FAULT, s5)
  BACK_TO_M(vm_m)
vm_m:
  SATP_OFF
TEST_END
  SV39_TABLES
  .balign 65536
region: .fill 16 * 512, 8, 0
