// SiFive PLIC ("sifive,plic-1.0.0", RISC-V PLIC spec 1.0.0) as on QEMU's virt board.
//   0x000000 + 4*id              priority[id]          (0 = never interrupts; 7 levels: WARL 0..7)
//   0x001000 + 4*w               pending bits, sources 32w..32w+31 (read-only)
//   0x002000 + 0x80*ctx + 4*w    enable bits for context ctx
//   0x200000 + 0x1000*ctx        threshold; +4 claim (read) / complete (write)
// Context 2h is hart h's M-mode (MEIP), 2h+1 its S-mode (SEIP). Sources are level-triggered;
// the gateway forwards one request at a time: "the gateway will not forward a new
// interrupt request to the PLIC core until it receives an interrupt completion message".
import type { AccessWidth, Device, IrqLine, Stateful } from "../../memory/device.js";
import type { FdtBuilder } from "../fdt.js";
import { regCells } from "../fdt.js";

export const PLIC_BASE = 0x0c00_0000;
export const PLIC_SIZE = 0x60_0000;
/** Source ids 0..95; id 0 means "no interrupt", so riscv,ndev = 95. */
export const PLIC_NUM_SOURCES = 96;
const PRIORITY_MASK = 7;
const PENDING_BASE = 0x1000;
const ENABLE_BASE = 0x2000;
const ENABLE_STRIDE = 0x80;
const CONTEXT_BASE = 0x20_0000;
const CONTEXT_STRIDE = 0x1000;

export interface PlicHart { meip: IrqLine; seip: IrqLine }

export interface PlicState {
  version: 1; priority: number[]; level: number[]; pending: number[]; claimed: number[];
  enable: number[]; threshold: number[];
}

export class Plic implements Device, Stateful<PlicState> {
  private readonly words: number;
  private readonly priority: Uint32Array;
  private readonly level: Uint32Array; // input line levels
  private readonly pending: Uint32Array;
  private readonly claimed: Uint32Array; // in service: gateway holds further requests
  private readonly enable: Uint32Array; // [ctx * words + w]
  private readonly threshold: Uint32Array;
  private readonly outputs: IrqLine[];
  private readonly outLevel: Uint8Array;
  private readonly lines: IrqLine[];

  constructor(harts: readonly PlicHart[], readonly numSources = PLIC_NUM_SOURCES) {
    this.words = Math.ceil(numSources / 32);
    this.priority = new Uint32Array(numSources);
    this.level = new Uint32Array(this.words);
    this.pending = new Uint32Array(this.words);
    this.claimed = new Uint32Array(this.words);
    this.outputs = harts.flatMap((h) => [h.meip, h.seip]);
    this.enable = new Uint32Array(this.outputs.length * this.words);
    this.threshold = new Uint32Array(this.outputs.length);
    this.outLevel = new Uint8Array(this.outputs.length);
    this.lines = [];
    for (let id = 0; id < numSources; id++) {
      this.lines.push({ set: (level: boolean): void => this.setSource(id, level) });
    }
  }

  /** The input line of source `id` (1..numSources-1), for the device wired to it. */
  irq(id: number): IrqLine {
    if (id <= 0 || id >= this.numSources) throw new RangeError(`plic: no source ${id}`);
    return this.lines[id];
  }

  read(offset: number, width: AccessWidth): number {
    const word = offset & ~3;
    const v = width === 4 || !this.isClaim(word) ? this.readWord(word) : 0;
    return width === 4 ? v : (v >>> ((offset & 3) * 8)) & (width === 1 ? 0xff : 0xffff);
  }

  write(offset: number, width: AccessWidth, value: number): void {
    const word = offset & ~3;
    let v = value >>> 0;
    if (width !== 4) {
      if (this.isClaim(word)) return;
      const shift = (offset & 3) * 8;
      const mask = (width === 1 ? 0xff : 0xffff) << shift;
      v = ((this.readWord(word) & ~mask) | ((v << shift) & mask)) >>> 0;
    }
    this.writeWord(word, v);
  }

  private isClaim(word: number): boolean {
    return word >= CONTEXT_BASE && (word & (CONTEXT_STRIDE - 1)) === 4;
  }

  /** Returns the context index for a context-register or enable address, or -1. */
  private ctxOf(word: number): number {
    const ctx = word >= CONTEXT_BASE ? (word - CONTEXT_BASE) / CONTEXT_STRIDE | 0 : (word - ENABLE_BASE) / ENABLE_STRIDE | 0;
    return ctx < this.outputs.length ? ctx : -1;
  }

  private readWord(word: number): number {
    if (word < PENDING_BASE) return (word >> 2) < this.numSources ? this.priority[word >> 2] : 0;
    if (word < ENABLE_BASE) {
      const w = (word - PENDING_BASE) >> 2;
      return w < this.words ? this.pending[w] : 0;
    }
    const ctx = this.ctxOf(word);
    if (ctx < 0) return 0;
    if (word < CONTEXT_BASE) {
      const w = ((word - ENABLE_BASE) & (ENABLE_STRIDE - 1)) >> 2;
      return w < this.words ? this.enable[ctx * this.words + w] : 0;
    }
    const reg = word & (CONTEXT_STRIDE - 1);
    if (reg === 0) return this.threshold[ctx];
    if (reg === 4) return this.claim(ctx);
    return 0;
  }

  private writeWord(word: number, v: number): void {
    if (word < PENDING_BASE) {
      const id = word >> 2;
      if (id > 0 && id < this.numSources) { this.priority[id] = v & PRIORITY_MASK; this.update(); }
      return;
    }
    if (word < ENABLE_BASE) return; // pending bits are read-only
    const ctx = this.ctxOf(word);
    if (ctx < 0) return;
    if (word < CONTEXT_BASE) {
      const w = ((word - ENABLE_BASE) & (ENABLE_STRIDE - 1)) >> 2;
      if (w >= this.words) return;
      this.enable[ctx * this.words + w] = v & this.validBits(w);
      this.update();
      return;
    }
    const reg = word & (CONTEXT_STRIDE - 1);
    if (reg === 0) { this.threshold[ctx] = v & PRIORITY_MASK; this.update(); }
    else if (reg === 4) this.complete(ctx, v);
  }

  /** Bits of enable word w that name real sources (source 0 does not exist). */
  private validBits(w: number): number {
    const n = Math.min(32, this.numSources - 32 * w);
    const bits = n === 32 ? 0xffffffff : (1 << n) - 1;
    return (w === 0 ? bits & ~1 : bits) >>> 0;
  }

  /** True while source `id`'s line is high and the gateway has handed it to a hart (claimed, not completed). */
  claimedWhileAsserted(id: number): boolean {
    const w = id >> 5, bit = 1 << (id & 31);
    return (this.level[w] & this.claimed[w] & bit) !== 0;
  }

  private setSource(id: number, high: boolean): void {
    const w = id >> 5;
    const bit = 1 << (id & 31);
    if (high) {
      this.level[w] |= bit;
      if ((this.claimed[w] & bit) === 0) this.pending[w] |= bit;
    } else {
      // A lowered level retracts a request not yet claimed (as QEMU does).
      this.level[w] &= ~bit;
      this.pending[w] &= ~bit;
    }
    this.update();
  }

  /** Highest-priority pending, enabled source above the threshold (ties: lowest id), or 0. */
  private best(ctx: number): number {
    let bestId = 0;
    let bestPrio = this.threshold[ctx];
    const base = ctx * this.words;
    for (let w = 0; w < this.words; w++) {
      let bits = this.pending[w] & ~this.claimed[w] & this.enable[base + w];
      while (bits !== 0) {
        const j = 31 - Math.clz32(bits & -bits);
        bits &= bits - 1;
        const id = w * 32 + j;
        if (this.priority[id] > bestPrio) { bestPrio = this.priority[id]; bestId = id; }
      }
    }
    return bestId;
  }

  private claim(ctx: number): number {
    const id = this.best(ctx);
    if (id !== 0) {
      const w = id >> 5;
      const bit = 1 << (id & 31);
      this.pending[w] &= ~bit;
      this.claimed[w] |= bit;
      this.update();
    }
    return id;
  }

  private complete(ctx: number, id: number): void {
    // "If the completion ID does not match an interrupt source that is currently enabled
    // for the target, the completion is silently ignored."
    if (id <= 0 || id >= this.numSources) return;
    const w = id >> 5;
    const bit = 1 << (id & 31);
    if ((this.enable[ctx * this.words + w] & bit) === 0 || (this.claimed[w] & bit) === 0) return;
    this.claimed[w] &= ~bit;
    if ((this.level[w] & bit) !== 0) this.pending[w] |= bit; // still asserted: request again
    this.update();
  }

  private update(): void {
    for (let ctx = 0; ctx < this.outputs.length; ctx++) {
      const level = this.best(ctx) !== 0 ? 1 : 0;
      if (level !== this.outLevel[ctx]) { this.outLevel[ctx] = level; this.outputs[ctx].set(level === 1); }
    }
  }

  saveState(): PlicState {
    return {
      version: 1, priority: [...this.priority], level: [...this.level], pending: [...this.pending],
      claimed: [...this.claimed], enable: [...this.enable], threshold: [...this.threshold],
    };
  }

  loadState(s: PlicState): void {
    if (s.version !== 1 || s.priority.length !== this.numSources || s.enable.length !== this.enable.length) {
      throw new Error("plic: incompatible state");
    }
    this.priority.set(s.priority);
    this.level.set(s.level);
    this.pending.set(s.pending);
    this.claimed.set(s.claimed);
    this.enable.set(s.enable);
    this.threshold.set(s.threshold);
    for (let ctx = 0; ctx < this.outputs.length; ctx++) { this.outLevel[ctx] = 0; this.outputs[ctx].set(false); }
    this.update();
  }
}

/**
 * Writes `plic@<base>` as QEMU virt does: interrupts-extended = <&cpuN_intc 11 (MEI)
 * &cpuN_intc 9 (SEI)> per hart, riscv,ndev = <ndev> (95 for 96 source ids).
 */
export function plicFdt(
  fdt: FdtBuilder, base: number, size: number, phandle: number, cpuIntcPhandles: readonly number[], ndev = PLIC_NUM_SOURCES - 1,
): void {
  fdt.beginNode(`plic@${base.toString(16)}`);
  fdt.propU32("#interrupt-cells", 1);
  fdt.propU32("#address-cells", 0);
  fdt.propStrings("compatible", ["sifive,plic-1.0.0", "riscv,plic0"]);
  fdt.propEmpty("interrupt-controller");
  fdt.propCells("interrupts-extended", cpuIntcPhandles.flatMap((p) => [p, 11, p, 9]));
  fdt.propCells("reg", regCells(base, size));
  fdt.propU32("riscv,ndev", ndev);
  fdt.propU32("phandle", phandle);
  fdt.endNode();
}
