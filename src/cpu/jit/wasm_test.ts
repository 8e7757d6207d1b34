// The wasm encoder against V8's own decoder: every module must validate and compute what the
// same operation computes in BigInt arithmetic.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ByteWriter, Code, Module, Op, ValType } from "./wasm.js";

const MASK64 = (1n << 64n) - 1n;
const toSigned = (v: bigint): bigint => BigInt.asIntN(64, v);
const halves = (v: bigint): [number, number] => [Number(v & 0xffffffffn) | 0, Number((v >> 32n) & 0xffffffffn) | 0];

function instantiate(m: Module, imports: WebAssembly.Imports = {}): WebAssembly.Exports {
  const bytes = m.encode();
  assert.ok(WebAssembly.validate(bytes), "the module validates");
  return new WebAssembly.Instance(new WebAssembly.Module(bytes), imports).exports;
}

const EDGES: readonly bigint[] = [
  0n, 1n, -1n, 63n, 64n, -64n, -65n, 127n, 128n, 0x7fffffffn, 0x80000000n, -0x80000000n, -0x80000001n,
  0xffffffffn, 0x100000000n, 0x7fffffffffffffffn, -0x8000000000000000n, 0x123456789abcdefn, -0x123456789abcdefn,
];

test("u32 and s32 LEB128 encode as the specification's examples", () => {
  assert.deepEqual([...new ByteWriter().u32(0).finish()], [0x00]);
  assert.deepEqual([...new ByteWriter().u32(624485).finish()], [0xe5, 0x8e, 0x26]);
  assert.deepEqual([...new ByteWriter().u32(0xffffffff).finish()], [0xff, 0xff, 0xff, 0xff, 0x0f]);
  assert.deepEqual([...new ByteWriter().s32(-123456).finish()], [0xc0, 0xbb, 0x78]);
  assert.deepEqual([...new ByteWriter().s32(63).finish()], [0x3f]);
  assert.deepEqual([...new ByteWriter().s32(64).finish()], [0xc0, 0x00]);
  assert.deepEqual([...new ByteWriter().s32(-64).finish()], [0x40]);
  assert.deepEqual([...new ByteWriter().s32(-65).finish()], [0xbf, 0x7f]);
});

test("i64 constants from lo/hi pairs round-trip through V8 for edge and random values", () => {
  const values = [...EDGES];
  let s = 0x243f6a8885a308d3n;
  for (let i = 0; i < 200; i++) { s = (s * 6364136223846793005n + 1442695040888963407n) & MASK64; values.push(toSigned(s >> BigInt(i % 40))); }
  const m = new Module();
  const t = m.type([], [ValType.I64]);
  values.forEach((v, i) => {
    const [lo, hi] = halves(v);
    m.exportFunction(`c${i}`, m.addFunction(t, [], new Code().i64Const(lo, hi)));
  });
  const ex = instantiate(m);
  values.forEach((v, i) => assert.equal((ex[`c${i}`] as () => bigint)(), toSigned(v), `constant ${v}`));
});

test("i64 arithmetic, shifts, comparisons and extensions compute as BigInt does", () => {
  const ops: [string, number, (a: bigint, b: bigint) => bigint][] = [
    ["add", Op.i64_add, (a, b) => a + b], ["sub", Op.i64_sub, (a, b) => a - b], ["mul", Op.i64_mul, (a, b) => a * b],
    ["and", Op.i64_and, (a, b) => a & b], ["or", Op.i64_or, (a, b) => a | b], ["xor", Op.i64_xor, (a, b) => a ^ b],
    ["shl", Op.i64_shl, (a, b) => a << (b & 63n)], ["shr_s", Op.i64_shr_s, (a, b) => toSigned(a) >> (b & 63n)],
    ["shr_u", Op.i64_shr_u, (a, b) => (a & MASK64) >> (b & 63n)],
    ["lt_u", Op.i64_lt_u, (a, b) => ((a & MASK64) < (b & MASK64) ? 1n : 0n)],
    ["lt_s", Op.i64_lt_s, (a, b) => (toSigned(a) < toSigned(b) ? 1n : 0n)],
  ];
  const m = new Module();
  const t = m.type([ValType.I64, ValType.I64], [ValType.I64]);
  for (const [name, op] of ops) {
    const c = new Code().localGet(0).localGet(1).op(op);
    if (name.startsWith("lt")) c.op(Op.i64_extend_i32_u);
    m.exportFunction(name, m.addFunction(t, [], c));
  }
  // sign extension of the low word (RV64's W results): i64.extend32_s
  m.exportFunction("sextw", m.addFunction(t, [], new Code().localGet(0).localGet(1).op(Op.i64_add).op(Op.i64_extend32_s)));
  const ex = instantiate(m);
  for (const a of EDGES) {
    for (const b of EDGES) {
      for (const [name, , ref] of ops) assert.equal((ex[name] as (x: bigint, y: bigint) => bigint)(a, b), toSigned(ref(a, b) & MASK64), `${name}(${a}, ${b})`);
      assert.equal((ex["sextw"] as (x: bigint, y: bigint) => bigint)(a, b), BigInt.asIntN(32, a + b));
    }
  }
});

test("imported memory, loads and stores with offsets, a loop, and a call to an imported function", () => {
  const m = new Module();
  const log: number[] = [];
  const note = m.importFunction("env", "note", m.type([ValType.I32], []));
  m.importMemory({ module: "env", name: "mem", min: 1 });
  // sum(n): for i in 0..n-1: mem64[i] += i * 3; total += mem64[i]; note(i) every 4th; return total
  const ty = m.type([ValType.I32], [ValType.I64]);
  const I = 1, TOTAL = 2; // locals after the parameter
  const c = new Code()
    .i32Const(0).localSet(I)
    .begin(Op.block).begin(Op.loop)
    .localGet(I).localGet(0).op(Op.i32_ge_u).brIf(1)
    // mem64[i] = mem64[i] + i * 3
    .localGet(I).i32Const(3).op(Op.i32_shl)
    .localGet(I).i32Const(3).op(Op.i32_shl).mem(Op.i64_load, 3, 8)
    .localGet(I).op(Op.i64_extend_i32_u).i64Const(3, 0).op(Op.i64_mul).op(Op.i64_add)
    .mem(Op.i64_store, 3, 8)
    .localGet(TOTAL).localGet(I).i32Const(3).op(Op.i32_shl).mem(Op.i64_load, 3, 8).op(Op.i64_add).localSet(TOTAL)
    .localGet(I).i32Const(3).op(Op.i32_and).op(Op.i32_eqz)
    .begin(Op.if).localGet(I).call(note).end()
    .localGet(I).i32Const(1).op(Op.i32_add).localSet(I)
    .br(0)
    .end().end()
    .localGet(TOTAL);
  m.exportFunction("sum", m.addFunction(ty, [ValType.I32, ValType.I64], c));
  const mem = new WebAssembly.Memory({ initial: 1 });
  const view = new BigInt64Array(mem.buffer);
  for (let i = 0; i < 20; i++) view[i + 1] = BigInt(i) * 1000n;
  const ex = instantiate(m, { env: { mem, note: (i: number) => log.push(i) } });
  const total = (ex["sum"] as (n: number) => bigint)(16);
  let want = 0n;
  for (let i = 0n; i < 16n; i++) want += i * 1000n + i * 3n;
  assert.equal(total, want);
  assert.equal(view[1 + 5], 5000n + 15n, "the store went to offset 8 + 8 * i");
  assert.equal(view[1 + 16], 16000n, "no store past n");
  assert.deepEqual(log, [0, 4, 8, 12]);
});

test("a shared memory import needs a maximum and encodes the shared limits", () => {
  const m = new Module();
  assert.throws(() => m.importMemory({ module: "env", name: "mem", min: 1, shared: true }), /maximum/);
  m.importMemory({ module: "env", name: "mem", min: 1, max: 4, shared: true });
  const ty = m.type([], [ValType.I32]);
  m.exportFunction("peek", m.addFunction(ty, [], new Code().i32Const(16).mem(Op.i32_load, 2)));
  const mem = new WebAssembly.Memory({ initial: 1, maximum: 4, shared: true });
  new Int32Array(mem.buffer)[4] = 0x1234567;
  assert.equal((instantiate(m, { env: { mem } })["peek"] as () => number)(), 0x1234567);
});

test("functions cannot be imported after a definition (indices would shift)", () => {
  const m = new Module();
  m.addFunction(m.type([], []), [], new Code());
  assert.throws(() => m.importFunction("env", "f", m.type([], [])), /before defining/);
});
