//! march: rv64gc_zfh
//! qemu-cpu: Zfh=true,Zfhmin=true
// Zfhmin and Zfh: every instruction at least once, with result bits and fflags: all five
// static rounding modes and the dynamic one, NaN boxing (results boxed, improperly boxed
// operands read as the canonical NaN 0x7e00, moves and stores take raw bits), signalling and
// quiet NaNs, subnormals, overflow and underflow (tininess after rounding), conversions at the
// integer limits, reserved rounding modes and FS=Off. QEMU (-cpu rv64,Zfh=true) is the
// reference: the same program must pass there and on rvisor.
#include "common.h"
#define NV 0x10
#define DZ 0x08
#define OF 0x04
#define UF 0x02
#define NX 0x01
#define HBOX 0xffffffffffff0000
#define SBOX 0xffffffff00000000
// half constants
#define H_1    0x3c00
#define H_2    0x4000
#define H_3    0x4200
#define H_HALF 0x3800
#define H_M1   0xbc00
#define H_MAX  0x7bff
#define H_MMAX 0xfbff
#define H_MINN 0x0400
#define H_MINS 0x0001
#define H_INF  0x7c00
#define H_NINF 0xfc00
#define H_QNAN 0x7e00
#define H_SNAN 0x7c01
#define H_NZ   0x8000
#define H_ULP  0x1000   // 2^-11: half an ulp of 1.0

#define LH(f, v) li t0, v; fmv.h.x f, t0
#define LS(f, v) li t0, v; fmv.w.x f, t0
#define LD(f, v) li t0, v; fmv.d.x f, t0
#define FLAGS(expected) frflags a1; CHK(a1, expected); fsflags zero
// a half result checked with its NaN box (fmv.x.d shows all 64 bits)
#define CHK_H(f, v) fmv.x.d a0, f; CHK(a0, HBOX | v)
// op fa0, fa1, fa2, rm
#define T_H2(op, rm, x, y, r, fl) LH(fa1, x); LH(fa2, y); op fa0, fa1, fa2, rm; CHK_H(fa0, r); FLAGS(fl)
#define T_H3(op, rm, x, y, z, r, fl) LH(fa1, x); LH(fa2, y); LH(fa3, z); op fa0, fa1, fa2, fa3, rm; CHK_H(fa0, r); FLAGS(fl)
#define T_H1(op, rm, x, r, fl) LH(fa1, x); op fa0, fa1, rm; CHK_H(fa0, r); FLAGS(fl)
// no rounding-mode operand (sign injection, min/max)
#define T_H2N(op, x, y, r, fl) LH(fa1, x); LH(fa2, y); op fa0, fa1, fa2; CHK_H(fa0, r); FLAGS(fl)
// results in an integer register
#define T_H2X(op, x, y, r, fl) LH(fa1, x); LH(fa2, y); op a0, fa1, fa2; CHK(a0, r); FLAGS(fl)
#define T_HX(op, rm, x, r, fl) LH(fa1, x); op a0, fa1, rm; CHK(a0, r); FLAGS(fl)
#define T_XH(op, rm, x, r, fl) li a2, x; op fa0, a2, rm; CHK_H(fa0, r); FLAGS(fl)
TEST_BEGIN
  fsflags zero
  la s0, hdata
  // ---- add / sub / mul / div
  T_H2(fadd.h, rne, H_1, H_2, H_3, 0)
  T_H2(fsub.h, rne, H_1, H_2, H_M1, 0)
  T_H2(fmul.h, rne, H_2, H_HALF, H_1, 0)
  T_H2(fdiv.h, rne, H_1, H_3, 0x3555, NX)                 // 1/3 = 0x3555.55..
  T_H2(fdiv.h, rtz, H_1, H_3, 0x3555, NX)
  T_H2(fdiv.h, rdn, H_1, H_3, 0x3555, NX)
  T_H2(fdiv.h, rup, H_1, H_3, 0x3556, NX)
  T_H2(fdiv.h, rmm, H_1, H_3, 0x3555, NX)
  T_H2(fdiv.h, rdn, H_M1, H_3, 0xb556, NX)
  T_H2(fdiv.h, rup, H_M1, H_3, 0xb555, NX)
  T_H2(fdiv.h, rtz, H_M1, H_3, 0xb555, NX)
  // ties: 1 + 2^-11 is halfway between 1 and 1 + 2^-10
  T_H2(fadd.h, rne, H_1, H_ULP, H_1, NX)
  T_H2(fadd.h, rmm, H_1, H_ULP, 0x3c01, NX)
  T_H2(fadd.h, rup, H_1, H_ULP, 0x3c01, NX)
  T_H2(fadd.h, rtz, H_1, H_ULP, H_1, NX)
  T_H2(fadd.h, rdn, H_1, H_ULP, H_1, NX)
  T_H2(fadd.h, rne, 0x3c01, H_ULP, 0x3c02, NX)            // tie to even, upwards
  T_H2(fsub.h, rmm, H_M1, H_ULP, 0xbc01, NX)              // away from zero, negative
  T_H2(fsub.h, rdn, H_M1, H_ULP, 0xbc01, NX)
  T_H2(fsub.h, rup, H_M1, H_ULP, H_M1, NX)
  // exact zero sums: +0, except -0 in RDN
  T_H2(fsub.h, rne, H_1, H_1, 0, 0)
  T_H2(fsub.h, rdn, H_1, H_1, H_NZ, 0)
  T_H2(fadd.h, rne, H_NZ, H_NZ, H_NZ, 0)
  // special operands
  T_H2(fdiv.h, rne, H_1, 0, H_INF, DZ)
  T_H2(fdiv.h, rne, H_M1, 0, H_NINF, DZ)
  T_H2(fdiv.h, rne, 0, 0, H_QNAN, NV)
  T_H2(fdiv.h, rne, H_INF, H_INF, H_QNAN, NV)
  T_H2(fmul.h, rne, H_INF, 0, H_QNAN, NV)
  T_H2(fadd.h, rne, H_INF, H_NINF, H_QNAN, NV)
  T_H2(fadd.h, rne, H_SNAN, H_1, H_QNAN, NV)
  T_H2(fadd.h, rne, H_QNAN, H_1, H_QNAN, 0)
  T_H2(fmul.h, rne, 0x7e55, H_1, H_QNAN, 0)                // NaN payloads are not propagated
  T_H2(fsub.h, rne, H_INF, H_1, H_INF, 0)
  // ---- overflow: infinity or the largest finite, by rounding mode and sign
  T_H2(fadd.h, rne, H_MAX, H_MAX, H_INF, OF | NX)
  T_H2(fadd.h, rtz, H_MAX, H_MAX, H_MAX, OF | NX)
  T_H2(fadd.h, rdn, H_MAX, H_MAX, H_MAX, OF | NX)
  T_H2(fadd.h, rup, H_MAX, H_MAX, H_INF, OF | NX)
  T_H2(fadd.h, rmm, H_MAX, H_MAX, H_INF, OF | NX)
  T_H2(fadd.h, rdn, H_MMAX, H_MMAX, H_NINF, OF | NX)
  T_H2(fadd.h, rup, H_MMAX, H_MMAX, H_MMAX, OF | NX)
  T_H2(fadd.h, rne, H_MAX, 0x4c00, H_INF, OF | NX)         // 65504 + 16: the midpoint to 2^16
  T_H2(fadd.h, rne, H_MAX, 0x4bfe, H_MAX, NX)              // 65504 + 15.97: rounds back down
  T_H2(fmul.h, rmm, H_MAX, H_2, H_INF, OF | NX)
  // ---- subnormals and underflow (tininess after rounding)
  T_H2(fmul.h, rne, H_MINN, H_HALF, 0x0200, 0)             // exact subnormal: no UF
  T_H2(fmul.h, rne, 0x0401, H_HALF, 0x0200, UF | NX)       // 512.5 * 2^-24: tie to even
  T_H2(fmul.h, rup, 0x0401, H_HALF, 0x0201, UF | NX)
  T_H2(fmul.h, rne, 0x07ff, H_HALF, H_MINN, UF | NX)       // rounds up to 2^-14, tiny before: UF
  T_H2(fmul.h, rtz, 0x07ff, H_HALF, 0x03ff, UF | NX)
  T_H2(fmul.h, rne, H_MINS, H_HALF, 0, UF | NX)            // 2^-25: tie to even 0
  T_H2(fmul.h, rup, H_MINS, H_HALF, H_MINS, UF | NX)
  T_H2(fmul.h, rdn, 0x8001, H_HALF, 0x8001, UF | NX)
  T_H2(fadd.h, rne, H_MINS, H_MINS, 0x0002, 0)             // subnormal sums are exact
  T_H2(fsub.h, rne, H_MINN, H_MINS, 0x03ff, 0)
  T_H2(fdiv.h, rne, H_MINS, 0x4400, 0, UF | NX)            // 2^-26
  T_H2(fdiv.h, rmm, 0x0003, H_2, 0x0002, UF | NX)          // 1.5 * 2^-24: tie, away
  // ---- square root
  T_H1(fsqrt.h, rne, H_2, 0x3da8, NX)
  T_H1(fsqrt.h, rup, H_2, 0x3da9, NX)
  T_H1(fsqrt.h, rne, 0x4400, H_2, 0)
  T_H1(fsqrt.h, rne, H_M1, H_QNAN, NV)
  T_H1(fsqrt.h, rne, H_NZ, H_NZ, 0)
  T_H1(fsqrt.h, rne, H_INF, H_INF, 0)
  T_H1(fsqrt.h, rne, H_SNAN, H_QNAN, NV)
  T_H1(fsqrt.h, rne, H_MINS, 0x0c00, 0)                    // sqrt(2^-24) = 2^-12
  T_H1(fsqrt.h, rtz, H_MAX, 0x5bff, NX)
  // ---- fused multiply-add
  T_H3(fmadd.h, rne, H_2, H_3, H_1, 0x4700, 0)             // 2*3+1 = 7
  T_H3(fmsub.h, rne, H_2, H_3, H_1, 0x4500, 0)             // 2*3-1 = 5
  T_H3(fnmsub.h, rne, H_2, H_3, H_1, 0xc500, 0)            // -(2*3)+1 = -5
  T_H3(fnmadd.h, rne, H_2, H_3, H_1, 0xc700, 0)            // -(2*3)-1 = -7
  T_H3(fmadd.h, rne, 0x3c01, 0x3c01, 0xbc02, 0x0010, 0)    // (1+2^-10)^2 - (1+2^-9) = 2^-20, exact
  T_H3(fmadd.h, rne, H_INF, 0, H_1, H_QNAN, NV)
  T_H3(fmadd.h, rne, H_INF, 0, H_QNAN, H_QNAN, NV)         // inf*0 is invalid even with a qNaN addend
  T_H3(fmadd.h, rne, H_INF, H_1, H_NINF, H_QNAN, NV)
  T_H3(fmadd.h, rne, H_1, H_1, H_SNAN, H_QNAN, NV)
  T_H3(fmadd.h, rne, H_MAX, H_2, H_MMAX, H_MAX, 0)        // no overflow of the exact product
  T_H3(fmadd.h, rup, H_1, H_MINS, H_1, 0x3c01, NX)         // 1 + 2^-24, far below the ulp
  T_H3(fmadd.h, rdn, H_1, H_MINS, H_1, H_1, NX)
  T_H3(fmsub.h, rdn, H_1, H_1, H_1, H_NZ, 0)               // exact cancellation in RDN: -0
  T_H3(fnmadd.h, rne, H_1, H_MINS, H_NZ, 0x8001, 0)
  T_H3(fmadd.h, rne, 0x0401, H_HALF, 0, 0x0200, UF | NX)   // zero addend: the product rounded once
  // ---- sign injection, min/max
  T_H2N(fsgnj.h, H_1, H_M1, H_M1, 0)
  T_H2N(fsgnjn.h, H_1, H_M1, H_1, 0)
  T_H2N(fsgnjx.h, H_M1, H_M1, H_1, 0)
  T_H2N(fsgnj.h, H_SNAN, H_1, H_SNAN, 0)                   // no canonicalisation, no flags
  T_H2N(fmin.h, H_1, H_2, H_1, 0)
  T_H2N(fmax.h, H_1, H_2, H_2, 0)
  T_H2N(fmin.h, 0, H_NZ, H_NZ, 0)
  T_H2N(fmax.h, H_NZ, 0, 0, 0)
  T_H2N(fmin.h, H_QNAN, H_1, H_1, 0)
  T_H2N(fmax.h, H_SNAN, H_1, H_1, NV)
  T_H2N(fmin.h, H_QNAN, H_SNAN, H_QNAN, NV)
  // ---- compares
  T_H2X(feq.h, H_1, H_1, 1, 0)
  T_H2X(flt.h, H_1, H_2, 1, 0)
  T_H2X(fle.h, H_2, H_1, 0, 0)
  T_H2X(feq.h, 0, H_NZ, 1, 0)
  T_H2X(flt.h, H_NZ, 0, 0, 0)
  T_H2X(feq.h, H_QNAN, H_1, 0, 0)                          // quiet compare: qNaN no flag
  T_H2X(feq.h, H_SNAN, H_1, 0, NV)
  T_H2X(flt.h, H_QNAN, H_1, 0, NV)                         // signalling compares
  T_H2X(fle.h, H_1, H_QNAN, 0, NV)
  T_H2X(fle.h, H_NINF, H_MMAX, 1, 0)
  // ---- fclass: each of the ten classes
  LH(fa1, H_NINF); fclass.h a0, fa1; CHK(a0, 1 << 0)
  LH(fa1, H_M1); fclass.h a0, fa1; CHK(a0, 1 << 1)
  LH(fa1, 0x8001); fclass.h a0, fa1; CHK(a0, 1 << 2)
  LH(fa1, H_NZ); fclass.h a0, fa1; CHK(a0, 1 << 3)
  LH(fa1, 0); fclass.h a0, fa1; CHK(a0, 1 << 4)
  LH(fa1, 0x03ff); fclass.h a0, fa1; CHK(a0, 1 << 5)
  LH(fa1, H_MINN); fclass.h a0, fa1; CHK(a0, 1 << 6)
  LH(fa1, H_INF); fclass.h a0, fa1; CHK(a0, 1 << 7)
  LH(fa1, 0xfd00); fclass.h a0, fa1; CHK(a0, 1 << 8)       // negative sNaN
  LH(fa1, H_QNAN); fclass.h a0, fa1; CHK(a0, 1 << 9)
  LS(fa1, H_1); fclass.h a0, fa1; CHK(a0, 1 << 9)          // not a boxed half: canonical NaN
  FLAGS(0)
  // ---- half -> integer, every rounding mode, at the limits
  T_HX(fcvt.w.h, rne, 0x4100, 2, NX)                       // 2.5
  T_HX(fcvt.w.h, rmm, 0x4100, 3, NX)
  T_HX(fcvt.w.h, rup, 0x4100, 3, NX)
  T_HX(fcvt.w.h, rdn, 0x4100, 2, NX)
  T_HX(fcvt.w.h, rtz, 0x4100, 2, NX)
  T_HX(fcvt.w.h, rdn, 0xc100, -3, NX)                      // -2.5
  T_HX(fcvt.w.h, rtz, 0xc100, -2, NX)
  T_HX(fcvt.w.h, rne, H_MMAX, -65504, 0)
  T_HX(fcvt.w.h, rne, H_INF, 0x7fffffff, NV)
  T_HX(fcvt.w.h, rne, H_NINF, 0xffffffff80000000, NV)
  T_HX(fcvt.w.h, rne, H_QNAN, 0x7fffffff, NV)
  T_HX(fcvt.wu.h, rne, H_MAX, 65504, 0)
  T_HX(fcvt.wu.h, rne, H_M1, 0, NV)
  T_HX(fcvt.wu.h, rtz, 0xb800, 0, NX)                      // -0.5 truncates to 0: in range
  T_HX(fcvt.wu.h, rdn, 0xb800, 0, NV)                      // -0.5 rounds to -1: out of range
  T_HX(fcvt.wu.h, rne, H_INF, 0xffffffffffffffff, NV)      // wu results are sign-extended
  T_HX(fcvt.l.h, rne, H_INF, 0x7fffffffffffffff, NV)
  T_HX(fcvt.l.h, rne, H_NINF, 0x8000000000000000, NV)
  T_HX(fcvt.l.h, rne, H_SNAN, 0x7fffffffffffffff, NV)
  T_HX(fcvt.l.h, rup, 0x0001, 1, NX)
  T_HX(fcvt.l.h, rne, H_MMAX, -65504, 0)
  T_HX(fcvt.lu.h, rne, H_MAX, 65504, 0)
  T_HX(fcvt.lu.h, rne, H_NINF, 0, NV)
  T_HX(fcvt.lu.h, rne, H_QNAN, 0xffffffffffffffff, NV)
  T_HX(fcvt.lu.h, rmm, 0x3800, 1, NX)
  // ---- integer -> half
  T_XH(fcvt.h.w, rne, -1, H_M1, 0)
  T_XH(fcvt.h.w, rne, 65519, H_MAX, NX)
  T_XH(fcvt.h.w, rne, 65520, H_INF, OF | NX)
  T_XH(fcvt.h.w, rtz, 65520, H_MAX, NX)                     // RTZ: 65504 even unbounded, no OF
  T_XH(fcvt.h.w, rdn, -65520, H_NINF, OF | NX)
  T_XH(fcvt.h.w, rup, -65520, H_MMAX, NX)
  T_XH(fcvt.h.w, rne, 0x80000000, H_NINF, OF | NX)         // lower 32 bits: -2^31
  T_XH(fcvt.h.w, rne, 0, 0, 0)
  T_XH(fcvt.h.wu, rne, 0xffffffff, H_INF, OF | NX)
  T_XH(fcvt.h.wu, rne, 0xffffffff00000003, H_3, 0)         // upper 32 bits ignored
  T_XH(fcvt.h.l, rne, 0x8000000000000000, H_NINF, OF | NX)
  T_XH(fcvt.h.l, rne, 2049, 0x6800, NX)                    // 2049: tie to even 2048
  T_XH(fcvt.h.l, rmm, 2049, 0x6801, NX)
  T_XH(fcvt.h.l, rup, 2049, 0x6801, NX)
  T_XH(fcvt.h.l, rdn, -2049, 0xe801, NX)
  T_XH(fcvt.h.lu, rne, 0xffffffffffffffff, H_INF, OF | NX)
  T_XH(fcvt.h.lu, rtz, 0xffffffffffffffff, H_MAX, OF | NX)
  T_XH(fcvt.h.lu, rne, 3, H_3, 0)
  // ---- half <-> single / double
  LH(fa1, H_1); fcvt.s.h fa0, fa1; fmv.x.d a0, fa0; CHK(a0, SBOX | 0x3f800000); FLAGS(0)
  LH(fa1, H_MINS); fcvt.s.h fa0, fa1; fmv.x.d a0, fa0; CHK(a0, SBOX | 0x33800000); FLAGS(0)
  LH(fa1, H_SNAN); fcvt.s.h fa0, fa1; fmv.x.d a0, fa0; CHK(a0, SBOX | 0x7fc00000); FLAGS(NV)
  LH(fa1, 0xfe00); fcvt.s.h fa0, fa1; fmv.x.d a0, fa0; CHK(a0, SBOX | 0x7fc00000); FLAGS(0)
  LH(fa1, H_NINF); fcvt.d.h fa0, fa1; fmv.x.d a0, fa0; CHK(a0, 0xfff0000000000000); FLAGS(0)
  LH(fa1, 0x8001); fcvt.d.h fa0, fa1; fmv.x.d a0, fa0; CHK(a0, 0xbe70000000000000); FLAGS(0)
  LH(fa1, H_SNAN); fcvt.d.h fa0, fa1; fmv.x.d a0, fa0; CHK(a0, 0x7ff8000000000000); FLAGS(NV)
  LS(fa1, 0x3f800001); fcvt.h.s fa0, fa1, rup; CHK_H(fa0, 0x3c01); FLAGS(NX)
  LS(fa1, 0x3f800001); fcvt.h.s fa0, fa1, rne; CHK_H(fa0, H_1); FLAGS(NX)
  LS(fa1, 0x33000000); fcvt.h.s fa0, fa1, rne; CHK_H(fa0, 0); FLAGS(UF | NX)       // 2^-25
  LS(fa1, 0x33000001); fcvt.h.s fa0, fa1, rne; CHK_H(fa0, H_MINS); FLAGS(UF | NX)
  LS(fa1, 0x387fc000); fcvt.h.s fa0, fa1, rne; CHK_H(fa0, 0x03ff); FLAGS(0)       // largest subnormal
  LS(fa1, 0x387fe000); fcvt.h.s fa0, fa1, rne; CHK_H(fa0, H_MINN); FLAGS(UF | NX) // 2^-14 - 2^-25
  LS(fa1, 0x477fe000); fcvt.h.s fa0, fa1, rne; CHK_H(fa0, H_MAX); FLAGS(0)
  LS(fa1, 0x477ff000); fcvt.h.s fa0, fa1, rne; CHK_H(fa0, H_INF); FLAGS(OF | NX)  // 65520
  LS(fa1, 0x477ff000); fcvt.h.s fa0, fa1, rtz; CHK_H(fa0, H_MAX); FLAGS(NX)
  LS(fa1, 0x7f800001); fcvt.h.s fa0, fa1, rne; CHK_H(fa0, H_QNAN); FLAGS(NV)
  LS(fa1, 0xff800000); fcvt.h.s fa0, fa1, rne; CHK_H(fa0, H_NINF); FLAGS(0)
  LD(fa1, 0x3ff0000000000000); fcvt.h.s fa0, fa1, rne; CHK_H(fa0, H_QNAN); FLAGS(0) // unboxed single
  LD(fa1, 0x3ff0000000000001); fcvt.h.d fa0, fa1, rup; CHK_H(fa0, 0x3c01); FLAGS(NX)
  LD(fa1, 0x3ff0000000000001); fcvt.h.d fa0, fa1, rne; CHK_H(fa0, H_1); FLAGS(NX)
  LD(fa1, 0x7ff0000000000001); fcvt.h.d fa0, fa1, rne; CHK_H(fa0, H_QNAN); FLAGS(NV)
  LD(fa1, 0x0000000000000001); fcvt.h.d fa0, fa1, rdn; CHK_H(fa0, 0); FLAGS(UF | NX)
  LD(fa1, 0x8000000000000001); fcvt.h.d fa0, fa1, rdn; CHK_H(fa0, 0x8001); FLAGS(UF | NX)
  LD(fa1, 0x7fefffffffffffff); fcvt.h.d fa0, fa1, rup; CHK_H(fa0, H_INF); FLAGS(OF | NX)
  // ---- NaN boxing: moves and stores take raw bits, arithmetic checks the box
  li t0, 0x12348001
  fmv.h.x fa0, t0                                          // only bits 15:0, boxed
  fmv.x.d a0, fa0
  CHK(a0, HBOX | 0x8001)
  fmv.x.h a0, fa0                                          // sign-extended
  CHK(a0, 0xffffffffffff8001)
  LD(fa1, 0x123456789abc7bff)                              // not a boxed half
  fmv.x.h a0, fa1                                          // raw bits 15:0, no box check
  CHK(a0, 0x7bff)
  fsh fa1, 0(s0)                                           // stores bits 15:0 as they are
  lhu a0, 0(s0)
  CHK(a0, 0x7bff)
  flh fa2, 0(s0)                                           // loads NaN-boxed
  fmv.x.d a0, fa2
  CHK(a0, HBOX | 0x7bff)
  li t0, 0x5555
  sh t0, 2(s0)
  flh fa2, 2(s0)
  CHK_H(fa2, 0x5555)
  fsh fa2, 4(s0)
  ld a0, 0(s0)
  CHK(a0, 0x0000555555557bff)
  LD(fa1, 0xffffffff00003c00)                              // boxed as a single, not as a half
  LH(fa2, H_1)
  fadd.h fa0, fa1, fa2, rne
  CHK_H(fa0, H_QNAN)
  FLAGS(0)
  LD(fa1, 0xfffeffffffff3c00)                              // one zero bit high in the box
  fadd.h fa0, fa1, fa2, rne
  CHK_H(fa0, H_QNAN)
  LD(fa1, 0xffffffffffff3c00)                              // properly boxed 1.0
  fadd.h fa0, fa1, fa2, rne
  CHK_H(fa0, H_2)
  fsgnjn.h fa0, fa1, fa1                                   // boxed result of sign injection
  CHK_H(fa0, H_M1)
  LD(fa3, 0x3c00)
  fsgnj.h fa0, fa3, fa1                                    // unboxed operand -> canonical NaN's bits
  CHK_H(fa0, H_QNAN)
  fcvt.s.h fa0, fa3                                        // -> canonical single NaN
  fmv.x.d a0, fa0
  CHK(a0, SBOX | 0x7fc00000)
  FLAGS(0)
  // ---- dynamic rounding mode, reserved rounding modes
  fsrmi 3                                                  // RUP
  LH(fa1, H_1); LH(fa2, H_3)
  fdiv.h fa0, fa1, fa2
  CHK_H(fa0, 0x3556)
  fsrmi 2                                                  // RDN
  li a2, 2049
  fcvt.h.w fa0, a2
  CHK_H(fa0, 0x6800)
  FLAGS(NX)
  fsrmi 0
  EXPECT_TRAP
  .insn r 0x53, 5, 0x02, fa0, fa1, fa2                     // fadd.h with rm = 5 (reserved)
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  EXPECT_TRAP
  .insn r 0x53, 6, 0x2e, fa0, fa1, f0                      // fsqrt.h with rm = 6 (reserved)
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  fsrmi 5
  EXPECT_TRAP
  fmul.h fa0, fa1, fa2                                     // dynamic with frm = 5
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  fsrmi 0
  // ---- FS = Off: half instructions are illegal; a half write sets FS Dirty
  li t0, MSTATUS_FS
  csrc mstatus, t0
  EXPECT_TRAP
  flh fa0, 0(s0)
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  EXPECT_TRAP
  fmv.x.h a0, fa0
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  EXPECT_TRAP
  fadd.h fa0, fa1, fa2
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  li t0, (1 << 13)                                         // Initial
  csrs mstatus, t0
  flh fa0, 0(s0)
  csrr a0, mstatus
  srli a0, a0, 13
  andi a0, a0, 3
  CHK(a0, 3)                                               // Dirty
TEST_END

  .data
  .balign 64
hdata: .fill 8, 8, 0
