import { test } from "node:test";
import assert from "node:assert/strict";
import { Bus } from "./bus.js";
import { Ram } from "./ram.js";
import type { AccessWidth } from "./device.js";

test("MMIO dispatch, unmapped addresses and overlapping windows", () => {
  const bus = new Bus(new Ram(0x8000_0000, 4096));
  const log: string[] = [];
  bus.map("dev", 0x1000_0000, 0x100, {
    read: (o: number, w: AccessWidth) => { log.push(`r${o}/${w}`); return 0xab; },
    write: (o: number, w: AccessWidth, v: number) => { log.push(`w${o}/${w}=${v}`); },
  });
  assert.equal(bus.read(0x1000_0004, 4), 0xab);
  assert.equal(bus.write(0x1000_0008, 1, 7), true);
  assert.deepEqual(log, ["r4/4", "w8/1=7"]);
  assert.equal(bus.read(0x2000_0000, 4), null);
  assert.equal(bus.write(0x1000_00fe, 4, 0), false, "an access straddling the window's end faults");
  assert.throws(() => bus.map("other", 0x1000_0080, 0x100, { read: () => 0, write: () => {} }), /overlaps/);
});

test("a device that throws turns the access into a fault instead of crashing the host", () => {
  const bus = new Bus(new Ram(0x8000_0000, 4096));
  const errors: string[] = [];
  bus.onDeviceError = (name) => errors.push(name);
  bus.map("broken", 0x1000, 0x100, { read: () => { throw new Error("boom"); }, write: () => { throw new RangeError("bad"); } });
  assert.equal(bus.read(0x1000, 4), null);
  assert.equal(bus.write(0x1000, 4, 1), false);
  assert.deepEqual(errors, ["broken", "broken"]);
});
