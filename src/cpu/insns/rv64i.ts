// RV64I base integer instructions (unprivileged spec chapters 2 and 5), plus FENCE,
// ECALL and EBREAK. Registers are lo/hi int32 pairs; see src/cpu/insn.ts.
import { Fmt, type InsnDef, type Insn, MASK_R as R, MASK_I as I, MASK_SH64 as SH64, MASK_U as U } from "../insn.js";
import type { Hart } from "../hart.js";
import { Cause } from "../csr_numbers.js";

const TWO32 = 4294967296;

/** rd = the 64-bit value of a double (pc-relative results). */
function setRdNumber(x: Int32Array, rd: number, v: number): void {
  x[rd] = v | 0;
  x[rd + 1] = Math.floor(v / TWO32) | 0;
}

// ---- upper immediates and jumps (h.pc is the block's start; d.off this instruction's offset) ----

const lui = (h: Hart, d: Insn): void => {
  h.x[d.rd] = d.imm; h.x[d.rd + 1] = d.imm >> 31;
};
const auipc = (h: Hart, d: Insn): void => {
  setRdNumber(h.x, d.rd, h.pc + d.off + d.imm);
};
const jal = (h: Hart, d: Insn): void => {
  const pc = h.pc + d.off;
  setRdNumber(h.x, d.rd, pc + d.len);
  h.pc = pc + d.imm;
};
const jalr = (h: Hart, d: Insn): void => {
  const x = h.x, b = x[d.rs1], lo = (b + d.imm) | 0;
  const hi = (x[d.rs1 + 1] + (d.imm >> 31) + ((lo >>> 0) < (b >>> 0) ? 1 : 0)) | 0;
  setRdNumber(x, d.rd, h.pc + d.off + d.len);
  h.pc = hi * TWO32 + ((lo & ~1) >>> 0);
};

// ---- branches ----

function lt(alo: number, ahi: number, blo: number, bhi: number): boolean {
  return ahi < bhi || (ahi === bhi && (alo >>> 0) < (blo >>> 0));
}
function ltu(alo: number, ahi: number, blo: number, bhi: number): boolean {
  return (ahi >>> 0) < (bhi >>> 0) || (ahi === bhi && (alo >>> 0) < (blo >>> 0));
}

const beq = (h: Hart, d: Insn): void => {
  const x = h.x;
  h.pc += d.off + (x[d.rs1] === x[d.rs2] && x[d.rs1 + 1] === x[d.rs2 + 1] ? d.imm : d.len);
};
const bne = (h: Hart, d: Insn): void => {
  const x = h.x;
  h.pc += d.off + (x[d.rs1] !== x[d.rs2] || x[d.rs1 + 1] !== x[d.rs2 + 1] ? d.imm : d.len);
};
const blt = (h: Hart, d: Insn): void => {
  const x = h.x;
  h.pc += d.off + (lt(x[d.rs1], x[d.rs1 + 1], x[d.rs2], x[d.rs2 + 1]) ? d.imm : d.len);
};
const bge = (h: Hart, d: Insn): void => {
  const x = h.x;
  h.pc += d.off + (!lt(x[d.rs1], x[d.rs1 + 1], x[d.rs2], x[d.rs2 + 1]) ? d.imm : d.len);
};
const bltu = (h: Hart, d: Insn): void => {
  const x = h.x;
  h.pc += d.off + (ltu(x[d.rs1], x[d.rs1 + 1], x[d.rs2], x[d.rs2 + 1]) ? d.imm : d.len);
};
const bgeu = (h: Hart, d: Insn): void => {
  const x = h.x;
  h.pc += d.off + (!ltu(x[d.rs1], x[d.rs1 + 1], x[d.rs2], x[d.rs2 + 1]) ? d.imm : d.len);
};

// ---- loads and stores ----

const lb = (h: Hart, d: Insn): void => { const v = h.load8(d.rs1, d.imm); h.x[d.rd] = v; h.x[d.rd + 1] = v >> 31; };
const lh = (h: Hart, d: Insn): void => { const v = h.load16(d.rs1, d.imm); h.x[d.rd] = v; h.x[d.rd + 1] = v >> 31; };
const lw = (h: Hart, d: Insn): void => { const v = h.load32(d.rs1, d.imm); h.x[d.rd] = v; h.x[d.rd + 1] = v >> 31; };
const lbu = (h: Hart, d: Insn): void => { const v = h.load8(d.rs1, d.imm) & 0xff; h.x[d.rd] = v; h.x[d.rd + 1] = 0; };
const lhu = (h: Hart, d: Insn): void => { const v = h.load16(d.rs1, d.imm) & 0xffff; h.x[d.rd] = v; h.x[d.rd + 1] = 0; };
const lwu = (h: Hart, d: Insn): void => { const v = h.load32(d.rs1, d.imm); h.x[d.rd] = v; h.x[d.rd + 1] = 0; };
const ld = (h: Hart, d: Insn): void => { h.load64(d.rs1, d.imm, h.x, d.rd); };
const sb = (h: Hart, d: Insn): void => { h.store8(d.rs1, d.imm, h.x[d.rs2]); };
const sh = (h: Hart, d: Insn): void => { h.store16(d.rs1, d.imm, h.x[d.rs2]); };
const sw = (h: Hart, d: Insn): void => { h.store32(d.rs1, d.imm, h.x[d.rs2]); };
const sd = (h: Hart, d: Insn): void => { h.store64(d.rs1, d.imm, h.x[d.rs2], h.x[d.rs2 + 1]); };

// ---- integer register-immediate ----

const addi = (h: Hart, d: Insn): void => {
  const x = h.x, a = x[d.rs1], imm = d.imm, lo = (a + imm) | 0;
  x[d.rd + 1] = (x[d.rs1 + 1] + (imm >> 31) + ((lo >>> 0) < (a >>> 0) ? 1 : 0)) | 0;
  x[d.rd] = lo;
};
const slti = (h: Hart, d: Insn): void => {
  const x = h.x;
  x[d.rd] = lt(x[d.rs1], x[d.rs1 + 1], d.imm, d.imm >> 31) ? 1 : 0; x[d.rd + 1] = 0;
};
const sltiu = (h: Hart, d: Insn): void => {
  const x = h.x;
  x[d.rd] = ltu(x[d.rs1], x[d.rs1 + 1], d.imm, d.imm >> 31) ? 1 : 0; x[d.rd + 1] = 0;
};
const xori = (h: Hart, d: Insn): void => { const x = h.x; x[d.rd + 1] = x[d.rs1 + 1] ^ (d.imm >> 31); x[d.rd] = x[d.rs1] ^ d.imm; };
const ori = (h: Hart, d: Insn): void => { const x = h.x; x[d.rd + 1] = x[d.rs1 + 1] | (d.imm >> 31); x[d.rd] = x[d.rs1] | d.imm; };
const andi = (h: Hart, d: Insn): void => { const x = h.x; x[d.rd + 1] = x[d.rs1 + 1] & (d.imm >> 31); x[d.rd] = x[d.rs1] & d.imm; };

function sll(x: Int32Array, rd: number, lo: number, hi: number, s: number): void {
  if (s === 0) { x[rd] = lo; x[rd + 1] = hi; }
  else if (s < 32) { x[rd + 1] = (hi << s) | (lo >>> (32 - s)); x[rd] = lo << s; }
  else { x[rd + 1] = lo << (s - 32); x[rd] = 0; }
}
function srl(x: Int32Array, rd: number, lo: number, hi: number, s: number): void {
  if (s === 0) { x[rd] = lo; x[rd + 1] = hi; }
  else if (s < 32) { x[rd] = (lo >>> s) | (hi << (32 - s)); x[rd + 1] = hi >>> s; }
  else { x[rd] = hi >>> (s - 32); x[rd + 1] = 0; }
}
function sra(x: Int32Array, rd: number, lo: number, hi: number, s: number): void {
  if (s === 0) { x[rd] = lo; x[rd + 1] = hi; }
  else if (s < 32) { x[rd] = (lo >>> s) | (hi << (32 - s)); x[rd + 1] = hi >> s; }
  else { x[rd] = hi >> (s - 32); x[rd + 1] = hi >> 31; }
}

const slli = (h: Hart, d: Insn): void => { sll(h.x, d.rd, h.x[d.rs1], h.x[d.rs1 + 1], d.imm & 63); };
const srli = (h: Hart, d: Insn): void => { srl(h.x, d.rd, h.x[d.rs1], h.x[d.rs1 + 1], d.imm & 63); };
const srai = (h: Hart, d: Insn): void => { sra(h.x, d.rd, h.x[d.rs1], h.x[d.rs1 + 1], d.imm & 63); };

// ---- integer register-register ----

const add = (h: Hart, d: Insn): void => {
  const x = h.x, a = x[d.rs1], lo = (a + x[d.rs2]) | 0;
  x[d.rd + 1] = (x[d.rs1 + 1] + x[d.rs2 + 1] + ((lo >>> 0) < (a >>> 0) ? 1 : 0)) | 0;
  x[d.rd] = lo;
};
const sub = (h: Hart, d: Insn): void => {
  const x = h.x, a = x[d.rs1], b = x[d.rs2];
  x[d.rd + 1] = (x[d.rs1 + 1] - x[d.rs2 + 1] - ((a >>> 0) < (b >>> 0) ? 1 : 0)) | 0;
  x[d.rd] = (a - b) | 0;
};
const sllr = (h: Hart, d: Insn): void => { sll(h.x, d.rd, h.x[d.rs1], h.x[d.rs1 + 1], h.x[d.rs2] & 63); };
const srlr = (h: Hart, d: Insn): void => { srl(h.x, d.rd, h.x[d.rs1], h.x[d.rs1 + 1], h.x[d.rs2] & 63); };
const srar = (h: Hart, d: Insn): void => { sra(h.x, d.rd, h.x[d.rs1], h.x[d.rs1 + 1], h.x[d.rs2] & 63); };
const slt = (h: Hart, d: Insn): void => {
  const x = h.x;
  x[d.rd] = lt(x[d.rs1], x[d.rs1 + 1], x[d.rs2], x[d.rs2 + 1]) ? 1 : 0; x[d.rd + 1] = 0;
};
const sltu = (h: Hart, d: Insn): void => {
  const x = h.x;
  x[d.rd] = ltu(x[d.rs1], x[d.rs1 + 1], x[d.rs2], x[d.rs2 + 1]) ? 1 : 0; x[d.rd + 1] = 0;
};
const xor = (h: Hart, d: Insn): void => { const x = h.x; x[d.rd + 1] = x[d.rs1 + 1] ^ x[d.rs2 + 1]; x[d.rd] = x[d.rs1] ^ x[d.rs2]; };
const or = (h: Hart, d: Insn): void => { const x = h.x; x[d.rd + 1] = x[d.rs1 + 1] | x[d.rs2 + 1]; x[d.rd] = x[d.rs1] | x[d.rs2]; };
const and = (h: Hart, d: Insn): void => { const x = h.x; x[d.rd + 1] = x[d.rs1 + 1] & x[d.rs2 + 1]; x[d.rd] = x[d.rs1] & x[d.rs2]; };

// ---- 32-bit (W) forms: results sign-extended from bit 31 ----

function setW(x: Int32Array, rd: number, v: number): void { x[rd] = v; x[rd + 1] = v >> 31; }
const addiw = (h: Hart, d: Insn): void => { setW(h.x, d.rd, (h.x[d.rs1] + d.imm) | 0); };
const slliw = (h: Hart, d: Insn): void => { setW(h.x, d.rd, h.x[d.rs1] << (d.imm & 31)); };
const srliw = (h: Hart, d: Insn): void => { setW(h.x, d.rd, (h.x[d.rs1] >>> (d.imm & 31)) | 0); };
const sraiw = (h: Hart, d: Insn): void => { setW(h.x, d.rd, h.x[d.rs1] >> (d.imm & 31)); };
const addw = (h: Hart, d: Insn): void => { setW(h.x, d.rd, (h.x[d.rs1] + h.x[d.rs2]) | 0); };
const subw = (h: Hart, d: Insn): void => { setW(h.x, d.rd, (h.x[d.rs1] - h.x[d.rs2]) | 0); };
const sllw = (h: Hart, d: Insn): void => { setW(h.x, d.rd, h.x[d.rs1] << (h.x[d.rs2] & 31)); };
const srlw = (h: Hart, d: Insn): void => { setW(h.x, d.rd, (h.x[d.rs1] >>> (h.x[d.rs2] & 31)) | 0); };
const sraw = (h: Hart, d: Insn): void => { setW(h.x, d.rd, h.x[d.rs1] >> (h.x[d.rs2] & 31)); };

// ---- fences and environment calls ----

/** FENCE: harts share memory sequentially consistently here, so ordering needs no work. */
const fence = (_h: Hart, _d: Insn): void => {};
/** FENCE.I: stores to cached code already invalidated it (see code_cache.ts); ends the block. */
const fence_i = (_h: Hart, _d: Insn): void => {};
const ecall = (h: Hart): void => { throw h.raise(Cause.EcallU + h.priv); };
const ebreak = (h: Hart, d: Insn): void => {
  const pc = h.pc + d.off;
  throw h.raise(Cause.Breakpoint, pc | 0, Math.floor(pc / TWO32) | 0);
};


export const rv64i: InsnDef[] = [
  { name: "lui", match: 0x37, mask: U, fmt: Fmt.U, exec: lui },
  { name: "auipc", match: 0x17, mask: U, fmt: Fmt.U, exec: auipc },
  { name: "jal", match: 0x6f, mask: U, fmt: Fmt.J, exec: jal, setsPc: true },
  { name: "jalr", match: 0x67, mask: I, fmt: Fmt.I, exec: jalr, setsPc: true },
  { name: "beq", match: 0x0063, mask: I, fmt: Fmt.B, exec: beq, setsPc: true },
  { name: "bne", match: 0x1063, mask: I, fmt: Fmt.B, exec: bne, setsPc: true },
  { name: "blt", match: 0x4063, mask: I, fmt: Fmt.B, exec: blt, setsPc: true },
  { name: "bge", match: 0x5063, mask: I, fmt: Fmt.B, exec: bge, setsPc: true },
  { name: "bltu", match: 0x6063, mask: I, fmt: Fmt.B, exec: bltu, setsPc: true },
  { name: "bgeu", match: 0x7063, mask: I, fmt: Fmt.B, exec: bgeu, setsPc: true },
  { name: "lb", match: 0x0003, mask: I, fmt: Fmt.I, exec: lb },
  { name: "lh", match: 0x1003, mask: I, fmt: Fmt.I, exec: lh },
  { name: "lw", match: 0x2003, mask: I, fmt: Fmt.I, exec: lw },
  { name: "ld", match: 0x3003, mask: I, fmt: Fmt.I, exec: ld },
  { name: "lbu", match: 0x4003, mask: I, fmt: Fmt.I, exec: lbu },
  { name: "lhu", match: 0x5003, mask: I, fmt: Fmt.I, exec: lhu },
  { name: "lwu", match: 0x6003, mask: I, fmt: Fmt.I, exec: lwu },
  { name: "sb", match: 0x0023, mask: I, fmt: Fmt.S, exec: sb },
  { name: "sh", match: 0x1023, mask: I, fmt: Fmt.S, exec: sh },
  { name: "sw", match: 0x2023, mask: I, fmt: Fmt.S, exec: sw },
  { name: "sd", match: 0x3023, mask: I, fmt: Fmt.S, exec: sd },
  { name: "addi", match: 0x0013, mask: I, fmt: Fmt.I, exec: addi },
  { name: "slti", match: 0x2013, mask: I, fmt: Fmt.I, exec: slti },
  { name: "sltiu", match: 0x3013, mask: I, fmt: Fmt.I, exec: sltiu },
  { name: "xori", match: 0x4013, mask: I, fmt: Fmt.I, exec: xori },
  { name: "ori", match: 0x6013, mask: I, fmt: Fmt.I, exec: ori },
  { name: "andi", match: 0x7013, mask: I, fmt: Fmt.I, exec: andi },
  { name: "slli", match: 0x1013, mask: SH64, fmt: Fmt.I, exec: slli },
  { name: "srli", match: 0x5013, mask: SH64, fmt: Fmt.I, exec: srli },
  { name: "srai", match: 0x40005013, mask: SH64, fmt: Fmt.I, exec: srai },
  { name: "add", match: 0x0033, mask: R, fmt: Fmt.R, exec: add },
  { name: "sub", match: 0x40000033, mask: R, fmt: Fmt.R, exec: sub },
  { name: "sll", match: 0x1033, mask: R, fmt: Fmt.R, exec: sllr },
  { name: "slt", match: 0x2033, mask: R, fmt: Fmt.R, exec: slt },
  { name: "sltu", match: 0x3033, mask: R, fmt: Fmt.R, exec: sltu },
  { name: "xor", match: 0x4033, mask: R, fmt: Fmt.R, exec: xor },
  { name: "srl", match: 0x5033, mask: R, fmt: Fmt.R, exec: srlr },
  { name: "sra", match: 0x40005033, mask: R, fmt: Fmt.R, exec: srar },
  { name: "or", match: 0x6033, mask: R, fmt: Fmt.R, exec: or },
  { name: "and", match: 0x7033, mask: R, fmt: Fmt.R, exec: and },
  { name: "addiw", match: 0x001b, mask: I, fmt: Fmt.I, exec: addiw },
  { name: "slliw", match: 0x101b, mask: R, fmt: Fmt.I, exec: slliw },
  { name: "srliw", match: 0x501b, mask: R, fmt: Fmt.I, exec: srliw },
  { name: "sraiw", match: 0x4000501b, mask: R, fmt: Fmt.I, exec: sraiw },
  { name: "addw", match: 0x003b, mask: R, fmt: Fmt.R, exec: addw },
  { name: "subw", match: 0x4000003b, mask: R, fmt: Fmt.R, exec: subw },
  { name: "sllw", match: 0x103b, mask: R, fmt: Fmt.R, exec: sllw },
  { name: "srlw", match: 0x503b, mask: R, fmt: Fmt.R, exec: srlw },
  { name: "sraw", match: 0x4000503b, mask: R, fmt: Fmt.R, exec: sraw },
  // FENCE (fm/pred/succ are hints), FENCE.TSO and PAUSE encode as FENCE.
  { name: "fence", match: 0x000f, mask: I, fmt: Fmt.NONE, exec: fence },
  { name: "fence_i", match: 0x100f, mask: I, fmt: Fmt.NONE, exec: fence_i, endsBlock: true },
  { name: "ecall", match: 0x00000073, mask: 0xffffffff, fmt: Fmt.NONE, exec: ecall, endsBlock: true },
  { name: "ebreak", match: 0x00100073, mask: 0xffffffff, fmt: Fmt.NONE, exec: ebreak, endsBlock: true },
];
