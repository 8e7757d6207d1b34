// RV64D: double-precision floating point (RISC-V unprivileged spec, chapter "D").
import { Fmt, type InsnDef, type Insn } from "../insn.js";
import type { FpHart, FpExec } from "../fpu/fp_hart.js";
import { roundingMode, RM, R3, R2RM, R2, R4 } from "../fpu/fp_hart.js";
import { fpst, NV, CANON_NAN32, CANON_NAN64_HI, f32Bits, f32FromBits, isSnan32, isSnan64, fclass64 } from "../fpu/bits.js";
import { FFmt, IntKind, fadd, fsub, fmul, fdiv, fsqrt, fmadd, fminmax, cvtToInt, cvtFromInt, cvtSD } from "../fpu/ops.js";
import { readS } from "./rv64f.js";

function snanD(h: FpHart, i: number): boolean {
  return isSnan64(h.fi[i], h.fi[i + 1]);
}

/** Writes a double result (NaN -> canonical NaN) and the accumulated flags; marks FS dirty. */
function finishD(h: FpHart, d: Insn, r: number): void {
  const rd = d.rd & 63;
  if (r !== r) {
    h.fi[rd] = 0;
    h.fi[rd + 1] = CANON_NAN64_HI;
  } else {
    h.f[rd >> 1] = r;
  }
  h.fflags |= fpst.flags;
  h.fs = 3;
}

type BinOp = (a: number, b: number, fmt: FFmt, rm: number) => number;

function binD(op: BinOp): FpExec {
  return (h, d) => {
    if (h.fs === 0) throw h.illegal(d);
    const rm = roundingMode(h, d);
    fpst.flags = snanD(h, d.rs1) || snanD(h, d.rs2) ? NV : 0;
    finishD(h, d, op(h.f[d.rs1 >> 1], h.f[d.rs2 >> 1], FFmt.D, rm));
  };
}

function fmaD(negProduct: boolean, negAddend: boolean): FpExec {
  return (h, d) => {
    if (h.fs === 0) throw h.illegal(d);
    const rm = roundingMode(h, d);
    fpst.flags = snanD(h, d.rs1) || snanD(h, d.rs2) || snanD(h, d.rs3) ? NV : 0;
    const f = h.f;
    const a = f[d.rs1 >> 1], b = f[d.rs2 >> 1], c = f[d.rs3 >> 1];
    finishD(h, d, fmadd(negProduct ? -a : a, b, negAddend ? -c : c, FFmt.D, rm));
  };
}

function sgnjD(kind: 0 | 1 | 2): FpExec {
  return (h, d) => {
    if (h.fs === 0) throw h.illegal(d);
    const fi = h.fi;
    const ah = fi[d.rs1 + 1], bh = fi[d.rs2 + 1];
    const s = kind === 0 ? bh : kind === 1 ? ~bh : ah ^ bh;
    const rd = d.rd & 63;
    fi[rd] = fi[d.rs1];
    fi[rd + 1] = (ah & 0x7fffffff) | (s & 0x80000000);
    h.fs = 3;
  };
}

function minmaxD(isMax: boolean): FpExec {
  return (h, d) => {
    if (h.fs === 0) throw h.illegal(d);
    fpst.flags = snanD(h, d.rs1) || snanD(h, d.rs2) ? NV : 0;
    finishD(h, d, fminmax(h.f[d.rs1 >> 1], h.f[d.rs2 >> 1], isMax));
  };
}

/** 0 feq (quiet), 1 flt, 2 fle (signalling). */
function cmpD(kind: 0 | 1 | 2): FpExec {
  return (h, d) => {
    if (h.fs === 0) throw h.illegal(d);
    const a = h.f[d.rs1 >> 1], b = h.f[d.rs2 >> 1];
    let r = 0;
    if (a !== a || b !== b) {
      if (kind !== 0 || snanD(h, d.rs1) || snanD(h, d.rs2)) {
        h.fflags |= NV;
        h.fs = 3;
      }
    } else {
      r = (kind === 0 ? a === b : kind === 1 ? a < b : a <= b) ? 1 : 0;
    }
    h.x[d.rd] = r;
    h.x[d.rd + 1] = 0;
  };
}

function cvtIntD(kind: IntKind): FpExec {
  return (h, d) => {
    if (h.fs === 0) throw h.illegal(d);
    const rm = roundingMode(h, d);
    fpst.flags = 0;
    cvtToInt(h.f[d.rs1 >> 1], kind, rm);
    h.x[d.rd] = fpst.lo;
    h.x[d.rd + 1] = fpst.hi;
    if (fpst.flags !== 0) {
      h.fflags |= fpst.flags;
      h.fs = 3;
    }
  };
}

function cvtDInt(kind: IntKind): FpExec {
  return (h, d) => {
    if (h.fs === 0) throw h.illegal(d);
    const rm = roundingMode(h, d);
    fpst.flags = 0;
    finishD(h, d, cvtFromInt(h.x[d.rs1], h.x[d.rs1 + 1], kind, FFmt.D, rm));
  };
}

const fld: FpExec = (h, d) => {
  if (h.fs === 0) throw h.illegal(d);
  h.load64(d.rs1, d.imm, h.fi, d.rd & 63);
  h.fs = 3;
};

const fsd: FpExec = (h, d) => {
  if (h.fs === 0) throw h.illegal(d);
  h.store64(d.rs1, d.imm, h.fi[d.rs2], h.fi[d.rs2 + 1]);
};

const fsqrt_d: FpExec = (h, d) => {
  if (h.fs === 0) throw h.illegal(d);
  const rm = roundingMode(h, d);
  fpst.flags = snanD(h, d.rs1) ? NV : 0;
  finishD(h, d, fsqrt(h.f[d.rs1 >> 1], FFmt.D, rm));
};

const fcvt_s_d: FpExec = (h, d) => {
  if (h.fs === 0) throw h.illegal(d);
  const rm = roundingMode(h, d);
  fpst.flags = snanD(h, d.rs1) ? NV : 0;
  const r = cvtSD(h.f[d.rs1 >> 1], rm);
  const rd = d.rd & 63;
  h.fi[rd] = r !== r ? CANON_NAN32 : f32Bits(r);
  h.fi[rd + 1] = -1;
  h.fflags |= fpst.flags;
  h.fs = 3;
};

const fcvt_d_s: FpExec = (h, d) => {
  if (h.fs === 0) throw h.illegal(d);
  roundingMode(h, d);
  const ab = readS(h, d.rs1);
  fpst.flags = isSnan32(ab) ? NV : 0;
  finishD(h, d, f32FromBits(ab)); // exact
};

const fmv_x_d: FpExec = (h, d) => {
  if (h.fs === 0) throw h.illegal(d);
  h.x[d.rd] = h.fi[d.rs1];
  h.x[d.rd + 1] = h.fi[d.rs1 + 1];
};

const fmv_d_x: FpExec = (h, d) => {
  if (h.fs === 0) throw h.illegal(d);
  const rd = d.rd & 63;
  h.fi[rd] = h.x[d.rs1];
  h.fi[rd + 1] = h.x[d.rs1 + 1];
  h.fs = 3;
};

const fclass_d: FpExec = (h, d) => {
  if (h.fs === 0) throw h.illegal(d);
  h.x[d.rd] = fclass64(h.fi[d.rs1], h.fi[d.rs1 + 1]);
  h.x[d.rd + 1] = 0;
};


export const rv64d: InsnDef[] = [
  { name: "fld", match: 0x00003007, mask: 0x0000707f, fmt: Fmt.I, exec: fld },
  { name: "fsd", match: 0x00003027, mask: 0x0000707f, fmt: Fmt.S, exec: fsd },
  { name: "fmadd_d", match: 0x02000043, mask: R4, fmt: Fmt.R4, exec: fmaD(false, false) },
  { name: "fmsub_d", match: 0x02000047, mask: R4, fmt: Fmt.R4, exec: fmaD(false, true) },
  { name: "fnmsub_d", match: 0x0200004b, mask: R4, fmt: Fmt.R4, exec: fmaD(true, false) },
  { name: "fnmadd_d", match: 0x0200004f, mask: R4, fmt: Fmt.R4, exec: fmaD(true, true) },
  { name: "fadd_d", match: 0x02000053, mask: RM, fmt: Fmt.R, exec: binD(fadd) },
  { name: "fsub_d", match: 0x0a000053, mask: RM, fmt: Fmt.R, exec: binD(fsub) },
  { name: "fmul_d", match: 0x12000053, mask: RM, fmt: Fmt.R, exec: binD(fmul) },
  { name: "fdiv_d", match: 0x1a000053, mask: RM, fmt: Fmt.R, exec: binD(fdiv) },
  { name: "fsqrt_d", match: 0x5a000053, mask: R2RM, fmt: Fmt.R, exec: fsqrt_d },
  { name: "fsgnj_d", match: 0x22000053, mask: R3, fmt: Fmt.R, exec: sgnjD(0) },
  { name: "fsgnjn_d", match: 0x22001053, mask: R3, fmt: Fmt.R, exec: sgnjD(1) },
  { name: "fsgnjx_d", match: 0x22002053, mask: R3, fmt: Fmt.R, exec: sgnjD(2) },
  { name: "fmin_d", match: 0x2a000053, mask: R3, fmt: Fmt.R, exec: minmaxD(false) },
  { name: "fmax_d", match: 0x2a001053, mask: R3, fmt: Fmt.R, exec: minmaxD(true) },
  { name: "fcvt_s_d", match: 0x40100053, mask: R2RM, fmt: Fmt.R, exec: fcvt_s_d },
  { name: "fcvt_d_s", match: 0x42000053, mask: R2RM, fmt: Fmt.R, exec: fcvt_d_s },
  { name: "feq_d", match: 0xa2002053, mask: R3, fmt: Fmt.R, exec: cmpD(0) },
  { name: "flt_d", match: 0xa2001053, mask: R3, fmt: Fmt.R, exec: cmpD(1) },
  { name: "fle_d", match: 0xa2000053, mask: R3, fmt: Fmt.R, exec: cmpD(2) },
  { name: "fclass_d", match: 0xe2001053, mask: R2, fmt: Fmt.R, exec: fclass_d },
  { name: "fcvt_w_d", match: 0xc2000053, mask: R2RM, fmt: Fmt.R, exec: cvtIntD(IntKind.W) },
  { name: "fcvt_wu_d", match: 0xc2100053, mask: R2RM, fmt: Fmt.R, exec: cvtIntD(IntKind.WU) },
  { name: "fcvt_l_d", match: 0xc2200053, mask: R2RM, fmt: Fmt.R, exec: cvtIntD(IntKind.L) },
  { name: "fcvt_lu_d", match: 0xc2300053, mask: R2RM, fmt: Fmt.R, exec: cvtIntD(IntKind.LU) },
  { name: "fcvt_d_w", match: 0xd2000053, mask: R2RM, fmt: Fmt.R, exec: cvtDInt(IntKind.W) },
  { name: "fcvt_d_wu", match: 0xd2100053, mask: R2RM, fmt: Fmt.R, exec: cvtDInt(IntKind.WU) },
  { name: "fcvt_d_l", match: 0xd2200053, mask: R2RM, fmt: Fmt.R, exec: cvtDInt(IntKind.L) },
  { name: "fcvt_d_lu", match: 0xd2300053, mask: R2RM, fmt: Fmt.R, exec: cvtDInt(IntKind.LU) },
  { name: "fmv_x_d", match: 0xe2000053, mask: R2, fmt: Fmt.R, exec: fmv_x_d },
  { name: "fmv_d_x", match: 0xf2000053, mask: R2, fmt: Fmt.R, exec: fmv_d_x },
];
