// RV64M: mul/mulh/mulhsu/mulhu/div/divu/rem/remu and the W forms, incl. division by zero
// (quotient all ones, remainder = dividend) and signed overflow (quotient = dividend, rem 0).
#include "common.h"
#define MIN64 0x8000000000000000
#define MAX64 0x7fffffffffffffff
TEST_BEGIN
  TEST_RR(mul, 3, 7, 21)
  TEST_RR(mul, -3, 7, -21)
  TEST_RR(mul, MIN64, -1, MIN64)
  TEST_RR(mul, 0x100000001, 0x100000001, 0x200000001)
  TEST_RR(mul, 0xffffffffffffffff, 0xffffffffffffffff, 1)
  TEST_RR(mulh, -1, -1, 0)
  TEST_RR(mulh, MIN64, MIN64, 0x4000000000000000)
  TEST_RR(mulh, MIN64, 2, -1)
  TEST_RR(mulh, MAX64, MAX64, 0x3fffffffffffffff)
  TEST_RR(mulh, 0x100000000, 0x100000000, 1)
  TEST_RR(mulh, -2, 3, -1)
  TEST_RR(mulhu, -1, -1, 0xfffffffffffffffe)
  TEST_RR(mulhu, MIN64, 2, 1)
  TEST_RR(mulhu, 0x100000000, 0x100000000, 1)
  TEST_RR(mulhu, 5, 7, 0)
  TEST_RR(mulhsu, -1, -1, -1)
  TEST_RR(mulhsu, MIN64, -1, 0x8000000000000000)
  TEST_RR(mulhsu, 2, -1, 1)
  TEST_RR(mulhsu, -2, 1, -1)
  TEST_RR(mulhsu, MAX64, MIN64, 0x3fffffffffffffff)
  TEST_RR(mulw, 0x7fffffff, 2, 0xfffffffffffffffe)
  TEST_RR(mulw, 0x10000, 0x10000, 0)
  TEST_RR(mulw, 0xffffffff00000003, 0x1234500000005, 15)
  TEST_RR(mulw, -1, -1, 1)
  // division
  TEST_RR(div, 20, 6, 3)
  TEST_RR(div, -20, 6, -3)
  TEST_RR(div, 20, -6, -3)
  TEST_RR(div, -20, -6, 3)
  TEST_RR(div, MIN64, -1, MIN64)
  TEST_RR(div, 5, 0, -1)
  TEST_RR(div, -5, 0, -1)
  TEST_RR(divu, 20, 6, 3)
  TEST_RR(divu, -20, 6, 0x2aaaaaaaaaaaaaa7)
  TEST_RR(divu, MIN64, -1, 0)
  TEST_RR(divu, 5, 0, -1)
  TEST_RR(rem, 20, 6, 2)
  TEST_RR(rem, -20, 6, -2)
  TEST_RR(rem, 20, -6, 2)
  TEST_RR(rem, -20, -6, -2)
  TEST_RR(rem, MIN64, -1, 0)
  TEST_RR(rem, -5, 0, -5)
  TEST_RR(remu, 20, 6, 2)
  TEST_RR(remu, -20, 6, 2)
  TEST_RR(remu, -5, 0, -5)
  TEST_RR(remu, MIN64, -1, MIN64)
  // W forms: operate on the low 32 bits, sign-extend the 32-bit result
  TEST_RR(divw, 20, 6, 3)
  TEST_RR(divw, -20, 6, -3)
  TEST_RR(divw, 0xffffffff80000000, -1, 0xffffffff80000000)
  TEST_RR(divw, 0x0000000080000000, 0xffffffff, 0xffffffff80000000)
  TEST_RR(divw, 5, 0, -1)
  TEST_RR(divw, 0x100000005, 0x100000000, -1)       // low divisor bits are 0
  TEST_RR(divuw, 0xffffffff, 2, 0x7fffffff)
  TEST_RR(divuw, 0xfffffffe, 1, 0xfffffffffffffffe)
  TEST_RR(divuw, 5, 0, -1)
  TEST_RR(divuw, 0xffffffff80000000, 0xffffffff, 0)
  TEST_RR(remw, -20, 6, -2)
  TEST_RR(remw, 0x80000000, -1, 0)
  TEST_RR(remw, 0x123456789, 0, 0x23456789)
  TEST_RR(remw, 0xfffffffff, 0, -1)
  TEST_RR(remuw, 0xffffffff, 0x10, 15)
  TEST_RR(remuw, 0x80000001, 0, 0xffffffff80000001)
  TEST_RR(remuw, 0x1fffffff7, 0xfffffffe, 0xfffffffffffffff7)
  TEST_RR(remuw, 7, 0xffffffff00000003, 1)
  // rd aliasing with sources
  li a0, 12
  mul a0, a0, a0
  CHK(a0, 144)
  li a0, 144
  li a1, 5
  rem a1, a0, a1
  CHK(a1, 4)
TEST_END
