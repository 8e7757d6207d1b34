// Hart unit tests for the privileged extensions: snapshot round trip of their CSRs (and
// version-1 states), Sstc's timer as the machine drives it, and the rv64gc profile without them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Bus } from "../memory/bus.js";
import { Ram } from "../memory/ram.js";
import { CodeCache } from "./code_cache.js";
import { Hart, type HartState } from "./hart.js";
import { Isa } from "./isa.js";
import { viaJson } from "../memory/device.js";
import { CSR, MIP_STIP, MENVCFG_STCE_HI, MENVCFG_PBMTE_HI, MENVCFG_ADUE_HI, MSTATEEN_SE_HI, PRV_M, PRV_S } from "./csr_numbers.js";

const BASE = 0x8000_0000;

function hart(isa: Isa): Hart {
  const ram = new Ram(BASE, 1 << 20);
  return new Hart(0, new Bus(ram), new CodeCache(ram, isa));
}

function read(h: Hart, n: number): bigint | null {
  if (!h.csrRead(n)) return null;
  return (BigInt(h.csrHi >>> 0) << 32n) | BigInt(h.csrLo >>> 0);
}

/** Every CSR these extensions add, with values that differ from the reset values. */
function dirty(h: Hart): void {
  h.csrWrite(CSR.menvcfg, 0xf1, MENVCFG_STCE_HI | MENVCFG_PBMTE_HI | MENVCFG_ADUE_HI);
  h.csrWrite(CSR.senvcfg, 0x51, 0);
  h.csrWrite(CSR.stimecmp, 0x1234_5678, 0x9);
  h.csrWrite(CSR.mstateen0, 0, -1);
  h.csrWrite((CSR.mstateen0 + 2), 0, -1);
  h.csrWrite(CSR.mcounteren, -1, 0);
}

const NEW_CSRS = [CSR.menvcfg, CSR.senvcfg, CSR.stimecmp, CSR.mstateen0, (CSR.mstateen0 + 1), (CSR.mstateen0 + 2), CSR.mstateen3, CSR.mcounteren];

test("the new CSRs round-trip through saveState/loadState (version 3)", () => {
  const a = hart(Isa.profile("max"));
  dirty(a);
  const snap = JSON.parse(JSON.stringify(a.saveState())) as HartState;
  assert.equal(snap.version, 3);
  const b = hart(Isa.profile("max"));
  b.loadState(snap);
  for (const n of NEW_CSRS) assert.equal(read(b, n), read(a, n), `CSR 0x${n.toString(16)}`);
  assert.equal(read(b, CSR.menvcfg), 0xe0000000_000000f1n);
  assert.equal(read(b, CSR.stimecmp), 0x9_1234_5678n);
  assert.equal(read(b, CSR.mstateen0), 0xc0000000_00000000n);
  assert.equal(read(b, (CSR.mstateen0 + 2)), 0x80000000_00000000n);
});

test("a version 1 state (before these CSRs) loads with their reset values", () => {
  const a = hart(Isa.profile("max"));
  a.pc = BASE + 0x40;
  const v1 = JSON.parse(JSON.stringify(a.saveState())) as HartState & { version: number };
  v1.version = 1;
  for (const k of Object.keys(v1.csr)) if (k === "menvcfgHi" || k.startsWith("stimecmp") || k.startsWith("mstateen")) delete v1.csr[k];
  const b = hart(Isa.profile("max"));
  dirty(b);
  b.loadState(v1);
  assert.equal(b.pc, BASE + 0x40);
  assert.equal(read(b, CSR.menvcfg), 0n);
  assert.equal(read(b, CSR.stimecmp), 0xffff_ffff_ffff_ffffn);
  for (const n of [CSR.mstateen0, (CSR.mstateen0 + 1), (CSR.mstateen0 + 2), CSR.mstateen3]) assert.equal(read(b, n), 0n);
  assert.throws(() => { b.loadState({ ...v1, version: 4 } as unknown as HartState); }, /unsupported hart state version 4/);
});

test("Sstc: STIP follows time >= stimecmp only while menvcfg.STCE = 1, wakes WFI, and gives a deadline", () => {
  const h = hart(Isa.profile("max"));
  let now = 1000;
  h.timeSource = () => now;
  h.csrWrite(CSR.stimecmp, 1500, 0);
  h.updateTimer(now = 2000);
  assert.equal(h.mip & MIP_STIP, 0, "STCE = 0: no supervisor timer interrupt");
  assert.equal(h.timerDeadline(now), Infinity);
  h.csrWrite(CSR.menvcfg, 0, MENVCFG_STCE_HI);
  assert.equal(h.mip & MIP_STIP, MIP_STIP, "enabling STCE evaluates the compare at once");
  h.csrWrite(CSR.stimecmp, 5000, 0);
  assert.equal(h.mip & MIP_STIP, 0, "a future stimecmp lowers STIP");
  assert.equal(h.timerDeadline(now), 3000);
  h.csrWrite(CSR.mie, MIP_STIP, 0);
  h.wfi = true;
  h.updateTimer(now = 4999);
  assert.equal(h.wfi, true);
  h.updateTimer(now = 5000);
  assert.equal(h.mip & MIP_STIP, MIP_STIP);
  assert.equal(h.wfi, false, "the pending, enabled STIP ends WFI");
  assert.equal(h.timerDeadline(now), Infinity, "already pending");
  h.csrWrite(CSR.mip, 0, 0);
  assert.equal(h.mip & MIP_STIP, MIP_STIP, "STIP is read-only in mip while STCE = 1");
  // S-mode access needs mcounteren.TM as well.
  h.setPriv(PRV_S);
  assert.equal(read(h, CSR.stimecmp), null);
  h.setPriv(PRV_M);
  h.csrWrite(CSR.mcounteren, 2, 0);
  h.setPriv(PRV_S);
  assert.equal(read(h, CSR.stimecmp), 5000n);
});

test("rv64gc: no stimecmp, stateen, trigger or envcfg extension bits; counteren stays 3 bits", () => {
  const h = hart(Isa.profile("rv64gc"));
  for (const n of [CSR.stimecmp, CSR.mstateen0, CSR.sstateen0, CSR.tselect, CSR.tdata1, CSR.tinfo]) assert.equal(read(h, n), null, `CSR 0x${n.toString(16)}`);
  h.csrWrite(CSR.menvcfg, -1, -1);
  assert.equal(read(h, CSR.menvcfg), 1n, "only FIOM");
  h.csrWrite(CSR.senvcfg, -1, -1);
  assert.equal(read(h, CSR.senvcfg), 1n);
  h.csrWrite(CSR.mcounteren, -1, -1);
  assert.equal(read(h, CSR.mcounteren), 7n);
  const max = hart(Isa.profile("max"));
  max.csrWrite(CSR.mstateen0, -1, MSTATEEN_SE_HI);
  assert.equal(read(max, CSR.mstateen0), 0x80000000_00000000n);
  assert.equal(read(max, CSR.tinfo), 0x0100_0001n);
});

test("version 3 keeps Sstc's STIP level and the no-progress counters", () => {
  const a = hart(Isa.profile("max"));
  a.timeSource = () => 5000;
  a.csrWrite(CSR.menvcfg, 0, MENVCFG_STCE_HI);
  a.csrWrite(CSR.stimecmp, 100, 0); // due: STIP is raised by Sstc
  a.noProgressTraps = 7; a.noProgressPc = BASE + 8; a.noProgressCause = 2; a.noProgressPriv = 1;
  assert.notEqual(a.mip & MIP_STIP, 0);
  const b = hart(Isa.profile("max"));
  b.loadState(viaJson(a.saveState()));
  assert.notEqual(b.mip & MIP_STIP, 0, "STIP is pending right after the restore, before any timer update");
  assert.deepEqual([b.noProgressTraps, b.noProgressPc, b.noProgressCause, b.noProgressPriv], [7, BASE + 8, 2, 1]);
  assert.deepEqual(viaJson(b.saveState()), viaJson(a.saveState()));
});
