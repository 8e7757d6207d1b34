// What rvisor writes to qcow2 is what QEMU reads: a managed VM whose disk is a qcow2 overlay on
// a raw copy of the guest image's ext4 root writes files, is snapshotted (its disk moves onto a
// second overlay: a backing chain of three images, backing names relative to the state
// directory), writes more, and is stopped. `qemu-img check` passes on every image of the chain;
// then qemu-system-riscv64 (-M virt, OpenSBI) boots the same kernel and initrd on the top image
// and the guest there finds the same files with the same checksums.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GuestConsole, guestImage } from "./lib/guest.js";
import { qemuSystem } from "./lib/qemu.js";
import { which } from "./lib/toolchain.js";
import { attach, ok, rvisor, waitReady } from "./lib/vm.js";
import { scaled } from "./lib/time_scale.js";

const FW_JUMP = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin";
const img = await guestImage();
const skip = typeof img === "string" ? img
  : qemuSystem() === null ? "qemu-system-riscv64 not found"
  : which("qemu-img") === null ? "qemu-img not found"
  : !existsSync(FW_JUMP) ? `OpenSBI missing (${FW_JUMP})` : false;

/** The checksums of the test's files and the text file's content, as the guest sees them. */
async function sums(g: GuestConsole): Promise<string> {
  return (await g.run("cd /mnt/disk && md5sum a.bin b.txt c.bin && cat b.txt && cd /")).trim();
}

test("a qcow2 chain a managed VM wrote (overlay, snapshot, more writes) passes qemu-img check and QEMU boots on it with the same file contents", { skip, timeout: scaled(900_000) }, async () => {
  if (typeof img === "string") return;
  const home = mkdtempSync(join(tmpdir(), "rvisor-qcow2-qemu-"));
  const env: NodeJS.ProcessEnv = { ...process.env, RVISOR_HOME: home };
  for (const k of ["RVISOR_LIMITS_INSTANCES", "RVISOR_LIMITS_CPU", "RVISOR_LIMITS_MEMORY"]) delete env[k];
  const consoles: GuestConsole[] = [];
  try {
    const base = join(home, "rootfs.raw");
    copyFileSync(img.rootfs, base);
    const ov = join(home, "root.qcow2");
    execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", "-b", base, "-F", "raw", ov]);
    await ok(env, "create", "w", "--memory", "128M", "--disk", `${ov},format=qcow2`);
    await ok(env, "start", "w");
    await waitReady(home, "w");
    const g = await attach(env, "w");
    consoles.push(g);
    // Kernel messages (the ext4 mount line) off the console, so command output is only the command's.
    assert.equal((await g.run("dmesg -n 1; mkdir -p /mnt/disk && mount -t ext4 /dev/vda /mnt/disk && echo mounted")).trim().split("\n").pop(), "mounted");
    await g.run("dd if=/dev/urandom of=/mnt/disk/a.bin bs=1k count=900 2>/dev/null; echo written-by-rvisor-$((6*7)) > /mnt/disk/b.txt; sync");
    // The snapshot freezes root.qcow2 and moves the disk onto a new overlay in vms/w/disks/.
    await ok(env, "snapshot", "create", "w", "s1");
    await g.run("dd if=/dev/urandom of=/mnt/disk/c.bin bs=1k count=300 2>/dev/null; dd if=/dev/urandom of=/mnt/disk/a.bin bs=1k count=64 seek=100 conv=notrunc 2>/dev/null; sync");
    const want = await sums(g);
    assert.match(want, /a\.bin[\s\S]*b\.txt[\s\S]*c\.bin[\s\S]*written-by-rvisor-42/);
    await g.run("umount /mnt/disk && sync");
    g.send("\x1d");
    await g.exited;
    // A graceful stop: the guest powers off through its init, the VM process flushes the disks.
    await ok(env, "stop", "w");

    const top = (JSON.parse(readFileSync(join(home, "vms", "w", "config.json"), "utf8")) as { disks: { path: string }[] }).disks[0].path;
    assert.notEqual(top, ov, "the snapshot moved the disk onto a new overlay");
    const info = JSON.parse(execFileSync("qemu-img", ["info", "--output=json", "--backing-chain", top], { encoding: "utf8" })) as { filename: string; format: string }[];
    assert.deepEqual(info.map((i) => i.format), ["qcow2", "qcow2", "raw"]);
    for (const i of info.filter((x) => x.format === "qcow2")) execFileSync("qemu-img", ["check", "-q", i.filename]);
    assert.ok(readFileSync(base).equals(readFileSync(img.rootfs)), "the raw base is untouched");

    // QEMU boots the same kernel and initrd on the chain rvisor wrote.
    const q = new GuestConsole([
      "-M", "virt", "-m", "256M", "-nographic", "-monitor", "none", "-bios", FW_JUMP, "-kernel", img.kernel, "-initrd", img.initrd,
      // virtio-mmio, as rvisor's board (if=virtio would be virtio-blk-pci, which the guest kernel lacks).
      "-append", "console=ttyS0 quiet", "-drive", `file=${top},format=qcow2,if=none,id=d0`, "-device", "virtio-blk-device,drive=d0",
    ], "run", env, qemuSystem() ?? "qemu-system-riscv64");
    consoles.push(q);
    await q.waitFor("rvisor guest ready", 300_000);
    q.send("\n");
    await q.waitFor(/# $/m, 60_000);
    assert.equal((await q.run("dmesg -n 1; mkdir -p /mnt/disk && mount -t ext4 -o ro /dev/vda /mnt/disk && echo mounted", 60_000)).trim().split("\n").pop(), "mounted");
    assert.equal(await sums(q), want, "QEMU's guest reads what rvisor's guest wrote");
    q.kill();
    await q.exited;
  } finally {
    for (const c of consoles) c.kill();
    await rvisor(env, "kill", "w");
    rmSync(home, { recursive: true, force: true });
  }
});
