// The JIT of one machine (shared by its harts, like the code cache): hot blocks queue up, are
// translated (translate.ts) and compiled together into one WebAssembly.Module, and the run loop
// enters translated code instead of interpreting the block.
//
// Calls from JavaScript into wasm cost ~20 ns even from a monomorphic site (much more from a
// polymorphic one), more than a short block takes to run, so the run loop enters through one
// dispatcher function, and the dispatcher chains from block to block inside wasm: every
// translated function sits in one funcref table, and the hart's translated-code cache (ST_JCACHE
// in its state slot: virtual pc → table index, tagged with the hart's chainEpoch) finds the next
// one. An entry is valid exactly as long as the run loop's own block chaining would be (any TLB
// flush, privilege change or code invalidation bumps the epoch), so the dispatcher reaches the
// same block the run loop would. It returns to the run loop on a trap, a cache miss, a block
// with an interpreted tail, a used-up budget, or when a slow-path helper saw an interrupt
// become pending or the hart stop (ST_STOP).
//
// Live modules are capped (FIFO eviction); a block dropped by PAGE_CODE invalidation loses its
// function with it. Table slots are reused only after every hart's epoch moved on.
import type { Ram } from "../../memory/ram.js";
import type { Block } from "../code_cache.js";
import { JCACHE_SIZE, ST_COUNT, ST_EPOCH, ST_JCACHE, ST_PC, ST_SCRATCH, ST_STOP, TRAP, type Hart } from "../hart.js";
import type { JitOptions } from "./config.js";
import { BLOCK_PARAMS, FN_INTERP, FN_LOAD, FN_STORE, translateRegion, translatablePrefix } from "./translate.js";
import { buildRegion } from "./region.js";
import type { Insn } from "../insn.js";
import { Code, Module, Op, ValType } from "./wasm.js";

import { JIT_DONE, JIT_NEVER, JIT_NONE, JIT_QUEUED } from "./block_state.js";

export interface JitStats {
  modules: number;
  blocks: number;
  insns: number;
  compileMs: number;
  evictedModules: number;
  /** Entries into translated code from the run loop, and slow-path helper calls (TLB misses, MMIO, faults). */
  entries: number;
  slowCalls: number;
  /** Instructions translated code ran through the interpreter helper (FP off the fast path, atomics...). */
  interpCalls: number;
  /** Blocks in the translated regions (each translated block is a region's entry). */
  regionBlocks: number;
}

/** A compiled module: the blocks it translates (its regions' entries) and every block its regions hold. */
interface LiveModule { blocks: Block[]; members: Block[] }

/** (state slot, pc, table index, budget) → -1, or the trapping instruction's byte offset. */
type Dispatch = (st: number, pc: number, index: number, budget: number) => number;

const SCRATCH = ST_SCRATCH >>> 2;
const JCACHE_ENTRY_BYTES = 16;

export class Jit {
  /** The hart whose translated code runs now (the helpers act on it). */
  hart: Hart | null = null;
  /** Blocks in a compiled region (its entry or a member): they join no other (region.ts). */
  private readonly covered = new WeakSet<Block>();
  readonly stats: JitStats = { modules: 0, blocks: 0, insns: 0, compileMs: 0, evictedModules: 0, entries: 0, slowCalls: 0, interpCalls: 0, regionBlocks: 0 };
  /** The cached block at a RAM offset (set by the code cache): regions gather blocks of one page. */
  blockAt: (ramOff: number) => Block | undefined = () => undefined;
  /** Called when table slots are freed: every hart's epoch must move on (stale cache entries). */
  onFree: () => void = () => {};
  private pending: Block[] = [];
  private pendingSince = 0;
  private readonly live: LiveModule[] = [];
  private readonly env: Record<string, unknown>;
  private readonly freeIndices: number[] = [];
  /**
   * The function table and the dispatcher, made when the first batch is compiled: a run that
   * never gets hot (a short command) skips them (~10 ms of `container run IMAGE true`: the
   * dispatcher's compile and an 8192-slot table). null before; "unavailable" when this host
   * cannot compile WebAssembly, and every block is then interpreted.
   */
  private code: { table: WebAssembly.Table; dispatch: Dispatch } | "unavailable" | null = null;
  /**
   * Live modules kept. At threshold 1 every module holds the blocks just decoded, often one, so
   * the cap counts functions (the table's slots) rather than modules: 512 one-block modules held
   * less than a Linux boot's working set, and the run thrashed (126 s to boot against 47 s).
   */
  private readonly moduleCap: number;
  /** Function table slots: maxModules batches. */
  private readonly slots: number;

  constructor(private readonly ram: Ram, readonly opts: Readonly<JitOptions>) {
    this.slots = opts.maxModules * opts.batch;
    this.moduleCap = opts.threshold === 1 ? this.slots : opts.maxModules;
    this.env = {
      mem: ram.memory as WebAssembly.Memory,
      load: (lo: number, hi: number, f3: number): number => this.load(lo, hi, f3),
      store: (lo: number, hi: number, size: number, vlo: number, vhi: number): number => this.store(lo, hi, size, vlo, vhi),
    };
  }

  /** A JIT for `ram`, or null where generated code cannot run (no WebAssembly or no wasm memory). */
  static create(ram: Ram, opts: Readonly<JitOptions>): Jit | null {
    if (!opts.enabled || ram.memory === null || typeof WebAssembly === "undefined") return null;
    return new Jit(ram, opts);
  }

  /** The table and the dispatcher (made on first use), or null where this host cannot compile WebAssembly. */
  private setUp(): { table: WebAssembly.Table; dispatch: Dispatch } | null {
    if (this.code === null) {
      try {
        const slots = this.slots;
        const table = new WebAssembly.Table({ element: "anyfunc", initial: slots });
        const inst = this.instantiate(dispatcherModule(this.ram.wasmPages, this.ram.shared, slots), [], { table });
        for (let k = slots - 1; k >= 0; k--) this.freeIndices.push(k);
        this.code = { table, dispatch: inst.exports["dispatch"] as Dispatch };
      } catch {
        this.code = "unavailable"; // e.g. a host that forbids compiling WebAssembly
      }
    }
    return this.code === "unavailable" ? null : this.code;
  }

  get pendingCount(): number { return this.pending.length; }

  /**
   * Runs translated block `b` of hart `h` at virtual `pc`, chaining through further whole
   * translated blocks while fewer than `budget` instructions retired (budget 0: this block only).
   * ST_COUNT receives the instructions retired; returns -1 (ST_PC: the next pc, after a whole
   * block) or the trapping instruction's byte offset (ST_PC: its block's start).
   */
  enter(h: Hart, b: Block, pc: number, budget: number): number {
    this.hart = h;
    this.stats.entries++;
    const st = h.st32;
    if (budget > 0) {
      // Remember this block for the dispatcher's chaining.
      const lo = pc | 0;
      const e = (ST_JCACHE + ((lo >>> 1) & (JCACHE_SIZE - 1)) * JCACHE_ENTRY_BYTES) >>> 2;
      st[e] = lo; st[e + 1] = Math.floor(pc / 4294967296) | 0; st[e + 2] = st[ST_EPOCH >>> 2]; st[e + 3] = b.jitIndex;
    }
    st[ST_STOP >>> 2] = 0;
    // A block has a table index only once a batch was compiled, so the code exists.
    return (this.code as { dispatch: Dispatch }).dispatch(h.stateOff, pc, b.jitIndex, budget);
  }

  /** Queues a hot block for translation (at most once). */
  enqueue(b: Block, retired: number): void {
    if (b.jitState !== JIT_NONE) return;
    if (translatablePrefix(b.insns) === 0 || this.code === "unavailable") { b.jitState = JIT_NEVER; return; }
    b.jitState = JIT_QUEUED;
    if (this.pending.length === 0) this.pendingSince = retired;
    this.pending.push(b);
    if (this.pending.length >= this.opts.batch) this.flush();
  }

  /** Compiles a partly filled batch once it has waited `flushAfter` instructions (run loop, between blocks). */
  poll(retired: number): void {
    if (this.pending.length > 0 && retired - this.pendingSince >= this.opts.flushAfter) this.flush();
  }

  /** Translates and compiles every queued block now (one module). */
  flush(): void {
    const blocks = this.pending.filter((b) => b.jitState === JIT_QUEUED);
    this.pending = [];
    if (blocks.length === 0) return;
    const code = this.setUp();
    if (code === null) { for (const b of blocks) b.jitState = JIT_NEVER; return; }
    while (this.freeIndices.length < blocks.length && this.live.length > 0) this.evict();
    const t0 = Date.now();
    const m = new Module();
    importHelpers(m, this.ram.wasmPages, this.ram.shared);
    const ty = m.type(BLOCK_PARAMS, [ValType.I32]);
    const lens: number[] = [];
    const interps: Insn[] = [];
    const covered = this.covered;
    const joins = (t: Block): boolean => t.jitState !== JIT_DONE && !covered.has(t);
    const members: Block[] = [];
    blocks.forEach((b, k) => {
      const { members: held, blocks: region } = buildRegion(b, this.blockAt, this.opts.regionBlocks, joins);
      for (const t of held) { covered.add(t); members.push(t); }
      const f = translateRegion(region, interps);
      m.exportFunction(`f${k}`, m.addFunction(ty, f.locals, f.body));
      lens.push(region[0].count);
      this.stats.regionBlocks += region.length;
      for (const r of region) this.stats.insns += r.count;
    });
    const inst = this.instantiate(m.encode(), interps);
    blocks.forEach((b, k) => {
      const index = this.freeIndices.pop() as number;
      code.table.set(index, inst.exports[`f${k}`]);
      b.jitIndex = index;
      b.jitLen = lens[k];
      b.jitState = JIT_DONE;
    });
    this.stats.modules++;
    this.stats.blocks += blocks.length;
    this.stats.compileMs += Date.now() - t0;
    this.live.push({ blocks, members });
    while (this.live.length > this.moduleCap) this.evict();
  }

  /** Instantiates a module whose FN_INTERP calls run instructions `interps` (by index). */
  private instantiate(bytes: Uint8Array, interps: readonly Insn[], more: Record<string, unknown> = {}): WebAssembly.Instance {
    const env = { ...this.env, ...more, interp: (k: number): number => this.interp(interps[k] as Insn) };
    return new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), { env });
  }

  /** Drops the oldest module: its blocks are interpreted again (and may become hot again). */
  private evict(): void {
    const m = this.live.shift();
    if (m === undefined) return;
    for (const b of m.blocks) this.detach(b, JIT_NONE);
    for (const t of m.members) this.covered.delete(t);
    this.stats.evictedModules++;
    this.onFree();
  }

  /** A block whose page was invalidated: never translated again (the code cache dropped it). The caller bumps the epochs. */
  retire(b: Block): void { this.detach(b, JIT_NEVER); }

  private detach(b: Block, state: number): void {
    if (b.jitIndex >= 0) this.freeIndices.push(b.jitIndex);
    b.jitIndex = -1;
    b.jitLen = 0;
    b.jitState = state;
    b.hits = 0;
  }

  // ---- slow-path helpers (called from generated code; they never throw a guest trap) ----

  /** Asks the dispatcher to return to the run loop when an interrupt became pending or the hart stopped. */
  private checkStop(h: Hart): void {
    if ((h.mip & h.mie) !== 0 || h.stopped || h.wfi) h.st32[ST_STOP >>> 2] = 1;
  }

  /** A load with funct3 f3 through the hart's slow path; the value goes to ST_SCRATCH. Returns 1 on a trap. */
  private load(lo: number, hi: number, f3: number): number {
    const h = this.hart as Hart;
    this.stats.slowCalls++;
    const st = h.st32;
    try {
      let v: number;
      switch (f3) {
        case 0: v = (h.loadSlow(lo, hi, 1) << 24) >> 24; break;
        case 1: v = (h.loadSlow(lo, hi, 2) << 16) >> 16; break;
        case 2: v = h.loadSlow(lo, hi, 4) | 0; break;
        case 3: h.load64Slow(lo, hi, st, SCRATCH); this.checkStop(h); return 0;
        case 4: v = h.loadSlow(lo, hi, 1); st[SCRATCH + 1] = 0; st[SCRATCH] = v; this.checkStop(h); return 0;
        case 5: v = h.loadSlow(lo, hi, 2); st[SCRATCH + 1] = 0; st[SCRATCH] = v; this.checkStop(h); return 0;
        default: v = h.loadSlow(lo, hi, 4); st[SCRATCH + 1] = 0; st[SCRATCH] = v; this.checkStop(h); return 0;
      }
      st[SCRATCH] = v; st[SCRATCH + 1] = v >> 31;
      this.checkStop(h);
      return 0;
    } catch (e) {
      if (e !== TRAP) throw e;
      return 1;
    }
  }

  /**
   * Runs one instruction through the interpreter (its x operands are in the state slot). Returns
   * 1 on a trap (recorded in the hart, as by the slow-path loads and stores).
   */
  private interp(d: Insn): number {
    const h = this.hart as Hart;
    this.stats.interpCalls++;
    const epoch = h.st32[ST_EPOCH >>> 2];
    try {
      d.fn(h, d, 0);
      return this.settle(h, epoch); // (an AMO or SC into cached code, as in `store`)
    } catch (e) {
      return trapStatus(e);
    }
  }

  /**
   * After a helper's access: ask for a return to the run loop on an interrupt, or when the
   * epoch moved (the access changed cached code or dropped a translation: a loop must not run
   * its old instructions again, and the run loop re-decodes from here on). Returns 0.
   */
  private settle(h: Hart, epoch: number): number {
    this.checkStop(h);
    if (h.st32[ST_EPOCH >>> 2] !== epoch) h.st32[ST_STOP >>> 2] = 1;
    return 0;
  }

  private store(lo: number, hi: number, size: number, vlo: number, vhi: number): number {
    const h = this.hart as Hart;
    this.stats.slowCalls++;
    const epoch = h.st32[ST_EPOCH >>> 2];
    try {
      if (size === 8) h.store64Slow(lo, hi, vlo, vhi);
      else h.storeSlow(lo, hi, size, vlo);
      return this.settle(h, epoch);
    } catch (e) {
      return trapStatus(e);
    }
  }
}

/** A helper's status for an exception it caught: 1 for a guest trap (recorded in the hart); anything else propagates. */
function trapStatus(e: unknown): number {
  if (e !== TRAP) throw e;
  return 1;
}

/** The imports every module declares: the helpers (FN_LOAD, FN_STORE, FN_INTERP), the memory and the table. */
function importHelpers(m: Module, pages: number, shared: boolean): void {
  const i32 = ValType.I32;
  if (m.importFunction("env", "load", m.type([i32, i32, i32], [i32])) !== FN_LOAD ||
      m.importFunction("env", "store", m.type([i32, i32, i32, i32, i32], [i32])) !== FN_STORE ||
      m.importFunction("env", "interp", m.type([i32], [i32])) !== FN_INTERP) {
    throw new Error("jit: helper import order");
  }
  // The import must match the memory: shared where RAM is (Node, an isolated page), else unshared.
  m.importMemory({ module: "env", name: "mem", min: pages, max: pages, shared });
}

/**
 * The dispatcher (see the top of this file):
 *   dispatch(st, pc: f64, index, budget) → -1 | trap offset
 *   ST_COUNT = 0
 *   loop: r = table[index](st, pc, budget - ST_COUNT)
 *         r >= 0: return r                     (trap: the function left its block's start in ST_PC)
 *         ST_COUNT >= budget or ST_STOP: return -1
 *         pc = ST_PC; look pc up in the cache (pc and epoch must match), else return -1
 */
function dispatcherModule(pages: number, shared: boolean, slots: number): Uint8Array {
  const m = new Module();
  importHelpers(m, pages, shared);
  m.importTable({ module: "env", name: "table", min: slots });
  const i32 = ValType.I32, i64 = ValType.I64;
  const blockType = m.type(BLOCK_PARAMS, [i32]);
  const ty = m.type([i32, ValType.F64, i32, i32], [i32]);
  const ST = 0, PCF = 1, IDX = 2, BUDGET = 3, PC = 4, R = 5, E = 6;
  const c = new Code();
  c.localGet(PCF).op(Op.i64_trunc_f64_s).localSet(PC);
  c.localGet(ST).i32Const(0).mem(Op.i32_store, 2, ST_COUNT);
  c.begin(Op.loop);
  c.localGet(ST).localGet(PC).localGet(BUDGET).localGet(ST).mem(Op.i32_load, 2, ST_COUNT).op(Op.i32_sub)
    .localGet(IDX).callIndirect(blockType).localTee(R);
  c.i32Const(0).op(Op.i32_ge_s).begin(Op.if).localGet(R).op(Op.return).end();
  c.localGet(ST).mem(Op.i32_load, 2, ST_COUNT).localGet(BUDGET).op(Op.i32_ge_s);
  c.localGet(ST).mem(Op.i32_load, 2, ST_STOP).op(Op.i32_or);
  c.begin(Op.if).i32Const(-1).op(Op.return).end();
  c.localGet(ST).mem(Op.i64_load, 3, ST_PC).localSet(PC);
  // E = st + ST_JCACHE + ((pc >>> 1) & (JCACHE_SIZE - 1)) * 16
  c.localGet(ST).localGet(PC).op(Op.i32_wrap_i64).i32Const(1).op(Op.i32_shr_u).i32Const(JCACHE_SIZE - 1).op(Op.i32_and)
    .i32Const(JCACHE_ENTRY_BYTES).op(Op.i32_mul).op(Op.i32_add).localSet(E);
  c.localGet(E).mem(Op.i64_load, 3, ST_JCACHE).localGet(PC).op(Op.i64_ne);
  c.localGet(E).mem(Op.i32_load, 2, ST_JCACHE + 8).localGet(ST).mem(Op.i32_load, 2, ST_EPOCH).op(Op.i32_ne).op(Op.i32_or);
  c.begin(Op.if).i32Const(-1).op(Op.return).end();
  c.localGet(E).mem(Op.i32_load, 2, ST_JCACHE + 12).localSet(IDX);
  c.br(0);
  c.end();
  c.op(Op.unreachable);
  m.exportFunction("dispatch", m.addFunction(ty, [i64, i32, i32], c));
  return m.encode();
}
