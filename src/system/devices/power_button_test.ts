import { test } from "node:test";
import assert from "node:assert/strict";
import type { IrqLine } from "../../memory/device.js";
import { Plic } from "./plic.js";
import { KEY_POWER, PowerButton } from "./power_button.js";
import { fdtCells, fdtFind, fdtStrings, parseFdt } from "../fdt.js";
import { VirtMachine, VIRT_MEMMAP } from "../machine.js";
import { nullCharBackend } from "./char_backend.js";

class Line implements IrqLine {
  level = false;
  set(level: boolean): void { this.level = level; }
}

const IRQ = VIRT_MEMMAP.powerButton.irq;
const PRIO = (id: number): number => 4 * id;
const ENABLE_S0 = 0x2000 + 0x80 * 1;
const CLAIM_S0 = 0x20_0000 + 0x1000 * 1 + 4;

function setup(): { plic: Plic; seip: Line; button: PowerButton } {
  const seip = new Line();
  const plic = new Plic([{ meip: new Line(), seip }]);
  plic.write(PRIO(IRQ), 4, 1);
  plic.write(ENABLE_S0, 4, 1 << IRQ);
  return { plic, seip, button: new PowerButton(plic, IRQ) };
}

test("power button: one press is one interrupt — the line drops once the guest claims it", () => {
  const { plic, seip, button } = setup();
  button.tick();
  assert.equal(seip.level, false);
  button.press();
  assert.equal(seip.level, true);
  button.tick(); // not claimed yet: the press stays pending (a tick must not lose it)
  assert.equal(seip.level, true);
  assert.equal(plic.read(CLAIM_S0, 4), IRQ);
  button.tick(); // claimed: released
  plic.write(CLAIM_S0, 4, IRQ); // complete
  assert.equal(seip.level, false, "a completed press must not interrupt again");
  assert.equal(plic.read(CLAIM_S0, 4), 0);
  // A second press works the same way.
  button.press();
  assert.equal(plic.read(CLAIM_S0, 4), IRQ);
  button.tick();
  plic.write(CLAIM_S0, 4, IRQ);
  assert.equal(plic.read(CLAIM_S0, 4), 0);
});

test("power button: without the release a level source would interrupt again after completion", () => {
  const { plic, button } = setup();
  button.press();
  assert.equal(plic.read(CLAIM_S0, 4), IRQ);
  plic.write(CLAIM_S0, 4, IRQ); // complete without a tick in between
  assert.equal(plic.read(CLAIM_S0, 4), IRQ, "the line is still high, so the PLIC forwards it again");
  button.tick();
  plic.write(CLAIM_S0, 4, IRQ);
  assert.equal(plic.read(CLAIM_S0, 4), 0);
});

test("virt board: the device tree has a gpio-keys KEY_POWER wired to the PLIC", () => {
  const m = new VirtMachine({ memBytes: 16 << 20, harts: 1, firmware: { kind: "none" }, kernel: new Uint8Array(64), console: nullCharBackend });
  const root = parseFdt(m.dtb).root;
  const keys = fdtFind(root, "/gpio-keys");
  assert.ok(keys !== null, "no /gpio-keys node");
  assert.deepEqual(fdtStrings(keys, "compatible"), ["gpio-keys"]);
  const key = fdtFind(root, "/gpio-keys/poweroff");
  assert.ok(key !== null);
  assert.deepEqual(fdtCells(key, "linux,code"), [KEY_POWER]);
  const plic = fdtFind(root, `/soc/plic@${VIRT_MEMMAP.plic.base.toString(16)}`);
  assert.ok(plic !== null);
  assert.deepEqual(fdtCells(key, "interrupts-extended"), [fdtCells(plic, "phandle")[0], IRQ]);
  // The key works on the board: a press reaches the PLIC's pending bits.
  m.pressPowerButton();
  assert.notEqual(m.plic.read(0x1000, 4) & (1 << IRQ), 0);
});
