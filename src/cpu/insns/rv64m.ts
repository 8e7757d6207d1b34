// RV64M: multiplication and division (unprivileged spec chapter 7). 64-bit products are
// built from 16/32-bit partial products; division uses exact doubles when both operands fit
// in 32 bits (the common case) and BigInt otherwise.
import { Fmt, type InsnDef, type Insn, MASK_R as R } from "../insn.js";
import type { Hart } from "../hart.js";

/** High 32 bits of the unsigned product of two uint32 values. */
export function mulhu32(a: number, b: number): number {
  const a0 = a & 0xffff, a1 = a >>> 16, b0 = b & 0xffff, b1 = b >>> 16;
  const p01 = a0 * b1, p10 = a1 * b0;
  const mid = ((a0 * b0) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  return (a1 * b1 + Math.floor(p01 / 65536) + Math.floor(p10 / 65536) + Math.floor(mid / 65536)) >>> 0;
}

/**
 * High 64 bits of the unsigned 128-bit product (alo,ahi)*(blo,bhi), written to out[0..1].
 */
const TWO32 = 4294967296;
function mulhu64(alo: number, ahi: number, blo: number, bhi: number, out: Int32Array): void {
  const a0 = alo >>> 0, a1 = ahi >>> 0, b0 = blo >>> 0, b1 = bhi >>> 0;
  const p00h = mulhu32(a0, b0);
  const p01l = Math.imul(a0, b1) >>> 0, p01h = mulhu32(a0, b1);
  const p10l = Math.imul(a1, b0) >>> 0, p10h = mulhu32(a1, b0);
  const p11l = Math.imul(a1, b1) >>> 0, p11h = mulhu32(a1, b1);
  const w1 = p00h + p01l + p10l;              // < 3 * 2^32
  const c1 = Math.floor(w1 / TWO32);
  const w2 = p01h + p10h + p11l + c1;         // < 4 * 2^32
  const c2 = Math.floor(w2 / TWO32);
  out[0] = w2 | 0;
  out[1] = (p11h + c2) | 0;
}

const tmp = new Int32Array(2);

const mul = (h: Hart, d: Insn): void => {
  const x = h.x, alo = x[d.rs1], ahi = x[d.rs1 + 1], blo = x[d.rs2], bhi = x[d.rs2 + 1];
  x[d.rd + 1] = (mulhu32(alo >>> 0, blo >>> 0) + Math.imul(alo, bhi) + Math.imul(ahi, blo)) | 0;
  x[d.rd] = Math.imul(alo, blo);
};
const mulhu = (h: Hart, d: Insn): void => {
  const x = h.x;
  mulhu64(x[d.rs1], x[d.rs1 + 1], x[d.rs2], x[d.rs2 + 1], tmp);
  x[d.rd] = tmp[0]; x[d.rd + 1] = tmp[1];
};
/** Signed high product = unsigned high product - (a<0 ? b : 0) - (b<0 ? a : 0) (mod 2^64). */
function sub64(lo: number, hi: number, slo: number, shi: number): void {
  const r = (lo - slo) | 0;
  tmp[1] = (hi - shi - ((lo >>> 0) < (slo >>> 0) ? 1 : 0)) | 0;
  tmp[0] = r;
}
const mulh = (h: Hart, d: Insn): void => {
  const x = h.x, alo = x[d.rs1], ahi = x[d.rs1 + 1], blo = x[d.rs2], bhi = x[d.rs2 + 1];
  mulhu64(alo, ahi, blo, bhi, tmp);
  if (ahi < 0) sub64(tmp[0], tmp[1], blo, bhi);
  if (bhi < 0) sub64(tmp[0], tmp[1], alo, ahi);
  x[d.rd] = tmp[0]; x[d.rd + 1] = tmp[1];
};
const mulhsu = (h: Hart, d: Insn): void => {
  const x = h.x, alo = x[d.rs1], ahi = x[d.rs1 + 1], blo = x[d.rs2], bhi = x[d.rs2 + 1];
  mulhu64(alo, ahi, blo, bhi, tmp);
  if (ahi < 0) sub64(tmp[0], tmp[1], blo, bhi);
  x[d.rd] = tmp[0]; x[d.rd + 1] = tmp[1];
};
const mulw = (h: Hart, d: Insn): void => {
  const v = Math.imul(h.x[d.rs1], h.x[d.rs2]);
  h.x[d.rd] = v; h.x[d.rd + 1] = v >> 31;
};

const toBig = (lo: number, hi: number): bigint => (BigInt(hi) << 32n) | BigInt(lo >>> 0);
const toBigU = (lo: number, hi: number): bigint => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
function setBig(x: Int32Array, rd: number, v: bigint): void {
  x[rd] = Number(BigInt.asIntN(32, v));
  x[rd + 1] = Number(BigInt.asIntN(32, v >> 32n));
}

/** Signed 64-bit division/remainder with the RISC-V rules for /0 and overflow. */
function divrem(h: Hart, d: Insn, rem: boolean): void {
  const x = h.x, alo = x[d.rs1], ahi = x[d.rs1 + 1], blo = x[d.rs2], bhi = x[d.rs2 + 1];
  if (blo === 0 && bhi === 0) { // divide by zero: q = -1, r = dividend
    if (rem) { x[d.rd] = alo; x[d.rd + 1] = ahi; } else { x[d.rd] = -1; x[d.rd + 1] = -1; }
    return;
  }
  if (ahi === alo >> 31 && bhi === blo >> 31) { // both fit in int32: exact in doubles
    if (alo === -0x80000000 && blo === -1) { // result 2^31 does not overflow 64 bits
      if (rem) { x[d.rd] = 0; x[d.rd + 1] = 0; } else { x[d.rd] = -0x80000000; x[d.rd + 1] = 0; }
      return;
    }
    const r = rem ? alo % blo : Math.trunc(alo / blo);
    x[d.rd] = r | 0; x[d.rd + 1] = r < 0 ? -1 : 0;
    return;
  }
  const a = toBig(alo, ahi), b = toBig(blo, bhi);
  if (a === -(1n << 63n) && b === -1n) { // overflow: q = dividend, r = 0
    if (rem) { x[d.rd] = 0; x[d.rd + 1] = 0; } else { x[d.rd] = alo; x[d.rd + 1] = ahi; }
    return;
  }
  setBig(x, d.rd, rem ? a % b : a / b);
}
function divremu(h: Hart, d: Insn, rem: boolean): void {
  const x = h.x, alo = x[d.rs1], ahi = x[d.rs1 + 1], blo = x[d.rs2], bhi = x[d.rs2 + 1];
  if (blo === 0 && bhi === 0) {
    if (rem) { x[d.rd] = alo; x[d.rd + 1] = ahi; } else { x[d.rd] = -1; x[d.rd + 1] = -1; }
    return;
  }
  if (ahi === 0 && bhi === 0) {
    const a = alo >>> 0, b = blo >>> 0;
    x[d.rd] = (rem ? a % b : Math.floor(a / b)) | 0; x[d.rd + 1] = 0;
    return;
  }
  const a = toBigU(alo, ahi), b = toBigU(blo, bhi);
  setBig(x, d.rd, rem ? a % b : a / b);
}
const div = (h: Hart, d: Insn): void => { divrem(h, d, false); };
const rem = (h: Hart, d: Insn): void => { divrem(h, d, true); };
const divu = (h: Hart, d: Insn): void => { divremu(h, d, false); };
const remu = (h: Hart, d: Insn): void => { divremu(h, d, true); };

function setW(x: Int32Array, rd: number, v: number): void { x[rd] = v; x[rd + 1] = v >> 31; }
const divw = (h: Hart, d: Insn): void => {
  const a = h.x[d.rs1], b = h.x[d.rs2];
  setW(h.x, d.rd, b === 0 ? -1 : a === -0x80000000 && b === -1 ? a : Math.trunc(a / b) | 0);
};
const divuw = (h: Hart, d: Insn): void => {
  const a = h.x[d.rs1] >>> 0, b = h.x[d.rs2] >>> 0;
  setW(h.x, d.rd, b === 0 ? -1 : Math.floor(a / b) | 0);
};
const remw = (h: Hart, d: Insn): void => {
  const a = h.x[d.rs1], b = h.x[d.rs2];
  setW(h.x, d.rd, b === 0 ? a : a === -0x80000000 && b === -1 ? 0 : (a % b) | 0);
};
const remuw = (h: Hart, d: Insn): void => {
  const a = h.x[d.rs1] >>> 0, b = h.x[d.rs2] >>> 0;
  setW(h.x, d.rd, b === 0 ? a | 0 : (a % b) | 0);
};

export const rv64m: InsnDef[] = [
  { name: "mul", match: 0x02000033, mask: R, fmt: Fmt.R, exec: mul },
  { name: "mulh", match: 0x02001033, mask: R, fmt: Fmt.R, exec: mulh },
  { name: "mulhsu", match: 0x02002033, mask: R, fmt: Fmt.R, exec: mulhsu },
  { name: "mulhu", match: 0x02003033, mask: R, fmt: Fmt.R, exec: mulhu },
  { name: "div", match: 0x02004033, mask: R, fmt: Fmt.R, exec: div },
  { name: "divu", match: 0x02005033, mask: R, fmt: Fmt.R, exec: divu },
  { name: "rem", match: 0x02006033, mask: R, fmt: Fmt.R, exec: rem },
  { name: "remu", match: 0x02007033, mask: R, fmt: Fmt.R, exec: remu },
  { name: "mulw", match: 0x0200003b, mask: R, fmt: Fmt.R, exec: mulw },
  { name: "divw", match: 0x0200403b, mask: R, fmt: Fmt.R, exec: divw },
  { name: "divuw", match: 0x0200503b, mask: R, fmt: Fmt.R, exec: divuw },
  { name: "remw", match: 0x0200603b, mask: R, fmt: Fmt.R, exec: remw },
  { name: "remuw", match: 0x0200703b, mask: R, fmt: Fmt.R, exec: remuw },
];
