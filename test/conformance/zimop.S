// Zimop and Zcmop (may-be-operations): every mop.r.n (n = 0..31) and mop.rr.n (n = 0..7)
// writes 0 to rd and nothing else; with rd = x0 nothing changes. Every c.mop.n (n = 1, 3,
// ..., 15, in the c.lui rd, 0 space) is a no-op that does not write x[n].
// QEMU 7.2 and binutils 2.40 lack them: encoded with .word/.hword; expected values from the spec.
//! reference: spec
#include "common.h"
  .option rvc
/* mop.r.n:  1 n[4] 00 n[3:2] 0111 n[1:0] rs1 100 rd 1110011 */
.macro MOP_R n, rd, rs1
  .word 0x81c04073 | (((\n >> 4) & 1) << 30) | (((\n >> 2) & 3) << 26) | ((\n & 3) << 20) | (\rs1 << 15) | (\rd << 7)
.endm
/* mop.rr.n: 1 n[2] 00 n[1:0] 1 rs2 rs1 100 rd 1110011 */
.macro MOP_RR n, rd, rs1, rs2
  .word 0x82004073 | (((\n >> 2) & 1) << 30) | ((\n & 3) << 26) | (\rs2 << 20) | (\rs1 << 15) | (\rd << 7)
.endm
/* c.mop.n: 011 0 0 n[3:1] 1 00000 01 = c.lui xn, 0 */
.macro C_MOP n
  .hword 0x6001 | (\n << 7)
.endm
TEST_BEGIN
  // ---- mop.r.n a0, a1 (x10, x11)
  .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
  li a0, -1
  li a1, 0x0123456789abcdef
  MOP_R \n, 10, 11
  CHK(a0, 0)
  CHK(a1, 0x0123456789abcdef)
  .endr
  // rd = rs1, rd = x0
  li a0, 0x55; MOP_R 0, 10, 10; CHK(a0, 0)
  li a1, 0x66; MOP_R 31, 0, 11; CHK(x0, 0); CHK(a1, 0x66)
  // ---- mop.rr.n a0, a1, a2
  .irp n, 0,1,2,3,4,5,6,7
  li a0, -1
  li a1, 0x0123456789abcdef
  li a2, 0x7777
  MOP_RR \n, 10, 11, 12
  CHK(a0, 0)
  CHK(a1, 0x0123456789abcdef)
  CHK(a2, 0x7777)
  .endr
  li a2, 0x99; MOP_RR 7, 12, 12, 12; CHK(a2, 0)
  li a1, 0x66; MOP_RR 3, 0, 11, 11; CHK(x0, 0); CHK(a1, 0x66)
  // ---- c.mop.n: x1, x3, x5, x7, x9, x11, x13, x15 keep their values
  mv s2, ra
  mv s3, gp
  li ra, 0x1001
  li gp, 0x1003
  li t0, 0x1005
  li t2, 0x1007
  li s1, 0x1009
  li a1, 0x100b
  li a3, 0x100d
  li a5, 0x100f
  C_MOP 1
  C_MOP 3
  C_MOP 5
  C_MOP 7
  C_MOP 9
  C_MOP 11
  C_MOP 13
  C_MOP 15
  mv s4, gp
  mv gp, s3
  CHK(ra, 0x1001)
  CHK(s4, 0x1003)
  CHK(t0, 0x1005)
  CHK(t2, 0x1007)
  CHK(s1, 0x1009)
  CHK(a1, 0x100b)
  CHK(a3, 0x100d)
  CHK(a5, 0x100f)
  mv ra, s2
TEST_END
