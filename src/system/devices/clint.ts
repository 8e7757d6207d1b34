// SiFive CLINT (the ACLINT MSWI + MTIMER pair at one base), as on QEMU's virt board.
//   0x0000 + 4*hart  msip[hart]      bit 0 drives the hart's MSIP
//   0x4000 + 8*hart  mtimecmp[hart]  64-bit; MTIP is level `mtime >= mtimecmp`
//   0xBFF8           mtime           64-bit, 10 MHz, follows host time
// 64-bit values are JS numbers (exact below 2^53: ~28 years at 10 MHz). mtimecmp keeps its
// two halves as written, so all-ones (the reset value) reads back exactly; its numeric
// value only rounds above 2^53, where it is still greater than any mtime.
import type { AccessWidth, Device, IrqLine, Stateful } from "../../memory/device.js";
import type { FdtBuilder } from "../fdt.js";
import { regCells } from "../fdt.js";

export const CLINT_BASE = 0x0200_0000;
export const CLINT_SIZE = 0x10000;
export const CLINT_TIMEBASE_FREQ = 10_000_000;
const TICKS_PER_MS = CLINT_TIMEBASE_FREQ / 1000;
const MSIP = 0x0000;
const MTIMECMP = 0x4000;
const MTIME = 0xbff8;
const TWO32 = 0x1_0000_0000;

export interface ClintHart { msip: IrqLine; mtip: IrqLine }

/**
 * mtime is saved as its value at the snapshot; a restore continues from it (the guest's clock
 * does not jump by the time the snapshot spent on disk). Version 2 adds the latched high word
 * of a 64-bit mtime read done as two 32-bit loads (a snapshot may fall between them).
 */
export interface ClintState {
  version: 1 | 2; mtime: number; msip: number[]; mtimecmpLo: number[]; mtimecmpHi: number[];
  latchedHi?: number; latchValid?: boolean;
}

export class Clint implements Device, Stateful<ClintState> {
  private readonly msip: Uint8Array;
  private readonly cmpLo: Uint32Array;
  private readonly cmpHi: Uint32Array;
  private readonly cmp: Float64Array; // cmpHi * 2^32 + cmpLo
  private readonly mtipLevel: Uint8Array;
  private readonly start: number;
  private offset = 0; // mtime = ticks since start + offset
  // A 64-bit load arrives as two 4-byte reads, low word first: the high word read right
  // after the low word returns the same snapshot, so the pair never tears.
  private latchedHi = 0;
  private latchValid = false;

  /** @param clock host milliseconds (e.g. performance.now); mtime starts at 0. */
  constructor(private readonly harts: readonly ClintHart[], private readonly clock: () => number) {
    const n = harts.length;
    this.msip = new Uint8Array(n);
    this.cmpLo = new Uint32Array(n).fill(0xffffffff);
    this.cmpHi = new Uint32Array(n).fill(0xffffffff);
    this.cmp = new Float64Array(n).fill(0xffffffff * TWO32 + 0xffffffff);
    this.mtipLevel = new Uint8Array(n);
    this.start = clock();
  }

  /** Current mtime (the harts' `time` CSR). */
  mtime(): number {
    return Math.floor((this.clock() - this.start) * TICKS_PER_MS) + this.offset;
  }

  /** Re-evaluates MTIP for every hart. */
  tick(): void {
    const now = this.mtime();
    for (let h = 0; h < this.harts.length; h++) this.updateMtip(h, now);
  }

  /**
   * Host milliseconds until the earliest mtimecmp whose MTIP is not raised yet fires (0 if
   * one is due: call tick()), or Infinity. Raised MTIPs are skipped: they are already in
   * mip, and a hart in WFI with MTIE clear must still be able to sleep.
   */
  nextDeadline(): number {
    const now = this.mtime();
    let best = Infinity;
    for (let h = 0; h < this.harts.length; h++) {
      const c = this.cmp[h];
      if (c >= Number.MAX_SAFE_INTEGER || this.mtipLevel[h] === 1) continue;
      best = Math.min(best, Math.max(0, (c - now) / TICKS_PER_MS));
    }
    return best;
  }

  read(offset: number, width: AccessWidth): number {
    const latched = this.latchValid;
    this.latchValid = false;
    const word = offset & ~3;
    const v = this.readWord(word, latched);
    return width === 4 ? v : (v >>> ((offset & 3) * 8)) & (width === 1 ? 0xff : 0xffff);
  }

  write(offset: number, width: AccessWidth, value: number): void {
    this.latchValid = false;
    const word = offset & ~3;
    let v = value >>> 0;
    if (width !== 4) { // merge a narrow write into the current word
      const shift = (offset & 3) * 8;
      const mask = (width === 1 ? 0xff : 0xffff) << shift;
      v = ((this.readWord(word, false) & ~mask) | ((v << shift) & mask)) >>> 0;
    }
    this.writeWord(word, v);
  }

  private readWord(word: number, latched: boolean): number {
    const n = this.harts.length;
    if (word >= MSIP && word < MSIP + 4 * n) return this.msip[word >> 2];
    if (word >= MTIMECMP && word < MTIMECMP + 8 * n) {
      const h = (word - MTIMECMP) >> 3;
      return (word & 4) === 0 ? this.cmpLo[h] : this.cmpHi[h];
    }
    if (word === MTIME) {
      const t = this.mtime();
      this.latchedHi = Math.floor(t / TWO32) >>> 0;
      this.latchValid = true;
      return t >>> 0;
    }
    if (word === MTIME + 4) return latched ? this.latchedHi : Math.floor(this.mtime() / TWO32) >>> 0;
    return 0;
  }

  private writeWord(word: number, v: number): void {
    const n = this.harts.length;
    if (word >= MSIP && word < MSIP + 4 * n) {
      const h = word >> 2;
      const bit = v & 1; // "msip ... bits 31:1 are hardwired to zero"
      if (bit !== this.msip[h]) { this.msip[h] = bit; this.harts[h].msip.set(bit === 1); }
    } else if (word >= MTIMECMP && word < MTIMECMP + 8 * n) {
      const h = (word - MTIMECMP) >> 3;
      if ((word & 4) === 0) this.cmpLo[h] = v; else this.cmpHi[h] = v;
      this.cmp[h] = this.cmpHi[h] * TWO32 + this.cmpLo[h];
      this.updateMtip(h, this.mtime());
    } else if (word === MTIME || word === MTIME + 4) {
      const t = this.mtime();
      const lo = word === MTIME ? v : t >>> 0;
      const hi = word === MTIME ? Math.floor(t / TWO32) : v;
      this.setMtime(hi * TWO32 + lo);
      this.tick();
    }
  }

  private setMtime(value: number): void {
    this.offset += value - this.mtime();
  }

  private updateMtip(h: number, now: number): void {
    const level = now >= this.cmp[h] ? 1 : 0;
    if (level !== this.mtipLevel[h]) { this.mtipLevel[h] = level; this.harts[h].mtip.set(level === 1); }
  }

  saveState(): ClintState {
    return {
      version: 2, mtime: this.mtime(), msip: [...this.msip], mtimecmpLo: [...this.cmpLo], mtimecmpHi: [...this.cmpHi],
      latchedHi: this.latchedHi, latchValid: this.latchValid,
    };
  }

  loadState(s: ClintState): void {
    if ((s.version !== 1 && s.version !== 2) || s.msip.length !== this.harts.length) throw new Error("clint: incompatible state");
    this.setMtime(s.mtime);
    this.latchedHi = s.latchedHi ?? 0;
    this.latchValid = s.latchValid ?? false;
    for (let h = 0; h < this.harts.length; h++) {
      this.cmpLo[h] = s.mtimecmpLo[h];
      this.cmpHi[h] = s.mtimecmpHi[h];
      this.cmp[h] = this.cmpHi[h] * TWO32 + this.cmpLo[h];
      this.msip[h] = s.msip[h] & 1;
      this.harts[h].msip.set(this.msip[h] === 1);
      this.mtipLevel[h] = 0;
      this.harts[h].mtip.set(false);
    }
    this.tick();
  }
}

/**
 * Writes `clint@<base>` as QEMU virt does: compatible "sifive,clint0", "riscv,clint0";
 * interrupts-extended = <&cpuN_intc 3 (MSI) &cpuN_intc 7 (MTI)> per hart.
 */
export function clintFdt(fdt: FdtBuilder, base: number, size: number, cpuIntcPhandles: readonly number[]): void {
  fdt.beginNode(`clint@${base.toString(16)}`);
  fdt.propStrings("compatible", ["sifive,clint0", "riscv,clint0"]);
  fdt.propCells("reg", regCells(base, size));
  fdt.propCells("interrupts-extended", cpuIntcPhandles.flatMap((p) => [p, 3, p, 7]));
  fdt.endNode();
}
