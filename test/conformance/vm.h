/* Shared page-table helpers for vm_sv39.S / vm_sv48.S (included after common.h). */
#define PTE_V (1 << 0)
#define PTE_R (1 << 1)
#define PTE_W (1 << 2)
#define PTE_X (1 << 3)
#define PTE_U (1 << 4)
#define PTE_G (1 << 5)
#define PTE_A (1 << 6)
#define PTE_D (1 << 7)
#define PTE_N (1 << 63)
#define PTE_PBMT_NC (1 << 61)
#define PTE_PBMT_IO (2 << 61)
#define PTE_PBMT_RSV (3 << 61)

/* table[idx] = PTE for physical address in `pa_reg` with `flags` (clobbers t0, t1) */
#define SET_PTE(table, idx, pa_reg, flags) la t0, table; srli t1, pa_reg, 12; slli t1, t1, 10; ori t1, t1, flags; sd t1, (idx * 8)(t0)
/* table[idx] = pointer to next-level table */
#define SET_PTR(table, idx, next) la t2, next; SET_PTE(table, idx, t2, PTE_V)
#define LOAD_PTE(reg, table, idx) la reg, table; ld reg, (idx * 8)(reg)
/* reg = satp value for Sv39 (MODE 8) with the root page table at `table` (clobbers t0) */
#define SATP_SV39(reg, table) la reg, table; srli reg, reg, 12; li t0, 8 << 60; or reg, reg, t0
/* translation off again, with the TLB flushed */
#define SATP_OFF csrw satp, zero; sfence.vma
/* the page-aligned root, level-1 and level-0 tables the Sv39 programs use */
#define SV39_TABLES .data; .balign 4096; root: .fill 512, 8, 0; l1: .fill 512, 8, 0; l0: .fill 512, 8, 0
/* root[2]: the 1 GiB page at 0x80000000 (this program, RWX), and root[1] -> l1, l1[0] -> l0 for the test's 4 KiB pages (clobbers t0-t2, s3) */
#define SV39_MAP_PROGRAM SET_PTR(root, 1, l1); li s3, 0x80000000; SET_PTE(root, 2, s3, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D); SET_PTR(l1, 0, l0)
/* l0[idx] = RW leaf for the page in s1 with extra high bits `ext` (N, PBMT, reserved) or'ed in */
#define SET_PTE_EXT(idx, ext) SET_PTE(l0, idx, s1, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D); li t1, ext; la t0, l0; ld t0, (idx * 8)(t0); or t1, t1, t0; la t0, l0; sd t1, (idx * 8)(t0)
