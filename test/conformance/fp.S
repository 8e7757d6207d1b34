// F and D: one sanity check per instruction (result bits and fflags), rounding modes
// (static and dynamic), NaN boxing (single results are boxed; non-boxed inputs read as the
// canonical NaN), fcsr/frm/fflags CSR views, FS tracking. Exhaustive checking of FP
// arithmetic is the job of the differential test (test/diff).
#include "common.h"
#define NV 0x10
#define DZ 0x08
#define OF 0x04
#define UF 0x02
#define NX 0x01
#define BOX 0xffffffff00000000
// single constants
#define S_1   0x3f800000
#define S_2   0x40000000
#define S_3   0x40400000
#define S_HALF 0x3f000000
#define S_M1  0xbf800000
#define S_INF 0x7f800000
#define S_NINF 0xff800000
#define S_QNAN 0x7fc00000
#define S_SNAN 0x7f800001
// double constants
#define D_1   0x3ff0000000000000
#define D_2   0x4000000000000000
#define D_3   0x4008000000000000
#define D_HALF 0x3fe0000000000000
#define D_M1  0xbff0000000000000
#define D_INF 0x7ff0000000000000
#define D_NINF 0xfff0000000000000
#define D_QNAN 0x7ff8000000000000
#define D_SNAN 0x7ff0000000000001

#define LS(f, v) li t0, v; fmv.w.x f, t0
#define LD(f, v) li t0, v; fmv.d.x f, t0
#define FLAGS(expected) frflags a1; CHK(a1, expected); fsflags zero
// result of a single op checked with its NaN box (fmv.x.d shows all 64 bits)
#define CHK_S(f, v) fmv.x.d a0, f; CHK(a0, BOX | v)
#define CHK_D(f, v) fmv.x.d a0, f; CHK(a0, v)
#define T_S2(op, x, y, r, fl) LS(fa1, x); LS(fa2, y); op fa0, fa1, fa2; CHK_S(fa0, r); FLAGS(fl)
#define T_D2(op, x, y, r, fl) LD(fa1, x); LD(fa2, y); op fa0, fa1, fa2; CHK_D(fa0, r); FLAGS(fl)
#define T_S3(op, x, y, z, r, fl) LS(fa1, x); LS(fa2, y); LS(fa3, z); op fa0, fa1, fa2, fa3; CHK_S(fa0, r); FLAGS(fl)
#define T_D3(op, x, y, z, r, fl) LD(fa1, x); LD(fa2, y); LD(fa3, z); op fa0, fa1, fa2, fa3; CHK_D(fa0, r); FLAGS(fl)
#define T_S2X(op, x, y, r, fl) LS(fa1, x); LS(fa2, y); op a0, fa1, fa2; CHK(a0, r); FLAGS(fl)
#define T_D2X(op, x, y, r, fl) LD(fa1, x); LD(fa2, y); op a0, fa1, fa2; CHK(a0, r); FLAGS(fl)
TEST_BEGIN
  fsflags zero
  // ---- arithmetic, single
  T_S2(fadd.s, S_1, S_2, S_3, 0)
  T_S2(fsub.s, S_1, S_2, S_M1, 0)
  T_S2(fmul.s, S_2, S_HALF, S_1, 0)
  T_S2(fdiv.s, S_1, S_3, 0x3eaaaaab, NX)
  T_S2(fdiv.s, S_1, 0, S_INF, DZ)
  T_S2(fdiv.s, 0, 0, S_QNAN, NV)
  T_S2(fadd.s, S_INF, S_NINF, S_QNAN, NV)
  T_S2(fadd.s, S_SNAN, S_1, S_QNAN, NV)
  T_S2(fadd.s, S_QNAN, S_1, S_QNAN, 0)
  T_S2(fadd.s, 0x7fc12345, S_1, S_QNAN, 0)                // NaN payloads not propagated
  T_S2(fmul.s, 0x7f7fffff, S_2, S_INF, OF | NX)
  T_S2(fmul.s, 0x00800000, S_HALF, 0x00400000, 0)        // exact subnormal: no UF
  T_S2(fmul.s, 0x00800001, S_HALF, 0x00400000, UF | NX)  // tininess + inexact
  LS(fa1, S_2)
  fsqrt.s fa0, fa1
  CHK_S(fa0, 0x3fb504f3)
  FLAGS(NX)
  LS(fa1, S_M1)
  fsqrt.s fa0, fa1
  CHK_S(fa0, S_QNAN)
  FLAGS(NV)
  T_S3(fmadd.s, S_2, S_3, S_1, 0x40e00000, 0)            // 2*3+1 = 7
  T_S3(fmsub.s, S_2, S_3, S_1, 0x40a00000, 0)            // 2*3-1 = 5
  T_S3(fnmsub.s, S_2, S_3, S_1, 0xc0a00000, 0)           // -(2*3)+1 = -5
  T_S3(fnmadd.s, S_2, S_3, S_1, 0xc0e00000, 0)           // -(2*3)-1 = -7
  T_S3(fmadd.s, S_INF, 0, S_1, S_QNAN, NV)
  T_S3(fmadd.s, 0x3f800001, 0x3f800001, 0xbf800002, 0x28800000, 0)  // fused: no intermediate rounding
  // sign injection, min/max
  T_S2(fsgnj.s, S_1, S_M1, S_M1, 0)
  T_S2(fsgnjn.s, S_1, S_M1, S_1, 0)
  T_S2(fsgnjx.s, S_M1, S_M1, S_1, 0)
  T_S2(fsgnj.s, S_SNAN, S_1, S_SNAN, 0)                  // no canonicalisation, no flags
  T_S2(fmin.s, S_1, S_2, S_1, 0)
  T_S2(fmax.s, S_1, S_2, S_2, 0)
  T_S2(fmin.s, 0x80000000, 0, 0x80000000, 0)             // -0 < +0
  T_S2(fmax.s, 0x80000000, 0, 0, 0)
  T_S2(fmin.s, S_QNAN, S_2, S_2, 0)
  T_S2(fmin.s, S_SNAN, S_2, S_2, NV)
  T_S2(fmax.s, S_QNAN, S_QNAN, S_QNAN, 0)
  // compares
  T_S2X(feq.s, S_1, S_1, 1, 0)
  T_S2X(feq.s, S_QNAN, S_1, 0, 0)
  T_S2X(feq.s, S_SNAN, S_1, 0, NV)
  T_S2X(flt.s, S_1, S_2, 1, 0)
  T_S2X(flt.s, S_QNAN, S_1, 0, NV)
  T_S2X(fle.s, S_2, S_2, 1, 0)
  T_S2X(fle.s, 0x80000000, 0, 1, 0)
  // classify
#define T_CLASS_S(v, r) LS(fa1, v); fclass.s a0, fa1; CHK(a0, r)
  T_CLASS_S(S_NINF, 1 << 0)
  T_CLASS_S(S_M1, 1 << 1)
  T_CLASS_S(0x807fffff, 1 << 2)
  T_CLASS_S(0x80000000, 1 << 3)
  T_CLASS_S(0, 1 << 4)
  T_CLASS_S(0x00000001, 1 << 5)
  T_CLASS_S(S_1, 1 << 6)
  T_CLASS_S(S_INF, 1 << 7)
  T_CLASS_S(S_SNAN, 1 << 8)
  T_CLASS_S(S_QNAN, 1 << 9)
  // ---- NaN boxing: flw writes a boxed value; an unboxed single reads as canonical NaN
  la s0, fpdata
  li t0, 0x12345678aabbccdd
  sd t0, 0(s0)
  flw fa0, 0(s0)
  fmv.x.d a0, fa0
  CHK(a0, 0xffffffffaabbccdd)
  fmv.x.w a0, fa0
  CHK(a0, 0xffffffffaabbccdd)
  li t0, 0x000000003f800000                             // 1.0f but not boxed
  fmv.d.x fa1, t0
  fclass.s a0, fa1
  CHK(a0, 1 << 9)                                       // quiet NaN
  LS(fa2, S_1)
  fadd.s fa0, fa1, fa2
  CHK_S(fa0, S_QNAN)
  FLAGS(0)
  fsgnj.s fa0, fa1, fa2                                 // unboxed input -> canonical NaN operand
  CHK_S(fa0, S_QNAN)
  fmv.x.w a0, fa1                                       // fmv.x.w copies the low bits as is
  CHK(a0, 0x3f800000)
  fsw fa1, 8(s0)
  lwu a0, 8(s0)
  CHK(a0, 0x3f800000)                                   // fsw stores the low bits as is
  // ---- conversions, single
#define T_CVT_XS(op, v, rm, r, fl) LS(fa1, v); op a0, fa1, rm; CHK(a0, r); FLAGS(fl)
  T_CVT_XS(fcvt.w.s, 0x3fc00000, rne, 2, NX)            // 1.5
  T_CVT_XS(fcvt.w.s, 0x40200000, rne, 2, NX)            // 2.5 -> 2 (ties to even)
  T_CVT_XS(fcvt.w.s, 0x40200000, rmm, 3, NX)
  T_CVT_XS(fcvt.w.s, 0xc0200000, rtz, -2, NX)
  T_CVT_XS(fcvt.w.s, 0xc0200000, rdn, -3, NX)
  T_CVT_XS(fcvt.w.s, 0x40200000, rup, 3, NX)
  T_CVT_XS(fcvt.w.s, 0x4f000000, rtz, 0x7fffffff, NV)   // 2^31 out of range
  T_CVT_XS(fcvt.w.s, S_NINF, rtz, 0xffffffff80000000, NV)
  T_CVT_XS(fcvt.w.s, S_QNAN, rtz, 0x7fffffff, NV)
  T_CVT_XS(fcvt.wu.s, S_M1, rtz, 0, NV)
  T_CVT_XS(fcvt.wu.s, 0xbf000000, rne, 0, NX)           // -0.5 rounds to 0: only inexact
  T_CVT_XS(fcvt.wu.s, 0x4f000000, rtz, 0xffffffff80000000, 0)   // 2^31 fits, sign-extended
  T_CVT_XS(fcvt.wu.s, S_INF, rtz, -1, NV)
  T_CVT_XS(fcvt.l.s, 0x5f000000, rtz, 0x7fffffffffffffff, NV)
  T_CVT_XS(fcvt.l.s, 0xdf000000, rtz, 0x8000000000000000, 0)
  T_CVT_XS(fcvt.lu.s, 0x5f000000, rtz, 0x8000000000000000, 0)
  T_CVT_XS(fcvt.lu.s, S_QNAN, rtz, -1, NV)
#define T_CVT_SX(op, v, rm, r, fl) li a1, v; op fa0, a1, rm; CHK_S(fa0, r); FLAGS(fl)
  T_CVT_SX(fcvt.s.w, -1, rne, S_M1, 0)
  T_CVT_SX(fcvt.s.w, 0x1ffffff, rne, 0x4c000000, NX)
  T_CVT_SX(fcvt.s.w, 0x1ffffff, rtz, 0x4bffffff, NX)
  T_CVT_SX(fcvt.s.wu, -1, rne, 0x4f800000, NX)
  T_CVT_SX(fcvt.s.l, 0x8000000000000000, rne, 0xdf000000, 0)
  T_CVT_SX(fcvt.s.lu, -1, rne, 0x5f800000, NX)
  T_CVT_SX(fcvt.s.lu, -1, rtz, 0x5f7fffff, NX)
  li a1, 0xfffffffe12345678
  fmv.w.x fa0, a1                                       // only the low 32 bits, boxed
  CHK_S(fa0, 0x12345678)
  // ---- arithmetic, double
  T_D2(fadd.d, D_1, D_2, D_3, 0)
  T_D2(fsub.d, D_1, D_2, D_M1, 0)
  T_D2(fmul.d, D_2, D_HALF, D_1, 0)
  T_D2(fdiv.d, D_1, D_3, 0x3fd5555555555555, NX)
  T_D2(fdiv.d, D_M1, 0, D_NINF, DZ)
  T_D2(fdiv.d, D_INF, D_INF, D_QNAN, NV)
  T_D2(fadd.d, D_SNAN, D_1, D_QNAN, NV)
  T_D2(fmul.d, 0x7fefffffffffffff, D_2, D_INF, OF | NX)
  // overflow with round-toward-zero gives the largest finite value (static rm)
  LD(fa1, 0x7fefffffffffffff)
  LD(fa2, D_2)
  fmul.d fa0, fa1, fa2, rtz
  CHK_D(fa0, 0x7fefffffffffffff)
  FLAGS(OF | NX)
  T_D2(fmul.d, 0x0010000000000001, D_HALF, 0x0008000000000000, UF | NX)
  LD(fa1, D_2)
  fsqrt.d fa0, fa1
  CHK_D(fa0, 0x3ff6a09e667f3bcd)
  FLAGS(NX)
  LD(fa1, 0x8000000000000000)
  fsqrt.d fa0, fa1                                      // sqrt(-0) = -0
  CHK_D(fa0, 0x8000000000000000)
  FLAGS(0)
  T_D3(fmadd.d, D_2, D_3, D_1, 0x401c000000000000, 0)
  T_D3(fmsub.d, D_2, D_3, D_1, 0x4014000000000000, 0)
  T_D3(fnmsub.d, D_2, D_3, D_1, 0xc014000000000000, 0)
  T_D3(fnmadd.d, D_2, D_3, D_1, 0xc01c000000000000, 0)
  T_D3(fmadd.d, 0, D_INF, D_QNAN, D_QNAN, NV)           // 0*inf invalid even with qNaN addend
  T_D2(fsgnj.d, D_1, D_M1, D_M1, 0)
  T_D2(fsgnjn.d, D_1, D_M1, D_1, 0)
  T_D2(fsgnjx.d, D_M1, D_1, D_M1, 0)
  T_D2(fmin.d, D_M1, D_1, D_M1, 0)
  T_D2(fmax.d, D_M1, D_1, D_1, 0)
  T_D2(fmax.d, D_SNAN, D_1, D_1, NV)
  T_D2(fmin.d, D_SNAN, D_QNAN, D_QNAN, NV)
  T_D2X(feq.d, D_1, D_1, 1, 0)
  T_D2X(feq.d, 0, 0x8000000000000000, 1, 0)
  T_D2X(flt.d, D_M1, D_1, 1, 0)
  T_D2X(fle.d, D_QNAN, D_1, 0, NV)
#define T_CLASS_D(v, r) LD(fa1, v); fclass.d a0, fa1; CHK(a0, r)
  T_CLASS_D(D_NINF, 1 << 0)
  T_CLASS_D(0x800fffffffffffff, 1 << 2)
  T_CLASS_D(0x8000000000000000, 1 << 3)
  T_CLASS_D(0x0000000000000001, 1 << 5)
  T_CLASS_D(D_SNAN, 1 << 8)
  T_CLASS_D(D_QNAN, 1 << 9)
  // ---- conversions, double
#define T_CVT_XD(op, v, rm, r, fl) LD(fa1, v); op a0, fa1, rm; CHK(a0, r); FLAGS(fl)
  T_CVT_XD(fcvt.w.d, 0x41dfffffffc00000, rne, 0x7fffffff, 0)   // 2^31-1
  T_CVT_XD(fcvt.w.d, 0x41e0000000000000, rne, 0x7fffffff, NV)  // 2^31
  T_CVT_XD(fcvt.w.d, 0xc1e0000000100000, rtz, 0xffffffff80000000, NX)  // -2^31-0.5
  T_CVT_XD(fcvt.wu.d, 0x41efffffffe00000, rtz, -1, 0)          // 2^32-1
  T_CVT_XD(fcvt.wu.d, 0x41f0000000000000, rtz, -1, NV)
  T_CVT_XD(fcvt.l.d, 0x43e0000000000000, rtz, 0x7fffffffffffffff, NV)
  T_CVT_XD(fcvt.l.d, 0xc3e0000000000000, rtz, 0x8000000000000000, 0)
  T_CVT_XD(fcvt.l.d, 0x3ff8000000000000, rne, 2, NX)
  T_CVT_XD(fcvt.lu.d, D_M1, rtz, 0, NV)
  T_CVT_XD(fcvt.lu.d, 0x43efffffffffffff, rtz, 0xfffffffffffff800, 0)
  T_CVT_XD(fcvt.lu.d, D_NINF, rtz, 0, NV)
#define T_CVT_DX(op, v, rm, r, fl) li a1, v; op fa0, a1, rm; CHK_D(fa0, r); FLAGS(fl)
#define T_CVT_DX0(op, v, r, fl) li a1, v; op fa0, a1; CHK_D(fa0, r); FLAGS(fl)
  T_CVT_DX0(fcvt.d.w, 0xffffffff80000000, 0xc1e0000000000000, 0)
  T_CVT_DX0(fcvt.d.w, 0x0000000180000000, 0xc1e0000000000000, 0)   // low 32 bits only
  T_CVT_DX0(fcvt.d.wu, 0xffffffffffffffff, 0x41efffffffe00000, 0)
  T_CVT_DX(fcvt.d.l, 0x8000000000000000, rne, 0xc3e0000000000000, 0)
  T_CVT_DX(fcvt.d.l, 0x7fffffffffffffff, rne, 0x43e0000000000000, NX)
  T_CVT_DX(fcvt.d.l, 0x7fffffffffffffff, rtz, 0x43dfffffffffffff, NX)
  T_CVT_DX(fcvt.d.lu, 0xffffffffffffffff, rne, 0x43f0000000000000, NX)
  // single <-> double
  LS(fa1, 0x3eaaaaab)
  fcvt.d.s fa0, fa1
  CHK_D(fa0, 0x3fd5555560000000)
  FLAGS(0)
  LS(fa1, S_SNAN)
  fcvt.d.s fa0, fa1
  CHK_D(fa0, D_QNAN)
  FLAGS(NV)
  LD(fa1, 0x3fd5555555555555)
  fcvt.s.d fa0, fa1
  CHK_S(fa0, 0x3eaaaaab)
  FLAGS(NX)
  LD(fa1, 0x47efffffffffffff)
  fcvt.s.d fa0, fa1
  CHK_S(fa0, S_INF)
  FLAGS(OF | NX)
  LD(fa1, D_QNAN | 0x1234)
  fcvt.s.d fa0, fa1
  CHK_S(fa0, S_QNAN)
  FLAGS(0)
  // fld / fsd / fmv.x.d / fmv.d.x
  li t0, 0x0123456789abcdef
  sd t0, 16(s0)
  fld fa0, 16(s0)
  fsd fa0, 24(s0)
  ld a0, 24(s0)
  CHK(a0, 0x0123456789abcdef)
  fmv.x.d a0, fa0
  CHK(a0, 0x0123456789abcdef)
  // ---- dynamic rounding via frm; fcsr/frm/fflags views
  LD(fa1, D_1)
  LD(fa2, D_3)
  li t0, 1                                               // RTZ
  fsrm a2, t0
  CHK(a2, 0)                                             // old frm
  fdiv.d fa0, fa1, fa2                                   // dyn
  CHK_D(fa0, 0x3fd5555555555555)
  fsrmi 3                                                // RUP
  fdiv.d fa0, fa1, fa2
  CHK_D(fa0, 0x3fd5555555555556)
  fdiv.d fa0, fa1, fa2, rne                              // static overrides frm
  CHK_D(fa0, 0x3fd5555555555555)
  frrm a0
  CHK(a0, 3)
  frcsr a0
  CHK(a0, (3 << 5) | NX)
  csrr a0, fflags
  CHK(a0, NX)
  fsflagsi 0x1f
  csrr a0, fcsr
  CHK(a0, (3 << 5) | 0x1f)
  li t0, 0xffffffff
  fscsr a1, t0                                           // only 8 bits are kept
  CHK(a1, (3 << 5) | 0x1f)
  frcsr a0
  CHK(a0, 0xff)
  csrwi fcsr, 0
  // invalid frm (5..7) makes dynamic-rounding instructions illegal
  fsrmi 5
  EXPECT_TRAP
  fadd.d fa0, fa1, fa2
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  fsrmi 0
  // ---- FS: off makes FP instructions and fcsr illegal; writing an f register sets Dirty
  li t0, MSTATUS_FS
  csrc mstatus, t0
  EXPECT_TRAP
  fadd.d fa0, fa1, fa2
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  EXPECT_TRAP
  frcsr a0
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  EXPECT_TRAP
  fld fa0, 16(s0)
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  li t0, (1 << 13)                                       // Initial
  csrs mstatus, t0
  fmv.d.x fa0, zero
  csrr a0, mstatus
  srli a0, a0, 13
  andi a0, a0, 3
  CHK(a0, 3)                                             // Dirty
  csrr a0, mstatus
  srli a0, a0, 63
  CHK(a0, 1)                                             // SD
TEST_END

  .data
  .balign 64
fpdata: .fill 8, 8, 0
