// MMIO fuzzing on a full virt board: random reads and writes of random widths at random
// offsets of every device window (test, rtc, clint, plic, uart, each virtio-mmio slot: blk on a
// memory disk, 9p on a temp dir, rng, console) and at unmapped addresses, from the bus, with
// device ticks, console input and plausible virtio bring-up sequences mixed in.
// Findings: a device throwing (the bus would turn it into an access fault; the virtio transport
// into NEEDS_RESET), a read returning something other than null or a u32, an unmapped address
// answering, or async device work not settling.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FuzzFinding, FuzzTarget, Rng } from "../lib.js";
import { describe, watchDevice, within } from "../device_watch.js";
import type { AccessWidth } from "../../src/memory/device.js";
import { VirtMachine, VIRT_MEMMAP } from "../../src/system/machine.js";
import { MemBlockBackend } from "../../src/system/devices/virtio_blk.js";
import { nullCharBackend } from "../../src/system/devices/char_backend.js";
import { NodeFs9p } from "../../src/host/node/fs_9p_node.js";
import {
  VIRTIO_MMIO_CONFIG, VIRTIO_MMIO_DRIVER_FEATURES, VIRTIO_MMIO_DRIVER_FEATURES_SEL, VIRTIO_MMIO_QUEUE_DESC_HIGH,
  VIRTIO_MMIO_QUEUE_DESC_LOW, VIRTIO_MMIO_QUEUE_DEVICE_LOW, VIRTIO_MMIO_QUEUE_DRIVER_LOW, VIRTIO_MMIO_QUEUE_NOTIFY,
  VIRTIO_MMIO_QUEUE_NUM, VIRTIO_MMIO_QUEUE_READY, VIRTIO_MMIO_QUEUE_SEL, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE,
  VIRTIO_STATUS_DRIVER, VIRTIO_STATUS_DRIVER_OK, VIRTIO_STATUS_FEATURES_OK,
} from "../../src/system/devices/virtio_mmio.js";

const OPS_PER_BATCH = 3000;
const MEM = 16 << 20;
const share = mkdtempSync(join(tmpdir(), "rvisor-fuzz-mmio-"));
const WIDTHS: readonly AccessWidth[] = [1, 2, 4];
/** `j .` — the hart is never run here, the board just needs a kernel to load. */
const KERNEL = Uint8Array.of(0x6f, 0x00, 0x00, 0x00);

function value(rng: Rng): number {
  switch (rng.below(6)) {
    case 0: return 0;
    case 1: return 0xffffffff;
    case 2: return 1 << rng.below(32) >>> 0;
    case 3: return rng.below(16);
    default: return rng.u32();
  }
}

/** An offset inside a window of `size` bytes, biased toward registers at its start. */
function offsetIn(rng: Rng, size: number, name: string): number {
  if (name.startsWith("virtio")) {
    return rng.chance(0.7) ? 4 * rng.below(VIRTIO_MMIO_CONFIG / 4) : VIRTIO_MMIO_CONFIG + rng.below(64);
  }
  if (name === "plic" && rng.chance(0.6)) return rng.pick([0, 0x1000, 0x2000, 0x200000, 0x201000]) + 4 * rng.below(64);
  if (name === "clint" && rng.chance(0.6)) return rng.pick([0, 0x4000, 0xbff8]) + 4 * rng.below(4);
  switch (rng.below(3)) {
    case 0: return rng.below(Math.min(size, 64));
    case 1: return size - 1 - rng.below(8); // the end, where wide accesses straddle out
    default: return rng.below(size);
  }
}

function board(time: { now: number }, fs: NodeFs9p): VirtMachine {
  return new VirtMachine({
    memBytes: MEM, harts: 2, firmware: { kind: "none" }, kernel: KERNEL, console: nullCharBackend,
    drives: [new MemBlockBackend(64 * 512), new MemBlockBackend(8 * 512, true)],
    shares: [{ fs, tag: "fuzz" }],
    clock: () => time.now, wallClock: () => 1_700_000_000_000, randomBytes: (d) => d.fill(7),
  });
}

export const target: FuzzTarget = {
  name: "mmio",
  description: "random MMIO reads/writes on every window of a full virt board and unmapped addresses; finding = device throw, bad value, hang",
  async batch(rng: Rng, report: (f: FuzzFinding) => void): Promise<number> {
    const time = { now: 0 };
    const fs = new NodeFs9p(share);
    const m = board(time, fs);
    const log: string[] = [];
    const found = (error: string): void => report({ target: "mmio", input: `seed ${rng.seed}, op ${log.length}: ${log.slice(-6).join("; ")}`, error });
    m.bus.onDeviceError = (name, e) => found(`device ${name} threw: ${describe(e)}`);
    for (const t of m.virtio) watchDevice(t.device, (where, e) => found(`${where} threw: ${describe(e)}`));
    const rows = m.rows;
    const virtio = rows.filter((r) => r.name.startsWith("virtio"));
    const ramAddr = (): number => VIRT_MEMMAP.dram.base + rng.below(MEM);
    for (let i = 0; i < OPS_PER_BATCH; i++) {
      const k = rng.below(20);
      if (k < 12) {
        const r = rng.pick(rows);
        const addr = r.base + offsetIn(rng, r.size, r.name), width = rng.pick(WIDTHS);
        if (rng.chance(0.5)) {
          log.push(`r${width} ${r.name}+0x${(addr - r.base).toString(16)}`);
          const v = m.bus.read(addr, width);
          if (v !== null && !(Number.isInteger(v) && v >= 0 && v <= 0xffffffff)) found(`read returned ${v}`);
        } else {
          const v = value(rng);
          log.push(`w${width} ${r.name}+0x${(addr - r.base).toString(16)}=0x${v.toString(16)}`);
          m.bus.write(addr, width, v);
        }
      } else if (k < 14) {
        // Unmapped: between windows, below RAM, far above it.
        const addr = rng.pick([0x0, 0x1000, 0x0010_2000, 0x0c60_0000, 0x1000_0100, 0x1000_9000, 0x7fff_f000, 2 ** 40, rng.u32()]) + rng.below(0x100);
        if (m.bus.find(addr) === null && !m.ram.contains(addr)) {
          log.push(`unmapped 0x${addr.toString(16)}`);
          if (m.bus.read(addr, 4) !== null) found(`unmapped 0x${addr.toString(16)} answered a read`);
          if (m.bus.write(addr, 4, 1)) found(`unmapped 0x${addr.toString(16)} accepted a write`);
        }
      } else if (k < 17) {
        // A plausible (or half-plausible) virtio bring-up on one slot, then a notify.
        const r = rng.pick(virtio);
        const w = (off: number, v: number): void => { m.bus.write(r.base + off, 4, v); };
        log.push(`bring-up ${r.name}`);
        w(VIRTIO_MMIO_STATUS, 0);
        w(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
        w(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0); w(VIRTIO_MMIO_DRIVER_FEATURES, rng.chance(0.5) ? 0xffffffff : rng.u32());
        w(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1); w(VIRTIO_MMIO_DRIVER_FEATURES, rng.chance(0.8) ? 1 : rng.u32());
        w(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
        for (let q = 0; q < 2; q++) {
          w(VIRTIO_MMIO_QUEUE_SEL, rng.chance(0.9) ? q : rng.u32());
          w(VIRTIO_MMIO_QUEUE_NUM, rng.chance(0.7) ? 1 << rng.below(9) : value(rng));
          w(VIRTIO_MMIO_QUEUE_DESC_LOW, ramAddr()); w(VIRTIO_MMIO_QUEUE_DESC_HIGH, rng.chance(0.9) ? 0 : value(rng));
          w(VIRTIO_MMIO_QUEUE_DRIVER_LOW, ramAddr()); w(VIRTIO_MMIO_QUEUE_DEVICE_LOW, ramAddr());
          w(VIRTIO_MMIO_QUEUE_READY, 1);
        }
        w(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
        // Scribble over some RAM (rings, descriptors) and kick.
        for (let n = rng.below(64); n > 0; n--) m.ram.write32(ramAddr() & ~3, rng.chance(0.5) ? rng.below(0x100) : rng.u32());
        w(VIRTIO_MMIO_QUEUE_NOTIFY, rng.below(3));
      } else if (k < 19) {
        time.now += rng.below(1000);
        log.push("tick");
        m.clint.tick(); m.rtc.tick();
        if (rng.chance(0.3)) m.consoleInput(rng.bytes(1 + rng.below(16)));
      } else {
        log.push("wait");
        try { await within(new Promise((res) => setImmediate(res)), 5000); } catch (e) { found(describe(e)); }
      }
    }
    // Let async device work (9p host I/O, blk) finish; it must settle.
    try { await within(new Promise((res) => setTimeout(res, 1)), 5000); } catch (e) { found(describe(e)); }
    await fs.closeAll();
    return OPS_PER_BATCH;
  },
};
