import { test } from "node:test";
import assert from "node:assert/strict";
import { SifiveTest, testFdt, testPowerFdt, type PowerEvent } from "./sifive_test.js";
import { FdtBuilder, parseFdt, fdtFind, fdtCells, fdtStrings } from "../fdt.js";

function setup(): { dev: SifiveTest; events: PowerEvent[] } {
  const events: PowerEvent[] = [];
  return { dev: new SifiveTest((e) => events.push(e)), events };
}

test("finisher writes become power events", () => {
  const { dev, events } = setup();
  dev.write(0, 4, 0x5555);
  dev.write(0, 4, (3 << 16) | 0x3333);
  dev.write(0, 4, 0x7777);
  dev.write(0, 2, 0x5555);
  assert.deepEqual(events, [
    { kind: "poweroff", code: 0 },
    { kind: "poweroff", code: 3 },
    { kind: "reset", code: 0 },
    { kind: "poweroff", code: 0 },
  ]);
});

test("other values, offsets and byte writes are ignored; reads are 0", () => {
  const { dev, events } = setup();
  dev.write(0, 4, 0x1234);
  dev.write(4, 4, 0x5555);
  dev.write(0, 1, 0x55);
  assert.equal(events.length, 0);
  assert.equal(dev.read(0, 4), 0);
});

test("testFdt and testPowerFdt write QEMU's nodes", () => {
  const fdt = new FdtBuilder();
  const ph = fdt.allocPhandle();
  fdt.beginNode("");
  testPowerFdt(fdt, ph);
  fdt.beginNode("soc");
  testFdt(fdt, 0x100000, 0x1000, ph);
  fdt.endNode();
  fdt.endNode();
  const { root } = parseFdt(fdt.finish());
  const t = fdtFind(root, "/soc/test@100000");
  assert.ok(t);
  assert.deepEqual(fdtStrings(t, "compatible"), ["sifive,test1", "sifive,test0", "syscon"]);
  assert.deepEqual(fdtCells(t, "phandle"), [ph]);
  const off = fdtFind(root, "/poweroff");
  const reboot = fdtFind(root, "/reboot");
  assert.ok(off && reboot);
  assert.deepEqual(fdtStrings(off, "compatible"), ["syscon-poweroff"]);
  assert.deepEqual(fdtCells(off, "value"), [0x5555]);
  assert.deepEqual(fdtCells(off, "regmap"), [ph]);
  assert.deepEqual(fdtCells(reboot, "value"), [0x7777]);
  assert.deepEqual(fdtStrings(reboot, "compatible"), ["syscon-reboot"]);
});
