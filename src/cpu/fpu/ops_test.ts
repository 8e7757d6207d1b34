import { test } from "node:test";
import assert from "node:assert/strict";
import { fpst, NV, DZ, OF, UF, NX, RNE, RTZ, RDN, RUP, RMM, f32FromBits, f32Bits } from "./bits.js";
import { FFmt, IntKind, fadd, fsub, fmul, fdiv, fsqrt, fmadd, fmaBig, fminmax, cvtToInt, cvtFromInt, cvtSD } from "./ops.js";
import { MAX64, MAX32 } from "./round.js";
import { Insn } from "../insn.js";
import { rv64f } from "../insns/rv64f.js";
import { rv64d } from "../insns/rv64d.js";
import type { FpHart } from "./fp_hart.js";

const S = FFmt.S, D = FFmt.D;

/** Runs fn with cleared flags and checks value (Object.is, so -0 counts) and flags. */
function check(fn: () => number, value: number, flags: number, what = ""): void {
  fpst.flags = 0;
  const r = fn();
  assert.ok(Object.is(r, value) || (r !== r && value !== value), `${what}: got ${r}, want ${value}`);
  assert.equal(fpst.flags, flags, `${what}: flags ${fpst.flags.toString(2)} want ${flags.toString(2)}`);
}

test("1 + 2^-60 in every rounding mode", () => {
  const t = 2 ** -60;
  check(() => fadd(1, t, D, RNE), 1, NX);
  check(() => fadd(1, t, D, RTZ), 1, NX);
  check(() => fadd(1, t, D, RDN), 1, NX);
  check(() => fadd(1, t, D, RUP), 1 + 2 ** -52, NX);
  check(() => fadd(1, t, D, RMM), 1, NX);
  check(() => fadd(-1, -t, D, RDN), -1 - 2 ** -52, NX);
  check(() => fadd(-1, -t, D, RUP), -1, NX);
  check(() => fadd(-1, -t, D, RTZ), -1, NX);
  // single precision
  check(() => fadd(1, t, S, RUP), 1 + 2 ** -23, NX);
  check(() => fadd(1, t, S, RNE), 1, NX);
  check(() => fsub(1, t, S, RDN), 1 - 2 ** -24, NX);
  check(() => fsub(1, t, S, RTZ), 1 - 2 ** -24, NX);
  check(() => fsub(1, t, D, RTZ), 1 - 2 ** -53, NX);
});

test("ties: RNE to even, RMM away", () => {
  check(() => fadd(1, 2 ** -53, D, RNE), 1, NX);
  check(() => fadd(1, 2 ** -53, D, RMM), 1 + 2 ** -52, NX);
  check(() => fadd(-1, -(2 ** -53), D, RMM), -1 - 2 ** -52, NX);
  check(() => fadd(1 + 2 ** -52, 2 ** -53, D, RNE), 1 + 2 ** -51, NX);
  check(() => fadd(1, 2 ** -24, S, RNE), 1, NX);
  check(() => fadd(1, 2 ** -24, S, RMM), 1 + 2 ** -23, NX);
  check(() => cvtFromInt(2 ** 24 + 1, 0, IntKind.W, S, RNE), 2 ** 24, NX);
  check(() => cvtFromInt(2 ** 24 + 1, 0, IntKind.W, S, RUP), 2 ** 24 + 2, NX);
  check(() => cvtFromInt(2 ** 24 + 1, 0, IntKind.W, S, RMM), 2 ** 24 + 2, NX);
  check(() => cvtFromInt(1, 0x200000, IntKind.L, D, RNE), 2 ** 53, NX); // 2^53 + 1
  check(() => cvtFromInt(1, 0x200000, IntKind.L, D, RMM), 2 ** 53 + 2, NX);
  check(() => cvtFromInt(-1, -1, IntKind.LU, D, RNE), 2 ** 64, NX);
  check(() => cvtFromInt(-1, -1, IntKind.LU, D, RTZ), 2 ** 64 - 2048, NX);
  check(() => cvtFromInt(-1, -1, IntKind.L, D, RTZ), -1, 0);
});

test("overflow: infinity or max finite by rounding mode", () => {
  check(() => fadd(MAX64, MAX64, D, RNE), Infinity, OF | NX);
  check(() => fadd(MAX64, MAX64, D, RTZ), MAX64, OF | NX);
  check(() => fadd(MAX64, MAX64, D, RDN), MAX64, OF | NX);
  check(() => fadd(MAX64, MAX64, D, RUP), Infinity, OF | NX);
  check(() => fadd(-MAX64, -MAX64, D, RDN), -Infinity, OF | NX);
  check(() => fadd(-MAX64, -MAX64, D, RUP), -MAX64, OF | NX);
  check(() => fmul(MAX32, 2, S, RTZ), MAX32, OF | NX);
  check(() => fmul(MAX32, -2, S, RMM), -Infinity, OF | NX);
  check(() => cvtSD(1e300, RTZ), MAX32, OF | NX);
  check(() => cvtSD(-1e300, RNE), -Infinity, OF | NX);
  // just below the overflow threshold in RNE: MAX32 + half ulp - tiny rounds down
  check(() => cvtSD(MAX32 + 2 ** 103 - 2 ** 75, RNE), MAX32, NX);
  check(() => cvtSD(MAX32 + 2 ** 103, RNE), Infinity, OF | NX);
});

test("underflow: tininess after rounding, UF only when inexact", () => {
  const m126 = 2 ** -126;
  check(() => fmul(m126, 0.5, S, RNE), 2 ** -127, 0, "exact subnormal");
  check(() => fmul(m126, 1 - 2 ** -24, S, RNE), m126, UF | NX, "rounds up to min normal but tiny");
  check(() => cvtSD(m126 * (1 - 2 ** -26), RNE), m126, NX, "not tiny after rounding");
  check(() => cvtSD(m126 * (1 - 2 ** -26), RTZ), m126 - 2 ** -149, UF | NX, "RTZ: tiny");
  check(() => cvtSD(2 ** -151, RNE), 0, UF | NX);
  check(() => cvtSD(2 ** -151, RUP), 2 ** -149, UF | NX);
  check(() => cvtSD(-(2 ** -151), RDN), -(2 ** -149), UF | NX);
  check(() => cvtSD(-(2 ** -151), RNE), -0, UF | NX);
  check(() => fmul(2 ** -1022, 0.5, D, RNE), 2 ** -1023, 0);
  check(() => fmul(2 ** -1022, 1 - 2 ** -53, D, RNE), 2 ** -1022, UF | NX);
  check(() => fmul(2 ** -1000, 2 ** -100, D, RNE), 0, UF | NX);
  check(() => fmul(2 ** -1000, 2 ** -100, D, RUP), 2 ** -1074, UF | NX);
  check(() => fdiv(2 ** -1074, 3, D, RNE), 0, UF | NX);
  check(() => fdiv(2 ** -1074, 2, D, RNE), 0, UF | NX); // tie to even 0
  check(() => fdiv(3 * 2 ** -1074, 2, D, RNE), 2 ** -1073, UF | NX);
});

test("fused multiply-add rounds once", () => {
  const a = 1 + 2 ** -30, b = 1 - 2 ** -30;
  check(() => fmadd(a, b, -1, D, RNE), -(2 ** -60), 0);
  check(() => fadd(fmul(a, b, D, RNE), -1, D, RNE), 0, NX); // separate roundings lose it
  const as = 1 + 2 ** -12, bs = 1 - 2 ** -12;
  check(() => fmadd(as, bs, -1, S, RNE), -(2 ** -24), 0);
  check(() => fmadd(Infinity, 0, NaN, D, RNE), NaN, NV, "inf*0 + qNaN is invalid");
  check(() => fmadd(Infinity, 1, -Infinity, S, RNE), NaN, NV);
  check(() => fmadd(2, 3, -6, D, RDN), -0, 0);
  check(() => fmadd(2, 3, -6, D, RNE), 0, 0);
  check(() => fmadd(-0, 3, -0, D, RNE), -0, 0);
  check(() => fmadd(MAX64, 2, -MAX64, D, RNE), MAX64, 0);
});

test("division, square root, invalid operations", () => {
  check(() => fdiv(1, 0, D, RNE), Infinity, DZ);
  check(() => fdiv(-1, 0, S, RNE), -Infinity, DZ);
  check(() => fdiv(0, 0, D, RNE), NaN, NV);
  check(() => fdiv(1, 3, D, RUP), 0.33333333333333337, NX);
  check(() => fdiv(1, 3, D, RDN), 0.3333333333333333, NX);
  check(() => fdiv(1, 3, S, RUP), Math.fround(1 / 3), NX);
  check(() => fdiv(1, 3, S, RDN), f32FromBits(f32Bits(1 / 3) - 1), NX);
  check(() => fsqrt(2, D, RUP), 1.4142135623730951, NX);
  check(() => fsqrt(2, D, RDN), 1.414213562373095, NX);
  check(() => fsqrt(4, S, RDN), 2, 0);
  check(() => fsqrt(-1, D, RNE), NaN, NV);
  check(() => fsqrt(-0, D, RNE), -0, 0);
  check(() => fadd(Infinity, -Infinity, D, RNE), NaN, NV);
  check(() => fmul(0, -Infinity, S, RNE), NaN, NV);
  check(() => fsub(1.5, 1.5, D, RDN), -0, 0);
  check(() => fsub(1.5, 1.5, D, RNE), 0, 0);
  check(() => fadd(-0, -0, S, RNE), -0, 0);
});

test("fmin/fmax: minimumNumber/maximumNumber", () => {
  check(() => fminmax(-0, 0, false), -0, 0);
  check(() => fminmax(0, -0, false), -0, 0);
  check(() => fminmax(-0, 0, true), 0, 0);
  check(() => fminmax(NaN, 1, false), 1, 0);
  check(() => fminmax(1, NaN, true), 1, 0);
  check(() => fminmax(NaN, NaN, true), NaN, 0);
});

test("fcvt to integers: rounding and saturation", () => {
  const cv = (v: number, k: IntKind, rm: number): [number, number, number] => {
    fpst.flags = 0;
    cvtToInt(v, k, rm);
    return [fpst.lo, fpst.hi, fpst.flags];
  };
  assert.deepEqual(cv(NaN, IntKind.W, RNE), [0x7fffffff, 0, NV]);
  assert.deepEqual(cv(-Infinity, IntKind.W, RNE), [-2147483648, -1, NV]);
  assert.deepEqual(cv(2.5, IntKind.W, RNE), [2, 0, NX]);
  assert.deepEqual(cv(2.5, IntKind.W, RMM), [3, 0, NX]);
  assert.deepEqual(cv(-2.5, IntKind.W, RDN), [-3, -1, NX]);
  assert.deepEqual(cv(-2.5, IntKind.W, RUP), [-2, -1, NX]);
  assert.deepEqual(cv(-0.5, IntKind.WU, RTZ), [0, 0, NX]);
  assert.deepEqual(cv(-1, IntKind.WU, RTZ), [0, 0, NV]);
  assert.deepEqual(cv(4294967295, IntKind.WU, RTZ), [-1, -1, 0], "wu result is sign-extended");
  assert.deepEqual(cv(4294967296, IntKind.WU, RTZ), [-1, -1, NV]);
  assert.deepEqual(cv(NaN, IntKind.WU, RTZ), [-1, -1, NV]);
  assert.deepEqual(cv(-2147483648.5, IntKind.W, RNE), [-2147483648, -1, NX]);
  assert.deepEqual(cv(-2147483648.5, IntKind.W, RDN), [-2147483648, -1, NV]);
  assert.deepEqual(cv(2 ** 63, IntKind.L, RNE), [-1, 0x7fffffff, NV]);
  assert.deepEqual(cv(-(2 ** 63), IntKind.L, RNE), [0, -2147483648, 0]);
  assert.deepEqual(cv(NaN, IntKind.L, RNE), [-1, 0x7fffffff, NV]);
  assert.deepEqual(cv(2 ** 63, IntKind.LU, RNE), [0, -2147483648, 0]);
  assert.deepEqual(cv(NaN, IntKind.LU, RNE), [-1, -1, NV]);
  assert.deepEqual(cv(-3.5, IntKind.L, RNE), [-4, -1, NX]);
});

class MiniHart implements FpHart {
  x = new Int32Array(66);
  fi = new Int32Array(64);
  f = new Float64Array(this.fi.buffer);
  fflags = 0;
  frm = 0;
  fs = 1;
  illegal(): Error { return new Error("illegal"); }
  load16(): number { return 0x3c00; }
  load32(): number { return 0x3f800000; }
  load64(_r: number, _i: number, dst: Int32Array, di: number): void { dst[di] = 0; dst[di + 1] = 0x3ff00000; }
  stored: number[] = [];
  store16(_r: number, _i: number, v: number): void { this.stored = [v]; }
  store32(_r: number, _i: number, v: number): void { this.stored = [v]; }
  store64(_r: number, _i: number, lo: number, hi: number): void { this.stored = [lo, hi]; }
}

function exec(name: string, h: MiniHart, rd: number, rs1: number, rs2 = 0, rm = 0): void {
  const def = [...rv64f, ...rv64d].find((x) => x.name === name);
  assert.ok(def, name);
  const d = new Insn(def.exec);
  d.rd = rd === 0 ? 64 : rd * 2;
  d.rs1 = rs1 * 2;
  d.rs2 = rs2 * 2;
  d.rm = rm;
  def.exec(h as never, d, 0);
}

test("instruction tables: NaN boxing, moves, FS and rm checks", () => {
  const h = new MiniHart();
  // unboxed single operand reads as the canonical NaN
  h.fi[2] = 0x3f800000; h.fi[3] = 0;
  h.fi[4] = 0x3f800000; h.fi[5] = -1;
  exec("fadd_s", h, 3, 1, 2);
  assert.deepEqual([h.fi[6], h.fi[7]], [0x7fc00000, -1]);
  assert.equal(h.fflags, 0);
  assert.equal(h.fs, 3);
  // fmv.x.w sign-extends, fmv.w.x NaN-boxes
  h.fi[8] = 0x80000001; h.fi[9] = 0;
  exec("fmv_x_w", h, 5, 4);
  assert.deepEqual([h.x[10], h.x[11]], [0x80000001 | 0, -1]);
  h.x[12] = 0x12345678; h.x[13] = 99;
  exec("fmv_w_x", h, 7, 6);
  assert.deepEqual([h.fi[14], h.fi[15]], [0x12345678, -1]);
  // fsgnjn.d moves bits (NaN payload kept)
  h.fi[2] = 1; h.fi[3] = 0x7ff00000; // sNaN
  exec("fsgnjn_d", h, 4, 1, 1);
  assert.deepEqual([h.fi[8], h.fi[9]], [1, 0xfff00000 | 0]);
  // feq with sNaN sets NV, with qNaN not; flt with qNaN sets NV
  h.fflags = 0;
  exec("feq_d", h, 5, 1, 1);
  assert.equal(h.fflags, NV);
  h.fflags = 0;
  h.fi[2] = 0; h.fi[3] = 0x7ff80000;
  exec("feq_d", h, 5, 1, 1);
  assert.equal(h.fflags, 0);
  exec("flt_d", h, 5, 1, 1);
  assert.equal(h.fflags, NV);
  // writes to x0 go to the sink pair
  exec("fclass_d", h, 0, 1);
  assert.equal(h.x[64], 512);
  // loads/stores
  exec("flw", h, 9, 1);
  assert.deepEqual([h.fi[18], h.fi[19]], [0x3f800000, -1]);
  exec("fld", h, 9, 1);
  assert.equal(h.f[9], 1);
  exec("fsd", h, 0, 1, 9);
  assert.deepEqual(h.stored, [0, 0x3ff00000]);
  // FS off: illegal; bad rounding mode: illegal (static 5 and dynamic with frm 5)
  h.fs = 0;
  assert.throws(() => exec("fadd_d", h, 1, 1, 1));
  h.fs = 1;
  assert.throws(() => exec("fadd_d", h, 1, 1, 1, 5));
  h.frm = 5;
  assert.throws(() => exec("fadd_d", h, 1, 1, 1, 7));
  exec("fsgnj_d", h, 1, 1, 1, 0); // no rm field: fine
});

test("fmadd.d fast path agrees with the exact BigInt path on adversarial operands", () => {
  let seed = 987654321;
  const rnd = (): number => {
    seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5;
    return (seed >>> 0) / 4294967296;
  };
  /** Random double with a short random mantissa (many exact/tie cases). */
  const short = (e: number): number => {
    const bits = 1 + Math.floor(rnd() * 53);
    const m = Math.floor(rnd() * 2 ** Math.min(bits, 30)) * 2 ** Math.max(0, bits - 30) + Math.floor(rnd() * 2 ** Math.max(0, bits - 30));
    return (rnd() < 0.5 ? -1 : 1) * (1 + m * 2 ** -bits) * 2 ** e;
  };
  let n = 0;
  for (let i = 0; i < 60000; i++) {
    const a = short(Math.floor(rnd() * 40) - 20), b = short(Math.floor(rnd() * 40) - 20);
    const p = a * b;
    const k = rnd();
    let c: number;
    if (k < 0.4) c = -p * (1 + Math.floor(rnd() * 8) * 2 ** -(50 + Math.floor(rnd() * 4))); // cancellation
    else if (k < 0.7) c = short(Math.floor(Math.log2(Math.abs(p))) - Math.floor(rnd() * 110)); // tiny addend
    else c = short(Math.floor(Math.log2(Math.abs(p))) + Math.floor(rnd() * 110) - 55);
    for (let rm = 0; rm < 5; rm++) {
      fpst.flags = 0;
      const fast = fmadd(a, b, c, D, rm);
      const ff = fpst.flags;
      fpst.flags = 0;
      const exact = fmaBig(a, b, c, rm);
      assert.ok(Object.is(fast, exact) && ff === fpst.flags, `fmadd(${a}, ${b}, ${c}) rm=${rm}: fast ${fast}/${ff} exact ${exact}/${fpst.flags}`);
      n++;
    }
  }
  assert.equal(n, 300000);
});
