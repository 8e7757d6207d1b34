/* Common Sv39/Sv48 checks. Expects: VA_BASE (4 KiB test pages at VA_BASE + n*0x1000, in
   table l0), SUPER_VA (2 MiB superpage -> 0x80000000), BAD_SUPER_VA (misaligned 2 MiB leaf),
   GIGA_VA (1 GiB superpage -> 0x80000000), code identity-mapped by a 1 GiB leaf. */
  la s1, data_page
  li t0, 0x1122334455667788
  sd t0, 0(s1)
  /* l0[0]: RW, A=D=0 | l0[1]: R only | l0[2]: U RW | l0[3]: X only | l0[4]: invalid */
  SET_PTE(l0, 0, s1, PTE_V | PTE_R | PTE_W)
  SET_PTE(l0, 1, s1, PTE_V | PTE_R | PTE_A)
  SET_PTE(l0, 2, s1, PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D)
  la s2, xonly_page
  SET_PTE(l0, 3, s2, PTE_V | PTE_X | PTE_A)
  li s3, 0x80000000
  SET_PTE(l0, 5, s3, PTE_V | PTE_R | PTE_W | PTE_X | PTE_U | PTE_A | PTE_D)  /* U code page */
  /* hardware A/D updates: menvcfg.ADUE = 1 where Svadu makes it writable (Svade otherwise) */
  li t0, MENVCFG_ADUE
  csrs menvcfg, t0
  csrw satp, s0
  sfence.vma
  GOTO_S(vm_s)
vm_s:
  li s4, VA_BASE
  /* load sets A, store sets D (hardware A/D update) */
  ld a0, 0(s4)
  CHK(a0, 0x1122334455667788)
  LOAD_PTE(a0, l0, 0)
  andi a0, a0, PTE_A | PTE_D
  CHK(a0, PTE_A)
  li t0, 0x55
  sd t0, 8(s4)
  LOAD_PTE(a0, l0, 0)
  andi a0, a0, PTE_A | PTE_D
  CHK(a0, PTE_A | PTE_D)
  ld a0, 8(s1)
  CHK(a0, 0x55)
  /* store to read-only page -> 15, stval = address */
  li s5, VA_BASE + 0x1008
  EXPECT_TRAP
  sd t0, 0(s5)
  CHK_TRAP_R(CAUSE_STORE_PAGE_FAULT, s5)
  /* U page from S without SUM -> 13; with SUM load ok; execute U page from S -> 12 */
  li s5, VA_BASE + 0x2010
  EXPECT_TRAP
  ld a0, 0(s5)
  CHK_TRAP_R(CAUSE_LOAD_PAGE_FAULT, s5)
  li t0, MSTATUS_SUM
  csrs sstatus, t0
  ld a0, -16(s5)
  CHK(a0, 0x1122334455667788)
  li s5, VA_BASE + 0x5000 + 0x100
  REDIRECT_TRAP(vm_m1)
  jr s5
vm_m1:
  CHK_TRAP_R(CAUSE_FETCH_PAGE_FAULT, s5)
  GOTO_S(vm_s2)
vm_s2:
  li t0, MSTATUS_SUM
  csrc sstatus, t0
  /* X-only page: load faults; with MXR it is readable */
  li s5, VA_BASE + 0x3000
  EXPECT_TRAP
  lw a0, 0(s5)
  CHK_TRAP_R(CAUSE_LOAD_PAGE_FAULT, s5)
  li t0, MSTATUS_MXR
  csrs sstatus, t0
  lw a0, 0(s5)
  CHK(a0, 0x00000013)                 /* the nop at xonly_page */
  li t0, MSTATUS_MXR
  csrc sstatus, t0
  /* invalid page -> 13 with exact stval; map it, sfence.vma, then it works */
  li s5, VA_BASE + 0x4abc
  EXPECT_TRAP
  lbu a0, 0(s5)
  CHK_TRAP_R(CAUSE_LOAD_PAGE_FAULT, s5)
  EXPECT_TRAP
  sb a0, 0(s5)
  CHK_TRAP_R(CAUSE_STORE_PAGE_FAULT, s5)
  SET_PTE(l0, 4, s1, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)
  sfence.vma
  li s5, VA_BASE + 0x4000
  ld a0, 0(s5)
  CHK(a0, 0x1122334455667788)
  /* superpages */
  li s5, SUPER_VA
  lw a0, 0(s5)
  li t0, 0x80000000
  lw a1, 0(t0)
  CHKR(a0, a1)
  li s5, GIGA_VA + 0x1000
  lw a0, 0(s5)
  li t1, 0x80001000
  lw a1, 0(t1)
  CHKR(a0, a1)
  li s5, BAD_SUPER_VA + 0x40
  EXPECT_TRAP
  lw a0, 0(s5)
  CHK_TRAP_R(CAUSE_LOAD_PAGE_FAULT, s5)
  BACK_TO_M(vm_m2)
vm_m2:
  /* MPRV with MPP=S: M-mode loads are translated */
  li t0, MSTATUS_MPP
  csrc mstatus, t0
  li t0, MSTATUS_MPRV | MSTATUS_MPP_S
  csrs mstatus, t0
  li s5, VA_BASE
  ld a0, 0(s5)
  li t0, MSTATUS_MPRV
  csrc mstatus, t0
  CHK(a0, 0x1122334455667788)
  csrw satp, zero
  sfence.vma
