// qcow2 against the real qemu-img/qemu-io: images QEMU makes are written by rvisor and pass
// `qemu-img check` and `qemu-img compare` against a raw copy with the same writes; images
// rvisor creates are accepted by `qemu-img info/check`; data QEMU writes (plain, zero and
// compressed clusters) reads back in rvisor; and the default Linux guest writes a file to an
// ext4 disk that is a qcow2 overlay of its rootfs, which QEMU's tools then find.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { closeSync, copyFileSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDisk } from "../src/host/node/disk_image.js";
import { DiskLockError } from "../src/host/node/disk_lock.js";
import { GuestConsole, RVISOR_BIN, guestImage } from "./lib/guest.js";
import { scaled } from "./lib/time_scale.js";

const haveQemuImg = spawnSync("qemu-img", ["--version"]).status === 0 && spawnSync("qemu-io", ["--version"]).status === 0;
const skip = haveQemuImg ? false : "qemu-img/qemu-io not installed (scripts/install-deps.sh installs qemu-utils)";
const work = mkdtempSync(join(tmpdir(), "rvisor-qcow2-"));
process.on("exit", () => rmSync(work, { recursive: true, force: true }));
const lockDir = join(work, "locks");

/** The tools' PATH: debugfs (e2fsprogs) is in /usr/sbin, which Debian leaves out of a non-root user's PATH. */
const TOOL_PATH = [process.env["PATH"] ?? "", "/usr/local/sbin", "/usr/sbin", "/sbin"].filter((d) => d !== "").join(":");
function sh(cmd: string, args: string[], okStatus = [0]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", cwd: work, env: { ...process.env, PATH: TOOL_PATH } });
  if (!okStatus.includes(r.status ?? -1)) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}
function rvisor(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [RVISOR_BIN, ...args], { encoding: "utf8", cwd: work, env: { ...process.env, RVISOR_LOCK_DIR: lockDir } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 2 ** 32; };
}

const timed = async (name: string, fn: () => Promise<void>): Promise<void> => {
  const t0 = performance.now();
  await fn();
  process.stderr.write(`${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
};

for (const clusterSize of [65536, 512]) {
  test(`an overlay made by qemu-img (cluster ${clusterSize}) on a raw base, written by rvisor, passes qemu-img check and compares equal to a raw copy`, { skip, timeout: scaled(120_000) }, async () => {
    await timed(`qemu-img overlay, cluster ${clusterSize}`, async () => {
      const size = 8 << 20;
      const base = join(work, `base-${clusterSize}.raw`), ref = join(work, `ref-${clusterSize}.raw`), ov = join(work, `ov-${clusterSize}.qcow2`);
      const r = rng(clusterSize);
      const init = Buffer.alloc(size - 300_000); // shorter than the overlay: the tail reads as zeros
      for (let i = 0; i < init.length; i += 509) init[i] = (r() * 256) | 0;
      writeFileSync(base, init);
      writeFileSync(ref, Buffer.concat([init, Buffer.alloc(size - init.length)]));
      sh("qemu-img", ["create", "-q", "-f", "qcow2", "-o", `cluster_size=${clusterSize}`, "-b", `base-${clusterSize}.raw`, "-F", "raw", ov, String(size)]);
      const d = await openDisk(ov, { lock: { dir: lockDir } });
      assert.equal(d.format, "qcow2");
      assert.deepEqual(d.chain.map((c) => c.format), ["qcow2", "raw"]);
      // The backing file is share-locked: a second writer is refused, a reader is not.
      await assert.rejects(openDisk(base, { format: "raw", lock: { dir: lockDir } }), DiskLockError);
      (await openDisk(base, { format: "raw", readonly: true, lock: { dir: lockDir } })).close();
      await assert.rejects(openDisk(ov, { lock: { dir: lockDir } }), DiskLockError);
      const fd = openSync(ref, "r+");
      try {
        for (let op = 0; op < 300; op++) {
          const len = 1 + Math.floor(r() * (r() < 0.1 ? 300_000 : 9000));
          const off = Math.floor(r() * (size - len));
          const buf = Buffer.alloc(len);
          for (let i = 0; i < len; i += 37) buf[i] = (r() * 256) | 0;
          await d.backend.write(off, buf);
          writeSync(fd, buf, 0, len, off);
          if (op % 50 === 49) await d.backend.flush();
        }
      } finally { closeSync(fd); }
      await d.close();
      const check = sh("qemu-img", ["check", "--output=json", ov]);
      const cj = JSON.parse(check) as { "check-errors": number; corruptions?: number; leaks?: number };
      assert.equal(cj["check-errors"], 0);
      assert.equal(cj.corruptions ?? 0, 0, check);
      assert.equal(cj.leaks ?? 0, 0, check);
      sh("qemu-img", ["compare", "-f", "qcow2", "-F", "raw", ov, ref]);
    });
  });
}

test("images rvisor img creates are accepted by qemu-img info and check", { skip, timeout: scaled(60_000) }, async () => {
  writeFileSync(join(work, "b.raw"), Buffer.alloc(3 << 20, 1));
  const cases: [string[], string, Record<string, unknown>][] = [
    [["img", "create", "-f", "qcow2", "c1.qcow2", "1G"], "c1.qcow2", { "virtual-size": 2 ** 30, "cluster-size": 65536 }],
    [["img", "create", "-b", "b.raw", "-F", "raw", "c2.qcow2"], "c2.qcow2", { "virtual-size": 3 << 20, "backing-filename": "b.raw", "backing-filename-format": "raw" }],
    [["img", "create", "-o", "cluster_size=4k,refcount_bits=8", "c3.qcow2", "100M"], "c3.qcow2", { "virtual-size": 100 << 20, "cluster-size": 4096 }],
    [["img", "create", "-o", "compat=0.10", "c4.qcow2", "1.5M"], "c4.qcow2", { "virtual-size": 1536 << 10 }],
    [["img", "create", "-f", "raw", "c5.raw", "1000"], "c5.raw", { "virtual-size": 1024, format: "raw" }],
  ];
  for (const [args, file, want] of cases) {
    const r = rvisor(args);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^Formatting '${file}'`));
    const info = JSON.parse(sh("qemu-img", ["info", "--output=json", file])) as Record<string, unknown>;
    for (const [k, v] of Object.entries(want)) assert.deepEqual(info[k], v, `${file}: ${k}`);
    if (file.endsWith(".qcow2")) sh("qemu-img", ["check", "-q", file]);
    // rvisor img info agrees with qemu-img info on what both report.
    const ours = JSON.parse(rvisor(["img", "info", "--output", "json", file]).stdout) as Record<string, unknown>;
    for (const k of ["virtual-size", "format", "cluster-size", "backing-filename", "backing-filename-format", "format-specific"]) {
      assert.deepEqual(ours[k], info[k], `${file}: img info ${k}`);
    }
  }
  assert.match(rvisor(["img", "create", "-b", "b.raw", "x.qcow2"]).stderr, /without backing format/);
  assert.match(rvisor(["img", "create", "x.qcow2", "12Q"]).stderr, /Invalid image size/);
  assert.equal(rvisor(["img", "create", "x.qcow2"]).status, 2);
});

test("data qemu-io and qemu-img convert write into qcow2 (plain, zero, compressed clusters) reads back in rvisor", { skip, timeout: scaled(60_000) }, async () => {
  const img = join(work, "q.qcow2");
  sh("qemu-img", ["create", "-q", "-f", "qcow2", img, "4M"]);
  sh("qemu-io", ["-c", "write -P 0xab 0 128k", "-c", "write -P 0x11 1000k 3k", "-c", "write -P 0x5a 2M 256k", "-c", "write -z 2M 64k", "-c", "write -P 0x77 3M 512", img]);
  const raw = join(work, "q.raw");
  sh("qemu-img", ["convert", "-O", "raw", img, raw]);
  const want = readFileSync(raw);
  const comp = join(work, "qc.qcow2");
  sh("qemu-img", ["convert", "-c", "-O", "qcow2", img, comp]);
  const v2 = join(work, "qv2.qcow2");
  sh("qemu-img", ["convert", "-O", "qcow2", "-o", "compat=0.10", img, v2]);
  for (const f of [img, comp, v2]) {
    const d = await openDisk(f, { readonly: true, lock: false });
    const got = Buffer.alloc(d.backend.size);
    await d.backend.read(0, got);
    await d.close();
    assert.ok(got.equals(want), `${f} reads as qemu-img converts it`);
  }
  // rvisor writes into the compressed image (copy-on-write of compressed clusters): check passes.
  const d = await openDisk(comp, { lock: false });
  await d.backend.write(4096, Buffer.alloc(100, 0xcd));
  await d.close();
  sh("qemu-img", ["check", "-q", comp]);
  want.fill(0xcd, 4096, 4196);
  sh("qemu-img", ["convert", "-O", "raw", comp, raw]);
  assert.ok(readFileSync(raw).equals(want));
  // An image with an internal snapshot (shared clusters, refcount 2) reads its active layer;
  // writing it is refused rather than risking the snapshot's clusters.
  sh("qemu-img", ["snapshot", "-c", "s1", comp]);
  sh("qemu-io", ["-c", "write -P 0x99 0 64k", comp]);
  want.fill(0x99, 0, 65536);
  const s = await openDisk(comp, { readonly: true, lock: false });
  const got = Buffer.alloc(s.backend.size);
  await s.backend.read(0, got);
  await s.close();
  assert.ok(got.equals(want), "the active layer of an image with a snapshot");
  await assert.rejects(openDisk(comp, { lock: false }), /internal snapshot/);
});

test("rvisor run --drive: clear errors for a missing backing file, a corrupt header, a truncated image; the raw-probe warning", { skip, timeout: scaled(60_000) }, () => {
  const kernel = join(work, "k.bin");
  writeFileSync(kernel, Buffer.alloc(16));
  const run = (drive: string): { status: number | null; stderr: string } => rvisor(["run", "--bios", "none", "--kernel", kernel, "--max-instructions", "10", "--drive", drive]);
  sh("qemu-img", ["create", "-q", "-u", "-f", "qcow2", "-b", "gone.raw", "-F", "raw", "orphan.qcow2", "1M"]);
  let r = run("file=orphan.qcow2");
  assert.equal(r.status, 1);
  assert.match(r.stderr, /cannot open backing file .*gone\.raw \(of .*orphan\.qcow2\): ENOENT/);
  sh("qemu-img", ["create", "-q", "-f", "qcow2", "bad.qcow2", "1M"]);
  const b = readFileSync(join(work, "bad.qcow2"));
  b.writeUInt32BE(40, 20); // cluster_bits
  writeFileSync(join(work, "bad.qcow2"), b);
  r = run("file=bad.qcow2,format=qcow2");
  assert.equal(r.status, 1);
  assert.match(r.stderr, /corrupt header: cluster_bits 40/);
  sh("qemu-img", ["create", "-q", "-f", "qcow2", "cut.qcow2", "1M"]);
  truncateSync(join(work, "cut.qcow2"), 65536 * 3);
  r = run("file=cut.qcow2");
  assert.match(r.stderr, /truncated/);
  writeFileSync(join(work, "plain.raw"), Buffer.alloc(1 << 20));
  r = run("file=plain.raw");
  assert.match(r.stderr, /warning: image format was not specified for 'plain\.raw' and probing guessed raw/);
  assert.doesNotMatch(run("file=plain.raw,format=raw").stderr, /warning/);
  assert.match(run("file=plain.raw,format=vmdk").stderr, /format must be raw or qcow2/);
});

test("a probed raw image refuses a guest write that would turn it into qcow2 (as QEMU restricts block 0)", { skip }, async () => {
  const p = join(work, "probe.raw");
  writeFileSync(p, Buffer.alloc(1 << 16));
  const magic = Buffer.alloc(512);
  magic.writeUInt32BE(0x514649fb, 0);
  const probed = await openDisk(p, { lock: false });
  assert.equal(probed.probedRaw, true);
  await assert.rejects(async () => probed.backend.write(0, magic), /probed raw image/);
  await probed.backend.write(512, magic); // elsewhere is fine
  await probed.close();
  const explicit = await openDisk(p, { format: "raw", lock: false });
  await explicit.backend.write(0, magic);
  await explicit.close();
  assert.equal(readFileSync(p).readUInt32BE(0), 0x514649fb);
});

const img = haveQemuImg ? await guestImage() : "qemu-img missing";
const skipGuest = typeof img === "string" ? img : false;

test("Linux writes a file to an ext4 disk that is a qcow2 overlay of its rootfs; qemu-img check passes and QEMU's tools find the file; snapshot=on discards writes", { skip: skipGuest, timeout: scaled(600_000) }, async () => {
  if (typeof img === "string") return;
  const base = join(work, "rootfs.raw");
  copyFileSync(img.rootfs, base);
  const ov = join(work, "rootfs-ov.qcow2");
  sh("qemu-img", ["create", "-q", "-f", "qcow2", "-b", base, "-F", "raw", ov]);
  const boot = async (drive: string, cmds: (g: GuestConsole) => Promise<void>): Promise<void> => {
    const g = new GuestConsole(["--kernel", img.kernel, "--initrd", img.initrd, "--append", "console=ttyS0 quiet", "--drive", drive]);
    try {
      await g.waitFor("rvisor guest ready", 180_000);
      await g.waitFor(/# $/m, 30_000);
      await g.run("mkdir -p /mnt/disk");
      await cmds(g);
      g.send("poweroff\n");
      assert.equal(await g.exited, 0, g.output.slice(-2000));
    } finally { g.kill(); }
  };
  await timed("guest boot 1 (qcow2 overlay, write)", () => boot(`file=${ov}`, async (g) => {
    assert.equal((await g.run("mount -t ext4 /dev/vda /mnt/disk && echo mounted")).trim(), "mounted");
    await g.run("dd if=/dev/urandom of=/mnt/disk/blob bs=1k count=700 2>/dev/null; md5sum /mnt/disk/blob > /mnt/disk/blob.md5");
    await g.run("echo qcow2-$((6*7)) > /mnt/disk/persist.txt && sync && umount /mnt/disk");
  }));
  sh("qemu-img", ["check", "-q", ov]);
  assert.ok(statSync(ov).size > 700 << 10, "the writes went to the overlay");
  // QEMU's reading of the overlay holds the file (debugfs reads ext4 without mounting).
  const flat = join(work, "flat.raw");
  sh("qemu-img", ["convert", "-O", "raw", ov, flat]);
  assert.equal(sh("debugfs", ["-R", "cat /persist.txt", flat]).trim(), "qcow2-42");
  // The base is untouched.
  assert.ok(readFileSync(base).equals(readFileSync(img.rootfs)));
  // A compressed standalone copy made by qemu-img boots and holds the file and blob intact;
  // with snapshot=on the guest's writes do not reach it.
  const comp = join(work, "rootfs-c.qcow2");
  sh("qemu-img", ["convert", "-c", "-O", "qcow2", ov, comp]);
  const before = readFileSync(comp);
  await timed("guest boot 2 (compressed qcow2, snapshot=on)", () => boot(`file=${comp},snapshot=on`, async (g) => {
    assert.equal((await g.run("mount -t ext4 /dev/vda /mnt/disk && cat /mnt/disk/persist.txt")).trim(), "qcow2-42");
    assert.match(await g.run("cd /mnt/disk && md5sum -c blob.md5"), /blob: OK/);
    await g.run("rm /mnt/disk/persist.txt && sync && umount /mnt/disk");
  }));
  assert.ok(readFileSync(comp).equals(before), "snapshot=on left the image as it was");
  assert.ok(existsSync(comp));
});

test("rvisor grows the refcount table of a qemu-img image (512-byte clusters, 10 MiB written) and qemu-img check passes", { skip, timeout: scaled(120_000) }, async () => {
  await timed("refcount table growth", async () => {
    const f = join(work, "grow.qcow2");
    sh("qemu-img", ["create", "-q", "-f", "qcow2", "-o", "cluster_size=512", f, "20M"]);
    const tableBefore = readFileSync(f).readUInt32BE(52);
    const d = await openDisk(f, { lock: false });
    const b = Buffer.alloc(1 << 20);
    for (let m = 0; m < 10; m++) { b.fill(m + 1); await d.backend.write(m << 20, b); if (m % 4 === 0) await d.backend.flush(); }
    await d.close();
    assert.notEqual(readFileSync(f).readUInt32BE(52), tableBefore, "the refcount table moved");
    sh("qemu-img", ["check", "-q", f]);
    const raw = join(work, "grow.raw");
    sh("qemu-img", ["convert", "-O", "raw", f, raw]);
    const got = readFileSync(raw);
    for (let m = 0; m < 10; m++) assert.equal(got[(m << 20) + 12345], m + 1);
  });
});
