// Boots the real default guest (Linux 6.1 + busybox, built by `npm run image`) on the virt
// board and checks what the guest prints: with the built-in SBI and 2 harts, then again with
// Debian's OpenSBI on the same ext4 disk, which must still hold the file written before poweroff.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GuestConsole, guestImage as image } from "./lib/guest.js";
import { scaled } from "./lib/time_scale.js";

const FW_JUMP = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin";
const BOOT_TIMEOUT = 180_000;

const img = await image();
const skip = typeof img === "string" ? img : false;
const work = mkdtempSync(join(tmpdir(), "rvisor-linux-"));

test("Linux boots with the built-in SBI on 2 harts: shell, cpuinfo, time, ext4 disk, 9p, poweroff", { skip, timeout: scaled(600_000) }, async () => {
  if (typeof img === "string") return;
  const disk = join(work, "disk.ext4");
  copyFileSync(img.rootfs, disk);
  const share = mkdtempSync(join(work, "share-"));
  writeFileSync(join(share, "from-host.txt"), "hello from the host\n");
  const g = new GuestConsole(["--kernel", img.kernel, "--initrd", img.initrd, "--append", "console=ttyS0 quiet", "--smp", "2",
    "--mem", "256M", "--drive", `file=${disk},format=raw`, "--share", `${share},tag=host0`]);
  try {
    await g.waitFor("rvisor guest ready", BOOT_TIMEOUT);
    const bootMs = performance.now() - g.started;
    await g.waitFor(/# $/m, 30_000);
    process.stderr.write(`built-in SBI, --smp 2: shell banner after ${(bootMs / 1000).toFixed(1)} s\n`);

    const uname = await g.run("uname -a");
    assert.match(uname, /^Linux rvisor 6\.1\.\S+ .*riscv64/m);
    assert.equal((await g.run("grep -c ^processor /proc/cpuinfo")).trim(), "2");
    assert.match(await g.run("cat /proc/cpuinfo"), /isa\s+: rv64imafdc/);

    // busybox dd reads the time CSR from user mode (issue 7: "Illegal instruction" with the built-in SBI).
    assert.match(await g.run("dd if=/dev/zero of=/tmp/y count=1 2>&1"), /1\+0 records out/);
    const guestNow = Number((await g.run("date +%s")).trim());
    assert.ok(Math.abs(guestNow - Date.now() / 1000) < 5, `guest date ${guestNow} vs host ${Date.now() / 1000}`);

    await g.run("mkdir -p /mnt/disk /mnt/host");
    assert.equal((await g.run("mount -t ext4 /dev/vda /mnt/disk && echo mounted")).trim(), "mounted");
    await g.run("echo persisted-$((6*7)) > /mnt/disk/persist.txt && sync && umount /mnt/disk");

    assert.equal((await g.run("mount -t 9p -o trans=virtio,version=9p2000.L host0 /mnt/host && echo ok")).trim(), "ok");
    assert.equal((await g.run("cat /mnt/host/from-host.txt")).trim(), "hello from the host");
    await g.run("echo written-by-guest > /mnt/host/from-guest.txt && sync");
    assert.equal(readFileSync(join(share, "from-guest.txt"), "utf8"), "written-by-guest\n");
    assert.deepEqual((await g.run("ls /mnt/host | cat")).trim().split(/\s+/).sort(), ["from-guest.txt", "from-host.txt"]);

    g.send("poweroff\n");
    assert.equal(await g.exited, 0, `poweroff exit status; output:\n${g.output.slice(-2000)}`);
  } finally {
    g.kill();
  }
});

test("Linux boots with Debian's OpenSBI (fw_jump) and the ext4 file survived the poweroff", { skip: skip || (existsSync(FW_JUMP) ? false : "opensbi not installed"), timeout: scaled(600_000) }, async () => {
  if (typeof img === "string") return;
  const disk = join(work, "disk.ext4");
  assert.ok(existsSync(disk), "the first boot test must run first");
  const g = new GuestConsole(["--bios", FW_JUMP, "--kernel", img.kernel, "--initrd", img.initrd, "--append", "console=ttyS0 quiet",
    "--drive", `file=${disk},format=raw`]);
  try {
    await g.waitFor("OpenSBI v", BOOT_TIMEOUT);
    await g.waitFor("rvisor guest ready", BOOT_TIMEOUT);
    await g.waitFor(/# $/m, 30_000);
    assert.match(await g.run("cat /proc/cpuinfo"), /processor\s+: 0/);
    assert.match(await g.run("dd if=/dev/zero of=/tmp/y count=1 2>&1"), /1\+0 records out/);
    await g.run("mkdir -p /mnt/disk");
    assert.equal((await g.run("mount /dev/vda /mnt/disk && cat /mnt/disk/persist.txt")).trim(), "persisted-42");
    await g.run("umount /mnt/disk");
    g.send("poweroff\n");
    assert.equal(await g.exited, 0);
  } finally {
    g.kill();
  }
});
