// Sv48: the same checks as vm_sv39.S through a 4-level walk (root -> l2 -> l1 -> l0),
// with 1 GiB and 2 MiB superpages and a misaligned 2 MiB leaf.
#include "common.h"
#include "vm.h"
#define VA_BASE      0x8000000000 + 0x40000000
#define SUPER_VA     0x8000000000 + 0x40200000
#define BAD_SUPER_VA 0x8000000000 + 0x40400000
#define GIGA_VA      0x8000000000 + 0xc0000000
TEST_BEGIN
  /* root[0] -> l2id (identity: [2] = 1 GiB leaf at 0x80000000); root[1] -> l2 (test VAs) */
  SET_PTR(root, 0, l2id)
  li s3, 0x80000000
  SET_PTE(l2id, 2, s3, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D)
  SET_PTR(root, 1, l2)
  SET_PTR(l2, 1, l1)
  SET_PTE(l2, 3, s3, PTE_V | PTE_R | PTE_A)
  SET_PTR(l1, 0, l0)
  SET_PTE(l1, 1, s3, PTE_V | PTE_R | PTE_A)
  li s4, 0x80001000
  SET_PTE(l1, 2, s4, PTE_V | PTE_R | PTE_A)
  la s0, root
  srli s0, s0, 12
  li t0, 9 << 60
  or s0, s0, t0
#include "vm_body.h"
TEST_END
  .data
  .balign 4096
root: .fill 512, 8, 0
l2id: .fill 512, 8, 0
l2: .fill 512, 8, 0
l1: .fill 512, 8, 0
l0: .fill 512, 8, 0
data_page: .fill 512, 8, 0
  .text
  .balign 4096
xonly_page:
  .word 0x00000013
  .balign 4096
