// Instructions as data (Spike riscv/insns, QEMU insn32.decode): each extension file exports a
// list of InsnDef { name, match, mask, fmt, exec }. The decoder builds its lookup from those
// lists once and caches decoded instructions (Insn) by physical address, in blocks.
//
// Register operands are stored PRE-SCALED as indices into the hart's lo/hi Int32Array pairs:
//   d.rs1 = 2 * rs1, d.rs2 = 2 * rs2, d.rs3 = 2 * rs3, d.rd = 2 * rd
// except that an integer destination x0 is redirected to the sink pair 64 (so writes to x0
// cost nothing and x0 always reads 0). FP code uses `d.rd & 63` for an f destination.
import type { Hart } from "./hart.js";

/**
 * Executes one decoded instruction. While a block runs, `h.pc` holds the address of the
 * block's first instruction and `d.off` is this instruction's byte offset from it, so an
 * instruction that needs its own pc computes `h.pc + d.off`. Only control transfers write
 * `h.pc` (they end their block); the block loop advances it otherwise. Nothing here passes
 * or returns the pc: a pc above 2^30 is a heap number in V8, and boxing one per instruction
 * would allocate on the hot path. (The third parameter is unused and always 0.)
 * Traps are raised with `throw h.raise(cause, tvalLo, tvalHi)` (or `throw h.illegal(d)`).
 */
export type ExecFn = (h: Hart, d: Insn, unused: number) => unknown;

/** Immediate/operand layout of an encoding (RISC-V unprivileged spec, chapter 2.3). */
export const enum Fmt { R, I, S, B, U, J, R4, CSR, CSRI, NONE }

// Encoding masks by format: the bits an instruction of that shape fixes (opcode, funct3, funct7...).
/** R-type: opcode + funct3 + funct7. */
export const MASK_R = 0xfe00707f;
/** I-type and S/B-type: opcode + funct3. */
export const MASK_I = 0x0000707f;
/** RV64 shift-immediate: opcode + funct3 + funct6 (shamt is 6 bits). */
export const MASK_SH64 = 0xfc00707f;
/** Unary R-type with a fixed rs2 field: opcode + funct3 + funct7 + rs2. */
export const MASK_UNARY = 0xfff0707f;
/** U/J-type: the opcode only. */
export const MASK_U = 0x7f;

export interface InsnDef {
  name: string;
  match: number;
  mask: number;
  fmt: Fmt;
  exec: ExecFn;
  /** Ends a decoded block (control flow, CSR writes, fences, traps, mode changes). */
  endsBlock?: boolean;
  /** Must be the first instruction of its block (reads counters; see code_cache.ts). */
  startsBlock?: boolean;
  /** Writes h.pc (jumps, branches, xRET); implies endsBlock. */
  setsPc?: boolean;
}

export class Insn {
  fn: ExecFn;
  rd = 0;
  rs1 = 0;
  rs2 = 0;
  rs3 = 0;
  /** Sign-extended immediate as an int32 (its upper 32 bits are imm >> 31). */
  imm = 0;
  /** funct3 (rounding mode for FP; CSR number in `imm` for Zicsr with fmt CSR/CSRI). */
  rm = 0;
  /** 2 for compressed, 4 otherwise. */
  len = 4;
  /** Byte offset of this instruction from the start of its block. */
  off = 0;
  /**
   * Raw instruction bits (16-bit parcel for compressed), reported in mtval on illegal
   * instruction, as an int32: a uint32 of 2^31 or more would be a heap number, and one such
   * value turns the field into a boxed double in every Insn.
   */
  raw = 0;
  name = "";
  /** INSN_ENDS_BLOCK | INSN_STARTS_BLOCK | INSN_SETS_PC (one field where three booleans took three). */
  flags = 0;
  constructor(fn: ExecFn) { this.fn = fn; }
  /** Ends its decoded block (InsnDef.endsBlock; implied by setsPc, and by an illegal instruction). */
  get endsBlock(): boolean { return (this.flags & INSN_ENDS_BLOCK) !== 0; }
  /** Must be the first instruction of its block (InsnDef.startsBlock). */
  get startsBlock(): boolean { return (this.flags & INSN_STARTS_BLOCK) !== 0; }
  /** Writes h.pc itself (InsnDef.setsPc). */
  get setsPc(): boolean { return (this.flags & INSN_SETS_PC) !== 0; }
}

/** Insn.flags bits. */
export const INSN_ENDS_BLOCK = 1, INSN_STARTS_BLOCK = 2, INSN_SETS_PC = 4;
