// A managed VM's disks open through openDisk: a qcow2 overlay on a raw base works, the base is
// share-locked while the VM holds it, and a missing backing file is a clear VmBuildError.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { parseVmConfig } from "../../hypervisor/config.js";
import { openVmResources, VmBuildError } from "./virt_build.js";
import { openDisk } from "./disk_image.js";

const MIB = 1 << 20;

test("VM resources: a qcow2 overlay disk with a raw backing file opens, reads the base and locks it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rvisor-vmdisk-"));
  try {
    const base = join(dir, "base.raw"), ov = join(dir, "ov.qcow2"), kernel = join(dir, "Image");
    const baseBytes = new Uint8Array(MIB).map((_, i) => (i * 7) & 0xff);
    writeFileSync(base, baseBytes);
    writeFileSync(kernel, new Uint8Array(4096));
    const q = spawnSync("qemu-img", ["create", "-q", "-f", "qcow2", "-b", "base.raw", "-F", "raw", ov], { encoding: "utf8" });
    assert.equal(q.status, 0, q.stderr);
    const cfg = parseVmConfig({ name: "d", boot: { kernel }, disks: [{ path: ov, format: "qcow2" }] });
    const r = await openVmResources(cfg);
    try {
      const d = r.drives[0];
      assert.ok(d !== undefined);
      assert.equal(d.format, "qcow2");
      assert.deepEqual(d.chain.map((c) => c.format), ["qcow2", "raw"]);
      assert.equal(d.backend.size, MIB);
      const got = new Uint8Array(512);
      await d.backend.read(4096, got);
      assert.deepEqual(got, baseBytes.subarray(4096, 4096 + 512));
      // The backing file is in use read-only: a second writer of it is refused.
      await assert.rejects(openDisk(base, { format: "raw" }), /Failed to get "write" lock/);
    } finally {
      for (const d of r.drives) await d.close();
    }
    rmSync(base);
    const missing = parseVmConfig({ name: "d", boot: { kernel }, disks: [{ path: ov, format: "qcow2" }] });
    await assert.rejects(openVmResources(missing), (e: unknown) => e instanceof VmBuildError && /disks\[0\]: cannot open .*base\.raw/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
