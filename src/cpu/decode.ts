// The decoder: builds a per-opcode-and-funct3 lookup from the extension tables of one ISA (src/cpu/isa.ts),
// extracts operands by format, and expands RVC instructions into their 32-bit equivalents
// (unprivileged spec chapter 16: every RVC instruction expands to a single base instruction).
import { Fmt, Insn, INSN_ENDS_BLOCK, INSN_SETS_PC, INSN_STARTS_BLOCK, type InsnDef } from "./insn.js";
import { Isa, DEFAULT_PROFILE, type ExtName } from "./isa.js";
import { rv64i } from "./insns/rv64i.js";
import { rv64m } from "./insns/rv64m.js";
import { rv64a } from "./insns/rv64a.js";
import { zicsr } from "./insns/zicsr.js";
import { rv64f } from "./insns/rv64f.js";
import { rv64d } from "./insns/rv64d.js";
import { zfhmin, zfhminD, zfh } from "./insns/zfh.js";
import { zfa, zfaD, zfaH } from "./insns/zfa.js";
import { zba } from "./insns/zba.js";
import { zbb } from "./insns/zbb.js";
import { zbc, zbkc } from "./insns/zbc.js";
import { zbs } from "./insns/zbs.js";
import { zbkb, zbkx } from "./insns/zbk.js";
import { zicond } from "./insns/zicond.js";
import { zimop } from "./insns/zimop.js";
import { zicbom, zicboz } from "./insns/zicbo.js";
import { svinval } from "./insns/svinval.js";
import { zawrs } from "./insns/zawrs.js";

/**
 * The instructions of each extension. An instruction that belongs to several extensions (Zbb
 * and Zbkb share andn, rol, rev8...) is listed under each; the decoder keeps one copy. Zca, Zcb
 * and Zcmop are compressed forms handled by `expandCompressed`; Zihintntl's hints are ADDs to
 * x0 (base encodings); extensions without entries (Zicntr, Zkt, Sv*) are CSRs or behaviour in
 * the hart.
 */
export const INSN_TABLES: Partial<Record<ExtName, readonly InsnDef[]>> = {
  i: rv64i, m: rv64m, a: rv64a, zicsr, f: rv64f, d: rv64d,
  zfhmin, zfh, zfa,
  zba, zbb, zbc, zbs, zbkb, zbkc, zbkx, zicond, zimop,
  zicbom, zicboz, svinval, zawrs,
};

/**
 * Instructions that exist only when several extensions are all present: the spec's "if the D
 * extension is implemented, FLI.D..." and "if the Zfh extension is implemented, FMINM.H...".
 * (Zfh implies Zfhmin, so the Zfhmin+D row also serves Zfh with D.)
 */
export const INSN_TABLES_JOINT: readonly { readonly exts: readonly ExtName[]; readonly defs: readonly InsnDef[] }[] = [
  { exts: ["zfhmin", "d"], defs: zfhminD },
  { exts: ["zfa", "d"], defs: zfaD },
  { exts: ["zfa", "zfh"], defs: zfaH },
];

/** zext.h rd, rs1 (the only 32-bit expansion of an RVC instruction with this pattern is c.zext.h). */
const ZEXT_H_MATCH = 0x0800403b, ZEXT_H_MASK = 0xfff0707f;

const illegalExec = (h: import("./hart.js").Hart, d: Insn): number => { throw h.illegal(d); };

function popcount(v: number): number {
  let n = 0;
  for (let x = v >>> 0; x !== 0; x &= x - 1) n++;
  return n;
}

/** funct3 (bits 14:12) and where it sits in the decoder's table index beside the opcode. */
const FUNCT3_MASK = 0x7000, FUNCT3_SHIFT = 12, OPCODE_BITS = 7;

export class Decoder {
  /**
   * Per major opcode (bits 6:0) and funct3 (bits 14:12), index `funct3 << 7 | opcode`: the
   * definitions that can match, most specific mask first. (One list per opcode made `addi`,
   * the commonest instruction, the last of 22 to try.) A definition whose mask leaves funct3
   * open (lui, jal) is in all eight lists of its opcode.
   */
  private readonly table: InsnDef[][] = [];
  private readonly zcb: boolean;
  private readonly zcmop: boolean;
  private readonly zbb: boolean;

  constructor(readonly isa: Isa) {
    for (let k = 0; k < 8 << OPCODE_BITS; k++) this.table.push([]);
    const seen = new Set<InsnDef>();
    const tables: (readonly InsnDef[])[] = isa.extensions.map((e) => INSN_TABLES[e] ?? []);
    for (const j of INSN_TABLES_JOINT) if (j.exts.every((e) => isa.has(e))) tables.push(j.defs);
    const defs: { def: InsnDef; bits: number }[] = [];
    for (const list of tables) {
      for (const def of list) {
        if (seen.has(def)) continue;
        seen.add(def);
        if ((def.mask & 0x7f) !== 0x7f) throw new Error(`${def.name}: mask must cover the opcode`);
        defs.push({ def, bits: popcount(def.mask) });
      }
    }
    // Sorted once (stable: ties keep the tables' order), then dealt out in that order.
    defs.sort((a, b) => b.bits - a.bits);
    for (const { def } of defs) {
      const op = def.match & 0x7f;
      if ((def.mask & FUNCT3_MASK) === FUNCT3_MASK) {
        (this.table[(((def.match & FUNCT3_MASK) >>> FUNCT3_SHIFT) << OPCODE_BITS) | op] as InsnDef[]).push(def);
        continue;
      }
      for (let f3 = 0; f3 < 8; f3++) {
        if ((((def.match ^ (f3 << FUNCT3_SHIFT)) & def.mask & FUNCT3_MASK) >>> 0) !== 0) continue;
        (this.table[(f3 << OPCODE_BITS) | op] as InsnDef[]).push(def);
      }
    }
    this.zcb = isa.has("zcb");
    this.zcmop = isa.has("zcmop");
    this.zbb = isa.has("zbb");
  }

  /** Finds the definition of a 32-bit instruction, or null. */
  lookup(raw: number): InsnDef | null {
    for (const def of this.table[(((raw & FUNCT3_MASK) >>> FUNCT3_SHIFT) << OPCODE_BITS) | (raw & 0x7f)] as InsnDef[]) {
      if (((raw & def.mask) >>> 0) === def.match >>> 0) return def;
    }
    return null;
  }

  /** Decodes a 32-bit instruction (`raw` = `inst`). */
  decode32(raw: number): Insn {
    return decodeDef(raw === 0 ? null : this.lookup(raw), raw, raw, 4);
  }

  /** Decodes a 16-bit RVC parcel through its 32-bit expansion. */
  decode16(c: number): Insn {
    let inst = expandCompressed(c, this.zcb, this.zcmop);
    // c.zext.h requires Zbb: without it, its expansion would decode as Zbkb's packw.
    if (!this.zbb && (inst & ZEXT_H_MASK) === ZEXT_H_MATCH) inst = 0;
    return decodeDef(inst === 0 ? null : this.lookup(inst), inst, c, 2);
  }
}

let defaultDecoder: Decoder | null = null;
/** A decoder for the default profile (tests and tools that do not pick an ISA). */
export function decoderFor(isa?: Isa): Decoder {
  if (isa !== undefined) return new Decoder(isa);
  defaultDecoder ??= new Decoder(Isa.profile(DEFAULT_PROFILE));
  return defaultDecoder;
}

/**
 * Builds the Insn for `def` (null: illegal) decoded from the 32-bit instruction `inst` (for RVC,
 * its expansion). `raw` is what mtval reports on an illegal-instruction trap; `len` is 2 or 4.
 */
function decodeDef(def: InsnDef | null, inst: number, raw: number, len: number): Insn {
  const d = new Insn(def === null ? illegalExec : def.exec);
  d.raw = raw | 0;
  d.len = len;
  if (def === null) { d.name = "illegal"; d.flags = INSN_ENDS_BLOCK; return d; }
  d.name = def.name;
  d.flags = (def.endsBlock === true || def.setsPc === true ? INSN_ENDS_BLOCK : 0) | (def.startsBlock === true ? INSN_STARTS_BLOCK : 0) |
    (def.setsPc === true ? INSN_SETS_PC : 0);
  const rd = (inst >>> 7) & 31, rs1 = (inst >>> 15) & 31, rs2 = (inst >>> 20) & 31;
  d.rd = rd === 0 ? 64 : rd * 2;
  d.rs1 = rs1 * 2;
  d.rs2 = rs2 * 2;
  d.rs3 = ((inst >>> 27) & 31) * 2;
  d.rm = (inst >>> 12) & 7;
  switch (def.fmt) {
    case Fmt.I: d.imm = inst >> 20; break;
    case Fmt.S: d.imm = ((inst >> 25) << 5) | ((inst >>> 7) & 31); break;
    case Fmt.B:
      d.imm = ((inst >> 31) << 12) | (((inst >>> 7) & 1) << 11) | (((inst >>> 25) & 0x3f) << 5) | (((inst >>> 8) & 0xf) << 1);
      break;
    case Fmt.U: d.imm = inst & 0xfffff000; break;
    case Fmt.J:
      d.imm = ((inst >> 31) << 20) | (inst & 0xff000) | (((inst >>> 20) & 1) << 11) | (((inst >>> 21) & 0x3ff) << 1);
      break;
    case Fmt.CSR: case Fmt.CSRI: d.imm = inst >>> 20; break;
    default: break;
  }
  return d;
}

// ---- RVC expansion ----

const encI = (op: number, f3: number, rd: number, rs1: number, imm: number): number =>
  ((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op;
const encR = (op: number, f3: number, f7: number, rd: number, rs1: number, rs2: number): number =>
  (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op;
const encS = (op: number, f3: number, rs1: number, rs2: number, imm: number): number =>
  (((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 31) << 7) | op;
const encB = (f3: number, rs1: number, rs2: number, imm: number): number =>
  (((imm >> 12) & 1) << 31) | (((imm >> 5) & 0x3f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) |
  (((imm >> 1) & 0xf) << 8) | (((imm >> 11) & 1) << 7) | 0x63;
const encJ = (rd: number, imm: number): number =>
  (((imm >> 20) & 1) << 31) | (((imm >> 1) & 0x3ff) << 21) | (((imm >> 11) & 1) << 20) | (((imm >> 12) & 0xff) << 12) | (rd << 7) | 0x6f;

const OP_LOAD = 0x03, OP_LOAD_FP = 0x07, OP_IMM = 0x13, OP_IMM32 = 0x1b, OP_STORE = 0x23, OP_STORE_FP = 0x27;
const OP = 0x33, OP_32 = 0x3b, OP_LUI = 0x37, OP_JALR = 0x67;

const NOP = 0x00000013; // addi x0, x0, 0

const bit = (c: number, b: number): number => (c >>> b) & 1;
const bits = (c: number, hi: number, lo: number): number => (c >>> lo) & ((1 << (hi - lo + 1)) - 1);
const sext = (v: number, width: number): number => (v << (32 - width)) >> (32 - width);

/**
 * Expands a 16-bit RVC instruction to its 32-bit equivalent, or 0 if it is illegal/reserved.
 * `zcb` and `zcmop` enable those extensions' encodings (otherwise reserved).
 */
export function expandCompressed(c: number, zcb: boolean, zcmop: boolean): number {
  const op = c & 3, f3 = c >>> 13;
  const rdp = bits(c, 4, 2) + 8, rs1p = bits(c, 9, 7) + 8;
  const rd = bits(c, 11, 7), rs2 = bits(c, 6, 2);
  if (op === 0) {
    switch (f3) {
      case 0: { // c.addi4spn
        const imm = (bits(c, 12, 11) << 4) | (bits(c, 10, 7) << 6) | (bit(c, 6) << 2) | (bit(c, 5) << 3);
        return imm === 0 ? 0 : encI(OP_IMM, 0, rdp, 2, imm);
      }
      case 1: return encI(OP_LOAD_FP, 3, rdp, rs1p, (bits(c, 12, 10) << 3) | (bits(c, 6, 5) << 6)); // c.fld
      case 2: return encI(OP_LOAD, 2, rdp, rs1p, (bits(c, 12, 10) << 3) | (bit(c, 6) << 2) | (bit(c, 5) << 6)); // c.lw
      case 3: return encI(OP_LOAD, 3, rdp, rs1p, (bits(c, 12, 10) << 3) | (bits(c, 6, 5) << 6)); // c.ld
      case 5: return encS(OP_STORE_FP, 3, rs1p, rdp, (bits(c, 12, 10) << 3) | (bits(c, 6, 5) << 6)); // c.fsd
      case 6: return encS(OP_STORE, 2, rs1p, rdp, (bits(c, 12, 10) << 3) | (bit(c, 6) << 2) | (bit(c, 5) << 6)); // c.sw
      case 7: return encS(OP_STORE, 3, rs1p, rdp, (bits(c, 12, 10) << 3) | (bits(c, 6, 5) << 6)); // c.sd
      case 4: return zcb ? expandZcbMemory(c, rdp, rs1p) : 0;
      default: return 0;
    }
  }
  if (op === 1) {
    const imm6 = sext((bit(c, 12) << 5) | bits(c, 6, 2), 6);
    switch (f3) {
      case 0: return encI(OP_IMM, 0, rd, rd, imm6); // c.addi / c.nop
      case 1: return rd === 0 ? 0 : encI(OP_IMM32, 0, rd, rd, imm6); // c.addiw
      case 2: return encI(OP_IMM, 0, rd, 0, imm6); // c.li
      case 3:
        if (rd === 2) { // c.addi16sp
          const imm = sext((bit(c, 12) << 9) | (bit(c, 6) << 4) | (bit(c, 5) << 6) | (bits(c, 4, 3) << 7) | (bit(c, 2) << 5), 10);
          return imm === 0 ? 0 : encI(OP_IMM, 0, 2, 2, imm);
        }
        // c.lui; its reserved imm = 0 encodings with rd = x1, x3, ..., x15 are Zcmop's c.mop.n,
        // which "do not write any register": a no-op.
        if (imm6 !== 0) return ((imm6 << 12) & 0xfffff000) | (rd << 7) | OP_LUI;
        return zcmop && (rd & 1) === 1 && rd < 16 ? NOP : 0;
      case 4: {
        const shamt = (bit(c, 12) << 5) | bits(c, 6, 2);
        switch (bits(c, 11, 10)) {
          case 0: return encI(OP_IMM, 5, rs1p, rs1p, shamt); // c.srli
          case 1: return encI(OP_IMM, 5, rs1p, rs1p, shamt | 0x400); // c.srai
          case 2: return encI(OP_IMM, 7, rs1p, rs1p, imm6); // c.andi
          default: {
            const f2 = bits(c, 6, 5);
            if (bit(c, 12) === 0) {
              return [encR(OP, 0, 0x20, rs1p, rs1p, rdp), encR(OP, 4, 0, rs1p, rs1p, rdp),
                encR(OP, 6, 0, rs1p, rs1p, rdp), encR(OP, 7, 0, rs1p, rs1p, rdp)][f2]; // c.sub/xor/or/and
            }
            if (f2 === 0) return encR(OP_32, 0, 0x20, rs1p, rs1p, rdp); // c.subw
            if (f2 === 1) return encR(OP_32, 0, 0, rs1p, rs1p, rdp); // c.addw
            if (!zcb) return 0;
            if (f2 === 2) return encR(OP, 0, 1, rs1p, rs1p, rdp); // c.mul (needs M or Zmmul)
            return expandZcbUnary(bits(c, 4, 2), rs1p);
          }
        }
      }
      case 5: { // c.j
        const imm = sext((bit(c, 12) << 11) | (bit(c, 11) << 4) | (bits(c, 10, 9) << 8) | (bit(c, 8) << 10) | (bit(c, 7) << 6) |
          (bit(c, 6) << 7) | (bits(c, 5, 3) << 1) | (bit(c, 2) << 5), 12);
        return encJ(0, imm);
      }
      default: { // c.beqz / c.bnez
        const imm = sext((bit(c, 12) << 8) | (bits(c, 11, 10) << 3) | (bits(c, 6, 5) << 6) | (bits(c, 4, 3) << 1) | (bit(c, 2) << 5), 9);
        return encB(f3 === 6 ? 0 : 1, rs1p, 0, imm);
      }
    }
  }
  if (op === 2) {
    switch (f3) {
      case 0: return encI(OP_IMM, 1, rd, rd, (bit(c, 12) << 5) | bits(c, 6, 2)); // c.slli
      case 1: return encI(OP_LOAD_FP, 3, rd, 2, (bit(c, 12) << 5) | (bits(c, 6, 5) << 3) | (bits(c, 4, 2) << 6)); // c.fldsp
      case 2: return rd === 0 ? 0 : encI(OP_LOAD, 2, rd, 2, (bit(c, 12) << 5) | (bits(c, 6, 4) << 2) | (bits(c, 3, 2) << 6)); // c.lwsp
      case 3: return rd === 0 ? 0 : encI(OP_LOAD, 3, rd, 2, (bit(c, 12) << 5) | (bits(c, 6, 5) << 3) | (bits(c, 4, 2) << 6)); // c.ldsp
      case 4:
        if (bit(c, 12) === 0) {
          if (rs2 === 0) return rd === 0 ? 0 : encI(OP_JALR, 0, 0, rd, 0); // c.jr
          return encR(OP, 0, 0, rd, 0, rs2); // c.mv
        }
        if (rs2 === 0) {
          if (rd === 0) return 0x00100073; // c.ebreak
          return encI(OP_JALR, 0, 1, rd, 0); // c.jalr
        }
        return encR(OP, 0, 0, rd, rd, rs2); // c.add
      case 5: return encS(OP_STORE_FP, 3, 2, rs2, (bits(c, 12, 10) << 3) | (bits(c, 9, 7) << 6)); // c.fsdsp
      case 6: return encS(OP_STORE, 2, 2, rs2, (bits(c, 12, 9) << 2) | (bits(c, 8, 7) << 6)); // c.swsp
      default: return encS(OP_STORE, 3, 2, rs2, (bits(c, 12, 10) << 3) | (bits(c, 9, 7) << 6)); // c.sdsp
    }
  }
  return 0;
}

/**
 * Zcb's loads and stores (quadrant 0, funct3 100): c.lbu, c.lhu, c.lh, c.sb, c.sh with a
 * 2-bit unsigned offset (uimm[0] is bit 6, uimm[1] bit 5; halfword forms use bit 6 as the
 * signed/unsigned selector of c.lh/c.lhu and reserve it in c.sh).
 */
function expandZcbMemory(c: number, rdp: number, rs1p: number): number {
  const uimm2 = (bit(c, 5) << 1) | bit(c, 6), uimm1 = bit(c, 5) << 1;
  switch (bits(c, 12, 10)) {
    case 0: return encI(OP_LOAD, 4, rdp, rs1p, uimm2); // c.lbu
    case 1: return encI(OP_LOAD, bit(c, 6) === 0 ? 5 : 1, rdp, rs1p, uimm1); // c.lhu / c.lh
    case 2: return encS(OP_STORE, 0, rs1p, rdp, uimm2); // c.sb
    case 3: return bit(c, 6) === 0 ? encS(OP_STORE, 1, rs1p, rdp, uimm1) : 0; // c.sh
    default: return 0;
  }
}

/** Encodings of Zbb's sext.b/sext.h (OP-IMM funct12) and zext.h / Zba's add.uw (OP-32 funct7). */
const SEXT_B_F12 = 0x604, SEXT_H_F12 = 0x605, ZEXT_H_ADD_UW_F7 = 0x04;

/**
 * Zcb's unary operations on rd' (quadrant 1, 100111 rd' 11 op 01). Those that expand to a Zbb
 * or Zba instruction are illegal when that extension is absent (the lookup of the expansion
 * fails); c.zext.b and c.not expand to base ANDI/XORI.
 */
function expandZcbUnary(op: number, r: number): number {
  switch (op) {
    case 0: return encI(OP_IMM, 7, r, r, 0xff); // c.zext.b
    case 1: return encI(OP_IMM, 1, r, r, SEXT_B_F12); // c.sext.b (Zbb)
    case 2: return encR(OP_32, 4, ZEXT_H_ADD_UW_F7, r, r, 0); // c.zext.h (Zbb)
    case 3: return encI(OP_IMM, 1, r, r, SEXT_H_F12); // c.sext.h (Zbb)
    case 4: return encR(OP_32, 0, ZEXT_H_ADD_UW_F7, r, r, 0); // c.zext.w = add.uw rd, rd, x0 (Zba)
    case 5: return encI(OP_IMM, 4, r, r, -1); // c.not
    default: return 0;
  }
}
