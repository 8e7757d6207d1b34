// Zicond: czero.eqz rd, rs1, rs2 = (rs2 == 0 ? 0 : rs1); czero.nez = (rs2 != 0 ? 0 : rs1).
// The condition is all 64 bits of rs2 (a value with only bit 63 or bit 32 set is non-zero);
// rd aliasing rs1/rs2, rs1 = rs2, x0 as source or destination.
// QEMU 7.2 and binutils 2.40 lack Zicond: encoded with .insn; expected values from the spec.
//! reference: spec
#include "common.h"
#define CZERO_EQZ(rd, rs1, rs2) .insn r 0x33, 5, 7, rd, rs1, rs2   /* czero.eqz */
#define CZERO_NEZ(rd, rs1, rs2) .insn r 0x33, 7, 7, rd, rs1, rs2   /* czero.nez */
#define TEST_CZ(op, x, c, expected) li a1, x; li a2, c; op(a0, a1, a2); CHK(a0, expected); CHK(a1, x); CHK(a2, c)
TEST_BEGIN
  TEST_CZ(CZERO_EQZ, 0x0123456789abcdef, 0, 0)
  TEST_CZ(CZERO_EQZ, 0x0123456789abcdef, 1, 0x0123456789abcdef)
  TEST_CZ(CZERO_EQZ, 0x0123456789abcdef, -1, 0x0123456789abcdef)
  TEST_CZ(CZERO_EQZ, 0x0123456789abcdef, 0x8000000000000000, 0x0123456789abcdef)
  TEST_CZ(CZERO_EQZ, 0x0123456789abcdef, 0x0000000100000000, 0x0123456789abcdef)
  TEST_CZ(CZERO_EQZ, 0x0123456789abcdef, 0x0000000080000000, 0x0123456789abcdef)
  TEST_CZ(CZERO_EQZ, 0xffffffffffffffff, 0, 0)
  TEST_CZ(CZERO_EQZ, 0, 5, 0)
  TEST_CZ(CZERO_NEZ, 0x0123456789abcdef, 0, 0x0123456789abcdef)
  TEST_CZ(CZERO_NEZ, 0x0123456789abcdef, 1, 0)
  TEST_CZ(CZERO_NEZ, 0x0123456789abcdef, -1, 0)
  TEST_CZ(CZERO_NEZ, 0x0123456789abcdef, 0x8000000000000000, 0)
  TEST_CZ(CZERO_NEZ, 0x0123456789abcdef, 0x0000000100000000, 0)
  TEST_CZ(CZERO_NEZ, 0x0123456789abcdef, 0x0000000080000000, 0)
  TEST_CZ(CZERO_NEZ, 0xffffffffffffffff, 0, 0xffffffffffffffff)
  TEST_CZ(CZERO_NEZ, 0, 0, 0)
  // rd = rs1
  li a0, 0x1122334455667788; li a2, 0; CZERO_EQZ(a0, a0, a2); CHK(a0, 0)
  li a0, 0x1122334455667788; li a2, 3; CZERO_EQZ(a0, a0, a2); CHK(a0, 0x1122334455667788)
  li a0, 0x1122334455667788; li a2, 0; CZERO_NEZ(a0, a0, a2); CHK(a0, 0x1122334455667788)
  li a0, 0x1122334455667788; li a2, 3; CZERO_NEZ(a0, a0, a2); CHK(a0, 0)
  // rd = rs2 (the condition is read before rd is written)
  li a1, 0x1122334455667788; li a0, 7; CZERO_EQZ(a0, a1, a0); CHK(a0, 0x1122334455667788)
  li a1, 0x1122334455667788; li a0, 0; CZERO_EQZ(a0, a1, a0); CHK(a0, 0)
  li a1, 0x1122334455667788; li a0, 7; CZERO_NEZ(a0, a1, a0); CHK(a0, 0)
  li a1, 0x1122334455667788; li a0, 0; CZERO_NEZ(a0, a1, a0); CHK(a0, 0x1122334455667788)
  // rs1 = rs2: eqz gives rs1 (zero or not), nez gives 0
  li a1, 0x8000000000000000; CZERO_EQZ(a0, a1, a1); CHK(a0, 0x8000000000000000)
  li a1, 0x8000000000000000; CZERO_NEZ(a0, a1, a1); CHK(a0, 0)
  li a1, 0; li a0, 5; CZERO_NEZ(a0, a1, a1); CHK(a0, 0)
  // x0 as the condition (always zero) or as the value
  li a1, 0x1122334455667788; CZERO_EQZ(a0, a1, x0); CHK(a0, 0)
  li a1, 0x1122334455667788; CZERO_NEZ(a0, a1, x0); CHK(a0, 0x1122334455667788)
  li a2, 9; li a0, 5; CZERO_EQZ(a0, x0, a2); CHK(a0, 0)
  // rd = x0: nothing is written
  li a1, 0x1122334455667788; li a2, 1; CZERO_EQZ(x0, a1, a2); CHK(x0, 0); CHK(a1, 0x1122334455667788); CHK(a2, 1)
  li a1, 0x1122334455667788; li a2, 0; CZERO_NEZ(x0, a1, a2); CHK(x0, 0); CHK(a1, 0x1122334455667788); CHK(a2, 0)
TEST_END
