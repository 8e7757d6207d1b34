// The virt board and the privileged extensions: the device tree's cache-block sizes, the
// built-in SBI's menvcfg/mstateen set-up, and the idle deadline of an Sstc timer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { VirtMachine } from "./machine.js";
import { nullCharBackend } from "./devices/char_backend.js";
import { Isa } from "../cpu/isa.js";
import { CSR, MIP_STIP } from "../cpu/csr_numbers.js";

const WFI = 0x10500073;

function board(isa: Isa, firmware: "builtin" | "none", clock: () => number): VirtMachine {
  const kernel = new Uint8Array(new Uint32Array([WFI, 0x0000006f /* j . */]).buffer);
  return new VirtMachine({ memBytes: 16 << 20, harts: 1, firmware: { kind: firmware }, kernel, console: nullCharBackend, clock, isa });
}

function hasString(bytes: Uint8Array, s: string): boolean {
  return Buffer.from(bytes).includes(Buffer.from(s + "\0"));
}

test("the device tree gives cbom/cboz/cbop block sizes only when the ISA has them", () => {
  const max = board(Isa.profile("max"), "none", () => 0);
  for (const p of ["riscv,cbom-block-size", "riscv,cboz-block-size", "riscv,cbop-block-size"]) assert.ok(hasString(max.dtb, p), p);
  const gc = board(Isa.profile("rv64gc"), "none", () => 0);
  assert.ok(!hasString(gc.dtb, "riscv,cbom-block-size"));
});

test("the built-in SBI enables Sstc, Svpbmt, Svadu, the CBO instructions and senvcfg/sstateen access, as OpenSBI", () => {
  const h = board(Isa.profile("max"), "builtin", () => 0).harts[0];
  assert.ok(h.csrRead(CSR.menvcfg));
  assert.equal(h.csrHi >>> 29, 7, "STCE, PBMTE, ADUE");
  assert.equal(h.csrLo, 0xf0, "CBZE, CBCFE, CBIE = 11");
  assert.ok(h.csrRead(CSR.mstateen0));
  assert.equal(h.csrHi >>> 30, 3, "SE0, ENVCFG");
  const gc = board(Isa.profile("rv64gc"), "builtin", () => 0).harts[0];
  assert.ok(gc.csrRead(CSR.menvcfg));
  assert.equal(gc.csrHi, 0);
  assert.equal(gc.csrLo, 0);
});

test("a hart in WFI wakes when time reaches stimecmp, and the idle deadline says when", () => {
  let ms = 0;
  const m = board(Isa.profile("max"), "none", () => ms);
  const h = m.harts[0];
  h.csrWrite(CSR.menvcfg, 0, 1 << 31); // STCE
  h.csrWrite(CSR.mie, MIP_STIP, 0);
  h.csrWrite(CSR.stimecmp, 50_000, 0); // 5 ms at 10 MHz
  m.step(10);
  assert.equal(h.wfi, true);
  assert.equal(m.step(1000), 0, "every hart waits");
  assert.equal(m.idleDeadline(), 5);
  ms = 4.9;
  assert.equal(m.step(1000), 0);
  ms = 5;
  assert.ok(m.step(1000) > 0, "the timer woke the hart");
  assert.equal(h.mip & MIP_STIP, MIP_STIP);
});
