// Virtqueue fuzzing: hostile descriptor tables and avail rings — loops, addresses outside RAM or
// on top of the rings themselves, huge lengths, wrong NEXT/WRITE/INDIRECT flags, nested and
// malformed indirect tables, avail index jumps — against each virtio device (blk on a memory
// disk and on a temp file, console, rng, 9p on a temp dir), with plausible request contents so
// the device code runs deep. After each input the device is reset and must answer a valid request.
// Findings: a device throwing, a request that never completes, a device that does not recover.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FuzzFinding, FuzzTarget, Rng } from "../lib.js";
import { describe, watchDevice, within } from "../device_watch.js";
import {
  VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1, VIRTIO_MMIO_QUEUE_DESC_LOW, VIRTIO_MMIO_QUEUE_DEVICE_LOW,
  VIRTIO_MMIO_QUEUE_DRIVER_LOW, VIRTIO_MMIO_QUEUE_SEL, VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE,
  featureBit, type VirtioDevice,
} from "../../src/system/devices/virtio_mmio.js";
import { TEST_RAM_BASE, TestDriver, type TestBuf } from "../../src/system/devices/virtio_testing.js";
import { MemBlockBackend, VirtioBlk, VIRTIO_BLK_S_OK, VIRTIO_BLK_T_IN } from "../../src/system/devices/virtio_blk.js";
import { VirtioConsole } from "../../src/system/devices/virtio_console.js";
import { VirtioRng } from "../../src/system/devices/virtio_rng.js";
import { P9, P9Writer, Virtio9p } from "../../src/system/devices/virtio_9p.js";
import { CaptureCharBackend } from "../../src/system/devices/char_backend.js";
import { openDisk, type OpenDisk } from "../../src/host/node/disk_image.js";
import { NodeFs9p } from "../../src/host/node/fs_9p_node.js";

const INPUTS_PER_BATCH = 150;
const RAM = 2 << 20;
const HEAP = TEST_RAM_BASE + 0x100000;
const tmp = mkdtempSync(join(tmpdir(), "rvisor-fuzz-vq-"));
const share = join(tmp, "share");
const diskFile = join(tmp, "disk.img");
writeFileSync(diskFile, new Uint8Array(64 * 512));
mkdirSync(share, { recursive: true });

interface Subject {
  name: string;
  dev: VirtioDevice;
  d: TestDriver;
  /** Settles when the device has answered everything it was given. */
  idle(): Promise<void>;
  /** Plausible request contents for queue `q` (readable parts). */
  request(rng: Rng, q: number): Uint8Array;
  /** A valid request after a reset: resolves if the device answers it correctly. */
  probe(): Promise<string | null>;
}

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

function blkHeader(rng: Rng): Uint8Array {
  const h = new Uint8Array(16), dv = new DataView(h.buffer);
  dv.setUint32(0, rng.pick([0, 1, 4, 8, 11, 13, rng.u32()]), true);
  const [lo, hi] = rng.chance(0.7) ? [rng.below(80), 0] : rng.u64();
  dv.setUint32(8, lo, true); dv.setUint32(12, hi, true);
  return h;
}

function p9Message(rng: Rng): Uint8Array {
  const tag = rng.below(0x10000);
  switch (rng.below(5)) {
    case 0: return P9Writer.header(P9.Tversion, tag).u32(rng.pick([4096, 8192, 1 << 19, rng.u32()])).str("9P2000.L").finish();
    case 1: return P9Writer.header(P9.Tattach, tag).u32(rng.below(4)).u32(0xffffffff).str("u").str("").u32(0).finish();
    case 2: return P9Writer.header(P9.Twalk, tag).u32(rng.below(4)).u32(rng.below(4)).u16(1).str(rng.pick(["a", "..", "x"])).finish();
    case 3: return P9Writer.header(P9.Tread, tag).u32(rng.below(4)).u64(rng.below(100)).u32(rng.pick([0, 1, 4096, rng.u32()])).finish();
    default: { const m = rng.bytes(7 + rng.below(40)); new DataView(m.buffer).setUint32(0, rng.chance(0.5) ? m.length : rng.u32(), true); return m; }
  }
}

/** The disk images a batch opened (closed with the batch). */
const openDisks: OpenDisk[] = [];

async function subjects(): Promise<Subject[]> {
  const opened = await openDisk(diskFile, { format: "raw", lock: false });
  openDisks.push(opened);
  const fileDisk = opened.backend;
  const out: Subject[] = [];
  const blk = (name: string, be: ConstructorParameters<typeof VirtioBlk>[0]): Subject => {
    const dev = new VirtioBlk(be);
    const d = new TestDriver(dev, RAM);
    return {
      name, dev, d, idle: () => dev.idle(), request: (rng) => blkHeader(rng),
      async probe() {
        d.init(featureBit(VIRTIO_F_VERSION_1), [16]);
        const hdr = new Uint8Array(16); hdr[0] = VIRTIO_BLK_T_IN;
        const s = d.submit(0, [{ data: hdr }, { writeLen: 512 }, { writeLen: 1 }]);
        await within(dev.idle(), 5000);
        const used = d.takeUsed(0);
        if (used.length !== 1 || used[0].len !== 513) return `probe: used ${JSON.stringify(used)}`;
        return d.ram.read8(s.bufs[2].addr) === VIRTIO_BLK_S_OK ? null : "probe: status not OK";
      },
    };
  };
  out.push(blk("blk-mem", new MemBlockBackend(64 * 512)), blk("blk-file", fileDisk));
  {
    const cap = new CaptureCharBackend();
    const dev = new VirtioConsole(cap);
    const d = new TestDriver(dev, RAM);
    out.push({
      name: "console", dev, d, idle: settle, request: (rng) => rng.bytes(rng.below(64)),
      async probe() {
        d.init(featureBit(VIRTIO_F_VERSION_1), [16, 16]);
        cap.clear();
        d.submit(1, [{ data: new TextEncoder().encode("probe") }]);
        return cap.text() === "probe" ? null : `probe: console wrote ${JSON.stringify(cap.text())} (status ${d.status()}, ${d.mmio.lastError})`;
      },
    });
  }
  {
    const dev = new VirtioRng((b) => b.fill(0x5a));
    const d = new TestDriver(dev, RAM);
    out.push({
      name: "rng", dev, d, idle: settle, request: () => new Uint8Array(0),
      async probe() {
        d.init(featureBit(VIRTIO_F_VERSION_1), [16]);
        const s = d.submit(0, [{ writeLen: 32 }]);
        const used = d.takeUsed(0);
        return used.length === 1 && used[0].len === 32 && d.ram.read8(s.bufs[0].addr) === 0x5a ? null : `probe: ${JSON.stringify(used)}`;
      },
    });
  }
  {
    const dev = new Virtio9p(new NodeFs9p(share), "fuzz");
    const d = new TestDriver(dev, RAM);
    out.push({
      name: "9p", dev, d, idle: () => dev.idle(), request: (rng) => p9Message(rng),
      async probe() {
        d.init(featureBit(VIRTIO_F_VERSION_1), [16]);
        const s = d.submit(0, [{ data: P9Writer.header(P9.Tversion, 1).u32(8192).str("9P2000.L").finish() }, { writeLen: 64 }]);
        await within(dev.idle(), 5000);
        const used = d.takeUsed(0);
        if (used.length !== 1) return `probe: used ${JSON.stringify(used)}`;
        return d.ram.read8(s.bufs[1].addr + 4) === P9.Rversion ? null : "probe: no Rversion";
      },
    });
  }
  return out;
}

/** An address for a buffer: mostly valid heap RAM, sometimes hostile. */
function addr(rng: Rng, rings: number[]): number {
  switch (rng.below(10)) {
    case 0: return rng.pick([0, TEST_RAM_BASE - 1, TEST_RAM_BASE - 8, 2 ** 40, 2 ** 64 - 1, 0xffffffff]);
    case 1: return TEST_RAM_BASE + RAM - rng.below(64);          // at the end of RAM
    case 2: return rng.pick(rings) + rng.below(64);              // on top of the rings
    case 3: { const [lo, hi] = rng.u64(); return lo + hi * 2 ** 32; }
    default: return HEAP + rng.below(RAM - (HEAP - TEST_RAM_BASE) - 0x10000);
  }
}

function len(rng: Rng): number {
  return rng.chance(0.7) ? rng.pick([0, 1, 15, 16, 17, 512, 513, 4096]) + rng.below(64)
    : rng.pick([0xffffffff, 0x80000000, RAM, RAM - 1, 1 << 20, rng.u32()]);
}

export const target: FuzzTarget = {
  name: "virtqueue",
  description: "hostile descriptor tables/avail rings on blk (mem, file), console, rng, 9p; finding = device throw, hang, no recovery",
  async batch(rng: Rng, report: (f: FuzzFinding) => void): Promise<number> {
    const subs = await subjects();
    for (const s of subs) watchDevice(s.dev, (where, e) => report({ target: "virtqueue", input: `seed ${rng.seed} ${s.name}`, error: `${where} threw: ${describe(e)}` }));
    for (let n = 0; n < INPUTS_PER_BATCH; n++) {
      const s = rng.pick(subs);
      const { d } = s;
      const where = `seed ${rng.seed}, input ${n}, ${s.name}`;
      let features = featureBit(VIRTIO_F_VERSION_1);
      if (rng.chance(0.6)) features |= featureBit(VIRTIO_F_INDIRECT_DESC);
      if (rng.chance(0.4)) features |= featureBit(VIRTIO_F_EVENT_IDX);
      const sizes = Array.from({ length: s.dev.numQueues }, () => 1 << rng.below(7));
      d.init(features, sizes);
      const mark = d.mark();
      try {
        for (let k = 1 + rng.below(6); k > 0; k--) {
          const q = rng.below(s.dev.numQueues);
          const size = sizes[q];
          d.w(VIRTIO_MMIO_QUEUE_SEL, q);
          const rings = [d.r(VIRTIO_MMIO_QUEUE_DESC_LOW), d.r(VIRTIO_MMIO_QUEUE_DRIVER_LOW), d.r(VIRTIO_MMIO_QUEUE_DEVICE_LOW)];
          if (rng.chance(0.4)) {
            // A well-formed chain (possibly indirect) with plausible contents, to reach deep code.
            const bufs: TestBuf[] = [{ data: s.request(rng, q) }];
            for (let b = rng.below(4); b > 0; b--) bufs.push(rng.chance(0.3) ? { data: rng.bytes(rng.below(600)) } : { writeLen: rng.below(9000) });
            bufs.push({ writeLen: 1 + rng.below(64) });
            d.submit(q, q === 1 && s.name === "console" ? bufs.filter((b) => b.data !== undefined) : bufs,
              { indirect: rng.chance(0.3) && (features & featureBit(VIRTIO_F_INDIRECT_DESC)) !== 0n, notify: false });
          } else {
            // Raw descriptors: any flags, any next, any address and length.
            for (let i = 0; i < size; i++) {
              if (!rng.chance(0.5)) continue;
              let flags = rng.below(8);
              let a = addr(rng, rings), l = len(rng);
              if (flags & VIRTQ_DESC_F_INDIRECT && rng.chance(0.7)) {
                // An indirect table of random descriptors.
                const entries = 1 + rng.below(8);
                a = d.alloc(16 * entries, 16);
                l = rng.chance(0.8) ? 16 * entries : len(rng);
                for (let e = 0; e < entries; e++) {
                  d.ram.write64(a + 16 * e, addr(rng, rings)); d.ram.write32(a + 16 * e + 8, len(rng));
                  d.ram.write16(a + 16 * e + 12, rng.below(8)); d.ram.write16(a + 16 * e + 14, rng.chance(0.8) ? e + 1 : rng.below(0x10000));
                }
              } else if (!(flags & VIRTQ_DESC_F_WRITE) && rng.chance(0.5)) {
                // A readable buffer holding a plausible request.
                const body = s.request(rng, q);
                a = d.alloc(Math.max(body.length, 1), 8); d.ram.write(a, body); l = body.length;
              }
              if (rng.chance(0.05)) flags = rng.below(0x10000);
              const next = rng.chance(0.6) ? (i + 1) % size : rng.chance(0.5) ? i : rng.below(0x10000);
              d.writeDesc(q, i, a, l, flags | (rng.chance(0.3) ? VIRTQ_DESC_F_NEXT : 0), next);
            }
            const heads = 1 + rng.below(4);
            for (let h = 0; h < heads; h++) d.makeAvailable(q, rng.chance(0.9) ? rng.below(size) : rng.below(0x10000));
            if (rng.chance(0.1)) d.ram.write16(rings[1] + 2, rng.below(0x10000)); // avail idx jumps
            if (rng.chance(0.1)) d.ram.write16(rings[1], rng.below(4));          // avail flags
          }
          d.notify(rng.chance(0.95) ? q : rng.below(0x10000));
        }
        if (s.name === "console" && rng.chance(0.5)) (s.dev as VirtioConsole).receive(rng.bytes(1 + rng.below(300)));
        await within(s.idle(), 5000);
        await settle();
        // Whatever happened, a reset brings the device back.
        d.release(mark);
        const bad = await s.probe();
        if (bad !== null) report({ target: "virtqueue", input: where, error: `no recovery after reset: ${bad}` });
      } catch (e) {
        report({ target: "virtqueue", input: where, error: describe(e) });
      } finally {
        d.release(mark);
      }
    }
    await fileDiskClose(subs);
    return INPUTS_PER_BATCH;
  },
};

/** Closes what a batch opened on the host (the disk file, 9p file handles). */
async function fileDiskClose(subs: Subject[]): Promise<void> {
  for (const d of openDisks.splice(0)) await d.close();
  for (const s of subs) {
    if (s.dev instanceof Virtio9p && s.dev.server.fs instanceof NodeFs9p) await s.dev.server.fs.closeAll();
  }
}
