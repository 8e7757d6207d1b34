// Decoded-block cache shared by all harts of a machine (Spike's icache, QEMU's TB cache).
// Blocks are keyed by the physical address of their first instruction, so any virtual
// mapping of the same code reuses them. A page that holds cached code is flagged PAGE_CODE
// in Ram.pageFlags: harts keep such pages out of their write TLBs, so every store or DMA write
// to it reaches Ram.notifyWrite, which drops the page's blocks. FENCE.I therefore needs no work.
import { PAGE_CODE, type Ram } from "../memory/ram.js";
import type { Hart } from "./hart.js";
import { Insn } from "./insn.js";
import { Decoder, decoderFor } from "./decode.js";
import type { Isa } from "./isa.js";
import type { CompiledBlock } from "./block_compiler.js";
import { Jit } from "./jit/jit.js";
import { JIT_NEVER, JIT_NONE } from "./jit/block_state.js";
import { jitOptions, type JitOptions } from "./jit/config.js";

/** Longest block; short enough that interrupts are checked often. */
const MAX_BLOCK = 64;

export class Block {
  // Chaining (QEMU's TB linking, in software): the last two successors this block led to,
  // valid while the hart's `chainEpoch` is unchanged (any TLB flush, privilege change or
  // code invalidation bumps it), so the next block is found without a fetch translation.
  succPc0 = NaN;
  succ0: Block | null = null;
  succEpoch0 = -1;
  succPc1 = NaN;
  succ1: Block | null = null;
  succEpoch1 = -1;
  /** Executions so far; at HOT_BLOCK the block is compiled (block_compiler.ts). */
  hits = 0;
  compiled: CompiledBlock | null = null;
  /** Table index of the WebAssembly translation of the first `jitLen` instructions (src/cpu/jit/), or -1. */
  jitIndex = -1;
  jitLen = 0;
  /** JIT_NONE, JIT_QUEUED, JIT_DONE or JIT_NEVER (untranslatable, or not cached). */
  jitState = JIT_NONE;
  /** RAM offset of the first instruction (its cache key), or -1 for a block that is not cached. */
  ramOff = -1;
  constructor(
    readonly insns: Insn[],
    /** Byte length: the fall-through pc is start + bytes. */
    readonly bytes: number,
    /** The last instruction writes h.pc itself (jumps, branches, xRET). */
    readonly setsPc: boolean,
  ) {}
}

export class CodeCache {
  /**
   * RAM page → (halfword slot in the page → block). Maps, not arrays: both keys are sparse (a
   * page's blocks sit anywhere in its 2048 slots), and V8 keeps a sparse array in dictionary
   * mode, whose stores and loads cost ~20 times a Map's (decoding busybox `true`: ~10 ms).
   */
  private readonly pages = new Map<number, Map<number, Block>>();
  private readonly harts: Hart[] = [];
  /** Blocks decoded so far (statistics). */
  decodedBlocks = 0;

  /** Decodes the instructions of this machine's ISA (all its harts share it). */
  readonly decoder: Decoder;
  readonly isa: Isa;
  /** Translation to WebAssembly (null: off, or unavailable here). */
  readonly jit: Jit | null;

  constructor(readonly ram: Ram, isa?: Isa, jit: Readonly<JitOptions> = jitOptions()) {
    this.decoder = decoderFor(isa);
    this.isa = this.decoder.isa;
    this.jit = Jit.create(ram, jit);
    if (this.jit !== null) {
      this.jit.onFree = () => { for (const h of this.harts) h.chainEpoch++; };
      this.jit.blockAt = (off) => this.pages.get(off >>> 12)?.get((off & 0xfff) >>> 1);
    }
    ram.codeInvalidator = (page) => this.invalidatePage(page);
  }

  addHart(h: Hart): void { this.harts.push(h); }
  /** Forgets a hart that will never run again (an exited thread of the process VM). */
  removeHart(h: Hart): void { const i = this.harts.indexOf(h); if (i >= 0) this.harts.splice(i, 1); }

  invalidatePage(page: number): void {
    const blocks = this.pages.get(page);
    const jit = this.jit;
    if (blocks !== undefined && jit !== null) for (const b of blocks.values()) jit.retire(b);
    this.pages.delete(page);
    this.ram.pageFlags[page] &= ~PAGE_CODE;
    for (const h of this.harts) h.chainEpoch++;
  }

  invalidateAll(): void {
    for (const p of [...this.pages.keys()]) this.invalidatePage(p);
  }

  /** The decoded block starting at virtual `pc` of hart `h` (fetch faults are raised). */
  block(h: Hart, pc: number): Block {
    const off = h.fetchOffset(pc);
    const page = off >>> 12;
    const slot = (off & 0xfff) >>> 1;
    let blocks = this.pages.get(page);
    if (blocks !== undefined) {
      const b = blocks.get(slot);
      if (b !== undefined) return b;
    } else {
      blocks = new Map();
      this.pages.set(page, blocks);
      if ((this.ram.pageFlags[page] & PAGE_CODE) === 0) {
        this.ram.pageFlags[page] |= PAGE_CODE;
        for (const other of this.harts) other.dropWritablePage(page);
      }
    }
    const b = this.build(h, pc, off);
    if (b !== null) {
      blocks.set(slot, b);
      b.ramOff = off;
      // Threshold 1 (testing): translated before it first runs. (A block evicted later is
      // queued again by the run loop on its next execution.)
      if (h.jitEager) (this.jit as Jit).translateNow(b, h.retired);
      return b;
    }
    return this.crossing(h, pc, off);
  }

  /**
   * A 32-bit instruction that starts in the last halfword of a page: decoded alone, through
   * translation of both halves, and not cached (its second half may be remapped).
   */
  private crossing(h: Hart, pc: number, off: number): Block {
    const u8 = this.ram.u8;
    const hiHalf = h.fetch16(pc + 2);
    const raw = (u8[off] | (u8[off + 1] << 8) | (hiHalf << 16)) | 0;
    const d = this.decoder.decode32(raw);
    const b = new Block([d], 4, d.setsPc);
    b.jitState = JIT_NEVER;
    return b;
  }

  /** Decodes a block from RAM offset `off`; null when its first instruction crosses the page. */
  private build(h: Hart, pc: number, off: number): Block | null {
    this.decodedBlocks++;
    const u8 = this.ram.u8;
    const insns: Insn[] = [];
    const pageEnd = (off & ~0xfff) + 4096;
    let o = off;
    while (insns.length < MAX_BLOCK) {
      const lowHalf = u8[o] | (u8[o + 1] << 8);
      let d: Insn;
      if ((lowHalf & 3) !== 3) {
        d = this.decoder.decode16(lowHalf);
      } else if (o + 4 > pageEnd) {
        if (insns.length > 0) break;
        return null;
      } else {
        const raw = lowHalf | ((u8[o + 2] | (u8[o + 3] << 8)) << 16);
        d = this.decoder.decode32(raw);
      }
      // Instructions that read or write CSRs start their own block, so the block loop's
      // instret counting is exact when they read counters.
      if (d.startsBlock && insns.length > 0) break;
      d.off = o - off;
      o += d.len;
      insns.push(d);
      if (d.endsBlock || o >= pageEnd) break;
    }
    const last = insns[insns.length - 1];
    return new Block(insns, o - off, last.setsPc);
  }
}
