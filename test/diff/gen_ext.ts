// Extension instruction groups for the differential fuzzer's "extensions" mode (gen.ts
// ExtMode): each group names the gcc -march suffix and the QEMU 7.2 -cpu properties that
// enable it, and draws random instructions of the extension. Another group (e.g. Zfh in
// gen_zfh.ts) joins by being added to EXT_GROUPS.
//
// Source operands are often loaded with a value chosen for the bit-manipulation edge cases
// (0, all ones, single bits, byte patterns, permutation indices) right before the
// instruction, as a setup line of the same item.
import { type ExtGroup, type Item, Rng, hex64, randomInt64, xr, xrNZ } from "./gen.js";
import { zfhGroup } from "./gen_zfh.js";

/** Values where bit-manipulation instructions have their edge cases. */
const BIT_SPECIALS: readonly string[] = [
  "0x0000000000000000", "0xffffffffffffffff", "0x0000000000000001", "0x8000000000000000",
  "0x7fffffffffffffff", "0x00000000ffffffff", "0xffffffff00000000", "0x0000000080000000",
  "0xffffffff80000000", "0x0000000100000000", "0x000000007fffffff", "0x0101010101010101",
  "0x8080808080808080", "0x00ff00ff00ff00ff", "0xff00ff00ff00ff00", "0x0123456789abcdef",
  "0xfedcba9876543210", "0x0706050403020100", "0x0001020304050607", "0x000000000000ff80",
  "0x0000000000008000", "0x000000000000003f", "0x0000000000000020", "0x000000000000001f",
  "0x0000000000000040", "0x00000000000000ff", "0x0000ff0000000000", "0x1000000000000000",
];

/** A value for a source operand: specials, a single set bit, byte/nibble indices, or random. */
function bitValue(r: Rng): string {
  switch (r.int(8)) {
    case 0: case 1: case 2: return r.pick(BIT_SPECIALS);
    case 3: { // one bit set, or one bit clear
      const b = r.int(64), lo = b < 32 ? (1 << b) >>> 0 : 0, hi = b >= 32 ? (1 << (b - 32)) >>> 0 : 0;
      return r.chance(50) ? hex64(hi, lo) : hex64(~hi, ~lo);
    }
    case 4: return hex64(r.u32() & 0x0f0f0f0f, r.u32() & 0x0f0f0f0f); // xperm8/xperm4 indices, half in range
    case 5: { // some zero bytes among non-zero ones (orc.b, clz/ctz of partial values)
      let hi = r.u32(), lo = r.u32();
      for (let i = 0; i < 4; i++) { if (r.chance(50)) hi &= ~(0xff << (8 * i)); if (r.chance(50)) lo &= ~(0xff << (8 * i)); }
      return hex64(hi, lo);
    }
    default: return randomInt64(r);
  }
}

/**
 * A source register: usually whatever a random register holds; sometimes (`percent`) a
 * non-zero register loaded with an edge-case value first (returned as a setup line).
 */
function source(r: Rng, setup: string[], percent = 35): string {
  if (!r.chance(percent)) return xr(r);
  const reg = xrNZ(r);
  setup.push(`li ${reg}, ${bitValue(r)}`);
  return reg;
}

function item(setup: readonly string[], insn: string): Item {
  return { text: [...setup, insn].join("\n  ") };
}

/** A register-register instruction `op rd, rs1, rs2`. */
function rr(r: Rng, ops: readonly string[]): Item {
  const setup: string[] = [];
  const op = r.pick(ops), a = source(r, setup), b = source(r, setup);
  return item(setup, `${op} ${xr(r)}, ${a}, ${b}`);
}
/** A unary instruction `op rd, rs1`. */
function unary(r: Rng, ops: readonly string[]): Item {
  const setup: string[] = [];
  const op = r.pick(ops), a = source(r, setup, 50);
  return item(setup, `${op} ${xr(r)}, ${a}`);
}
/** An instruction with a shift amount `op rd, rs1, shamt`, shamt < `bits`, edge amounts often. */
function shiftImm(r: Rng, ops: readonly string[], bits: number): Item {
  const setup: string[] = [];
  const op = r.pick(ops), a = source(r, setup);
  const sh = r.chance(40) ? r.pick([0, 1, bits / 2 - 1, bits / 2, bits - 1].filter((v) => v < bits)) : r.int(bits);
  return item(setup, `${op} ${xr(r)}, ${a}, ${sh}`);
}

export const zbaGroup: ExtGroup = {
  name: "zba", march: "zba", qemuCpu: "zba=true",
  item(r) {
    const k = r.int(10);
    if (k < 7) return rr(r, ["add.uw", "sh1add", "sh2add", "sh3add", "sh1add.uw", "sh2add.uw", "sh3add.uw"]);
    if (k < 9) return shiftImm(r, ["slli.uw"], 64);
    return unary(r, ["zext.w"]); // add.uw rd, rs1, x0
  },
};

/**
 * ctzw. QEMU 7.2 counts the trailing zeros of the whole 64-bit register when its low word is
 * 0 (ctzw of 1 << 33 gives 33, not 32; fixed in QEMU 8.0, "target/riscv: Fix ctzw behavior"),
 * so the source is either zero-extended from a random register first (the upper word is then
 * 0 and both agree) or loaded with a value whose low word is non-zero (random upper word).
 * test/conformance/zbb.S checks the case QEMU gets wrong against the spec.
 */
function ctzw(r: Rng): Item {
  const rd = xr(r);
  if (r.chance(50)) {
    const t = xrNZ(r);
    return item([`slli ${t}, ${xr(r)}, 32`, `srli ${t}, ${t}, 32`], `ctzw ${rd}, ${t}`);
  }
  const t = xrNZ(r), b = r.int(32);
  const lo = r.chance(50) ? ((1 << b) >>> 0) : (r.u32() | 1 << b) >>> 0;
  return item([`li ${t}, ${hex64(r.u32(), lo)}`], `ctzw ${rd}, ${t}`);
}

export const zbbGroup: ExtGroup = {
  name: "zbb", march: "zbb", qemuCpu: "zbb=true",
  item(r) {
    const k = r.int(10);
    if (k < 4) return rr(r, ["andn", "orn", "xnor", "max", "maxu", "min", "minu", "rol", "ror", "rolw", "rorw"]);
    if (k < 8) {
      if (r.chance(8)) return ctzw(r);
      return unary(r, ["clz", "clzw", "ctz", "cpop", "cpopw", "sext.b", "sext.h", "zext.h", "orc.b", "rev8"]);
    }
    if (k < 9) return shiftImm(r, ["rori"], 64);
    return shiftImm(r, ["roriw"], 32);
  },
};

export const zbcGroup: ExtGroup = {
  name: "zbc", march: "zbc_zbkc", qemuCpu: "zbc=true,zbkc=true",
  item: (r) => rr(r, ["clmul", "clmulh", "clmulr"]),
};

export const zbsGroup: ExtGroup = {
  name: "zbs", march: "zbs", qemuCpu: "zbs=true",
  item(r) {
    if (r.chance(50)) return rr(r, ["bclr", "bext", "binv", "bset"]);
    return shiftImm(r, ["bclri", "bexti", "binvi", "bseti"], 64);
  },
};

export const zbkGroup: ExtGroup = {
  name: "zbkb+zbkx", march: "zbkb_zbkx", qemuCpu: "zbkb=true,zbkx=true",
  item(r) {
    const k = r.int(10);
    if (k < 4) return rr(r, ["pack", "packh", "packw"]);
    if (k < 6) return unary(r, ["brev8"]);
    return rr(r, ["xperm4", "xperm8"]);
  },
};

/** The groups of extensions mode, all enabled together in one program. */
export const EXT_GROUPS: readonly ExtGroup[] = [zbaGroup, zbbGroup, zbcGroup, zbsGroup, zbkGroup, zfhGroup];

/** Share of extension items in an extensions-mode chunk. */
export const EXT_PERCENT = 70;

/** gcc -march for a set of groups. */
export function extMarch(groups: readonly ExtGroup[]): string {
  return ["rv64gc", ...groups.map((g) => g.march)].join("_");
}
/** QEMU -cpu properties for a set of groups. */
export function extQemuCpu(groups: readonly ExtGroup[]): string {
  return groups.map((g) => g.qemuCpu).join(",");
}
