// The built-in SBI firmware, called the way an S-mode ECALL reaches it (through the hart's
// trap hook): Base probing, TIME, IPI, HSM, SRST and the legacy console.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Bus } from "../memory/bus.js";
import { Ram } from "../memory/ram.js";
import { CodeCache } from "../cpu/code_cache.js";
import { Hart } from "../cpu/hart.js";
import { Cause, MIP_SSIP, PRV_S } from "../cpu/csr_numbers.js";
import { EXT_BASE, EXT_HSM, EXT_IPI, EXT_SRST, EXT_TIME, SBI_ERR_NOT_SUPPORTED, Sbi, SBI_IMPL_ID } from "./sbi.js";

function setup(n = 2) {
  const ram = new Ram(0x8000_0000, 1 << 20);
  const bus = new Bus(ram), code = new CodeCache(ram);
  const harts = [...Array(n).keys()].map((i) => new Hart(i, bus, code));
  const events: string[] = [];
  const timers: [number, number][] = [];
  const input = [0x41];
  const sbi = new Sbi({
    harts,
    setTimer: (h, t) => timers.push([h, t]),
    consolePutchar: (c) => events.push(`put ${String.fromCharCode(c)}`),
    consoleGetchar: () => input.shift() ?? -1,
    reset: (kind, reason) => events.push(`${kind} ${reason}`),
  });
  sbi.boot(0x8020_0000, 0x8ff0_0000);
  const call = (h: Hart, eid: number, fid: number, ...args: number[]): { error: number; value: number } => {
    h.setX(17, eid); h.setX(16, fid);
    args.forEach((a, i) => h.setX(10 + i, a));
    const pc = h.pc;
    assert.ok(h.trapHook !== null && h.trapHook(h, Cause.EcallS, pc, false));
    assert.equal(h.pc, pc + 4, "execution resumes after the ECALL");
    return { error: h.getX(10), value: h.getX(11) };
  };
  return { harts, events, timers, call, ram };
}

test("boot: hart 0 enters the kernel in S-mode with a0=hartid, a1=dtb; others wait in HSM STOPPED", () => {
  const { harts } = setup();
  assert.equal(harts[0].priv, PRV_S);
  assert.equal(harts[0].pc, 0x8020_0000);
  assert.equal(harts[0].getX(11), 0x8ff0_0000);
  assert.equal(harts[1].stopped, true);
});

test("base: spec version 1.0, implementation id, extension probing", () => {
  const { harts, call } = setup();
  assert.deepEqual(call(harts[0], EXT_BASE, 0), { error: 0, value: 1 << 24 });
  assert.equal(call(harts[0], EXT_BASE, 1).value, SBI_IMPL_ID);
  for (const ext of [EXT_TIME, EXT_IPI, EXT_HSM, EXT_SRST]) assert.equal(call(harts[0], EXT_BASE, 3, ext).value, 1);
  assert.equal(call(harts[0], EXT_BASE, 3, 0x12345678).value, 0);
  assert.equal(call(harts[0], 0x0abcdef0, 0).error, SBI_ERR_NOT_SUPPORTED);
});

test("TIME, IPI and HSM", () => {
  const { harts, timers, call } = setup();
  call(harts[0], EXT_TIME, 0, 123456789);
  assert.deepEqual(timers, [[0, 123456789]]);
  // HSM: start hart 1 at an address with an opaque argument; query its status.
  assert.equal(call(harts[0], EXT_HSM, 2, 1).value, 1, "stopped");
  assert.equal(call(harts[0], EXT_HSM, 0, 1, 0x8020_1000, 0xabc).error, 0);
  assert.equal(harts[1].stopped, false);
  assert.equal(harts[1].pc, 0x8020_1000);
  assert.equal(harts[1].getX(10), 1);
  assert.equal(harts[1].getX(11), 0xabc);
  assert.equal(harts[1].priv, PRV_S);
  assert.equal(call(harts[0], EXT_HSM, 2, 1).value, 0, "started");
  assert.equal(call(harts[0], EXT_HSM, 0, 1, 0, 0).error, -6, "already available");
  // IPI to hart 1 (mask 0b10, base 0) sets its SSIP.
  assert.equal(call(harts[0], EXT_IPI, 0, 2, 0).error, 0);
  assert.ok((harts[1].mip & MIP_SSIP) !== 0);
  assert.ok((harts[0].mip & MIP_SSIP) === 0);
  assert.equal(call(harts[0], EXT_IPI, 0, 1, 5).error, -3, "hart 5 does not exist");
});

test("legacy console and SRST", () => {
  const { harts, events, call } = setup();
  call(harts[0], 1, 0, 0x68);
  assert.equal(call(harts[0], 2, 0).error, 0x41);
  assert.equal(call(harts[0], 2, 0).error, -1, "no input");
  call(harts[0], EXT_SRST, 0, 0, 0);
  assert.deepEqual(events, ["put h", "poweroff 0"]);
  assert.ok(harts.every((h) => h.stopped));
});

test("legacy send_ipi reads the hart mask through the caller's pointer", () => {
  const { harts, call, ram } = setup(3);
  ram.write64(0x8000_0100, 0b100); // hart 2 only (satp is bare: the pointer is physical)
  assert.equal(call(harts[0], 4, 0, 0x8000_0100).error, 0);
  assert.deepEqual(harts.map((h) => (h.mip & MIP_SSIP) !== 0), [false, false, true]);
  assert.equal(call(harts[0], 4, 0, 0x10).error, -3, "a pointer outside RAM is an invalid parameter");
});
