import { test } from "node:test";
import assert from "node:assert/strict";
import type { IrqLine } from "../../memory/device.js";
import { GoldfishRtc, rtcFdt } from "./goldfish_rtc.js";
import { FdtBuilder, parseFdt, fdtFind, fdtCells, fdtStrings } from "../fdt.js";
import { viaJson } from "../../memory/device.js";

class Line implements IrqLine {
  level = false;
  set(level: boolean): void { this.level = level; }
}

const TIME_LOW = 0x00, TIME_HIGH = 0x04, ALARM_LOW = 0x08, ALARM_HIGH = 0x0c, IRQ_ENABLED = 0x10;
const CLEAR_ALARM = 0x14, ALARM_STATUS = 0x18, CLEAR_INTERRUPT = 0x1c;

function setup(ms = 1_700_000_000_123.5): { rtc: GoldfishRtc; irq: Line; clock: { ms: number } } {
  const clock = { ms };
  const irq = new Line();
  return { rtc: new GoldfishRtc(irq, () => clock.ms), irq, clock };
}

function readTime(rtc: GoldfishRtc): bigint {
  const lo = BigInt(rtc.read(TIME_LOW, 4));
  return (BigInt(rtc.read(TIME_HIGH, 4)) << 32n) | lo;
}

test("time reads host wall-clock nanoseconds exactly", () => {
  const { rtc } = setup();
  assert.equal(readTime(rtc), 1_700_000_000_123_500_000n);
});

test("TIME_LOW read latches TIME_HIGH", () => {
  const { rtc, clock } = setup(0xffff_ffff / 1e6); // just below a 2^32 ns boundary
  const lo = rtc.read(TIME_LOW, 4);
  clock.ms += 1;
  assert.equal(rtc.read(TIME_HIGH, 4), 0);
  assert.equal(lo, 0xffff_ffff);
  assert.equal(rtc.read(TIME_LOW, 4), 0xffff_ffff + 1_000_000 - 2 ** 32);
  assert.equal(rtc.read(TIME_HIGH, 4), 1);
});

test("setting the time (high then low, as Linux does) moves an offset", () => {
  const { rtc, clock } = setup();
  const target = 946_684_800_000_000_000n; // 2000-01-01
  rtc.write(TIME_HIGH, 4, Number(target >> 32n));
  rtc.write(TIME_LOW, 4, Number(target & 0xffff_ffffn));
  assert.equal(readTime(rtc), target);
  clock.ms += 2000;
  assert.equal(readTime(rtc), target + 2_000_000_000n);
});

test("alarm fires at its time; IRQ needs IRQ_ENABLED; CLEAR_INTERRUPT lowers it", () => {
  const { rtc, irq, clock } = setup();
  const at = readTime(rtc) + 5_000_000n; // 5 ms ahead
  rtc.write(ALARM_HIGH, 4, Number(at >> 32n));
  rtc.write(ALARM_LOW, 4, Number(at & 0xffff_ffffn));
  rtc.write(IRQ_ENABLED, 4, 1);
  assert.equal(rtc.read(ALARM_STATUS, 4), 1);
  assert.equal(rtc.nextDeadline(), 5);
  assert.equal((BigInt(rtc.read(ALARM_HIGH, 4)) << 32n) | BigInt(rtc.read(ALARM_LOW, 4)), at);
  clock.ms += 4;
  rtc.tick();
  assert.equal(irq.level, false);
  clock.ms += 1;
  rtc.tick();
  assert.equal(irq.level, true);
  assert.equal(rtc.read(ALARM_STATUS, 4), 0);
  rtc.write(CLEAR_INTERRUPT, 4, 1);
  assert.equal(irq.level, false);
});

test("an alarm in the past fires at once; CLEAR_ALARM disarms", () => {
  const { rtc, irq, clock } = setup();
  rtc.write(IRQ_ENABLED, 4, 1);
  rtc.write(ALARM_HIGH, 4, 0);
  rtc.write(ALARM_LOW, 4, 5);
  assert.equal(irq.level, true);
  rtc.write(CLEAR_INTERRUPT, 4, 1);
  const at = readTime(rtc) + 1_000_000n;
  rtc.write(ALARM_HIGH, 4, Number(at >> 32n));
  rtc.write(ALARM_LOW, 4, Number(at & 0xffff_ffffn));
  rtc.write(CLEAR_ALARM, 4, 1);
  clock.ms += 10;
  rtc.tick();
  assert.equal(irq.level, false);
  assert.equal(rtc.nextDeadline(), Infinity);
});

test("saveState/loadState keeps the offset and alarm", () => {
  const a = setup();
  a.rtc.write(TIME_HIGH, 4, 0);
  a.rtc.write(IRQ_ENABLED, 4, 1);
  const b = setup();
  b.rtc.loadState(viaJson(a.rtc.saveState()));
  assert.equal(readTime(b.rtc), readTime(a.rtc));
  assert.equal(b.rtc.read(IRQ_ENABLED, 4), 1);
});

test("rtcFdt writes QEMU's node", () => {
  const fdt = new FdtBuilder();
  fdt.beginNode("");
  rtcFdt(fdt, 0x101000, 0x1000, 11, 3);
  fdt.endNode();
  const node = fdtFind(parseFdt(fdt.finish()).root, "/rtc@101000");
  assert.ok(node);
  assert.deepEqual(fdtStrings(node, "compatible"), ["google,goldfish-rtc"]);
  assert.deepEqual(fdtCells(node, "reg"), [0, 0x101000, 0, 0x1000]);
  assert.deepEqual(fdtCells(node, "interrupts"), [11]);
  assert.deepEqual(fdtCells(node, "interrupt-parent"), [3]);
});

test("a restored RTC continues from the snapshot's time, not from the host's present", () => {
  const a = setup();
  a.rtc.write(TIME_HIGH, 4, 0x10); // the guest set its clock
  const saved = viaJson(a.rtc.saveState());
  const at = readTime(a.rtc);
  const b = setup(1_800_000_000_000); // restored on a host whose clock is far ahead
  b.rtc.loadState(saved);
  assert.equal(readTime(b.rtc), at);
  b.clock.ms += 1.5;
  assert.equal(readTime(b.rtc), at + 1_500_000n, "then it runs with host time");
  // (readTime latched TIME_HIGH, which is register state too.)
  assert.deepEqual(viaJson(b.rtc.saveState()), { ...saved, timeNs: (at + 1_500_000n).toString(), timeHigh: Number((at + 1_500_000n) >> 32n) });
  assert.throws(() => b.rtc.loadState({ ...saved, version: 3 as 2 }), /incompatible state/);
});
