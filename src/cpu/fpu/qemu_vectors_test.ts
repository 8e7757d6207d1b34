// Differential test of the F/D/Zfh instruction tables against qemu-riscv64 (user mode).
// A static RISC-V C program (generated below from the op table) reads "op rm a b c" lines,
// executes the instruction with inline asm under the dynamic rounding mode rm and prints the
// 64-bit destination register and fflags. The same operations run through rv64f/rv64d exec
// functions on a minimal hart, and everything is compared bit for bit.
// Skipped when riscv64-linux-gnu-gcc or qemu-riscv64 is not installed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Insn, type InsnDef } from "../insn.js";
import { rv64f } from "../insns/rv64f.js";
import { rv64d } from "../insns/rv64d.js";
import { zfh, zfhminD } from "../insns/zfh.js";
import type { FpHart } from "./fp_hart.js";

/** ff: f,f->f  f: f->f  fff: f,f,f->f  ffx: f,f->x  fx: f->x  xf: x->f */
type Kind = "ff" | "f" | "fff" | "ffx" | "fx" | "xf";
type Src = "s" | "d" | "h" | "w" | "l";
interface Op { name: string; kind: Kind; src: Src; }

function ops(): Op[] {
  const list: Op[] = [];
  for (const [p, src] of [["s", "s"], ["d", "d"], ["h", "h"]] as const) {
    for (const n of ["fadd", "fsub", "fmul", "fdiv", "fmin", "fmax", "fsgnj", "fsgnjn", "fsgnjx"]) list.push({ name: `${n}_${p}`, kind: "ff", src });
    list.push({ name: `fsqrt_${p}`, kind: "f", src });
    for (const n of ["fmadd", "fmsub", "fnmsub", "fnmadd"]) list.push({ name: `${n}_${p}`, kind: "fff", src });
    for (const n of ["feq", "flt", "fle"]) list.push({ name: `${n}_${p}`, kind: "ffx", src });
    for (const n of ["w", "wu", "l", "lu"]) list.push({ name: `fcvt_${n}_${p}`, kind: "fx", src });
    list.push({ name: `fclass_${p}`, kind: "fx", src });
    for (const n of ["w", "wu"]) list.push({ name: `fcvt_${p}_${n}`, kind: "xf", src: "w" });
    for (const n of ["l", "lu"]) list.push({ name: `fcvt_${p}_${n}`, kind: "xf", src: "l" });
  }
  list.push({ name: "fcvt_s_d", kind: "f", src: "d" });
  list.push({ name: "fcvt_d_s", kind: "f", src: "s" });
  list.push({ name: "fmv_x_w", kind: "fx", src: "s" });
  list.push({ name: "fmv_w_x", kind: "xf", src: "w" });
  list.push({ name: "fmv_x_d", kind: "fx", src: "d" });
  list.push({ name: "fmv_d_x", kind: "xf", src: "l" });
  list.push({ name: "fcvt_h_s", kind: "f", src: "s" });
  list.push({ name: "fcvt_s_h", kind: "f", src: "h" });
  list.push({ name: "fcvt_h_d", kind: "f", src: "d" });
  list.push({ name: "fcvt_d_h", kind: "f", src: "h" });
  list.push({ name: "fmv_x_h", kind: "fx", src: "h" });
  list.push({ name: "fmv_h_x", kind: "xf", src: "l" });
  return list;
}

function cSource(list: Op[]): string {
  const cases = list.map((op, i) => {
    const mn = op.name.replace(/_/g, ".");
    const pre = "fmv.d.x ft0,%2\\n\\tfmv.d.x ft1,%3\\n\\tfmv.d.x ft2,%4\\n\\tfsflags x0\\n\\t";
    let body: string;
    switch (op.kind) {
      case "ff": body = `${mn} ft3,ft0,ft1\\n\\tfrflags %1\\n\\tfmv.x.d %0,ft3`; break;
      case "f": body = `${mn} ft3,ft0\\n\\tfrflags %1\\n\\tfmv.x.d %0,ft3`; break;
      case "fff": body = `${mn} ft3,ft0,ft1,ft2\\n\\tfrflags %1\\n\\tfmv.x.d %0,ft3`; break;
      case "ffx": body = `${mn} %0,ft0,ft1\\n\\tfrflags %1`; break;
      case "fx": body = `${mn} %0,ft0\\n\\tfrflags %1`; break;
      default: body = `li %0,-1\\n\\tfmv.d.x ft3,%0\\n\\tfsflags x0\\n\\t${mn} ft3,%2\\n\\tfrflags %1\\n\\tfmv.x.d %0,ft3`; break;
    }
    return `    case ${i}: __asm__ volatile("${pre}${body}" : "=&r"(r), "=&r"(fl) : "r"(a), "r"(b), "r"(c) : "ft0","ft1","ft2","ft3"); break;`;
  });
  return `#include <stdio.h>
int main(void) {
  unsigned op, rm; unsigned long a, b, c;
  static char buf[1 << 16];
  setvbuf(stdout, buf, _IOFBF, sizeof buf);
  while (scanf("%u %u %lx %lx %lx", &op, &rm, &a, &b, &c) == 5) {
    unsigned long r = 0, fl = 0;
    __asm__ volatile("fsrm %0" :: "r"(rm));
    switch (op) {
${cases.join("\n")}
    }
    printf("%lx %lx\\n", r, fl);
  }
  return 0;
}
`;
}

// ---------------------------------------------------------------- operand generation

let seed = Number(process.env.FPU_SEED ?? 0x12345678) | 0 || 1;
function rnd32(): number {
  // xorshift32
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return seed >>> 0;
}
function rndInt(n: number): number {
  return rnd32() % n;
}
function rnd64(): bigint {
  return (BigInt(rnd32()) << 32n) | BigInt(rnd32());
}

const M64 = (1n << 64n) - 1n;
const BOX = 0xffffffff00000000n;

const SPECIAL_S = [0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0xffa00000, 0x7fffffff, 1, 0x80000001,
  0x007fffff, 0x00800000, 0x80800000, 0x7f7fffff, 0xff7fffff, 0x3f800000, 0xbf800000, 0x3f800001, 0x3fffffff, 0x4f000000,
  0x4effffff, 0xcf000000, 0xcf000001, 0x4f800000, 0x5f000000, 0xdf000000, 0x5f800000, 0x3f000000, 0x3fc00000, 0x40200000,
  0xbfc00000, 0x00400000, 0x34000000, 0x33800000];
const SPECIAL_D = [0n, 0x8000000000000000n, 0x7ff0000000000000n, 0xfff0000000000000n, 0x7ff8000000000000n, 0x7ff0000000000001n,
  0xfff4000000000000n, 1n, 0x8000000000000001n, 0x000fffffffffffffn, 0x0010000000000000n, 0x8010000000000000n,
  0x7fefffffffffffffn, 0xffefffffffffffffn, 0x3ff0000000000000n, 0xbff0000000000000n, 0x3ff0000000000001n,
  0x41e0000000000000n, 0x41dfffffffffffffn, 0xc1e0000000000000n, 0xc1e0000000200000n, 0x41f0000000000000n,
  0x43e0000000000000n, 0xc3e0000000000000n, 0x43f0000000000000n, 0x3fe0000000000000n, 0x3ff8000000000000n,
  0x4004000000000000n, 0xbff8000000000000n, 0x0008000000000000n, 0x3cb0000000000000n, 0x3ca0000000000000n,
  0x41dfffffffc00000n, 0x41effffffff00000n];

function rndS(): number {
  const k = rndInt(10);
  if (k === 0) return SPECIAL_S[rndInt(SPECIAL_S.length)] >>> 0;
  if (k === 1) return rnd32();
  const sign = rndInt(2) << 31;
  let e: number;
  if (k <= 5) e = 127 + rndInt(40) - 20;
  else if (k === 6) e = rndInt(30); // subnormal/near min normal
  else if (k === 7) e = 254 - rndInt(8); // near overflow
  else if (k === 8) e = 127 + 20 + rndInt(45); // integer conversions range
  else e = rndInt(255);
  let m = rnd32() & 0x7fffff;
  if (rndInt(3) === 0) m &= ~((1 << rndInt(23)) - 1); // short mantissas: exact and tie cases
  return (sign | (e << 23) | m) >>> 0;
}

function rndD(): bigint {
  const k = rndInt(10);
  if (k === 0) return SPECIAL_D[rndInt(SPECIAL_D.length)];
  if (k === 1) return rnd64();
  const sign = BigInt(rndInt(2)) << 63n;
  let e: number;
  if (k <= 5) e = 1023 + rndInt(60) - 30;
  else if (k === 6) e = rndInt(60); // subnormal/near min normal
  else if (k === 7) e = 2046 - rndInt(8); // near overflow
  else if (k === 8) e = 1023 + 20 + rndInt(50); // integer conversions range
  else e = rndInt(2047);
  let m = rnd64() & ((1n << 52n) - 1n);
  if (rndInt(3) === 0) m &= ~((1n << BigInt(rndInt(52))) - 1n);
  return sign | (BigInt(e) << 52n) | m;
}

const SPECIAL_H = [0, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0x7c01, 0xfd00, 0x7fff, 1, 0x8001, 0x03ff, 0x0400, 0x8400, 0x7bff,
  0xfbff, 0x3c00, 0xbc00, 0x3c01, 0x3bff, 0x3800, 0x3e00, 0x4100, 0xc100, 0x6800, 0x6bff, 0x5bff, 0x0200, 0x07ff];

function rndH(): number {
  const k = rndInt(10);
  if (k === 0) return SPECIAL_H[rndInt(SPECIAL_H.length)];
  if (k === 1) return rnd32() & 0xffff;
  const sign = rndInt(2) << 15;
  let e: number;
  if (k <= 5) e = 15 + rndInt(12) - 6;
  else if (k === 6) e = rndInt(3); // subnormal/near min normal
  else if (k === 7) e = 30 - rndInt(3); // near overflow
  else e = rndInt(31);
  let m = rnd32() & 0x3ff;
  if (rndInt(3) === 0) m &= ~((1 << rndInt(10)) - 1);
  return sign | (e << 10) | m;
}
function nearH(x: number): number {
  return ((x + rndInt(5) - 2) ^ (rndInt(2) << 15)) & 0xffff;
}
/** NaN-boxed half; sometimes a broken box (reads as the canonical NaN). */
function boxH(x: number): bigint {
  return rndInt(50) === 0 ? BigInt(x) | (BigInt(rnd32() & 0xfffeffff) << 16n) : 0xffffffffffff0000n | BigInt(x);
}

function rndInt64(): bigint {
  const k = rndInt(6);
  if (k === 0) {
    const sp = [0n, 1n, M64, 0x7fffffffn, 0x80000000n, 0xffffffff80000000n, 0xffffffffn, 0x7fffffffffffffffn,
      0x8000000000000000n, (1n << 53n) + 1n, (1n << 24n) + 1n, (1n << 54n) + 3n, (1n << 25n) + 3n, 0xfffffffffffff800n];
    return sp[rndInt(sp.length)];
  }
  const bitsN = 1 + rndInt(64);
  let v = rnd64() & ((1n << BigInt(bitsN)) - 1n);
  if (rndInt(2) === 0) v = (-v) & M64;
  return v;
}

/** Perturbs a binary32 by a few ulps / flips sign (to produce cancellations and near-equal pairs). */
function nearS(x: number): number {
  return ((x + rndInt(5) - 2) ^ (rndInt(2) << 31)) >>> 0;
}
function nearD(x: bigint): bigint {
  return ((x + BigInt(rndInt(5) - 2)) ^ (BigInt(rndInt(2)) << 63n)) & M64;
}

function boxS(x: number): bigint {
  return rndInt(50) === 0 ? BigInt(x) | (BigInt(rnd32() & 0xfffffffe) << 32n) : BOX | BigInt(x);
}

interface Vec { op: number; rm: number; a: bigint; b: bigint; c: bigint; }

function genVectors(list: Op[], perOp: number): Vec[] {
  const out: Vec[] = [];
  list.forEach((op, i) => {
    for (let n = 0; n < perOp; n++) {
      const rm = n % 5;
      let a: bigint, b: bigint, c: bigint;
      if (op.src === "s") {
        const x = rndS();
        let y = rndInt(4) === 0 ? nearS(x) : rndS();
        let z = rndS();
        if (op.kind === "fff" && rndInt(3) === 0) {
          // c close to -(a*b): massive cancellation in the fused sum
          const p = Math.fround(f32(x) * f32(y));
          z = nearS(f32bits(-p));
        }
        if (op.name.startsWith("fmul") && rndInt(3) === 0) y = targetExpS(x, rndInt(2) === 0 ? -126 - rndInt(26) : 127 - rndInt(2));
        a = boxS(x); b = boxS(y); c = boxS(z);
      } else if (op.src === "h") {
        const x = rndH();
        const y = rndInt(4) === 0 ? nearH(x) : rndH();
        let z = rndH();
        if (op.kind === "fff" && rndInt(3) === 0) {
          // c close to -(a*b) (rounded to binary16 by hand: truncate the binary32 product)
          const p = Math.fround(-(f16(x) * f16(y)));
          z = nearH(f32ToF16Trunc(p));
        }
        a = boxH(x); b = boxH(y); c = boxH(z);
      } else if (op.src === "d") {
        const x = rndD();
        let y = rndInt(4) === 0 ? nearD(x) : rndD();
        let z = rndD();
        if (op.kind === "fff" && rndInt(3) === 0) z = nearD(d64bits(-(d64(x) * d64(y))));
        if ((op.name.startsWith("fmul") || op.kind === "fff") && rndInt(3) === 0) y = targetExpD(x, rndInt(2) === 0 ? -1022 - rndInt(55) : 1023 - rndInt(2));
        a = x; b = y; c = z;
      } else {
        a = rndInt64(); b = 0n; c = 0n;
        if (op.src === "w" && rndInt(2) === 0) a = BigInt.asUintN(64, BigInt.asIntN(32, a));
      }
      out.push({ op: i, rm, a, b, c });
    }
  });
  return out;
}

const cb = new DataView(new ArrayBuffer(8));
function f32(b: number): number { cb.setUint32(0, b); return cb.getFloat32(0); }
function f32bits(v: number): number { cb.setFloat32(0, v); return cb.getUint32(0); }
function f16(b: number): number {
  const e = (b >>> 10) & 31, m = b & 0x3ff;
  const v = e === 31 ? (m !== 0 ? NaN : Infinity) : e === 0 ? m * 2 ** -24 : (m + 1024) * 2 ** (e - 25);
  return (b & 0x8000) !== 0 ? -v : v;
}
/** binary32 value -> binary16 bits by truncation (only to aim operands near a value). */
function f32ToF16Trunc(v: number): number {
  const b = f32bits(v);
  const e = ((b >>> 23) & 0xff) - 127 + 15;
  const sign = (b >>> 16) & 0x8000;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) return sign;
  return sign | (e << 10) | ((b >>> 13) & 0x3ff);
}
function d64(b: bigint): number { cb.setBigUint64(0, b); return cb.getFloat64(0); }
function d64bits(v: number): bigint { cb.setFloat64(0, v); return cb.getBigUint64(0); }
/** A random binary32 y such that x*y has binary exponent about t. */
function targetExpS(x: number, t: number): number {
  const ex = ((x >>> 23) & 0xff) - 127;
  const ey = Math.max(-126, Math.min(127, t - ex));
  return ((rndInt(2) << 31) | ((ey + 127) << 23) | (rnd32() & 0x7fffff)) >>> 0;
}
function targetExpD(x: bigint, t: number): bigint {
  const ex = Number((x >> 52n) & 0x7ffn) - 1023;
  const ey = Math.max(-1022, Math.min(1023, t - ex));
  return (BigInt(rndInt(2)) << 63n) | (BigInt(ey + 1023) << 52n) | (rnd64() & ((1n << 52n) - 1n));
}

// ---------------------------------------------------------------- the emulator side

class MiniHart implements FpHart {
  x = new Int32Array(66);
  fi = new Int32Array(64);
  f = new Float64Array(this.fi.buffer);
  fflags = 0;
  frm = 0;
  fs = 1;
  illegal(): Error { return new Error("illegal instruction"); }
  load16(): number { throw new Error("no memory"); }
  load32(): number { throw new Error("no memory"); }
  load64(): void { throw new Error("no memory"); }
  store16(): void { throw new Error("no memory"); }
  store32(): void { throw new Error("no memory"); }
  store64(): void { throw new Error("no memory"); }
}

function setPair(arr: Int32Array, i: number, v: bigint): void {
  arr[i] = Number(BigInt.asIntN(32, v));
  arr[i + 1] = Number(BigInt.asIntN(32, v >> 32n));
}
function getPair(arr: Int32Array, i: number): bigint {
  return ((BigInt(arr[i + 1] >>> 0) << 32n) | BigInt(arr[i] >>> 0));
}

function runOurs(def: InsnDef, op: Op, v: Vec, staticRm: boolean): [bigint, number] {
  const h = new MiniHart();
  h.frm = v.rm;
  const d = new Insn(def.exec);
  d.rs1 = 2; d.rs2 = 4; d.rs3 = 6; d.rd = 10;
  d.rm = staticRm ? v.rm : 7;
  if (op.kind === "xf") setPair(h.x, 2, v.a);
  else {
    setPair(h.fi, 2, v.a);
    setPair(h.fi, 4, v.b);
    setPair(h.fi, 6, v.c);
  }
  if (op.kind === "xf") setPair(h.fi, 10, M64); // qemu side pre-sets ft3 to all ones too
  def.exec(h as never, d, 0);
  const xdst = op.kind === "ffx" || op.kind === "fx";
  return [xdst ? getPair(h.x, 10) : getPair(h.fi, 10), h.fflags];
}

const tools = spawnSync("sh", ["-c", "command -v riscv64-linux-gnu-gcc && command -v qemu-riscv64"]).status === 0;

test("F/D/Zfh instructions match qemu-riscv64 bit for bit (results and fflags)", { skip: !tools && "riscv64 gcc/qemu not installed" }, () => {
  const list = ops();
  const defs = new Map<string, InsnDef>();
  for (const def of [...rv64f, ...rv64d, ...zfh, ...zfhminD]) defs.set(def.name, def);
  for (const op of list) assert.ok(defs.has(op.name), `missing ${op.name}`);
  const perOp = Number(process.env.FPU_VECTORS_PER_OP ?? 2000);
  const vecs = genVectors(list, perOp);
  const dir = mkdtempSync(join(tmpdir(), "rvisor-fpu-"));
  writeFileSync(join(dir, "fp.c"), cSource(list));
  const cc = spawnSync("riscv64-linux-gnu-gcc", ["-static", "-O1", "-march=rv64gc_zfh", "-o", join(dir, "fp"), join(dir, "fp.c")], { encoding: "utf8" });
  assert.equal(cc.status, 0, cc.stderr);
  const input = vecs.map((v) => `${v.op} ${v.rm} ${v.a.toString(16)} ${v.b.toString(16)} ${v.c.toString(16)}`).join("\n") + "\n";
  const run = spawnSync("qemu-riscv64", ["-cpu", "rv64,Zfh=true,Zfhmin=true", join(dir, "fp")], { input, encoding: "utf8", maxBuffer: 1 << 28 });
  assert.equal(run.status, 0, run.stderr);
  const lines = run.stdout.trim().split("\n");
  assert.equal(lines.length, vecs.length);
  const bad: string[] = [];
  const perName = new Map<string, number>();
  vecs.forEach((v, i) => {
    const op = list[v.op];
    const [er, ef] = lines[i].split(" ").map((s) => BigInt("0x" + s));
    const [r, fl] = runOurs(defs.get(op.name)!, op, v, (i & 1) === 1);
    if (r !== er || BigInt(fl) !== ef) {
      perName.set(op.name, (perName.get(op.name) ?? 0) + 1);
      if (bad.length < 40) {
        bad.push(`${op.name} rm=${v.rm} a=${v.a.toString(16)} b=${v.b.toString(16)} c=${v.c.toString(16)}: ` +
          `qemu ${er.toString(16)} fl=${ef.toString(16)}, ours ${r.toString(16)} fl=${fl.toString(16)}`);
      }
    }
  });
  const summary = [...perName].map(([n, c]) => `${n}:${c}`).join(" ");
  assert.equal(bad.length, 0, `${vecs.length} vectors, mismatches per op: ${summary}\n${bad.join("\n")}`);
  console.log(`qemu differential: ${vecs.length} vectors, 0 mismatches`);
});
