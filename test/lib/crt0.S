// Minimal bare-metal C runtime for benchmarks and C test programs: stack, .bss, FPU on,
// main(), then HTIF exit with main's return value. Link with test/conformance/link.ld.
  .section .text.init, "ax"
  .globl _start
_start:
  la sp, __stack_top
  la t0, __bss_start
  la t1, __bss_end
1: bgeu t0, t1, 2f
  sd zero, 0(t0)
  addi t0, t0, 8
  j 1b
2: li t0, (1 << 13)
  csrs mstatus, t0
  csrwi fcsr, 0
  call main
  call htif_exit
3: j 3b

  .text
// htif_exit(a0 = status)
  .globl htif_exit
htif_exit:
  slli a0, a0, 1
  ori a0, a0, 1
  la t0, tohost
4: sd a0, 0(t0)
  j 4b

// htif_putc(a0 = character)
  .globl htif_putc
htif_putc:
  li t1, 0x0101
  slli t1, t1, 48
  andi a0, a0, 0xff
  or t1, t1, a0
  la t0, tohost
  sd t1, 0(t0)
5: ld t1, 0(t0)
  bnez t1, 5b
  la t0, fromhost
  sd zero, 0(t0)
  ret

  .section .tohost, "aw", @progbits
  .balign 64
  .globl tohost
  .type tohost, @object
  .size tohost, 8
tohost: .dword 0
  .globl fromhost
  .type fromhost, @object
  .size fromhost, 8
fromhost: .dword 0

  .bss
  .balign 16
  .space 65536
__stack_top:
