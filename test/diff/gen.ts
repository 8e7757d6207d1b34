// Random RV64GC program generator for differential testing against QEMU (and, in extensions
// mode, of the instruction groups in gen_ext.ts mixed with these base items).
//
// A program is a list of "chunks". Each chunk initialises every x and f register, fcsr and a
// 256-byte scratch area from seeded tables, runs a random straight-line sequence (with some
// forward branches) and then dumps x1..x31, f0..f31 (raw bits), fcsr and the scratch area
// over the HTIF console as one hex value per line. The same ELF runs on QEMU and rvisor and
// the outputs must be identical.
//
// Pure TypeScript, no Node imports: 64-bit values are built as hex strings from a 32-bit
// PRNG, so nothing here depends on JS number precision.
//
// Items: the random sequence is a list of items, each one "random instruction" (some items
// carry setup lines, e.g. `la` of the scratch base before a load). Generation is sequential
// from one PRNG, so the items of a shorter sequence are a prefix of a longer one: renderChunk
// with `count` < items.length is used to bisect to the first diverging instruction.

/** splitmix32-style generator (all 32-bit integer math). */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  u32(): number {
    this.s = (this.s + 0x9e3779b9) >>> 0;
    let z = this.s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  }
  /** Uniform integer in [0, n). */
  int(n: number): number {
    return this.u32() % n;
  }
  pick<T>(a: readonly T[]): T {
    const v = a[this.int(a.length)];
    if (v === undefined) throw new Error("pick from empty array");
    return v;
  }
  chance(percent: number): boolean {
    return this.int(100) < percent;
  }
  /** Signed integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
}

/** Mixes a program seed and a chunk index into a chunk seed. */
export function chunkSeed(seed: number, chunk: number): number {
  const r = new Rng((seed ^ Math.imul(chunk + 1, 0x27d4eb2d)) >>> 0);
  r.u32();
  return r.u32();
}

const hex32 = (v: number): string => (v >>> 0).toString(16).padStart(8, "0");
export const hex64 = (hi: number, lo: number): string => "0x" + hex32(hi) + hex32(lo);

// ---------------------------------------------------------------------------------------
// Operand values

const INT_SPECIALS: readonly string[] = [
  "0x0000000000000000", "0x0000000000000001", "0xffffffffffffffff", "0x0000000000000002",
  "0x7fffffffffffffff", "0x8000000000000000", "0x000000007fffffff", "0x0000000080000000",
  "0x00000000ffffffff", "0xffffffff80000000", "0xffffffff7fffffff", "0x0000000100000000",
  "0x8000000000000001", "0xfffffffffffffffe", "0x000000000000001f", "0x000000000000003f",
  "0x0000000000000020", "0x0000000000000040", "0x00000000000007ff", "0xfffffffffffff800",
  "0x5555555555555555", "0xaaaaaaaaaaaaaaaa", "0x00000000deadbeef", "0xffffffff00000000",
];

// Doubles: zeros, infinities, NaNs (quiet, signalling, with payloads), subnormals, extremes,
// values next to rounding ties and to integer conversion limits.
const F64_SPECIALS: readonly string[] = [
  "0x0000000000000000", "0x8000000000000000", "0x7ff0000000000000", "0xfff0000000000000",
  "0x7ff8000000000000", "0xfff8000000000000", "0x7ff0000000000001", "0x7ff4000000000000",
  "0x7ff8000000012345", "0x0000000000000001", "0x800fffffffffffff", "0x000fffffffffffff",
  "0x0010000000000000", "0x7fefffffffffffff", "0xffefffffffffffff", "0x3ff0000000000000",
  "0xbff0000000000000", "0x3ff8000000000000", "0x4004000000000000", "0xc004000000000000",
  "0x3fe0000000000000", "0x3ff0000000000001", "0x3fefffffffffffff", "0x4330000000000001",
  "0x4340000000000001", "0x41dfffffffc00000", "0x41e0000000000000", "0xc1e0000000000000",
  "0x41efffffffe00000", "0x41f0000000000000", "0x43e0000000000000", "0xc3e0000000000000",
  "0x43f0000000000000", "0x43efffffffffffff", "0x3fd5555555555555", "0x400921fb54442d18",
  "0x36a0000000000000", "0x3690000000000001", "0x47efffffe0000000", "0x47efffff00000000",
  "0x380fffffffffffff", "0x3810000000000000", "0xc00921fb54442d18", "0x3ff0000010000000",
];

// Singles (NaN-boxed when used as singles).
const F32_SPECIALS: readonly number[] = [
  0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7f800001, 0x7fa00000,
  0x7fc12345, 0x00000001, 0x807fffff, 0x007fffff, 0x00800000, 0x7f7fffff, 0xff7fffff, 0x3f800000,
  0xbf800000, 0x3fc00000, 0x40200000, 0xc0200000, 0x3f000000, 0x3f800001, 0x3f7fffff, 0x4b000001,
  0x4b800001, 0x4effffff, 0x4f000000, 0xcf000000, 0x4f7fffff, 0x4f800000, 0x5effffff, 0x5f000000,
  0xdf000000, 0x5f800000, 0x3eaaaaab, 0x40490fdb, 0x0d800000, 0x33000001, 0x3f800010,
];

export function randomInt64(r: Rng): string {
  switch (r.int(6)) {
    case 0:
    case 1:
      return r.pick(INT_SPECIALS);
    case 2: {
      // small signed
      const v = r.range(-20, 20);
      return v < 0 ? hex64(0xffffffff, v) : hex64(0, v);
    }
    case 3: {
      // sign-extended 32-bit
      const lo = r.u32();
      return hex64(lo & 0x80000000 ? 0xffffffff : 0, lo);
    }
    default:
      return hex64(r.u32(), r.u32());
  }
}

function randomF64Bits(r: Rng): string {
  switch (r.int(8)) {
    case 0:
    case 1:
    case 2:
      return r.pick(F64_SPECIALS);
    case 3:
    case 4:
      return hex64(0xffffffff, r.pick(F32_SPECIALS)); // boxed special single
    case 5:
      return hex64(0xffffffff, r.u32()); // boxed random single
    case 6: {
      // a "nice" double: small exponent range, random mantissa
      const hi = ((r.chance(50) ? 0x80000000 : 0) | ((0x3f0 + r.int(0x20)) << 20) | (r.u32() & 0xfffff)) >>> 0;
      return hex64(hi, r.u32());
    }
    default:
      return r.chance(70) ? hex64(r.u32(), r.u32()) : hex64(r.int(4), r.pick(F32_SPECIALS)); // raw / non-boxed single
  }
}

// ---------------------------------------------------------------------------------------
// Registers

const XREGS: readonly string[] = Array.from({ length: 32 }, (_, i) => `x${i}`);
const FREGS: readonly string[] = Array.from({ length: 32 }, (_, i) => `f${i}`);
export const xr = (r: Rng): string => XREGS[r.int(32)] as string; // may be x0
export const xrNZ = (r: Rng): string => XREGS[1 + r.int(31)] as string;
const xc = (r: Rng): string => XREGS[8 + r.int(8)] as string; // compressed x8..x15
const fr = (r: Rng): string => FREGS[r.int(32)] as string;
const fc = (r: Rng): string => FREGS[8 + r.int(8)] as string;
const RMS: readonly string[] = ["rne", "rtz", "rdn", "rup", "rmm", "dyn"];
const rm = (r: Rng): string => r.pick(RMS);
const simm = (r: Rng, bits: number): number => r.range(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1);
const nz = (v: number, alt: number): number => (v === 0 ? alt : v);

export const SCRATCH_BYTES = 256;

const INT_RR = [
  "add", "sub", "sll", "slt", "sltu", "xor", "srl", "sra", "or", "and",
  "addw", "subw", "sllw", "srlw", "sraw",
  "mul", "mulh", "mulhsu", "mulhu", "div", "divu", "rem", "remu",
  "mulw", "divw", "divuw", "remw", "remuw",
] as const;
const INT_RI = ["addi", "slti", "sltiu", "xori", "ori", "andi", "addiw"] as const;
const AMOS = ["amoswap", "amoadd", "amoxor", "amoand", "amoor", "amomin", "amomax", "amominu", "amomaxu"] as const;
const AQRL = ["", ".aq", ".rl", ".aqrl"] as const;
const FP2 = ["fadd", "fsub", "fmul", "fdiv"] as const;
const FP3 = ["fmadd", "fmsub", "fnmsub", "fnmadd"] as const;
const FSGN = ["fsgnj", "fsgnjn", "fsgnjx", "fmin", "fmax"] as const;
const FCMP = ["feq", "flt", "fle"] as const;
const LOADS: readonly [string, number][] = [["lb", 1], ["lh", 2], ["lw", 4], ["ld", 8], ["lbu", 1], ["lhu", 2], ["lwu", 4]];
const STORES: readonly [string, number][] = [["sb", 1], ["sh", 2], ["sw", 4], ["sd", 8]];

/** An aligned offset in the scratch area for an access of `size` bytes. */
const memOff = (r: Rng, size: number): number => r.int(SCRATCH_BYTES / size) * size;

export interface Item {
  /** Assembly lines of this item (setup + the instruction under test). */
  text: string;
  /** For a forward branch: the index of the item after which its label goes. */
  target?: number;
  /** The instruction under test belongs to an extension group (counted separately). */
  ext?: boolean;
}

/**
 * A group of extension instructions for the "extensions" mode (test/diff/gen_ext.ts):
 * `march` is appended to -march=rv64gc (e.g. "zba_zbb"), `qemuCpu` to QEMU's -cpu properties
 * (e.g. "zba=true,zbb=true"), and `item` draws one random instruction of the group.
 */
export interface ExtGroup {
  name: string;
  march: string;
  qemuCpu: string;
  item(r: Rng): Item;
}

/** Extensions mode: `percent` of the items come from `groups` (picked uniformly), the rest are base items. */
export interface ExtMode {
  groups: readonly ExtGroup[];
  percent: number;
}

/** One random item. `index` names branch labels. */
function genItem(r: Rng, index: number, length: number): Item {
  const k = r.int(100);
  const s = r.pick(["", ".s", ".d"]) === ".s" ? "s" : "d";
  // -- integer register-register / immediate (30%)
  if (k < 14) return { text: `${r.pick(INT_RR)} ${xr(r)}, ${xr(r)}, ${xr(r)}` };
  if (k < 20) return { text: `${r.pick(INT_RI)} ${xr(r)}, ${xr(r)}, ${simm(r, 12)}` };
  if (k < 23) {
    const op = r.pick(["slli", "srli", "srai", "slliw", "srliw", "sraiw"]);
    const sh = op.endsWith("w") ? r.pick([0, 1, 31, r.int(32)]) : r.pick([0, 1, 31, 32, 63, r.int(64)]);
    return { text: `${op} ${xr(r)}, ${xr(r)}, ${sh}` };
  }
  if (k < 24) return { text: r.chance(50) ? `lui ${xr(r)}, ${r.int(1 << 20)}` : `auipc ${xr(r)}, ${r.int(1 << 20)}` };
  if (k < 27) return { text: `li ${xrNZ(r)}, ${randomInt64(r)}` };
  // -- compressed integer (8%)
  if (k < 35) {
    switch (r.int(12)) {
      case 0: return { text: `c.addi ${xrNZ(r)}, ${nz(simm(r, 6), 1)}` };
      case 1: return { text: `c.addiw ${xrNZ(r)}, ${simm(r, 6)}` };
      case 2: return { text: `c.li ${xrNZ(r)}, ${simm(r, 6)}` };
      case 3: {
        let rd = xrNZ(r);
        if (rd === "x2") rd = "x5";
        const v = nz(r.int(64), 1);
        return { text: `c.lui ${rd}, ${v >= 32 ? 0xfffe0 + (v - 32) : v}` };
      }
      case 4: return { text: `c.slli ${xrNZ(r)}, ${nz(r.int(64), 1)}` };
      case 5: return { text: `${r.pick(["c.srli", "c.srai"])} ${xc(r)}, ${nz(r.int(64), 1)}` };
      case 6: return { text: `c.andi ${xc(r)}, ${simm(r, 6)}` };
      case 7: return { text: `${r.pick(["c.mv", "c.add"])} ${xrNZ(r)}, ${xrNZ(r)}` };
      case 8: return { text: `${r.pick(["c.sub", "c.xor", "c.or", "c.and", "c.subw", "c.addw"])} ${xc(r)}, ${xc(r)}` };
      case 9: return { text: `c.addi4spn ${xc(r)}, sp, ${4 * nz(r.int(256), 1)}` };
      case 10: return { text: `c.addi16sp sp, ${16 * nz(simm(r, 6), 1)}` };
      default: return { text: "c.nop" };
    }
  }
  // -- loads and stores, all widths, 32- and 16-bit forms (10%)
  if (k < 45) {
    const j = r.int(10);
    if (j < 3) {
      const [op, size] = r.pick(LOADS);
      const rb = xrNZ(r);
      return { text: `la ${rb}, scratch\n  ${op} ${xr(r)}, ${memOff(r, size)}(${rb})` };
    }
    if (j < 5) {
      const [op, size] = r.pick(STORES);
      const rb = xrNZ(r);
      let rs = xr(r);
      if (rs === rb) rs = "x0";
      return { text: `la ${rb}, scratch\n  ${op} ${rs}, ${memOff(r, size)}(${rb})` };
    }
    if (j < 6) {
      const rb = xrNZ(r);
      const w = r.chance(50) ? ["flw", "fsw", 4] as const : ["fld", "fsd", 8] as const;
      return { text: `la ${rb}, scratch\n  ${r.chance(50) ? w[0] : w[1]} ${fr(r)}, ${memOff(r, w[2])}(${rb})` };
    }
    if (j < 8) {
      const rb = xc(r);
      const [op, size, f] = r.pick([["c.lw", 4, false], ["c.ld", 8, false], ["c.sw", 4, false], ["c.sd", 8, false], ["c.fld", 8, true], ["c.fsd", 8, true]] as const);
      const maxOff = size === 4 ? 128 : 256;
      let reg = f ? fc(r) : xc(r);
      if (!f && op.startsWith("c.s") && reg === rb) reg = rb === "x8" ? "x9" : "x8";
      return { text: `la ${rb}, scratch\n  ${op} ${reg}, ${r.int(maxOff / size) * size}(${rb})` };
    }
    const [op, size, f] = r.pick([["c.lwsp", 4, false], ["c.ldsp", 8, false], ["c.swsp", 4, false], ["c.sdsp", 8, false], ["c.fldsp", 8, true], ["c.fsdsp", 8, true]] as const);
    let reg = f ? fr(r) : xrNZ(r);
    if (!f && reg === "x2") reg = "x1";
    return { text: `la sp, scratch\n  ${op} ${reg}, ${memOff(r, size)}(sp)` };
  }
  // -- atomics (5%)
  if (k < 50) {
    const w = r.chance(50) ? "w" : "d";
    const size = w === "w" ? 4 : 8;
    let rb = xrNZ(r);
    if (r.chance(30)) {
      // lr/sc pair on the same address (always succeeds on both), or a lone sc (fails)
      let rd = xrNZ(r);
      if (rd === rb) rb = rd === "x5" ? "x6" : "x5";
      const sc = `sc.${w}${r.pick(AQRL)} ${xr(r)}, ${xr(r)}, (${rb})`;
      if (r.chance(20)) return { text: `la ${rb}, scratch+${memOff(r, size)}\n  ${sc}` };
      return { text: `la ${rb}, scratch+${memOff(r, size)}\n  lr.${w}${r.pick(AQRL)} ${rd}, (${rb})\n  ${sc}` };
    }
    return { text: `la ${rb}, scratch+${memOff(r, size)}\n  ${r.pick(AMOS)}.${w}${r.pick(AQRL)} ${xr(r)}, ${xr(r)}, (${rb})` };
  }
  // -- forward branches and jumps (4%)
  if (k < 54) {
    const target = Math.min(index + 1 + r.int(4), Math.max(index, length - 1));
    const lab = "%L"; // replaced by a per-chunk label when rendering
    switch (r.int(5)) {
      case 0:
      case 1:
        return { text: `${r.pick(["beq", "bne", "blt", "bge", "bltu", "bgeu"])} ${xr(r)}, ${xr(r)}, ${lab}`, target };
      case 2:
        return { text: `${r.pick(["c.beqz", "c.bnez"])} ${xc(r)}, ${lab}`, target };
      case 3:
        return { text: `jal ${xr(r)}, ${lab}`, target };
      default:
        return { text: `c.j ${lab}`, target };
    }
  }
  // -- floating point (46%)
  const j = r.int(100);
  const sfx = s === "s" ? ".s" : ".d";
  if (j < 20) return { text: `${r.pick(FP2)}${sfx} ${fr(r)}, ${fr(r)}, ${fr(r)}, ${rm(r)}` };
  if (j < 30) return { text: `${r.pick(FP3)}${sfx} ${fr(r)}, ${fr(r)}, ${fr(r)}, ${fr(r)}, ${rm(r)}` };
  if (j < 34) return { text: `fsqrt${sfx} ${fr(r)}, ${fr(r)}, ${rm(r)}` };
  if (j < 42) return { text: `${r.pick(FSGN)}${sfx} ${fr(r)}, ${fr(r)}, ${fr(r)}` };
  if (j < 48) return { text: `${r.pick(FCMP)}${sfx} ${xr(r)}, ${fr(r)}, ${fr(r)}` };
  if (j < 50) return { text: `fclass${sfx} ${xr(r)}, ${fr(r)}` };
  if (j < 60) return { text: `fcvt.${r.pick(["w", "wu", "l", "lu"])}${sfx} ${xr(r)}, ${fr(r)}, ${rm(r)}` };
  if (j < 68) {
    const src = r.pick(["w", "wu", "l", "lu"]);
    // fcvt.d.w[u] is exact: the assembler takes no rounding mode for it
    const exact = s === "d" && (src === "w" || src === "wu");
    return { text: `fcvt${sfx}.${src} ${fr(r)}, ${xr(r)}${exact ? "" : ", " + rm(r)}` };
  }
  if (j < 72) return { text: r.chance(50) ? `fcvt.s.d ${fr(r)}, ${fr(r)}, ${rm(r)}` : `fcvt.d.s ${fr(r)}, ${fr(r)}` };
  if (j < 80) {
    switch (r.int(4)) {
      case 0: return { text: `fmv.x.w ${xr(r)}, ${fr(r)}` };
      case 1: return { text: `fmv.w.x ${fr(r)}, ${xr(r)}` };
      case 2: return { text: `fmv.x.d ${xr(r)}, ${fr(r)}` };
      default: return { text: `fmv.d.x ${fr(r)}, ${xr(r)}` };
    }
  }
  if (j < 92) {
    // inject a special value: through an integer register, boxed or not
    const t = xrNZ(r);
    return r.chance(50)
      ? { text: `li ${t}, ${randomF64Bits(r)}\n  fmv.d.x ${fr(r)}, ${t}` }
      : { text: `li ${t}, 0x${hex32(r.pick(F32_SPECIALS))}\n  fmv.w.x ${fr(r)}, ${t}` };
  }
  if (j < 96) return { text: `fsrmi ${r.int(5)}` };
  if (j < 98) return { text: `fsflagsi ${r.int(32)}` };
  return { text: `${r.pick(["frcsr", "frrm", "frflags"])} ${xr(r)}` };
}

export interface Chunk {
  seed: number;
  items: Item[];
  xinit: string[]; // x1..x31
  finit: string[]; // f0..f31
  meminit: string[]; // 32 doublewords
  fcsr: number;
}

/**
 * Generates one chunk: register/memory initial values and `length` random items. Without
 * `ext` (base mode) the PRNG is consumed exactly as before extensions mode existed, so a seed
 * gives the same program as it always did.
 */
export function generateChunk(seed: number, length: number, ext?: ExtMode): Chunk {
  const r = new Rng(seed);
  const xinit = Array.from({ length: 31 }, () => randomInt64(r));
  const finit = Array.from({ length: 32 }, () => randomF64Bits(r));
  const meminit = Array.from({ length: SCRATCH_BYTES / 8 }, () => (r.chance(50) ? randomF64Bits(r) : randomInt64(r)));
  const fcsr = (r.int(5) << 5) | r.int(32);
  const items: Item[] = [];
  for (let i = 0; i < length; i++) {
    if (ext !== undefined && ext.groups.length > 0 && r.chance(ext.percent)) items.push({ ...r.pick(ext.groups).item(r), ext: true });
    else items.push(genItem(r, i, length));
  }
  return { seed, items, xinit, finit, meminit, fcsr };
}

/** Values printed per chunk: x1..x31, f0..f31, fcsr, scratch doublewords. */
export const DUMP_NAMES: readonly string[] = [
  ...Array.from({ length: 31 }, (_, i) => `x${i + 1}`),
  ...Array.from({ length: 32 }, (_, i) => `f${i}`),
  "fcsr",
  ...Array.from({ length: SCRATCH_BYTES / 8 }, (_, i) => `mem[${i * 8}]`),
];

/** Assembly of one chunk (body + data), using `count` of its items (default all). */
function renderChunk(c: Chunk, n: number, count: number): { text: string; data: string } {
  const L: string[] = [];
  const labelsAfter = new Map<number, string[]>();
  const used = Math.min(count, c.items.length);
  for (let i = 0; i < used; i++) {
    const t = c.items[i]?.target;
    if (t !== undefined) {
      const at = Math.min(t, used - 1);
      const list = labelsAfter.get(at) ?? [];
      list.push(`.Lc${n}_${i}`);
      labelsAfter.set(at, list);
    }
  }
  L.push(`chunk${n}:`);
  L.push(`  la x1, meminit${n}`, `  la x2, scratch`, `  li x3, ${SCRATCH_BYTES / 8}`);
  L.push(`1: ld x4, 0(x1)`, `  sd x4, 0(x2)`, `  addi x1, x1, 8`, `  addi x2, x2, 8`, `  addi x3, x3, -1`, `  bnez x3, 1b`);
  L.push(`  la x1, finit${n}`);
  for (let i = 0; i < 32; i++) L.push(`  fld f${i}, ${i * 8}(x1)`);
  L.push(`  li x1, ${c.fcsr}`, `  fscsr x1`);
  L.push(`  la x31, xinit${n}`);
  for (let i = 1; i < 31; i++) L.push(`  ld x${i}, ${(i - 1) * 8}(x31)`);
  L.push(`  ld x31, ${30 * 8}(x31)`);
  L.push(`  # ---- ${used} random items, seed ${c.seed}`);
  for (let i = 0; i < used; i++) {
    L.push(`  ${(c.items[i]?.text ?? "").replace("%L", `.Lc${n}_${i}`)}`);
    for (const lab of labelsAfter.get(i) ?? []) L.push(`${lab}:`);
  }
  L.push(`  # ---- save x1..x31, f0..f31, fcsr, then print`);
  L.push(`  csrw mscratch, x31`, `  la x31, save`);
  for (let i = 1; i < 31; i++) L.push(`  sd x${i}, ${(i - 1) * 8}(x31)`);
  L.push(`  csrr x1, mscratch`, `  sd x1, ${30 * 8}(x31)`);
  for (let i = 0; i < 32; i++) L.push(`  fsd f${i}, ${(31 + i) * 8}(x31)`);
  L.push(`  frcsr x1`, `  sd x1, ${63 * 8}(x31)`, `  call dump`);
  const D: string[] = [];
  D.push(`  .balign 8`, `xinit${n}:`, ...c.xinit.map((v) => `  .dword ${v}`));
  D.push(`finit${n}:`, ...c.finit.map((v) => `  .dword ${v}`));
  D.push(`meminit${n}:`, ...c.meminit.map((v) => `  .dword ${v}`));
  return { text: L.join("\n"), data: D.join("\n") };
}

/** A whole program (assembly text) running the given chunks in order. */
export function renderProgram(chunks: readonly Chunk[], counts?: readonly number[]): string {
  const parts = chunks.map((c, i) => renderChunk(c, i, counts?.[i] ?? c.items.length));
  return `# rvisor differential test program (test/diff/gen.ts); chunk seeds ${chunks.map((c) => c.seed).join(" ")}
  .option norelax
  .option rvc
  .section .text.init, "ax"
  .globl _start
_start:
  la t0, trap
  csrw mtvec, t0
  li t0, (1 << 13)
  csrs mstatus, t0
${parts.map((p) => p.text).join("\n")}
  la t0, done_msg
  call puts
  li t0, 1
  la t1, tohost
2: sd t0, 0(t1)
  j 2b

  .text
# dump: prints the saved x1..x31, f0..f31, fcsr and the scratch area, one hex doubleword
# per line, then "--".
dump:
  mv s2, ra
  la s0, save
  li s1, ${64}
3: ld a0, 0(s0)
  call puthex
  addi s0, s0, 8
  addi s1, s1, -1
  bnez s1, 3b
  la s0, scratch
  li s1, ${SCRATCH_BYTES / 8}
4: ld a0, 0(s0)
  call puthex
  addi s0, s0, 8
  addi s1, s1, -1
  bnez s1, 4b
  la t0, sep_msg
  call puts
  mv ra, s2
  ret

# puthex(a0): 16 hex digits and a newline; clobbers t0-t4, a1
puthex:
  mv t4, ra
  li t3, 60
5: srl t0, a0, t3
  andi t0, t0, 15
  li a1, 10
  blt t0, a1, 6f
  addi t0, t0, 'a' - '0' - 10
6: addi t0, t0, '0'
  call putc
  addi t3, t3, -4
  bgez t3, 5b
  li t0, '\\n'
  call putc
  mv ra, t4
  ret

# putc(t0): HTIF console write, wait until the host has taken it; clobbers t1, t2
putc:
  li t1, 0x0101
  slli t1, t1, 48
  or t1, t1, t0
  la t2, tohost
  sd t1, 0(t2)
7: ld t1, 0(t2)
  bnez t1, 7b
  la t2, fromhost
  sd zero, 0(t2)
  ret

# puts(t0 = string); clobbers t0-t3, t5
puts:
  mv t5, ra
  mv t3, t0
8: lbu t0, 0(t3)
  beqz t0, 9f
  call putc
  addi t3, t3, 1
  j 8b
9: mv ra, t5
  ret

  .balign 4
trap:
  la t0, trap_msg
  call puts
  csrr a0, mcause
  call puthex
  csrr a0, mepc
  call puthex
  csrr a0, mtval
  call puthex
  li t0, 7
  la t1, tohost
10: sd t0, 0(t1)
  j 10b

  .section .rodata
done_msg: .asciz "done\\n"
sep_msg: .asciz "--\\n"
trap_msg: .asciz "TRAP\\n"

  .section .tohost, "aw", @progbits
  .balign 64
  .globl tohost
  .type tohost, @object
  .size tohost, 8
tohost: .dword 0
  .globl fromhost
  .type fromhost, @object
  .size fromhost, 8
fromhost: .dword 0

  .data
  .balign 64
scratch: .fill ${SCRATCH_BYTES / 8}, 8, 0
save: .fill 64, 8, 0
${parts.map((p) => p.data).join("\n")}
`;
}

/** Parses a program's console output into per-chunk value lists. */
export function parseDump(output: string): { chunks: string[][]; done: boolean; trap: string | null } {
  const chunks: string[][] = [];
  let cur: string[] = [];
  let done = false;
  let trap: string | null = null;
  const lines = output.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i] ?? "";
    if (l === "--") {
      chunks.push(cur);
      cur = [];
    } else if (l === "done") done = true;
    else if (l === "TRAP") {
      trap = lines.slice(i + 1, i + 4).join(" ");
      break;
    } else if (l !== "") cur.push(l);
  }
  return { chunks, done, trap };
}

/** Human-readable differences between two dumps of one chunk. */
export function diffChunk(a: readonly string[], b: readonly string[]): string[] {
  const out: string[] = [];
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) out.push(`${DUMP_NAMES[i] ?? `#${i}`}: qemu=${a[i] ?? "(missing)"} rvisor=${b[i] ?? "(missing)"}`);
  }
  return out;
}
