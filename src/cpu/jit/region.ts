// Regions (v86's unit of translation): a hot block and the cached blocks of its page that direct
// branches, fall-throughs and returns from calls reach from it become one wasm function
// (translate.ts emitRegion), so loops that span several blocks run without returning to the
// dispatcher.
//
// Blocks are keyed by physical address and a region stays within one 4 KiB page, so a block's
// byte distance from the entry is the same in every virtual mapping of the page, and a store or
// DMA into the page invalidates the entry block (the code cache drops the whole page) and with
// it the region. Only whole translatable blocks join; the entry may be a translated prefix
// (then it is a region of one).
//
// A block already translated, or already a member of a compiled region, does not join another
// region (the caller's `joins`): with regions of every reachable cached block,
// blocks were translated ~10 times over and Python's start-up under `exec` took 6.1 s against
// 3.1 s with single blocks, most of it compiling. A loop still runs inside the first region that
// holds it; entering it elsewhere costs one trip through the dispatcher.
import type { Block } from "../code_cache.js";
import { successorOffsets, translatablePrefix, type RegionBlock } from "./translate.js";

const PAGE_BYTES = 4096;

/** A region: its cached blocks (the entry first) and what the translator takes of each. */
export interface Region { members: Block[]; blocks: RegionBlock[] }

/**
 * The region rooted at `entry` (first), with at most `max` blocks, breadth-first from it, of
 * the blocks `joins` accepts.
 */
export function buildRegion(entry: Block, blockAt: (ramOff: number) => Block | undefined, max: number,
  joins: (b: Block) => boolean = () => true): Region {
  const count = translatablePrefix(entry.insns);
  if (count < entry.insns.length || entry.ramOff < 0) return { members: [entry], blocks: [{ insns: entry.insns, count, bytes: entry.bytes, delta: 0 }] };
  const page = entry.ramOff - (entry.ramOff % PAGE_BYTES);
  const members: Block[] = [entry];
  const seen = new Set<Block>([entry]);
  for (let i = 0; i < members.length && members.length < max; i++) {
    const b = members[i];
    for (const o of successorOffsets(b.insns, b.bytes)) {
      const off = b.ramOff + o;
      if (off < page || off >= page + PAGE_BYTES) continue;
      const t = blockAt(off);
      if (t === undefined || seen.has(t)) continue;
      seen.add(t);
      if (members.length < max && joins(t) && translatablePrefix(t.insns) === t.insns.length) members.push(t);
    }
  }
  return { members, blocks: members.map((b) => ({ insns: b.insns, count: b.insns.length, bytes: b.bytes, delta: b.ramOff - entry.ramOff })) };
}
