// Sv39: 4 KiB pages, 2 MiB and 1 GiB superpages, misaligned superpage, hardware A/D,
// permission faults (R/O store, SUM, S fetch from U page, MXR), exact stval, sfence.vma,
// MPRV with MPP=S.
#include "common.h"
#include "vm.h"
#define VA_BASE      0x40000000
#define SUPER_VA     0x40200000
#define BAD_SUPER_VA 0x40400000
#define GIGA_VA      0xc0000000
TEST_BEGIN
  /* root: [1] -> l1, [2] = 1 GiB identity leaf for 0x80000000, [3] = 1 GiB leaf (GIGA_VA) */
  SET_PTR(root, 1, l1)
  li s3, 0x80000000
  SET_PTE(root, 2, s3, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D)
  SET_PTE(root, 3, s3, PTE_V | PTE_R | PTE_A)
  /* l1: [0] -> l0, [1] = 2 MiB leaf -> 0x80000000, [2] = misaligned 2 MiB leaf */
  SET_PTR(l1, 0, l0)
  SET_PTE(l1, 1, s3, PTE_V | PTE_R | PTE_A)
  li s4, 0x80001000
  SET_PTE(l1, 2, s4, PTE_V | PTE_R | PTE_A)
  SATP_SV39(s0, root)
#include "vm_body.h"
TEST_END
  SV39_TABLES
data_page: .fill 512, 8, 0
  .text
  .balign 4096
xonly_page:
  .word 0x00000013
  .balign 4096
