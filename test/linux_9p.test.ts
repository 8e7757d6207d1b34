// Boots the real guest once with a --share and moves files of every awkward size through
// virtio-9p in both directions, under three mounts (the kernel's default msize, msize=8192, and
// msize=512k with cache=loose), comparing sha256 between guest and host. Sizes straddle 512 and
// the page size, msize - P9_IOHDRSZ (the largest payload of one Tread/Twrite), msize itself,
// and go up to 4 MiB.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GuestConsole, guestImage as image } from "./lib/guest.js";
import { scaled } from "./lib/time_scale.js";

const BOOT_TIMEOUT = 180_000;
/** net/9p/client.c: what a read/write reply header may take of msize. */
const P9_IOHDRSZ = 24;
/** fs/9p/v9fs.h DEFAULT_MSIZE: /proc/mounts shows msize only when it differs. */
const DEFAULT_MSIZE = 128 * 1024;
const MiB = 1 << 20;

const img = await image();
const skip = typeof img === "string" ? img : false;
const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

function sizesFor(msize: number, big: boolean): number[] {
  const m = msize, io = msize - P9_IOHDRSZ;
  const s = [1, 511, 512, 4095, 4096, 4097, io - 1, io, io + 1, m - 1, m, m + 1];
  if (big) s.push(MiB, 4 * MiB);
  return [...new Set(s)].sort((a, b) => a - b);
}

test("9p share: reads and writes of 1 B to 4 MiB across msize and page boundaries match the host's sha256", { skip, timeout: scaled(600_000) }, async () => {
  if (typeof img === "string") return;
  const share = mkdtempSync(join(tmpdir(), "rvisor-9p-sizes-"));
  const hostData = new Map<number, Uint8Array>();
  const file = (n: number): Uint8Array => {
    let d = hostData.get(n);
    if (d === undefined) { d = new Uint8Array(randomBytes(n)); hostData.set(n, d); writeFileSync(join(share, `r${n}`), d); }
    return d;
  };
  const g = new GuestConsole(["--kernel", img.kernel, "--initrd", img.initrd, "--append", "console=ttyS0 quiet",
    "--mem", "256M", "--share", `${share},tag=host0`]);
  try {
    await g.waitFor("rvisor guest ready", BOOT_TIMEOUT);
    await g.waitFor(/# $/m, 30_000);
    const mounts = [
      { dir: "a", opts: "", big: true },
      { dir: "b", opts: ",msize=8192", big: false },
      { dir: "c", opts: ",msize=524288,cache=loose", big: false },
    ];
    for (const mnt of mounts) {
      const t0 = performance.now();
      const mp = `/mnt/${mnt.dir}`;
      const line = await g.run(`mkdir -p ${mp} && mount -t 9p -o trans=virtio,version=9p2000.L${mnt.opts} host0 ${mp} && grep ' ${mp} ' /proc/mounts`);
      assert.match(line, new RegExp(`^host0 ${mp} 9p `, "m"), `mount ${mnt.opts}: ${line}`);
      const msize = Number(/msize=(\d+)/.exec(line)?.[1] ?? DEFAULT_MSIZE);
      const sizes = sizesFor(msize, mnt.big);
      for (const n of sizes) file(n);
      // Read: copy to tmpfs and hash there. Write: copy the tmpfs file back into the share (cat
      // uses sendfile: page-sized pipe buffers that the client packs into Twrites of up to
      // msize - P9_IOHDRSZ; with cache=loose the page cache writes back on sync).
      const out = await g.run(`for n in ${sizes.join(" ")}; do cat ${mp}/r$n > /tmp/x && echo "R $n $(sha256sum < /tmp/x)" && ` +
        `cat /tmp/x > ${mp}/w${mnt.dir}$n || echo "E $n $?"; rm -f /tmp/x; done; sync`, 300_000);
      assert.doesNotMatch(out, /^E /m, `msize ${msize}${mnt.opts}: a copy failed:\n${out}`);
      const got = new Map(out.trim().split("\n").filter((l) => l.startsWith("R ")).map((l) => {
        const [, n, h] = l.trim().split(/\s+/);
        return [Number(n), h] as const;
      }));
      for (const n of sizes) {
        const want = sha256(file(n));
        assert.equal(got.get(n), want, `msize ${msize}${mnt.opts}: guest read of ${n} bytes; guest said:\n${out}`);
        const back = readFileSync(join(share, `w${mnt.dir}${n}`));
        assert.equal(back.length, n, `msize ${msize}${mnt.opts}: guest write of ${n} bytes`);
        assert.equal(sha256(back), want, `msize ${msize}${mnt.opts}: guest write of ${n} bytes`);
      }
      // One virtio-9p channel serves one mount at a time (trans_virtio: -EBUSY otherwise).
      assert.equal((await g.run(`umount ${mp} && echo unmounted`)).trim(), "unmounted");
      process.stderr.write(`9p msize ${msize}${mnt.opts}: ${sizes.length} sizes both ways in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    }
    g.send("poweroff\n");
    assert.equal(await g.exited, 0);
  } finally {
    g.kill();
  }
});
