//! march: rv64gc_zfh
//! reference: spec
// Zfa (with D and Zfh): fli.{s,d,h}, fminm/fmaxm, fround/froundnx, fcvtmod.w.d, fleq/fltq,
// and the encodings that stay reserved on RV64 (fmvh.x.d, fmvp.d.x are RV32-only; fcvtmod.w.d
// with rm other than RTZ). QEMU 7.2 and binutils 2.40 lack Zfa: instructions are written with
// `.insn r` behind macros named after them, and the expected values come from the spec
// ("Zfa" chapter of the unprivileged ISA manual):
//  - fli: the table "Immediate values loaded by the FLI.S instruction": each entry's value
//    encoded in the format (the constants below were produced from the table's decimal values
//    with Python's struct module, independently of rvisor); entry 1 is the format's minimum
//    positive normal (2^-126, 2^-1022, 2^-14), entry 29 of fli.h is +inf because 2^16 is not a
//    half, entry 31 the canonical NaN; no flags.
//  - fminm/fmaxm: fmin/fmax, except any NaN operand gives the canonical NaN (NV for sNaN);
//    -0 < +0.
//  - fround/froundnx: roundToIntegral in the rm mode, the operand's sign kept (so -0.5 rounded
//    up is -0); zero/inf unchanged; NV only for sNaN; froundnx also sets NX when the value
//    changed, fround never does.
//  - fcvtmod.w.d: truncate, keep bits 31:0 of the unbounded integer, sign-extend; inf/NaN -> 0;
//    flags as fcvt.w.d rtz (NV when outside [-2^31, 2^31), else NX when inexact).
//  - fleq/fltq: fle/flt without NV for quiet NaNs (NV for sNaN).
#include "common.h"
#define NV 0x10
#define OF 0x04
#define UF 0x02
#define NX 0x01
#define HBOX 0xffffffffffff0000
#define SBOX 0xffffffff00000000
#define RNE 0
#define RTZ 1
#define RDN 2
#define RUP 3
#define RMM 4
#define DYN 7

// Zfa encodings (OP-FP, opcode 0x53): funct7 = (function << 2) | fmt, fmt S=0 D=1 H=2
#define FLI_S(rd, k) .insn r 0x53, 0, 0x78, rd, x##k, x1
#define FLI_D(rd, k) .insn r 0x53, 0, 0x79, rd, x##k, x1
#define FLI_H(rd, k) .insn r 0x53, 0, 0x7a, rd, x##k, x1
#define FMINM(f7, rd, a, b) .insn r 0x53, 2, f7, rd, a, b
#define FMAXM(f7, rd, a, b) .insn r 0x53, 3, f7, rd, a, b
#define FROUND(f7, rd, a, rm) .insn r 0x53, rm, f7, rd, a, x4
#define FROUNDNX(f7, rd, a, rm) .insn r 0x53, rm, f7, rd, a, x5
#define FLEQ(f7, rd, a, b) .insn r 0x53, 4, f7, rd, a, b
#define FLTQ(f7, rd, a, b) .insn r 0x53, 5, f7, rd, a, b
#define FCVTMOD_W_D(rd, a) .insn r 0x53, 1, 0x61, rd, a, x8
// funct7 per function and format
#define MM_S 0x14
#define MM_D 0x15
#define MM_H 0x16
#define RD_S 0x20
#define RD_D 0x21
#define RD_H 0x22
#define CQ_S 0x50
#define CQ_D 0x51
#define CQ_H 0x52

#define LH(f, v) li t0, v; fmv.h.x f, t0
#define LS(f, v) li t0, v; fmv.w.x f, t0
#define LD(f, v) li t0, v; fmv.d.x f, t0
#define FLAGS(expected) frflags a1; CHK(a1, expected); fsflags zero
#define CHK_F(f, v) fmv.x.d a0, f; CHK(a0, v)
// fli: entry k as single, double and half (fa0 first holds garbage, so a no-op write fails)
#define T_FLI(k, s, d, h) \
  LD(fa0, 0x0123456789abcdef); FLI_S(fa0, k); CHK_F(fa0, SBOX | s); \
  LD(fa0, 0x0123456789abcdef); FLI_D(fa0, k); CHK_F(fa0, d); \
  LD(fa0, 0x0123456789abcdef); FLI_H(fa0, k); CHK_F(fa0, HBOX | h)
// two-operand results: L = LS/LD/LH loader, box = the expected register image
#define T_MM(L, op, f7, x, y, r, fl) L(fa1, x); L(fa2, y); op(f7, fa0, fa1, fa2); CHK_F(fa0, r); FLAGS(fl)
#define T_RD(L, op, f7, rm, x, r, fl) L(fa1, x); op(f7, fa0, fa1, rm); CHK_F(fa0, r); FLAGS(fl)
#define T_CQ(L, op, f7, x, y, r, fl) L(fa1, x); L(fa2, y); op(f7, a0, fa1, fa2); CHK(a0, r); FLAGS(fl)
#define T_MOD(x, r, fl) LD(fa1, x); FCVTMOD_W_D(a0, fa1); CHK(a0, r); FLAGS(fl)

TEST_BEGIN
  fsflags zero
  // ---- fli: all 32 entries in the three formats
  T_FLI(0, 0xbf800000, 0xbff0000000000000, 0xbc00)
  T_FLI(1, 0x00800000, 0x0010000000000000, 0x0400)
  T_FLI(2, 0x37800000, 0x3ef0000000000000, 0x0100)
  T_FLI(3, 0x38000000, 0x3f00000000000000, 0x0200)
  T_FLI(4, 0x3b800000, 0x3f70000000000000, 0x1c00)
  T_FLI(5, 0x3c000000, 0x3f80000000000000, 0x2000)
  T_FLI(6, 0x3d800000, 0x3fb0000000000000, 0x2c00)
  T_FLI(7, 0x3e000000, 0x3fc0000000000000, 0x3000)
  T_FLI(8, 0x3e800000, 0x3fd0000000000000, 0x3400)
  T_FLI(9, 0x3ea00000, 0x3fd4000000000000, 0x3500)
  T_FLI(10, 0x3ec00000, 0x3fd8000000000000, 0x3600)
  T_FLI(11, 0x3ee00000, 0x3fdc000000000000, 0x3700)
  T_FLI(12, 0x3f000000, 0x3fe0000000000000, 0x3800)
  T_FLI(13, 0x3f200000, 0x3fe4000000000000, 0x3900)
  T_FLI(14, 0x3f400000, 0x3fe8000000000000, 0x3a00)
  T_FLI(15, 0x3f600000, 0x3fec000000000000, 0x3b00)
  T_FLI(16, 0x3f800000, 0x3ff0000000000000, 0x3c00)
  T_FLI(17, 0x3fa00000, 0x3ff4000000000000, 0x3d00)
  T_FLI(18, 0x3fc00000, 0x3ff8000000000000, 0x3e00)
  T_FLI(19, 0x3fe00000, 0x3ffc000000000000, 0x3f00)
  T_FLI(20, 0x40000000, 0x4000000000000000, 0x4000)
  T_FLI(21, 0x40200000, 0x4004000000000000, 0x4100)
  T_FLI(22, 0x40400000, 0x4008000000000000, 0x4200)
  T_FLI(23, 0x40800000, 0x4010000000000000, 0x4400)
  T_FLI(24, 0x41000000, 0x4020000000000000, 0x4800)
  T_FLI(25, 0x41800000, 0x4030000000000000, 0x4c00)
  T_FLI(26, 0x43000000, 0x4060000000000000, 0x5800)
  T_FLI(27, 0x43800000, 0x4070000000000000, 0x5c00)
  T_FLI(28, 0x47000000, 0x40e0000000000000, 0x7800)
  T_FLI(29, 0x47800000, 0x40f0000000000000, 0x7c00)
  T_FLI(30, 0x7f800000, 0x7ff0000000000000, 0x7c00)
  T_FLI(31, 0x7fc00000, 0x7ff8000000000000, 0x7e00)
  FLAGS(0)
  // ---- fminm / fmaxm
  T_MM(LS, FMINM, MM_S, 0x3f800000, 0x40000000, SBOX | 0x3f800000, 0)
  T_MM(LS, FMAXM, MM_S, 0x3f800000, 0x40000000, SBOX | 0x40000000, 0)
  T_MM(LS, FMINM, MM_S, 0x00000000, 0x80000000, SBOX | 0x80000000, 0)
  T_MM(LS, FMAXM, MM_S, 0x80000000, 0x00000000, SBOX | 0x00000000, 0)
  T_MM(LS, FMINM, MM_S, 0x7fc00000, 0x3f800000, SBOX | 0x7fc00000, 0)  // fmin.s would give 1.0
  T_MM(LS, FMAXM, MM_S, 0x3f800000, 0x7f800001, SBOX | 0x7fc00000, NV)
  T_MM(LS, FMINM, MM_S, 0xffc12345, 0x7fc00001, SBOX | 0x7fc00000, 0)  // payloads dropped
  T_MM(LD, FMINM, MM_D, 0xc000000000000000, 0x3ff0000000000000, 0xc000000000000000, 0)
  T_MM(LD, FMAXM, MM_D, 0xc000000000000000, 0x3ff0000000000000, 0x3ff0000000000000, 0)
  T_MM(LD, FMAXM, MM_D, 0x7ff8000000000000, 0x3ff0000000000000, 0x7ff8000000000000, 0)
  T_MM(LD, FMINM, MM_D, 0x7ff0000000000001, 0x7ff8000000000000, 0x7ff8000000000000, NV)
  T_MM(LD, FMINM, MM_D, 0x8000000000000000, 0x0000000000000000, 0x8000000000000000, 0)
  T_MM(LH, FMINM, MM_H, 0x3c00, 0xbc00, HBOX | 0xbc00, 0)
  T_MM(LH, FMAXM, MM_H, 0x3c00, 0xbc00, HBOX | 0x3c00, 0)
  T_MM(LH, FMAXM, MM_H, 0x7e00, 0x3c00, HBOX | 0x7e00, 0)
  T_MM(LH, FMINM, MM_H, 0x3c00, 0x7c01, HBOX | 0x7e00, NV)
  T_MM(LH, FMAXM, MM_H, 0x8000, 0x0000, HBOX | 0x0000, 0)
  LD(fa1, 0xffffffff00003c00); LH(fa2, 0x3c00)                        // fa1 not a boxed half
  FMINM(MM_H, fa0, fa1, fa2); CHK_F(fa0, HBOX | 0x7e00); FLAGS(0)
  LD(fa1, 0x000000003f800000); LS(fa2, 0x3f800000)                    // fa1 not a boxed single
  FMAXM(MM_S, fa0, fa1, fa2); CHK_F(fa0, SBOX | 0x7fc00000); FLAGS(0)
  // ---- fround / froundnx
  T_RD(LS, FROUND, RD_S, RNE, 0x40200000, SBOX | 0x40000000, 0)        // 2.5 -> 2, no NX
  T_RD(LS, FROUNDNX, RD_S, RNE, 0x40200000, SBOX | 0x40000000, NX)
  T_RD(LS, FROUNDNX, RD_S, RMM, 0x40200000, SBOX | 0x40400000, NX)     // 2.5 -> 3
  T_RD(LS, FROUNDNX, RD_S, RUP, 0x40200000, SBOX | 0x40400000, NX)
  T_RD(LS, FROUNDNX, RD_S, RTZ, 0xc02ccccd, SBOX | 0xc0000000, NX)     // -2.7 -> -2
  T_RD(LS, FROUNDNX, RD_S, RDN, 0xc0200000, SBOX | 0xc0400000, NX)     // -2.5 -> -3
  T_RD(LS, FROUNDNX, RD_S, RUP, 0xbf000000, SBOX | 0x80000000, NX)     // -0.5 -> -0
  T_RD(LS, FROUNDNX, RD_S, RDN, 0x3f000000, SBOX | 0x00000000, NX)     // 0.5 -> +0
  T_RD(LS, FROUNDNX, RD_S, RNE, 0x4b7fffff, SBOX | 0x4b7fffff, 0)      // 2^24-1: already integral
  T_RD(LS, FROUNDNX, RD_S, RNE, 0x4affffff, SBOX | 0x4b000000, NX)     // 2^23-0.5: tie -> 2^23
  T_RD(LS, FROUNDNX, RD_S, RNE, 0xff800000, SBOX | 0xff800000, 0)      // -inf unchanged
  T_RD(LS, FROUNDNX, RD_S, RNE, 0x80000000, SBOX | 0x80000000, 0)      // -0 unchanged
  T_RD(LS, FROUNDNX, RD_S, RNE, 0x7fc00000, SBOX | 0x7fc00000, 0)
  T_RD(LS, FROUND, RD_S, RNE, 0x7f800001, SBOX | 0x7fc00000, NV)
  T_RD(LD, FROUND, RD_D, RDN, 0x4004000000000000, 0x4000000000000000, 0)  // 2.5 -> 2
  T_RD(LD, FROUNDNX, RD_D, RNE, 0x432fffffffffffff, 0x4330000000000000, NX) // 2^52-0.5 -> 2^52
  T_RD(LD, FROUNDNX, RD_D, RTZ, 0x4330000000000001, 0x4330000000000001, 0) // 2^52+1 integral
  T_RD(LD, FROUNDNX, RD_D, RMM, 0xbfe0000000000000, 0xbff0000000000000, NX) // -0.5 -> -1
  T_RD(LD, FROUNDNX, RD_D, RNE, 0x0000000000000001, 0x0000000000000000, NX) // 2^-1074 -> +0
  T_RD(LD, FROUND, RD_D, RNE, 0x7ff0000000000001, 0x7ff8000000000000, NV)
  T_RD(LH, FROUND, RD_H, RNE, 0x4100, HBOX | 0x4000, 0)                // 2.5 -> 2
  T_RD(LH, FROUNDNX, RD_H, RUP, 0x3c01, HBOX | 0x4000, NX)             // 1+2^-10 -> 2
  T_RD(LH, FROUNDNX, RD_H, RUP, 0x0001, HBOX | 0x3c00, NX)             // 2^-24 -> 1
  T_RD(LH, FROUNDNX, RD_H, RDN, 0x8001, HBOX | 0xbc00, NX)             // -2^-24 -> -1
  T_RD(LH, FROUNDNX, RD_H, RTZ, 0xbbff, HBOX | 0x8000, NX)             // -0.9995 -> -0
  T_RD(LH, FROUNDNX, RD_H, RNE, 0x63ff, HBOX | 0x6400, NX)             // 1023.5 -> 1024 (tie, even)
  T_RD(LH, FROUNDNX, RD_H, RNE, 0x67ff, HBOX | 0x67ff, 0)              // 2047: integral
  T_RD(LH, FROUNDNX, RD_H, RNE, 0x7bff, HBOX | 0x7bff, 0)              // 65504 integral
  T_RD(LH, FROUNDNX, RD_H, RNE, 0x7d00, HBOX | 0x7e00, NV)             // sNaN
  fsrmi RMM                                                           // dynamic rounding mode
  T_RD(LH, FROUNDNX, RD_H, DYN, 0x3800, HBOX | 0x3c00, NX)             // 0.5 -> 1 (RMM)
  T_RD(LS, FROUND, RD_S, DYN, 0x3f000000, SBOX | 0x3f800000, 0)
  fsrmi 5                                                             // invalid frm: illegal
  LS(fa1, 0x3f000000)
  EXPECT_TRAP
  FROUND(RD_S, fa0, fa1, DYN)
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  fsrmi RNE
  EXPECT_TRAP
  FROUND(RD_D, fa0, fa1, 5)                                           // rm = 5 reserved
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  // ---- fcvtmod.w.d
  T_MOD(0x4008000000000000, 3, 0)                                     // 3.0
  T_MOD(0x3ffe666666666666, 1, NX)                                    // 1.9 -> 1
  T_MOD(0xbff8000000000000, -1, NX)                                   // -1.5 -> -1
  T_MOD(0x8000000000000000, 0, 0)                                     // -0
  T_MOD(0xc1e0000000000000, 0xffffffff80000000, 0)                    // -2^31: in range
  T_MOD(0xc1e0000000100000, 0xffffffff80000000, NX)                   // -2^31 - 0.5 -> -2^31
  T_MOD(0x41dfffffffc00000, 0x7fffffff, 0)                            // 2^31 - 1
  T_MOD(0x41e0000000000000, 0xffffffff80000000, NV)                   // 2^31: bits 31:0, NV
  T_MOD(0x41f0000000500000, 5, NV)                                    // 2^32 + 5
  T_MOD(0xc1f0000000500000, -5, NV)                                   // -(2^32 + 5)
  T_MOD(0x4520000000000001, 0xffffffff80000000, NV)                   // 2^83 + 2^31
  T_MOD(0x4510000000000003, 0xffffffffc0000000, NV)                   // 2^82 + 3*2^30
  T_MOD(0x4530000000000001, 0, NV)                                    // 2^84 + 2^32
  T_MOD(0x41f0000000080000, 0, NV)                               // 2^32 + 0.5: out of range, NV only
  T_MOD(0x7ff0000000000000, 0, NV)                                    // +inf -> 0
  T_MOD(0xfff0000000000000, 0, NV)
  T_MOD(0x7ff8000000000000, 0, NV)                                    // NaN -> 0
  T_MOD(0x7ff0000000000001, 0, NV)
  LD(fa1, 0x3ff0000000000000)
  EXPECT_TRAP
  .insn r 0x53, 0, 0x61, a0, fa1, x8                                  // fcvtmod.w.d with rm = RNE: reserved
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  EXPECT_TRAP
  .insn r 0x53, 7, 0x61, a0, fa1, x8                                  // ... rm = DYN: reserved
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  // ---- fleq / fltq: quiet comparisons
  T_CQ(LS, FLEQ, CQ_S, 0x3f800000, 0x40000000, 1, 0)
  T_CQ(LS, FLTQ, CQ_S, 0x3f800000, 0x40000000, 1, 0)
  T_CQ(LS, FLEQ, CQ_S, 0x40000000, 0x40000000, 1, 0)
  T_CQ(LS, FLTQ, CQ_S, 0x40000000, 0x40000000, 0, 0)
  T_CQ(LS, FLEQ, CQ_S, 0x80000000, 0x00000000, 1, 0)
  T_CQ(LS, FLTQ, CQ_S, 0x80000000, 0x00000000, 0, 0)                  // -0 == +0
  T_CQ(LS, FLEQ, CQ_S, 0x7fc00000, 0x3f800000, 0, 0)                  // qNaN: no NV (fle.s: NV)
  T_CQ(LS, FLTQ, CQ_S, 0x3f800000, 0x7fc00000, 0, 0)
  T_CQ(LS, FLTQ, CQ_S, 0x7f800001, 0x3f800000, 0, NV)                 // sNaN: NV
  T_CQ(LD, FLEQ, CQ_D, 0xbff0000000000000, 0x3ff0000000000000, 1, 0)
  T_CQ(LD, FLTQ, CQ_D, 0x3ff0000000000000, 0xbff0000000000000, 0, 0)
  T_CQ(LD, FLEQ, CQ_D, 0xfff8000000000000, 0x3ff0000000000000, 0, 0)
  T_CQ(LD, FLEQ, CQ_D, 0x3ff0000000000000, 0x7ff0000000000001, 0, NV)
  T_CQ(LD, FLTQ, CQ_D, 0xfff0000000000000, 0x7ff0000000000000, 1, 0)
  T_CQ(LH, FLEQ, CQ_H, 0x3c00, 0x3c00, 1, 0)
  T_CQ(LH, FLTQ, CQ_H, 0xbc00, 0x3c00, 1, 0)
  T_CQ(LH, FLTQ, CQ_H, 0x7e00, 0x3c00, 0, 0)
  T_CQ(LH, FLEQ, CQ_H, 0x3c00, 0xfc01, 0, NV)
  LD(fa1, 0x3c00); LH(fa2, 0x3c00)                                    // unboxed half: canonical qNaN
  FLEQ(CQ_H, a0, fa1, fa2); CHK(a0, 0); FLAGS(0)
  // contrast: the signalling fle.s does set NV for a quiet NaN
  LS(fa1, 0x7fc00000); LS(fa2, 0x3f800000); fle.s a0, fa1, fa2; CHK(a0, 0); FLAGS(NV)
  // ---- RV32-only moves are reserved on RV64
  LD(fa1, 0x3ff0000000000000)
  EXPECT_TRAP
  .insn r 0x53, 0, 0x71, a0, fa1, x1                                  // fmvh.x.d
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  EXPECT_TRAP
  .insn r 0x53, 0, 0x59, fa0, a1, a2                                  // fmvp.d.x
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  // ---- FS = Off: Zfa instructions are illegal too
  li t0, MSTATUS_FS
  csrc mstatus, t0
  EXPECT_TRAP
  FLI_S(fa0, 16)
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  EXPECT_TRAP
  FCVTMOD_W_D(a0, fa1)
  CHK_TRAP_CAUSE(CAUSE_ILLEGAL)
  li t0, (1 << 13)
  csrs mstatus, t0
TEST_END
