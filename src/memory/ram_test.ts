// Guest RAM is a shared WebAssembly.Memory: generated code and the interpreter's typed-array
// views see the same bytes (issue 8's prerequisite for a JIT).
import { test } from "node:test";
import assert from "node:assert/strict";
import { HART_STATE_BYTES, HART_STATE_SLOTS, Ram, WASM_PAGE_BYTES } from "./ram.js";
import { Code, Module, Op, ValType } from "../cpu/jit/wasm.js";

const BASE = 0x8000_0000;

test("RAM lives in a shared WebAssembly.Memory that wasm code reads and writes", () => {
  const ram = new Ram(BASE, 1 << 20);
  assert.ok(ram.memory !== null, "WebAssembly with shared memory is available in Node");
  assert.equal(ram.buffer, ram.memory.buffer);
  const m = new Module();
  m.importMemory({ module: "env", name: "ram", min: ram.wasmPages, max: ram.wasmPages, shared: true });
  const peek = m.addFunction(m.type([ValType.I32], [ValType.I64]), [], new Code().localGet(0).mem(Op.i64_load, 3));
  const poke = m.addFunction(m.type([ValType.I32, ValType.I32], []), [], new Code().localGet(0).localGet(1).mem(Op.i32_store, 2));
  m.exportFunction("peek", peek);
  m.exportFunction("poke", poke);
  const ex = new WebAssembly.Instance(new WebAssembly.Module(m.encode()), { env: { ram: ram.memory } }).exports;
  ram.write32(BASE + 0x100, 0xdeadbeef);
  ram.write32(BASE + 0x104, 0x01234567);
  assert.equal((ex["peek"] as (a: number) => bigint)(0x100), 0x01234567deadbeefn);
  (ex["poke"] as (a: number, v: number) => void)(0x200, 0x5a5a1234);
  assert.equal(ram.read32(BASE + 0x200), 0x5a5a1234);
});

test("hart state slots lie past guest RAM, in the same memory; they are zeroed, handed out once and reused", () => {
  const ram = new Ram(BASE, 1 << 20);
  assert.equal(ram.stateBase, 1 << 20);
  assert.equal(ram.buffer.byteLength, ram.stateBase + HART_STATE_SLOTS * HART_STATE_BYTES);
  const slots = Array.from({ length: HART_STATE_SLOTS }, () => ram.allocHartState());
  assert.equal(new Set(slots).size, HART_STATE_SLOTS);
  assert.ok(slots.every((o) => o >= ram.stateBase && !ram.contains(BASE + o)));
  assert.equal(ram.allocHartState(), -1);
  new Uint8Array(ram.buffer, slots[3], 4).fill(7);
  ram.freeHartState(slots[3]);
  const again = ram.allocHartState();
  assert.equal(again, slots[3]);
  assert.deepEqual(Array.from(new Uint8Array(ram.buffer, again, 4)), [0, 0, 0, 0]);
});

test("a RAM size that is not a multiple of 64 KiB still gets views of exactly that size", () => {
  const size = WASM_PAGE_BYTES + 4096;
  const ram = new Ram(BASE, size);
  assert.equal(ram.u8.length, size);
  assert.equal(ram.i32.length, size / 4);
  assert.equal(ram.pageFlags.length, size / 4096);
  assert.throws(() => ram.write(BASE + size - 2, new Uint8Array(4)), /outside RAM/);
});

test("RAM without shared memory (a page that is not cross-origin isolated) is an unshared buffer that wasm code still reads", () => {
  const ram = new Ram(BASE, 1 << 20, { shared: false });
  assert.equal(ram.shared, false);
  assert.ok(!(ram.buffer instanceof SharedArrayBuffer), "the buffer is not shared");
  assert.ok(ram.memory !== null);
  const m = new Module();
  const pages = ram.wasmPages; // guest RAM and the hart state slots past it
  m.importMemory({ module: "env", name: "ram", min: pages, max: pages });
  const peek = m.addFunction(m.type([ValType.I32], [ValType.I64]), [], new Code().localGet(0).mem(Op.i64_load, 3));
  m.exportFunction("peek", peek);
  const ex = new WebAssembly.Instance(new WebAssembly.Module(m.encode()), { env: { ram: ram.memory } }).exports;
  ram.write64(BASE + 0x80, 0x1234_5678_9abc);
  assert.equal((ex["peek"] as (a: number) => bigint)(0x80), 0x1234_5678_9abcn);
  assert.equal(ram.read32(BASE + 0x80), 0x5678_9abc);
  const shared = new Ram(BASE, 1 << 20);
  assert.equal(shared.shared, true);
  assert.ok(shared.buffer instanceof SharedArrayBuffer, "by default Node's RAM is shared");
});
