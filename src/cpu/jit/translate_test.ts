// The translator against the interpreter: the same code on two harts with the same inputs, one
// interpreting and one running every block as WebAssembly (threshold 1: translated before its
// first execution), must end with the same registers, memory, pc, trap CSRs and minstret.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Bus } from "../../memory/bus.js";
import { HART_STATE_SLOTS, Ram } from "../../memory/ram.js";
import { CodeCache } from "../code_cache.js";
import { Hart, ST_JCACHE, ST_TLB } from "../hart.js";
import { INSN_TABLES } from "../decode.js";
import { CSR, PRV_S, PRV_U } from "../csr_numbers.js";
import type { InsnDef } from "../insn.js";
import { EMITTERS } from "./translate.js";
import { JIT_DEFAULTS, jitOptionsFromEnv, type JitOptions } from "./config.js";
import { JIT_DONE } from "./block_state.js";

const BASE = 0x8000_0000;
const MEM = 1 << 20;
/** Data lives from here; code from BASE. */
const DATA = BASE + 0x80000;
const EBREAK = 0x00100073;
const JIT_ON: JitOptions = { ...JIT_DEFAULTS, enabled: true, threshold: 1 };
const JIT_OFF: JitOptions = { ...JIT_DEFAULTS, enabled: false };
/** Translated on the third execution, alone: by then the blocks a loop reaches are decoded and join the region. */
const JIT_REGION: JitOptions = { ...JIT_DEFAULTS, enabled: true, threshold: 3, batch: 1 };

/** xorshift32: reproducible operands. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
}

function hart(opts: JitOptions, code: readonly number[], setup: (h: Hart) => void): Hart {
  const ram = new Ram(BASE, MEM);
  const h = new Hart(0, new Bus(ram), new CodeCache(ram, undefined, opts));
  code.forEach((w, i) => ram.write32(BASE + 4 * i, w >>> 0));
  h.pc = BASE;
  setup(h);
  return h;
}

function csr(h: Hart, n: number): bigint {
  assert.ok(h.csrRead(n));
  return (BigInt(h.csrHi >>> 0) << 32n) | BigInt(h.csrLo >>> 0);
}

/** Runs `code` interpreted and translated for `budget` instructions and compares the outcome. */
function same(code: readonly number[], setup: (h: Hart) => void, budget: number, what: string, opts = JIT_ON): { interp: Hart; jit: Hart } {
  const a = hart(JIT_OFF, code, setup), b = hart(opts, code, setup);
  assert.equal(a.code.jit, null);
  assert.ok(b.code.jit !== null, "WebAssembly is available in Node");
  a.run(budget); b.run(budget);
  for (let r = 0; r < 32; r++) assert.equal(b.getXBig(r), a.getXBig(r), `${what}: x${r}`);
  assert.equal(b.pc, a.pc, `${what}: pc`);
  assert.equal(b.retired, a.retired, `${what}: instret`);
  for (const n of [CSR.mepc, CSR.mcause, CSR.mtval, CSR.minstret]) assert.equal(csr(b, n), csr(a, n), `${what}: csr ${n.toString(16)}`);
  for (let r = 0; r < 32; r++) {
    assert.deepEqual([b.fi[2 * r], b.fi[2 * r + 1]], [a.fi[2 * r], a.fi[2 * r + 1]], `${what}: f${r}`);
  }
  assert.equal(b.fflags, a.fflags, `${what}: fflags`);
  assert.equal(b.fs, a.fs, `${what}: mstatus.FS`);
  assert.deepEqual(b.ram.read(DATA, 0x4000), a.ram.read(DATA, 0x4000), `${what}: memory`);
  return { interp: a, jit: b };
}

/** The translated instructions of the default ISA that neither branch nor jump. */
const STRAIGHT: InsnDef[] = Object.values(INSN_TABLES).flatMap((defs) => defs ?? [])
  .filter((d, i, all) => Object.prototype.hasOwnProperty.call(EMITTERS, d.name) && d.setsPc !== true && all.indexOf(d) === i);
const MEMORY_OPS = new Set(["lb", "lh", "lw", "ld", "lbu", "lhu", "lwu", "sb", "sh", "sw", "sd", "flw", "fld", "fsw", "fsd"]);
const isMemoryOp = (name: string): boolean => MEMORY_OPS.has(name) || /^(amo|lr_|sc_)/.test(name);

/**
 * A random instance of `def`: its fixed bits, random others; rd never x1-x3 (the base
 * registers of memory accesses), and rs1 one of them for loads and stores.
 */
function instance(def: InsnDef, next: () => number): number {
  let w = (def.match | (next() & ~def.mask)) >>> 0;
  const rd = 4 + (next() % 28);
  if ((def.mask & (31 << 7)) === 0) w = (w & ~(31 << 7)) | (rd << 7);
  if (isMemoryOp(def.name)) w = (w & ~(31 << 15)) | ((1 + (next() % 3)) << 15);
  return w >>> 0;
}

function randomRegisters(h: Hart, seed: number): void {
  const next = rng(seed);
  for (let r = 4; r < 32; r++) {
    // Mix small, boundary and full-width values (division overflow, shifts by >= 32...).
    const k = next() % 4;
    const lo = k === 0 ? next() % 64 : k === 1 ? -0x8000_0000 : next() | 0;
    const hi = k === 0 ? 0 : k === 1 ? (next() & 1 ? -1 : -0x8000_0000) : next() | 0;
    h.x[2 * r] = lo; h.x[2 * r + 1] = hi;
  }
  // Base registers: inside the data area (unaligned and near page ends, so accesses miss the
  // TLB's fast path, cross pages or are misaligned).
  h.setX(1, DATA + 0x800 + (next() % 0x1000));
  h.setX(2, DATA + 0x2000 - 4 + (next() % 8));
  h.setX(3, DATA + 0x3000);
  for (let k = 0; k < 0x4000; k += 4) h.ram.write32(DATA + k, next());
  randomFp(h, next);
}

/** Doubles that reach every path of the FP emitters: NaNs, infinities, zeros, subnormals, extremes, ties. */
const FP_SPECIALS: readonly [number, number][] = [
  [0, 0], [0, -0x80000000], [0, 0x7ff00000], [0, -0x100000], [0, 0x7ff80000], [1, 0x7ff00000], [0, 0x3ff00000],
  [1, 0], [-1, 0x000fffff], [-1, 0x7fefffff], [0, 0x00100000], [0, 0x3fe00000], [0, 0x43300000], [1, 0x43300000],
  [0, 0x41e00000], [0, 0x41f00000], [0, 0x43e00000], [0, 0x43f00000], [0, -0x3e200000], [0, 0x3ca00000], [0x40000000, 0x7fe00000],
];

/** Random f registers (some NaN-boxed singles), FS mostly on, frm mostly RNE. */
function randomFp(h: Hart, next: () => number): void {
  for (let r = 0; r < 32; r++) {
    const k = next() % 6;
    let lo: number, hi: number;
    if (k === 0) [lo, hi] = FP_SPECIALS[next() % FP_SPECIALS.length] as [number, number];
    else if (k === 1) { lo = next() | 0; hi = -1; } // a boxed single
    else if (k === 2) { const v = ((next() % 2001) - 1000) / 8; h.f[r] = v; lo = h.fi[2 * r]; hi = h.fi[2 * r + 1]; } // exact products and sums
    else { lo = next() | 0; hi = (next() & 0x800fffff) | ((0x3c0 + (next() % 0x80)) << 20); } // moderate exponents
    h.fi[2 * r] = lo; h.fi[2 * r + 1] = hi;
  }
  const fs = next() % 8;
  h.fs = fs === 0 ? 0 : fs === 1 ? 1 : fs === 2 ? 2 : 3;
  const frm = next() % 8;
  h.frm = frm < 5 ? 0 : frm === 5 ? 1 : frm === 6 ? 3 : 7;
  h.fflags = next() % 4 === 0 ? 1 : 0;
}

test("every translated instruction computes what the interpreter computes (random operands)", () => {
  const next = rng(0x5eed);
  let trials = 0;
  for (const def of STRAIGHT) {
    for (let t = 0; t < 40; t++) {
      const code = [instance(def, next), instance(def, next), instance(def, next), EBREAK];
      const seed = next();
      const { jit } = same(code, (h) => randomRegisters(h, seed), 4, `${def.name} #${t}`);
      trials++;
      // The hart really ran the block as WebAssembly (the ebreak traps in the interpreted tail).
      assert.equal(jit.code.cachedBlock(0)?.jitState, JIT_DONE, `${def.name}: translated`);
    }
  }
  assert.ok(STRAIGHT.length >= 200, `translated instructions: ${STRAIGHT.length}`);
  assert.ok(trials > 3000);
});

test("random blocks of mixed instructions, loads and stores agree with the interpreter", () => {
  const next = rng(42);
  for (let t = 0; t < 300; t++) {
    const n = 5 + (next() % 40);
    const code: number[] = [];
    for (let k = 0; k < n; k++) code.push(instance(STRAIGHT[next() % STRAIGHT.length], next));
    code.push(EBREAK);
    const seed = next();
    same(code, (h) => randomRegisters(h, seed), n + 1, `block #${t}`);
  }
});

// ---- control flow, traps, self-modifying code ----

const I = (op: number, f3: number, rd: number, rs1: number, imm: number): number => (((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0;
const S = (f3: number, rs1: number, rs2: number, imm: number): number =>
  ((((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 31) << 7) | 0x23) >>> 0;
const B = (f3: number, rs1: number, rs2: number, imm: number): number =>
  ((((imm >> 12) & 1) << 31) | (((imm >> 5) & 0x3f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (((imm >> 1) & 0xf) << 8) | (((imm >> 11) & 1) << 7) | 0x63) >>> 0;
const J = (rd: number, imm: number): number =>
  ((((imm >> 20) & 1) << 31) | (((imm >> 1) & 0x3ff) << 21) | (((imm >> 11) & 1) << 20) | (((imm >> 12) & 0xff) << 12) | (rd << 7) | 0x6f) >>> 0;
const addi = (rd: number, rs1: number, imm: number): number => I(0x13, 0, rd, rs1, imm);
const ld = (rd: number, rs1: number, imm: number): number => I(0x03, 3, rd, rs1, imm);
const sw = (rs1: number, rs2: number, imm: number): number => S(2, rs1, rs2, imm);
const sd = (rs1: number, rs2: number, imm: number): number => S(3, rs1, rs2, imm);
const add = (rd: number, rs1: number, rs2: number): number => ((rs2 << 20) | (rs1 << 15) | (rd << 7) | 0x33) >>> 0;
const jalr = (rd: number, rs1: number, imm: number): number => I(0x67, 0, rd, rs1, imm);

test("branches, jal and jalr, loops and chains of translated blocks agree with the interpreter", () => {
  // x5 counts down; an inner self-loop and an outer loop through a jal, a call and a return.
  const code = [
    addi(5, 0, 300),              // 0
    addi(6, 0, 7),                // 4: outer:
    add(7, 7, 6),                 // 8: inner: x7 += x6
    addi(6, 6, -1),               // c
    B(1, 6, 0, -8),               // 10: bne x6, x0, inner
    J(1, 0x14),                   // 14: jal ra, f (0x28)
    addi(5, 5, -1),               // 18
    B(5, 5, 0, -0x18),            // 1c: bge x5, x0, outer
    EBREAK,                       // 20
    EBREAK,                       // 24
    sd(3, 7, 0),                  // 28: f: store x7, load it back
    ld(8, 3, 0),                  // 2c
    B(6, 8, 7, 8),                // 30: bltu x8, x7, +8 (never)
    jalr(0, 1, 0),                // 34: ret
    EBREAK,                       // 38
  ];
  for (const opts of [JIT_ON, JIT_REGION]) {
    for (const budget of [1, 7, 100, 1000, 5000, 100_000]) {
      const { jit } = same(code, (h) => { h.setX(3, DATA); }, budget, `budget ${budget}, threshold ${opts.threshold}`, opts);
      if (budget === 100_000) assert.ok((jit.code.jit?.stats.entries ?? 0) > 0);
    }
  }
});

const fdivD = (rd: number, rs1: number, rs2: number): number => ((0x0d << 25) | (rs2 << 20) | (rs1 << 15) | (7 << 12) | (rd << 7) | 0x53) >>> 0;

test("blocks of one page form a region: branches and fall-throughs between them stay in wasm", () => {
  // P: an instruction run by the interpreter helper (fdiv.d, whose rd field names x12 too) and a
  // conditional exit; Q: writes x12 and jumps back to P. The region emits P before Q, so P's
  // helper call must see (and keep) the x12 that Q's local holds.
  const code = [
    fdivD(12, 1, 2),          // 0: P
    addi(5, 5, -1),           // 4
    B(0, 5, 0, 0x10),         // 8: beq x5, x0, exit (0x18)
    addi(12, 12, 1),          // c: Q
    addi(13, 13, 2),          // 10
    J(0, -0x14),              // 14: j P
    EBREAK,                   // 18
  ];
  const setup = (h: Hart): void => { h.setX(5, 500); h.fs = 1; h.f[1] = 1; h.f[2] = 3; };
  for (const budget of [5, 100, 100_000]) {
    const { jit } = same(code, setup, budget, `region, budget ${budget}`, JIT_REGION);
    const s = jit.code.jit?.stats;
    assert.ok(s !== undefined);
    if (budget === 100_000) {
      assert.ok(s.regionBlocks > s.blocks, "a region of more than one block");
      assert.equal(jit.getX(12), 499);
      assert.ok(s.entries < 20, `the loop ran inside its region (${s.entries} entries)`);
    }
  }
});

test("a block is a member of one region only: blocks of a loop that turn hot together are not translated twice", () => {
  // P and Q (the loop of the test above) reach the threshold in one batch: P's region holds Q,
  // and Q's own translation is Q alone (it used to be Q and P again).
  const code = [addi(5, 5, -1), B(0, 5, 0, 0x14), addi(12, 12, 1), addi(13, 13, 2), addi(14, 14, 3), J(0, -0x14), EBREAK];
  const batched: JitOptions = { ...JIT_REGION, batch: 16, flushAfter: 10 };
  const { jit } = same(code, (h) => { h.setX(5, 500); }, 100_000, "one region per block", batched);
  const s = jit.code.jit?.stats;
  assert.ok(s !== undefined);
  assert.equal(jit.getX(12), 499);
  assert.equal(s.blocks, 2, "P and Q translated");
  assert.equal(s.regionBlocks, 3, "P's region {P, Q} and Q alone");
  assert.ok(s.entries < 20, `the loop ran inside P's region (${s.entries} entries)`);
});

test("a fault in a later block of a region reports that block's pc, mtval and minstret", () => {
  const code = [
    addi(5, 5, 1),            // 0: P
    addi(4, 4, 0x100),        // 4
    B(0, 0, 0, 4),            // 8: beq x0, x0, Q (a block boundary)
    addi(7, 7, 1),            // c: Q
    ld(8, 4, 0),              // 10: faults once x4 is past RAM
    add(9, 9, 8),             // 14
    J(0, -0x18),              // 18: j P
  ];
  // 7 rounds of 7 instructions, then P and Q's first instruction retire: the ld is the 54th (the run stops after its trap).
  const { jit } = same(code, (h) => { h.setX(4, BASE + MEM - 0x800); }, 54, "fault in a region", JIT_REGION);
  assert.equal(jit.retired, 53);
  assert.equal(csr(jit, CSR.mepc), BigInt(BASE + 0x10));
  assert.equal(csr(jit, CSR.mtval), BigInt(BASE + MEM));
  assert.equal(csr(jit, CSR.mcause), 5n);
  assert.ok((jit.code.jit?.stats.regionBlocks ?? 0) > (jit.code.jit?.stats.blocks ?? 0));
});

test("a fault in the middle of a translated block reports the interpreter's mepc, mtval and minstret", () => {
  // The third instruction loads from an address outside RAM: an access fault with mtval = it.
  const code = [addi(5, 5, 1), addi(6, 6, 2), ld(7, 4, 8), addi(8, 8, 3), EBREAK];
  const { jit } = same(code, (h) => { h.setX(4, 0x1000); }, 3, "load fault");
  assert.equal(csr(jit, CSR.mepc), BigInt(BASE + 8));
  assert.equal(csr(jit, CSR.mtval), 0x1008n);
  assert.equal(csr(jit, CSR.mcause), 5n); // load access fault
  assert.equal(jit.retired, 2);
  assert.equal(jit.getX(5), 1); // the instructions before it retired, written back
  // A store fault inside a self-loop, after some iterations: minstret counts them exactly.
  const loop = [addi(5, 5, 1), sd(4, 5, 0), addi(4, 4, 0x100), J(0, -12)];
  same(loop, (h) => { h.setX(4, BASE + MEM - 0x800); }, 1000, "store fault in a loop");
});

test("a store into the running code takes effect after its block (self-modifying code)", () => {
  // 0: addi x6, x6, 1   ← patched to addi x6, x6, 100 by the store at 4, after 50 rounds
  // 4: sw x9, 0(x10) when x11 reaches 0; the loop runs 200 rounds
  const patched = addi(6, 6, 100);
  const code = [
    addi(6, 6, 1),          // 0
    addi(11, 11, -1),       // 4
    B(1, 11, 0, 8),         // 8: bne x11, x0, +8 (skip the store)
    sw(10, 9, 0),           // c
    addi(12, 12, -1),       // 10
    B(1, 12, 0, -0x14),     // 14: bne x12, x0, 0
    EBREAK,
  ];
  const setup = (h: Hart): void => { h.setX(9, patched); h.setX(10, BASE); h.setX(11, 50); h.setX(12, 200); };
  for (const [opts, how] of [[JIT_ON, "blocks"], [JIT_REGION, "regions"]] as const) {
    // With regions the store sits in a block of the loop's region: it drops the region with its page.
    const { jit } = same(code, setup, 2000, `self-modifying (${how})`, opts);
    assert.equal(jit.getX(6), 50 + 150 * 100);
    const s = jit.code.jit?.stats;
    if (opts === JIT_REGION) assert.ok(s !== undefined && s.regionBlocks > s.blocks, "the store sat in a region of several blocks");
    // A tight self-loop that patches its own first instruction leaves the loop at once.
    const tight = [addi(6, 6, 1), sw(10, 9, 0), addi(12, 12, -1), B(1, 12, 0, -12), EBREAK];
    const t = same(tight, setup, 2000, `self-modifying self-loop (${how})`, opts);
    assert.equal(t.jit.getX(6), 1 + 199 * 100);
  }
});

test("DMA into a code page drops its translation", () => {
  const code = [addi(6, 6, 1), addi(12, 12, -1), B(1, 12, 0, -8), EBREAK];
  const h = hart(JIT_ON, code, (x) => { x.setX(12, 10); });
  h.run(1000);
  assert.equal(h.getX(6), 10);
  h.ram.write(BASE, new Uint8Array(new Uint32Array([addi(6, 6, 5)]).buffer)); // as a device would
  h.pc = BASE; h.setX(12, 10);
  h.run(1000);
  assert.equal(h.getX(6), 60);
});

test("a timer interrupt arriving while a translated loop runs is taken within the run's budget", () => {
  // An endless self-loop; an M-mode timer interrupt is enabled and becomes pending between runs.
  const code = [addi(5, 5, 1), J(0, -4)];
  const h = hart(JIT_ON, code, () => {});
  h.ram.write32(BASE + 0x100, J(0, 0)); // the handler: wait in a loop
  h.csrWrite(CSR.mtvec, BASE + 0x100, 0);
  h.csrWrite(CSR.mie, 1 << 7, 0);
  h.csrWrite(CSR.mstatus, 1 << 3, 0);
  const ran = h.run(5000);
  assert.ok(ran >= 5000 && ran < 5002, `a run stops at its budget (${ran})`);
  assert.equal(h.getX(5), 2500);
  h.setIrq(1 << 7, true);
  h.run(10);
  assert.equal(h.getX(5), 2500, "no loop iteration after the interrupt became pending");
  assert.equal(csr(h, CSR.mcause), (1n << 63n) | 7n);
  assert.equal(h.pc, BASE + 0x100);
});

test("generated code only reaches RAM and its hart's state: forged TLB entries are out of the guest's reach", () => {
  // The state slots lie past guest RAM; no guest physical address maps there.
  const h = hart(JIT_ON, [EBREAK], () => {});
  assert.ok(h.stateOff >= MEM);
  assert.ok(!h.ram.contains(BASE + h.stateOff));
  // A guest load from just past RAM (where the state would be if RAM were longer) faults.
  const code = [ld(7, 4, 0), EBREAK];
  const { jit } = same(code, (x) => { x.setX(4, BASE + MEM); }, 1, "past RAM");
  assert.equal(csr(jit, CSR.mcause), 5n);
  assert.equal(jit.getX(7), 0);
  // The TLB and translated-code cache sit inside the slot.
  assert.ok(ST_TLB > 0 && ST_JCACHE > ST_TLB);
});

test("RVISOR_JIT and RVISOR_JIT_THRESHOLD choose the options; bad values are errors", () => {
  assert.equal(jitOptionsFromEnv(JIT_DEFAULTS, {}).enabled, true);
  assert.equal(jitOptionsFromEnv(JIT_DEFAULTS, { RVISOR_JIT: "off" }).enabled, false);
  assert.equal(jitOptionsFromEnv(JIT_DEFAULTS, { RVISOR_JIT: "on" }).enabled, true);
  const forced = jitOptionsFromEnv(JIT_DEFAULTS, { RVISOR_JIT_THRESHOLD: "1" });
  assert.equal(forced.enabled, true);
  assert.equal(forced.threshold, 1);
  assert.equal(jitOptionsFromEnv(JIT_DEFAULTS, { RVISOR_JIT_THRESHOLD: "1", RVISOR_JIT: "off" }).enabled, false);
  assert.throws(() => jitOptionsFromEnv(JIT_DEFAULTS, { RVISOR_JIT_THRESHOLD: "0" }), /positive integer/);
  assert.throws(() => jitOptionsFromEnv(JIT_DEFAULTS, { RVISOR_JIT: "fast" }), /on or off/);
});

test("the cap on live modules evicts the oldest; evicted blocks run interpreted and translate again", () => {
  const code = [addi(6, 6, 1), J(0, 8), EBREAK, addi(7, 7, 1), J(0, 8), EBREAK, addi(8, 8, 1), J(0, -28)];
  const ram = new Ram(BASE, MEM);
  const cc = new CodeCache(ram, undefined, { ...JIT_ON, batch: 1, maxModules: 2 });
  const h = new Hart(0, new Bus(ram), cc);
  code.forEach((w, i) => ram.write32(BASE + 4 * i, w));
  h.pc = BASE;
  h.run(300);
  const stats = cc.jit?.stats;
  assert.ok(stats !== undefined && stats.evictedModules > 0);
  assert.equal(h.getX(6) + h.getX(7) + h.getX(8), 150);
});

test("at threshold 1 the cap counts functions: one-block modules up to maxModules x batch stay live", () => {
  // Three blocks that end in indirect jumps (no lookahead reaches past them), each its own
  // module at threshold 1; the table holds 1 x 4 functions.
  const code = [addi(6, 6, 1), jalr(0, 10, 0), addi(7, 7, 1), jalr(0, 11, 0), addi(8, 8, 1), jalr(0, 12, 0)];
  const ram = new Ram(BASE, MEM);
  const cc = new CodeCache(ram, undefined, { ...JIT_ON, batch: 4, maxModules: 1 });
  const h = new Hart(0, new Bus(ram), cc);
  code.forEach((w, i) => ram.write32(BASE + 4 * i, w));
  h.setX(10, BASE + 8); h.setX(11, BASE + 16); h.setX(12, BASE);
  h.pc = BASE;
  h.run(300);
  const stats = cc.jit?.stats;
  assert.ok(stats !== undefined);
  assert.equal(stats.modules, 3);
  assert.equal(stats.evictedModules, 0);
  assert.equal(h.getX(6) + h.getX(7) + h.getX(8), 150);
});

test("at threshold 1 a block is translated with the blocks of its page it reaches directly, in one module", () => {
  // A: addi; j C   B: ebreak (never reached)   C: addi; beq x0, x0, A (fall-through D: ebreak)
  const code = [addi(6, 6, 1), J(0, 8), EBREAK, addi(7, 7, 1), B(0, 0, 0, -16), EBREAK];
  const ram = new Ram(BASE, MEM);
  const cc = new CodeCache(ram, undefined, { ...JIT_ON, batch: 4 });
  const h = new Hart(0, new Bus(ram), cc);
  code.forEach((w, i) => ram.write32(BASE + 4 * i, w));
  h.pc = BASE;
  h.run(400);
  const stats = cc.jit?.stats;
  assert.ok(stats !== undefined);
  // A, C and C's fall-through (the ebreak at 20) in one module; B was never decoded.
  assert.equal(stats.modules, 1);
  assert.equal(stats.blocks, 2, "the ebreak block has nothing to translate");
  assert.equal(cc.cachedBlock(8), undefined);
  assert.equal(cc.cachedBlock(12)?.jitState, JIT_DONE);
  assert.equal(h.getX(6) + h.getX(7), 200, "100 rounds of 4 instructions");
});

test("translated code under Sv39 in S- and U-mode follows a page-table change after the TLB flush", () => {
  const VA_CODE = 0x4000_0000, VA_DATA = 0x4000_1000;
  const root = BASE + 0x40000, l1 = root + 0x1000, l0 = root + 0x2000;
  const pte = (pa: number, flags: number): number => (pa / 4096) * 1024 + flags;
  const A_D = 0xc0, V = 1, R = 2, W = 4, X = 8, U = 0x10;
  const code = [ld(5, 4, 0), add(6, 6, 5), addi(7, 7, -1), B(1, 7, 0, -12), EBREAK];
  for (const [priv, user] of [[PRV_S, 0], [PRV_U, U]] as const) {
    const harts = [JIT_OFF, JIT_ON].map((opts) => hart(opts, code, (h) => {
      h.ram.write64(root + 8 * 1, pte(l1, V));
      h.ram.write64(l1, pte(l0, V));
      h.ram.write64(l0, pte(BASE, V | R | X | A_D | user));
      h.ram.write64(l0 + 8, pte(DATA, V | R | W | A_D | user));
      h.ram.write64(DATA, 3); h.ram.write64(DATA + 0x1000, 5);
      h.csrWrite(CSR.satp, (root / 4096) >>> 0, 8 << 28);
      h.setPriv(priv);
      h.pc = VA_CODE; h.setX(4, VA_DATA); h.setX(7, 100);
    }));
    for (const h of harts) h.run(400);
    for (const h of harts) {
      // Remap the data page as an OS would, then SFENCE.VMA (which flushes the TLB).
      h.ram.write64(l0 + 8, pte(DATA + 0x1000, V | R | W | A_D | user));
      h.flushTlb();
      h.pc = VA_CODE; h.setX(7, 100);
      h.run(400);
    }
    const [a, b] = harts;
    assert.equal(a.getX(6), 100 * 3 + 100 * 5);
    for (let r = 0; r < 32; r++) assert.equal(b.getXBig(r), a.getXBig(r), `priv ${priv}: x${r}`);
    assert.equal(b.retired, a.retired);
    assert.ok((b.code.jit?.stats.entries ?? 0) > 0);
  }
});

test("a hart created when every state slot is taken runs interpreted, also blocks translated for others", () => {
  const code = [addi(6, 6, 1), addi(12, 12, -1), B(1, 12, 0, -8), EBREAK];
  const ram = new Ram(BASE, MEM);
  const cc = new CodeCache(ram, undefined, JIT_ON);
  code.forEach((w, i) => ram.write32(BASE + 4 * i, w));
  const harts: Hart[] = [];
  for (let k = 0; k <= HART_STATE_SLOTS; k++) harts.push(new Hart(k, new Bus(ram), cc));
  const last = harts[HART_STATE_SLOTS];
  assert.equal(last.stateOff, -1);
  for (const h of [harts[0], last]) {
    h.pc = BASE; h.setX(12, 10);
    h.run(1000);
    assert.equal(h.getX(6), 10);
  }
  assert.ok((cc.jit?.stats.entries ?? 0) > 0);
  // A released slot is reused.
  harts[0].release();
  assert.equal(new Hart(99, new Bus(ram), cc).stateOff, harts[0].stateOff);
});

test("no WebAssembly is compiled (not even the dispatcher) until a block turns hot", () => {
  const Real = WebAssembly.Module;
  let compiled = 0;
  const wasm = WebAssembly as unknown as { Module: typeof WebAssembly.Module };
  wasm.Module = class extends Real { constructor(bytes: WebAssembly.BufferSource) { super(bytes); compiled++; } };
  try {
    const loop = [0x00128293, 0xffdff06f]; // addi x5, x5, 1; jal x0, -4
    const cold = hart({ ...JIT_DEFAULTS, enabled: true }, loop, () => {});
    cold.run(1000);
    assert.ok(cold.code.jit !== null);
    assert.equal(compiled, 0, "a cold run compiles nothing");
    assert.equal(cold.code.jit.stats.modules, 0);
    const hot = hart(JIT_REGION, loop, () => {});
    hot.run(1000);
    assert.ok(hot.code.jit !== null && hot.code.jit.stats.modules > 0, "the loop was translated");
    assert.equal(compiled, 1 + hot.code.jit.stats.modules, "the dispatcher, then one module per batch");
    assert.equal(hot.getXBig(5), cold.getXBig(5));
  } finally {
    wasm.Module = Real;
  }
});
