/* Operand-shape checks for the bit-manipulation conformance programs (zba.S, zbb.S, zbc.S,
 * zbs.S, zbk.S), beside common.h's TEST_RR/TEST_R/TEST_RI: rd aliasing rs1 or rs2, rs1 = rs2,
 * and rd = x0 (the result is discarded, x0 stays 0 and the sources are unchanged). */
#ifndef RVISOR_CONFORMANCE_ZB_H
#define RVISOR_CONFORMANCE_ZB_H
#define TEST_RR_RD_RS1(op, x, y, expected) li a0, x; li a2, y; op a0, a0, a2; CHK(a0, expected)
#define TEST_RR_RD_RS2(op, x, y, expected) li a1, x; li a0, y; op a0, a1, a0; CHK(a0, expected)
#define TEST_RR_SAME(op, x, expected) li a1, x; op a0, a1, a1; CHK(a0, expected)
#define TEST_RR_X0(op, x, y) li a1, x; li a2, y; op x0, a1, a2; CHK(x0, 0); CHK(a1, x); CHK(a2, y)
#define TEST_R_RD_RS1(op, x, expected) li a0, x; op a0, a0; CHK(a0, expected)
#define TEST_R_X0(op, x) li a1, x; op x0, a1; CHK(x0, 0); CHK(a1, x)
#define TEST_RI_RD_RS1(op, x, imm, expected) li a0, x; op a0, a0, imm; CHK(a0, expected)
#define TEST_RI_X0(op, x, imm) li a1, x; op x0, a1, imm; CHK(x0, 0); CHK(a1, x)
#endif
