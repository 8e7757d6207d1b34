// RV64A: LR/SC with a real reservation and all AMOs (unprivileged spec chapter 8). aq/rl
// are accepted: harts run one at a time, so every access is already sequentially consistent.
// Atomics must be naturally aligned (misaligned → address-misaligned exception) and target RAM.
import { Fmt, type InsnDef, type Insn } from "../insn.js";
import { ACCESS_LOAD, ACCESS_STORE, type Hart } from "../hart.js";

type Op32 = (mem: number, src: number) => number;
type Op64 = (mlo: number, mhi: number, slo: number, shi: number, out: Int32Array) => void;

const lr_w = (h: Hart, d: Insn): void => {
  const o = h.amoOffset(d.rs1, 4, ACCESS_LOAD);
  const v = h.i32[o >>> 2];
  h.reservation = o;
  h.x[d.rd] = v; h.x[d.rd + 1] = v >> 31;
};
const lr_d = (h: Hart, d: Insn): void => {
  const o = h.amoOffset(d.rs1, 8, ACCESS_LOAD);
  h.reservation = o;
  h.x[d.rd] = h.i32[o >>> 2]; h.x[d.rd + 1] = h.i32[(o >>> 2) + 1];
};
/** SC succeeds (rd = 0) only with a valid reservation on the same address; it always clears it. */
const sc_w = (h: Hart, d: Insn): void => {
  const o = h.amoOffset(d.rs1, 4, ACCESS_STORE);
  const ok = h.reservation === o;
  h.reservation = -1;
  if (ok) h.i32[o >>> 2] = h.x[d.rs2];
  h.x[d.rd] = ok ? 0 : 1; h.x[d.rd + 1] = 0;
};
const sc_d = (h: Hart, d: Insn): void => {
  const o = h.amoOffset(d.rs1, 8, ACCESS_STORE);
  const ok = h.reservation === o;
  h.reservation = -1;
  if (ok) { h.i32[o >>> 2] = h.x[d.rs2]; h.i32[(o >>> 2) + 1] = h.x[d.rs2 + 1]; }
  h.x[d.rd] = ok ? 0 : 1; h.x[d.rd + 1] = 0;
};

function amo32(op: Op32) {
  return (h: Hart, d: Insn): void => {
    const o = h.amoOffset(d.rs1, 4, ACCESS_STORE) >>> 2;
    const old = h.i32[o];
    h.i32[o] = op(old, h.x[d.rs2]);
    h.x[d.rd] = old; h.x[d.rd + 1] = old >> 31;
  };
}

const res = new Int32Array(2);
function amo64(op: Op64) {
  return (h: Hart, d: Insn): void => {
    const o = h.amoOffset(d.rs1, 8, ACCESS_STORE) >>> 2;
    const mlo = h.i32[o], mhi = h.i32[o + 1];
    op(mlo, mhi, h.x[d.rs2], h.x[d.rs2 + 1], res);
    h.i32[o] = res[0]; h.i32[o + 1] = res[1];
    h.x[d.rd] = mlo; h.x[d.rd + 1] = mhi;
  };
}

const lt = (alo: number, ahi: number, blo: number, bhi: number): boolean => ahi < bhi || (ahi === bhi && (alo >>> 0) < (blo >>> 0));
const ltu = (alo: number, ahi: number, blo: number, bhi: number): boolean =>
  (ahi >>> 0) < (bhi >>> 0) || (ahi === bhi && (alo >>> 0) < (blo >>> 0));
const pick = (out: Int32Array, takeA: boolean, alo: number, ahi: number, blo: number, bhi: number): void => {
  out[0] = takeA ? alo : blo; out[1] = takeA ? ahi : bhi;
};

const ops32: [string, number, Op32][] = [
  ["amoswap", 0x01, (_m, s) => s],
  ["amoadd", 0x00, (m, s) => (m + s) | 0],
  ["amoxor", 0x04, (m, s) => m ^ s],
  ["amoand", 0x0c, (m, s) => m & s],
  ["amoor", 0x08, (m, s) => m | s],
  ["amomin", 0x10, (m, s) => (m < s ? m : s)],
  ["amomax", 0x14, (m, s) => (m > s ? m : s)],
  ["amominu", 0x18, (m, s) => ((m >>> 0) < (s >>> 0) ? m : s)],
  ["amomaxu", 0x1c, (m, s) => ((m >>> 0) > (s >>> 0) ? m : s)],
];
const ops64: [string, number, Op64][] = [
  ["amoswap", 0x01, (_ml, _mh, sl, sh, o) => { o[0] = sl; o[1] = sh; }],
  ["amoadd", 0x00, (ml, mh, sl, sh, o) => {
    const lo = (ml + sl) | 0;
    o[1] = (mh + sh + ((lo >>> 0) < (ml >>> 0) ? 1 : 0)) | 0; o[0] = lo;
  }],
  ["amoxor", 0x04, (ml, mh, sl, sh, o) => { o[0] = ml ^ sl; o[1] = mh ^ sh; }],
  ["amoand", 0x0c, (ml, mh, sl, sh, o) => { o[0] = ml & sl; o[1] = mh & sh; }],
  ["amoor", 0x08, (ml, mh, sl, sh, o) => { o[0] = ml | sl; o[1] = mh | sh; }],
  ["amomin", 0x10, (ml, mh, sl, sh, o) => pick(o, lt(ml, mh, sl, sh), ml, mh, sl, sh)],
  ["amomax", 0x14, (ml, mh, sl, sh, o) => pick(o, lt(sl, sh, ml, mh), ml, mh, sl, sh)],
  ["amominu", 0x18, (ml, mh, sl, sh, o) => pick(o, ltu(ml, mh, sl, sh), ml, mh, sl, sh)],
  ["amomaxu", 0x1c, (ml, mh, sl, sh, o) => pick(o, ltu(sl, sh, ml, mh), ml, mh, sl, sh)],
];

// funct5 in bits 31:27, aq/rl in 26:25 (don't care), funct3 = 2 (.w) or 3 (.d), opcode 0x2f.
const AMO_MASK = 0xf800707f, LR_MASK = 0xf9f0707f;
export const rv64a: InsnDef[] = [
  { name: "lr_w", match: 0x1000202f, mask: LR_MASK, fmt: Fmt.R, exec: lr_w },
  { name: "sc_w", match: 0x1800202f, mask: AMO_MASK, fmt: Fmt.R, exec: sc_w },
  { name: "lr_d", match: 0x1000302f, mask: LR_MASK, fmt: Fmt.R, exec: lr_d },
  { name: "sc_d", match: 0x1800302f, mask: AMO_MASK, fmt: Fmt.R, exec: sc_d },
  ...ops32.map(([name, f5, op]): InsnDef => ({ name: `${name}_w`, match: ((f5 << 27) | 0x202f) >>> 0, mask: AMO_MASK, fmt: Fmt.R, exec: amo32(op) })),
  ...ops64.map(([name, f5, op]): InsnDef => ({ name: `${name}_d`, match: ((f5 << 27) | 0x302f) >>> 0, mask: AMO_MASK, fmt: Fmt.R, exec: amo64(op) })),
];
