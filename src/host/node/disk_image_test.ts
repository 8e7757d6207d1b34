import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDisk } from "./disk_image.js";
import { VirtioBlk, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_S_OK } from "../../system/devices/virtio_blk.js";
import { TestDriver } from "../../system/devices/virtio_testing.js";

test("a raw disk image: read, write, fsync through virtio-blk; readonly refuses writes", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rvisor-blk-"));
  try {
    const img = join(dir, "disk.img");
    const init = new Uint8Array(16 * 512).map((_, i) => i & 0xff);
    writeFileSync(img, init);
    const disk = await openDisk(img, { format: "raw", lock: false });
    const be = disk.backend;
    assert.equal(be.size, 16 * 512);
    const blk = new VirtioBlk(be);
    const d = new TestDriver(blk);
    d.init(undefined, [32]);
    const hdr = (t: number, s: number): Uint8Array => { const h = new Uint8Array(16); h[0] = t; h[8] = s; return h; };
    const r = d.submit(0, [{ data: hdr(VIRTIO_BLK_T_IN, 1) }, { writeLen: 512 }, { writeLen: 1 }]);
    const w = d.submit(0, [{ data: hdr(VIRTIO_BLK_T_OUT, 2) }, { data: new Uint8Array(512).fill(0xab) }, { writeLen: 1 }]);
    const f = d.submit(0, [{ data: hdr(VIRTIO_BLK_T_FLUSH, 0) }, { writeLen: 1 }]);
    await blk.idle();
    assert.equal(d.takeUsed(0).length, 3);
    assert.deepEqual(d.ram.read(r.bufs[1].addr, 512), init.subarray(512, 1024));
    assert.equal(d.ram.read8(w.bufs[2].addr), VIRTIO_BLK_S_OK);
    assert.equal(d.ram.read8(f.bufs[1].addr), VIRTIO_BLK_S_OK);
    await disk.close();
    const after = readFileSync(img);
    assert.ok(after.subarray(1024, 1536).every((b) => b === 0xab));
    assert.equal(after[512], 0);

    const ro = await openDisk(img, { format: "raw", readonly: true, lock: false });
    assert.equal(ro.backend.readonly, true);
    await assert.rejects(async () => ro.backend.write(0, new Uint8Array(1)));
    await ro.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
