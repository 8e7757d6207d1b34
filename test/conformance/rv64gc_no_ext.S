// The rv64gc profile (--cpu rv64gc) has none of the newer extensions: every encoding of Zba,
// Zbb, Zbc, Zbs, Zbkb, Zbkc, Zbkx, Zicond, Zimop, Zcb and Zcmop traps as an illegal
// instruction with mtval = the instruction bits. Zihintntl's hints (ntl.* = add x0, x0, x2..x5
// and c.ntl.* = c.add x0, x2..x5) are base HINT encodings and run as no-ops.
// QEMU 7.2 enables Zba/Zbb/Zbc/Zbs by default: the reference run turns them off.
//! march: rv64gc_zba_zbb_zbc_zbs_zbkb_zbkc_zbkx
//! qemu-cpu: zba=false,zbb=false,zbc=false,zbs=false
//! cpu: rv64gc
#include "common.h"
  .option rvc
/* The instruction traps as illegal; mtval holds its bits (read back from the code). */
#define ILLEGAL32(...) EXPECT_TRAP; .balign 4; 9: __VA_ARGS__; CHK_TRAP_CAUSE(CAUSE_ILLEGAL); la t0, 9b; lwu t0, 0(t0); TRAP_FIELD(t5, TA_TVAL); CHKR(t5, t0)
#define ILLEGAL16(bits) EXPECT_TRAP; .hword bits; CHK_TRAP(CAUSE_ILLEGAL, bits)
TEST_BEGIN
  // ---- Zba
  ILLEGAL32(add.uw a0, a1, a2)
  ILLEGAL32(sh1add a0, a1, a2)
  ILLEGAL32(sh2add a0, a1, a2)
  ILLEGAL32(sh3add a0, a1, a2)
  ILLEGAL32(sh1add.uw a0, a1, a2)
  ILLEGAL32(sh2add.uw a0, a1, a2)
  ILLEGAL32(sh3add.uw a0, a1, a2)
  ILLEGAL32(slli.uw a0, a1, 63)
  // ---- Zbb
  ILLEGAL32(andn a0, a1, a2)
  ILLEGAL32(orn a0, a1, a2)
  ILLEGAL32(xnor a0, a1, a2)
  ILLEGAL32(clz a0, a1)
  ILLEGAL32(clzw a0, a1)
  ILLEGAL32(ctz a0, a1)
  ILLEGAL32(ctzw a0, a1)
  ILLEGAL32(cpop a0, a1)
  ILLEGAL32(cpopw a0, a1)
  ILLEGAL32(max a0, a1, a2)
  ILLEGAL32(maxu a0, a1, a2)
  ILLEGAL32(min a0, a1, a2)
  ILLEGAL32(minu a0, a1, a2)
  ILLEGAL32(sext.b a0, a1)
  ILLEGAL32(sext.h a0, a1)
  ILLEGAL32(zext.h a0, a1)
  ILLEGAL32(rol a0, a1, a2)
  ILLEGAL32(rolw a0, a1, a2)
  ILLEGAL32(ror a0, a1, a2)
  ILLEGAL32(rori a0, a1, 33)
  ILLEGAL32(roriw a0, a1, 5)
  ILLEGAL32(rorw a0, a1, a2)
  ILLEGAL32(orc.b a0, a1)
  ILLEGAL32(rev8 a0, a1)
  // ---- Zbc / Zbkc
  ILLEGAL32(clmul a0, a1, a2)
  ILLEGAL32(clmulh a0, a1, a2)
  ILLEGAL32(clmulr a0, a1, a2)
  // ---- Zbs
  ILLEGAL32(bclr a0, a1, a2)
  ILLEGAL32(bclri a0, a1, 40)
  ILLEGAL32(bext a0, a1, a2)
  ILLEGAL32(bexti a0, a1, 40)
  ILLEGAL32(binv a0, a1, a2)
  ILLEGAL32(binvi a0, a1, 40)
  ILLEGAL32(bset a0, a1, a2)
  ILLEGAL32(bseti a0, a1, 40)
  // ---- Zbkb / Zbkx
  ILLEGAL32(pack a0, a1, a2)
  ILLEGAL32(packh a0, a1, a2)
  ILLEGAL32(packw a0, a1, a2)
  ILLEGAL32(brev8 a0, a1)
  ILLEGAL32(xperm4 a0, a1, a2)
  ILLEGAL32(xperm8 a0, a1, a2)
  // ---- Zicond: czero.eqz, czero.nez
  ILLEGAL32(.insn r 0x33, 5, 7, a0, a1, a2)
  ILLEGAL32(.insn r 0x33, 7, 7, a0, a1, a2)
  // ---- Zimop: mop.r.0, mop.r.31, mop.rr.0, mop.rr.7 (a0, a1[, a2])
  ILLEGAL32(.word 0x81c04073 | (11 << 15) | (10 << 7))
  ILLEGAL32(.word 0xcdf04073 | (11 << 15) | (10 << 7))
  ILLEGAL32(.word 0x82004073 | (12 << 20) | (11 << 15) | (10 << 7))
  ILLEGAL32(.word 0xce004073 | (12 << 20) | (11 << 15) | (10 << 7))
  // ---- Zcb: c.lbu, c.lhu, c.lh, c.sb, c.sh a0, 0(s1); c.zext.b .. c.not a0; c.mul a0, a1
  ILLEGAL16(0x8088)
  ILLEGAL16(0x8488)
  ILLEGAL16(0x84c8)
  ILLEGAL16(0x8888)
  ILLEGAL16(0x8c88)
  ILLEGAL16(0x9d61)
  ILLEGAL16(0x9d65)
  ILLEGAL16(0x9d69)
  ILLEGAL16(0x9d6d)
  ILLEGAL16(0x9d71)
  ILLEGAL16(0x9d75)
  ILLEGAL16(0x9d4d)
  // ---- Zcmop: c.mop.1, c.mop.7, c.mop.15 (c.lui x1/x7/x15 with imm 0 is reserved)
  ILLEGAL16(0x6081)
  ILLEGAL16(0x6381)
  ILLEGAL16(0x6781)
  // ---- Zihintntl: ntl.p1, ntl.pall, ntl.s1, ntl.all and c.ntl.* are no-ops
  li a0, 0x1234
  li a1, 0x5678
  add x0, x0, x2
  add x0, x0, x3
  add x0, x0, x4
  add x0, x0, x5
  .hword 0x900a                      // c.ntl.p1 = c.add x0, x2
  .hword 0x900e                      // c.ntl.pall
  .hword 0x9012                      // c.ntl.s1
  .hword 0x9016                      // c.ntl.all
  CHK(a0, 0x1234)
  CHK(a1, 0x5678)
  CHK(x0, 0)
  TRAP_COUNT(t0)
  CHK(t0, 70)
TEST_END
