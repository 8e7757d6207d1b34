// Decoded-block cache shared by all harts of a machine (Spike's icache, QEMU's TB cache).
// Blocks are keyed by the physical address of their first instruction, so any virtual
// mapping of the same code reuses them. A page that holds cached code is flagged PAGE_CODE
// in Ram.pageFlags: harts keep such pages out of their write TLBs, so every store or DMA write
// to it reaches Ram.notifyWrite, which drops the page's blocks. FENCE.I therefore needs no work.
import { PAGE_CODE, type Ram } from "../memory/ram.js";
import type { Hart } from "./hart.js";
import { Insn } from "./insn.js";
import { decode, expandCompressed } from "./decode.js";

/** Longest block; short enough that interrupts are checked often. */
const MAX_BLOCK = 64;

export type Block = Insn[];

export class CodeCache {
  private readonly pages: (Block[] | undefined)[] = [];
  private readonly harts: Hart[] = [];
  /** Blocks decoded so far (statistics). */
  decodedBlocks = 0;

  constructor(readonly ram: Ram) {
    ram.codeInvalidator = (page) => this.invalidatePage(page);
  }

  addHart(h: Hart): void { this.harts.push(h); }
  /** Forgets a hart that will never run again (an exited thread of the process VM). */
  removeHart(h: Hart): void { const i = this.harts.indexOf(h); if (i >= 0) this.harts.splice(i, 1); }

  invalidatePage(page: number): void {
    this.pages[page] = undefined;
    this.ram.pageFlags[page] &= ~PAGE_CODE;
  }

  invalidateAll(): void {
    for (let p = 0; p < this.pages.length; p++) if (this.pages[p] !== undefined) this.invalidatePage(p);
  }

  /** The decoded block starting at virtual `pc` of hart `h` (fetch faults are raised). */
  block(h: Hart, pc: number): Block {
    const off = h.fetchOffset(pc);
    const page = off >>> 12;
    const slot = (off & 0xfff) >>> 1;
    let blocks = this.pages[page];
    if (blocks !== undefined) {
      const b = blocks[slot];
      if (b !== undefined) return b;
    } else {
      blocks = [];
      this.pages[page] = blocks;
      if ((this.ram.pageFlags[page] & PAGE_CODE) === 0) {
        this.ram.pageFlags[page] |= PAGE_CODE;
        for (const other of this.harts) other.dropWritablePage(page);
      }
    }
    const b = this.build(h, pc, off);
    if (b.cacheable) blocks[slot] = b.insns;
    return b.insns;
  }

  private build(h: Hart, pc: number, off: number): { insns: Block; cacheable: boolean } {
    this.decodedBlocks++;
    const u8 = this.ram.u8;
    const insns: Block = [];
    const pageEnd = (off & ~0xfff) + 4096;
    let o = off;
    let vpc = pc;
    while (insns.length < MAX_BLOCK) {
      const lowHalf = u8[o] | (u8[o + 1] << 8);
      let d: Insn;
      if ((lowHalf & 3) !== 3) {
        d = decode(expandCompressed(lowHalf), lowHalf, 2);
        o += 2;
      } else if (o + 4 > pageEnd) {
        // A 32-bit instruction that crosses into the next page: decode it alone, through
        // translation of both halves, and do not cache it.
        if (insns.length > 0) break;
        const hiHalf = h.fetch16(vpc + 2);
        const raw = (lowHalf | (hiHalf << 16)) | 0;
        return { insns: [decode(raw, raw, 4)], cacheable: false };
      } else {
        const raw = lowHalf | ((u8[o + 2] | (u8[o + 3] << 8)) << 16);
        d = decode(raw, raw, 4);
        o += 4;
      }
      // Instructions that read or write CSRs start their own block, so the block loop's
      // instret counting is exact when they read counters.
      if (d.startsBlock && insns.length > 0) break;
      insns.push(d);
      vpc += d.len;
      if (d.endsBlock || o >= pageEnd) break;
    }
    return { insns, cacheable: true };
  }
}
