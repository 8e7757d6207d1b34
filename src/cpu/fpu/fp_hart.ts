// The part of the hart (src/cpu/hart.ts) that the F, D, Zfh and Zfa instruction tables use. Declared
// structurally so the FP code depends only on this contract; the exec functions typed with
// FpHart are assignable to ExecFn as long as Hart provides these members.
import type { Insn } from "../insn.js";

export interface FpHart {
  /** Integer registers as lo/hi int32 pairs (operands in Insn are pre-scaled pair indices). */
  x: Int32Array;
  /** Raw bits of the f registers as lo/hi int32 pairs (same buffer as `f`). */
  fi: Int32Array;
  f: Float64Array;
  fflags: number;
  frm: number;
  /** mstatus.FS: 0 off, 1 initial, 2 clean, 3 dirty. */
  fs: number;
  illegal(d: Insn): unknown;
  /** Sign-extended 16-bit load (flh NaN-boxes it). */
  load16(rs1: number, imm: number): number;
  load32(rs1: number, imm: number): number;
  load64(rs1: number, imm: number, dst: Int32Array, dstIdx: number): void;
  store16(rs1: number, imm: number, value: number): void;
  store32(rs1: number, imm: number, value: number): void;
  store64(rs1: number, imm: number, lo: number, hi: number): void;
}

export type FpExec = (h: FpHart, d: Insn) => void;

/** Effective rounding mode of an instruction with an rm field; throws illegal for 5, 6, or bad frm. */
export function roundingMode(h: FpHart, d: Insn): number {
  const rm = d.rm === 7 ? h.frm : d.rm;
  if (rm > 4) throw h.illegal(d);
  return rm;
}

// Encoding masks shared by the F, D, Zfh and Zfa instruction tables.
export const RM = 0xfe00007f; // opcode + funct7, rm free
export const R3 = 0xfe00707f; // opcode + funct7 + funct3
export const R2RM = 0xfff0007f; // opcode + funct7 + rs2, rm free
export const R2 = 0xfff0707f; // opcode + funct7 + rs2 + funct3
export const R4 = 0x0600007f; // opcode + fmt
