// Decoder tests: no two encodings of an ISA overlap (as Spike checks), the new extensions
// decode only where their extension is in the ISA, RVC expansion of Zcb/Zcmop/Zihintntl, and
// every Zb*/Zicond/Zimop instruction against a BigInt model of its specification on random and
// edge operands, with rd aliasing rs1/rs2 and rd = x0.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Bus } from "../memory/bus.js";
import { Ram } from "../memory/ram.js";
import { CodeCache } from "./code_cache.js";
import { Decoder, INSN_TABLES, INSN_TABLES_JOINT } from "./decode.js";
import { Hart } from "./hart.js";
import { Fmt, type InsnDef } from "./insn.js";
import { Isa, type ExtName } from "./isa.js";

const max = new Decoder(Isa.profile("max"));
const rv64gc = new Decoder(Isa.profile("rv64gc"));
const NEW_EXTS: readonly ExtName[] = ["zba", "zbb", "zbc", "zbs", "zbkb", "zbkc", "zbkx", "zicond", "zimop"];

/** Encodings that are deliberately contained in another one, with the same result. */
const ALIASES: ReadonlySet<string> = new Set(["zext_h/packw"]);

function allDefs(isa: Isa): InsnDef[] {
  const seen = new Set<InsnDef>();
  for (const e of isa.extensions) for (const d of INSN_TABLES[e] ?? []) seen.add(d);
  for (const j of INSN_TABLES_JOINT) if (j.exts.every((e) => isa.has(e))) for (const d of j.defs) seen.add(d);
  return [...seen];
}

test("no two instructions of the max ISA overlap, joint tables included (except listed aliases)", () => {
  const defs = allDefs(Isa.profile("max"));
  const overlaps: string[] = [];
  for (let i = 0; i < defs.length; i++) {
    for (let j = i + 1; j < defs.length; j++) {
      const a = defs[i] as InsnDef, b = defs[j] as InsnDef;
      if ((((a.match ^ b.match) & a.mask & b.mask) >>> 0) !== 0) continue;
      if (!ALIASES.has(`${a.name}/${b.name}`) && !ALIASES.has(`${b.name}/${a.name}`)) overlaps.push(`${a.name}/${b.name}`);
    }
  }
  assert.deepEqual(overlaps, []);
  assert.ok(defs.length > 200);
});

test("Zbb and Zbkb share the same InsnDef objects; Zbc and Zbkc too", () => {
  const zbb = INSN_TABLES.zbb ?? [], zbkb = INSN_TABLES.zbkb ?? [], zbc = INSN_TABLES.zbc ?? [], zbkc = INSN_TABLES.zbkc ?? [];
  for (const name of ["andn", "orn", "xnor", "rol", "ror", "rori", "rolw", "rorw", "roriw", "rev8"]) {
    const a = zbb.find((d) => d.name === name), b = zbkb.find((d) => d.name === name);
    assert.ok(a !== undefined && a === b, name);
  }
  for (const name of ["clmul", "clmulh"]) assert.ok(zbc.find((d) => d.name === name) === zbkc.find((d) => d.name === name), name);
  assert.equal(zbkb.find((d) => d.name === "clz"), undefined);
  assert.equal(zbkc.find((d) => d.name === "clmulr"), undefined);
});

test("every new instruction decodes under max and is illegal under rv64gc", () => {
  let n = 0;
  for (const e of NEW_EXTS) {
    for (const def of INSN_TABLES[e] ?? []) {
      for (const fill of [0, 0x5a5a5a5a, -1]) {
        const raw = (def.match | (fill & ~def.mask)) >>> 0;
        const name = max.decode32(raw).name;
        // zext.h is packw with rs2 = x0: the more specific zext.h wins.
        const want = def.name === "packw" && ((raw >>> 20) & 31) === 0 ? "zext_h" : def.name;
        assert.equal(name, want, `${def.name} ${raw.toString(16)}`);
        assert.equal(rv64gc.decode32(raw).name, "illegal", `${def.name} ${raw.toString(16)} under rv64gc`);
        n++;
      }
    }
  }
  assert.ok(n > 100);
});

test("an extension's instructions decode only with that extension", () => {
  const zbbOnly = new Decoder(new Isa(["i", "zbb"]));
  const zbkbOnly = new Decoder(new Isa(["i", "zbkb"]));
  const ANDN = 0x40c5f533, CLZ = 0x60059513, PACK = 0x08c5c533, CLMULR = 0x0ac5a533, CLMUL = 0x0ac59533;
  assert.equal(zbbOnly.decode32(ANDN).name, "andn");
  assert.equal(zbkbOnly.decode32(ANDN).name, "andn");
  assert.equal(zbbOnly.decode32(CLZ).name, "clz");
  assert.equal(zbkbOnly.decode32(CLZ).name, "illegal");
  assert.equal(zbbOnly.decode32(PACK).name, "illegal");
  assert.equal(zbkbOnly.decode32(PACK).name, "pack");
  const zbkc = new Decoder(new Isa(["i", "zbkc"]));
  assert.equal(zbkc.decode32(CLMUL).name, "clmul");
  assert.equal(zbkc.decode32(CLMULR).name, "illegal");
});

// ---- RVC: Zcb, Zcmop, Zihintntl ----

const CR = (r: number): number => r - 8;
const C = {
  lbu: (rd: number, rs1: number, u: number): number => 0x8000 | (CR(rs1) << 7) | ((u & 1) << 6) | ((u >> 1) << 5) | (CR(rd) << 2),
  lhu: (rd: number, rs1: number, u: number): number => 0x8400 | (CR(rs1) << 7) | ((u >> 1) << 5) | (CR(rd) << 2),
  lh: (rd: number, rs1: number, u: number): number => 0x8440 | (CR(rs1) << 7) | ((u >> 1) << 5) | (CR(rd) << 2),
  sb: (rs2: number, rs1: number, u: number): number => 0x8800 | (CR(rs1) << 7) | ((u & 1) << 6) | ((u >> 1) << 5) | (CR(rs2) << 2),
  sh: (rs2: number, rs1: number, u: number): number => 0x8c00 | (CR(rs1) << 7) | ((u >> 1) << 5) | (CR(rs2) << 2),
  unary: (op: number, rd: number): number => 0x9c61 | (CR(rd) << 7) | (op << 2),
  mul: (rd: number, rs2: number): number => 0x9c41 | (CR(rd) << 7) | (CR(rs2) << 2),
};

test("Zcb expands to the base, Zbb, Zba and M instructions", () => {
  const cases: [number, string, number, number, number][] = [ // parcel, name, rd, rs1, imm
    [C.lbu(10, 9, 3), "lbu", 10, 9, 3], [C.lbu(10, 9, 1), "lbu", 10, 9, 1], [C.lbu(10, 9, 2), "lbu", 10, 9, 2],
    [C.lhu(11, 8, 2), "lhu", 11, 8, 2], [C.lh(11, 8, 2), "lh", 11, 8, 2], [C.lh(11, 8, 0), "lh", 11, 8, 0],
    [C.sb(12, 13, 3), "sb", -1, 13, 3], [C.sh(12, 13, 2), "sh", -1, 13, 2],
    [C.unary(0, 15), "andi", 15, 15, 0xff], [C.unary(1, 15), "sext_b", 15, 15, 0x604], [C.unary(2, 15), "zext_h", 15, 15, 0x080],
    [C.unary(3, 15), "sext_h", 15, 15, 0x605], [C.unary(4, 15), "add_uw", 15, 15, 0], [C.unary(5, 15), "xori", 15, 15, -1],
    [C.mul(14, 9), "mul", 14, 14, 0x029],
  ];
  for (const [c, name, rd, rs1, imm] of cases) {
    const d = max.decode16(c);
    assert.equal(d.name, name, c.toString(16));
    assert.equal(d.len, 2);
    assert.equal(d.raw, c);
    if (rd >= 0) assert.equal(d.rd, rd * 2, `${name} rd`);
    assert.equal(d.rs1, rs1 * 2, `${name} rs1`);
    if (name === "sb" || name === "sh") assert.equal(d.rs2, 24, `${name} rs2`);
    if (name === "mul") assert.equal(d.rs2, 18);
    else assert.equal(d.imm, imm, `${name} imm`);
    assert.equal(rv64gc.decode16(c).name, "illegal", `${name} under rv64gc`);
  }
  // Reserved: c.sh with bit 6 set, unary ops 6 and 7, quadrant-0 funct6 1001xx.
  for (const c of [C.sh(12, 13, 0) | 0x40, C.unary(6, 8), C.unary(7, 8), 0x9000, 0x9400, 0x9800, 0x9c00]) {
    assert.equal(max.decode16(c).name, "illegal", c.toString(16));
  }
});

test("Zcb forms that need Zbb, Zba or M are illegal without them", () => {
  const zcbOnly = new Decoder(new Isa(["i", "c", "zca", "zcb"]));
  assert.equal(zcbOnly.decode16(C.unary(0, 8)).name, "andi");
  assert.equal(zcbOnly.decode16(C.unary(5, 8)).name, "xori");
  assert.equal(zcbOnly.decode16(C.lbu(8, 9, 0)).name, "lbu");
  for (const op of [1, 2, 3, 4]) assert.equal(zcbOnly.decode16(C.unary(op, 8)).name, "illegal", `unary ${op}`);
  assert.equal(zcbOnly.decode16(C.mul(8, 9)).name, "illegal");
  // c.zext.h needs Zbb even where Zbkb's packw would decode its expansion.
  const zcbZbkb = new Decoder(new Isa(["i", "c", "zca", "zcb", "zbkb", "m"]));
  assert.equal(zcbZbkb.decode16(C.unary(2, 8)).name, "illegal");
  assert.equal(zcbZbkb.decode16(C.mul(8, 9)).name, "mul");
});

test("Zcmop: c.mop.n (c.lui xn, 0 for odd n < 16) is a no-op; other c.lui imm = 0 stay reserved", () => {
  for (let n = 1; n < 16; n += 2) {
    const c = 0x6001 | (n << 7);
    const d = max.decode16(c);
    assert.equal(d.name, "addi", `c.mop.${n}`);
    assert.equal(d.rd, 64, `c.mop.${n} writes no register`);
    assert.equal(d.raw, c);
    assert.equal(rv64gc.decode16(c).name, "illegal", `c.mop.${n} under rv64gc`);
  }
  for (const n of [0, 4, 6, 16, 17, 31]) assert.equal(max.decode16(0x6001 | (n << 7)).name, "illegal", `c.lui x${n}, 0`);
});

test("Zihintntl: ntl.* and c.ntl.* are ADDs to x0 in every profile", () => {
  for (const dec of [rv64gc, max]) {
    for (let r = 2; r <= 5; r++) {
      const d32 = dec.decode32((r << 20) | 0x33); // add x0, x0, xr
      const d16 = dec.decode16(0x9002 | (r << 2)); // c.add x0, xr
      for (const d of [d32, d16]) { assert.equal(d.name, "add"); assert.equal(d.rd, 64); }
    }
  }
});

// ---- execution against a BigInt model of the specification ----

const M64 = (1n << 64n) - 1n;
const u64 = (v: bigint): bigint => v & M64;
const s64 = (v: bigint): bigint => BigInt.asIntN(64, v);
const sx32 = (v: bigint): bigint => u64(BigInt.asIntN(32, v));
const zx32 = (v: bigint): bigint => v & 0xffffffffn;
const bitsOf = (v: bigint, lo: number, n: number): bigint => (v >> BigInt(lo)) & ((1n << BigInt(n)) - 1n);
function clzN(v: bigint, n: number): bigint { let i = 0; while (i < n && ((v >> BigInt(n - 1 - i)) & 1n) === 0n) i++; return BigInt(i); }
function ctzN(v: bigint, n: number): bigint { let i = 0; while (i < n && ((v >> BigInt(i)) & 1n) === 0n) i++; return BigInt(i); }
function popN(v: bigint, n: number): bigint { let c = 0n; for (let i = 0; i < n; i++) c += (v >> BigInt(i)) & 1n; return c; }
const rotl = (v: bigint, s: number, n: number): bigint => {
  const m = (1n << BigInt(n)) - 1n; v &= m; s %= n;
  return s === 0 ? v : ((v << BigInt(s)) | (v >> BigInt(n - s))) & m;
};
function clmulFull(a: bigint, b: bigint): bigint { let r = 0n; for (let i = 0n; i < 64n; i++) if ((b >> i) & 1n) r ^= a << i; return r; }
function mapBytes(v: bigint, f: (byte: bigint) => bigint): bigint { let r = 0n; for (let i = 0; i < 8; i++) r |= f(bitsOf(v, 8 * i, 8)) << BigInt(8 * i); return r; }
const revBits8 = (b: bigint): bigint => { let r = 0n; for (let i = 0n; i < 8n; i++) r |= ((b >> i) & 1n) << (7n - i); return r; };

type Model = (a: bigint, b: bigint, imm: number) => bigint;
/** The specification of each instruction on unsigned 64-bit operands (rs1, rs2, shamt). */
const MODELS: Record<string, Model> = {
  add_uw: (a, b) => u64(zx32(a) + b), sh1add: (a, b) => u64((a << 1n) + b), sh2add: (a, b) => u64((a << 2n) + b),
  sh3add: (a, b) => u64((a << 3n) + b), sh1add_uw: (a, b) => u64((zx32(a) << 1n) + b), sh2add_uw: (a, b) => u64((zx32(a) << 2n) + b),
  sh3add_uw: (a, b) => u64((zx32(a) << 3n) + b), slli_uw: (a, _b, s) => u64(zx32(a) << BigInt(s & 63)),
  andn: (a, b) => a & ~b & M64, orn: (a, b) => u64(a | ~b), xnor: (a, b) => u64(~(a ^ b)),
  clz: (a) => clzN(a, 64), clzw: (a) => clzN(zx32(a), 32), ctz: (a) => ctzN(a, 64), ctzw: (a) => ctzN(zx32(a), 32),
  cpop: (a) => popN(a, 64), cpopw: (a) => popN(zx32(a), 32),
  max: (a, b) => (s64(a) >= s64(b) ? a : b), maxu: (a, b) => (a >= b ? a : b), min: (a, b) => (s64(a) < s64(b) ? a : b), minu: (a, b) => (a < b ? a : b),
  sext_b: (a) => u64(BigInt.asIntN(8, a)), sext_h: (a) => u64(BigInt.asIntN(16, a)), zext_h: (a) => a & 0xffffn,
  rol: (a, b) => rotl(a, Number(b & 63n), 64), ror: (a, b) => rotl(a, 64 - Number(b & 63n), 64), rori: (a, _b, s) => rotl(a, 64 - (s & 63), 64),
  rolw: (a, b) => sx32(rotl(a, Number(b & 31n), 32)), rorw: (a, b) => sx32(rotl(a, 32 - Number(b & 31n), 32)),
  roriw: (a, _b, s) => sx32(rotl(a, 32 - (s & 31), 32)),
  orc_b: (a) => mapBytes(a, (x) => (x !== 0n ? 0xffn : 0n)), rev8: (a) => { let r = 0n; for (let i = 0; i < 8; i++) r |= bitsOf(a, 8 * i, 8) << BigInt(56 - 8 * i); return r; },
  clmul: (a, b) => clmulFull(a, b) & M64, clmulh: (a, b) => clmulFull(a, b) >> 64n, clmulr: (a, b) => (clmulFull(a, b) >> 63n) & M64,
  bclr: (a, b) => a & ~(1n << (b & 63n)) & M64, bext: (a, b) => (a >> (b & 63n)) & 1n, binv: (a, b) => a ^ (1n << (b & 63n)), bset: (a, b) => a | (1n << (b & 63n)),
  bclri: (a, _b, s) => a & ~(1n << BigInt(s & 63)) & M64, bexti: (a, _b, s) => (a >> BigInt(s & 63)) & 1n,
  binvi: (a, _b, s) => a ^ (1n << BigInt(s & 63)), bseti: (a, _b, s) => a | (1n << BigInt(s & 63)),
  pack: (a, b) => (zx32(b) << 32n) | zx32(a), packh: (a, b) => ((b & 0xffn) << 8n) | (a & 0xffn), packw: (a, b) => sx32(((b & 0xffffn) << 16n) | (a & 0xffffn)),
  brev8: (a) => mapBytes(a, revBits8),
  xperm4: (a, b) => { let r = 0n; for (let i = 0; i < 16; i++) r |= bitsOf(a, 4 * Number(bitsOf(b, 4 * i, 4)), 4) << BigInt(4 * i); return r; },
  xperm8: (a, b) => { let r = 0n; for (let i = 0; i < 8; i++) { const k = bitsOf(b, 8 * i, 8); if (k < 8n) r |= bitsOf(a, 8 * Number(k), 8) << BigInt(8 * i); } return r; },
  czero_eqz: (a, b) => (b === 0n ? 0n : a), czero_nez: (a, b) => (b !== 0n ? 0n : a),
};

const EDGE: readonly bigint[] = [0n, 1n, M64, 1n << 63n, (1n << 63n) - 1n, 0xffffffffn, 0x80000000n, 0xffffffff80000000n, 1n << 32n,
  0x0123456789abcdefn, 0x0706050403020100n, 0x8080808080808080n, 0x00ff00ff00ff00ffn, 63n, 32n, 31n, 0xffffffff00000000n];

class Rand {
  private s = 0x12345678;
  next(): number { this.s = (Math.imul(this.s ^ (this.s >>> 15), 0x2c1b3c6d) + 0x9e3779b9) | 0; return this.s >>> 0; }
  u64(): bigint {
    const k = this.next() % 4;
    if (k === 0) return EDGE[this.next() % EDGE.length] as bigint;
    if (k === 1) return BigInt(this.next() & 0x0f0f0f0f) << 32n | BigInt(this.next() & 0x0f0f0f0f); // permutation indices
    return (BigInt(this.next()) << 32n) | BigInt(this.next());
  }
}

function hart(): Hart {
  const ram = new Ram(0x8000_0000, 1 << 16);
  return new Hart(0, new Bus(ram), new CodeCache(ram, Isa.profile("max")));
}
function setReg(h: Hart, r: number, v: bigint): void {
  h.x[2 * r] = Number(BigInt.asIntN(32, v)); h.x[2 * r + 1] = Number(BigInt.asIntN(32, v >> 32n));
}

test("Zb*, Zicond and Zimop results match the specification (random and edge operands, aliasing, x0)", () => {
  const h = hart();
  const rnd = new Rand();
  let checked = 0;
  for (const e of NEW_EXTS) {
    for (const def of INSN_TABLES[e] ?? []) {
      const isMop = def.name.startsWith("mop_");
      const model: Model | undefined = isMop ? () => 0n : MODELS[def.name];
      assert.ok(model !== undefined, `no model for ${def.name}`);
      const hasRs2 = (def.mask & 0x01f00000) === 0 && def.fmt !== Fmt.I; // Fmt.I: a shift amount there
      const immBits = (def.mask & 0x03f00000) === 0 ? 6 : (def.mask & 0x01f00000) === 0 ? 5 : 0;
      for (let k = 0; k < 300; k++) {
        const a = k < EDGE.length ? (EDGE[k] as bigint) : rnd.u64(), b = rnd.u64();
        const shamt = immBits === 0 ? 0 : k < 8 ? [0, 1, 31, 32, 33, 63, 5, 16][k] as number % (1 << immBits) : rnd.next() % (1 << immBits);
        // Registers: rd/rs1/rs2 distinct, or rd = rs1, rd = rs2, rs1 = rs2, rd = x0.
        const shape = k % 5;
        const rs1 = 5, rs2 = shape === 3 ? 5 : 6, rd = shape === 1 ? rs1 : shape === 2 && hasRs2 ? rs2 : shape === 4 ? 0 : 7;
        setReg(h, 5, a); setReg(h, 6, b); setReg(h, 7, 0x5555n);
        const bb = rs2 === rs1 ? a : b;
        const raw = (def.match | (rd << 7) | (rs1 << 15) | (hasRs2 ? rs2 << 20 : immBits > 0 ? shamt << 20 : 0)) >>> 0;
        const d = max.decode32(raw);
        assert.equal(d.name, def.name);
        d.fn(h, d, 0);
        const want: bigint = rd === 0 ? 0n : model(a, hasRs2 ? bb : 0n, shamt);
        const got = h.getXBig(rd);
        assert.equal(got, want, `${def.name} rs1=${a.toString(16)} rs2=${bb.toString(16)} imm=${shamt} rd=x${rd}: got ${got.toString(16)} want ${want.toString(16)}`);
        assert.equal(h.getXBig(0), 0n);
        if (rd !== 5) assert.equal(h.getXBig(5), a, `${def.name} changed rs1`);
        checked++;
      }
    }
  }
  assert.ok(checked > 20000);
});

test("decoded flags follow the definitions; raw bits with bit 31 set reach mtval zero-extended", () => {
  const JAL_RA = 0x0080_00ef, CSRRS_CYCLE = 0xc000_2573, ADDI = 0x0010_0513;
  const jal = rv64gc.decode32(JAL_RA), csr = rv64gc.decode32(CSRRS_CYCLE), addi = rv64gc.decode32(ADDI);
  assert.deepEqual([jal.setsPc, jal.endsBlock, jal.startsBlock], [true, true, false], "jal");
  assert.equal(csr.startsBlock, true, "a counter read starts its block");
  assert.deepEqual([addi.setsPc, addi.endsBlock, addi.startsBlock], [false, false, false], "addi");
  // 0xffff_ffff is no instruction: illegal, with every bit of it reported in mtval.
  const ram = new Ram(0x8000_0000, 1 << 16);
  const hart = new Hart(0, new Bus(ram), new CodeCache(ram));
  const bad = rv64gc.decode32(0xffff_ffff);
  assert.equal(bad.name, "illegal");
  assert.equal(bad.endsBlock, true);
  hart.illegal(bad);
  assert.equal(hart.excCause, 2);
  assert.equal(hart.excTvalLo >>> 0, 0xffff_ffff);
  assert.equal(hart.excTvalHi, 0);
});

test("lookup finds what a scan of every definition, most specific first, finds (each profile; random words and every encoding)", () => {
  const bitCount = (v: number): number => { let n = 0; for (let x = v >>> 0; x !== 0; x &= x - 1) n++; return n; };
  let s = 0x1234567;
  const next = (): number => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
  for (const name of ["rv64gc", "rva22", "max"] as const) {
    const isa = Isa.profile(name), d = new Decoder(isa);
    const ordered = allDefs(isa).sort((a, b) => bitCount(b.mask) - bitCount(a.mask));
    const scan = (raw: number): InsnDef | null => ordered.find((def) => ((raw & def.mask) >>> 0) === def.match >>> 0) ?? null;
    const words: number[] = [];
    for (const def of ordered) for (let k = 0; k < 16; k++) words.push((def.match | (next() & ~def.mask)) >>> 0);
    for (let k = 0; k < 100_000; k++) words.push(next() | 3);
    for (const w of words) assert.equal(d.lookup(w)?.name ?? null, scan(w)?.name ?? null, `${name}: ${w.toString(16)}`);
  }
});
