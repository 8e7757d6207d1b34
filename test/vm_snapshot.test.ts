// Managed-VM snapshots, restore, clones and the graceful stop against the real guest image, with
// RVISOR_HOME in a temporary directory:
//   a counter loop in the guest prints to the console and writes a file on its disk →
//   snapshot → it runs on (and writes a marker) → restore → the counter continues from the
//   snapshot's value and the disk is back at the snapshot point (read after dropping the page
//   cache); a corrupt snapshot is refused and the VM is left as it was; three clones from the
//   snapshot each write their own disk and see only their own writes; `qemu-img check` passes
//   on every overlay rvisor wrote; `stop` powers a guest off through its power button and stops
//   one whose guest ignores the button from the host after the timeout.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { guestImage, type GuestConsole } from "./lib/guest.js";
import { attach, list, logSize, ok, rvisor, ticks, waitLog, waitReady } from "./lib/vm.js";
import { scaled } from "./lib/time_scale.js";

const img = await guestImage();
const qemuImg = ((): string | null => { try { execFileSync("qemu-img", ["--version"]); return "qemu-img"; } catch { return null; } })();
const skip = typeof img === "string" ? img : qemuImg === null ? "qemu-img not installed (scripts/install-deps.sh)" : false;

interface SnapRec { name: string; state: string; machineBytes: number; pauseMs: number; disks: { index: number; path: string; readonly: boolean; chain: string[] }[] }

/** The guest's view of a file on its disk, read from the disk itself (the page cache dropped first). */
async function diskRead(g: GuestConsole, file: string): Promise<string> {
  // The kernel logs the drop on the console, and a background counter may print between the
  // lines: the file's content comes bracketed (the echoed command line itself has "$(" inside).
  const out = await g.run(`sync; echo 3 > /proc/sys/vm/drop_caches; echo "=[$(cat ${file})]="`);
  const all = [...out.matchAll(/=\[([^$\]\r\n]*)\]=/g)];
  return all.length === 0 ? "" : all[all.length - 1][1];
}

test("managed snapshots: snapshot a counting guest, restore it (counter and disk back), corrupt snapshot refused, 3 clones with their own disks, qemu-img check", { skip, timeout: scaled(900_000) }, async () => {
  if (typeof img === "string") return;
  const home = mkdtempSync(join(tmpdir(), "rvisor-snap-"));
  const env = { ...process.env, RVISOR_HOME: home };
  const base = join(home, "base.img");
  copyFileSync(img.rootfs, base);
  const consoles: GuestConsole[] = [];
  const t0 = performance.now();
  const step = (what: string): void => { process.stderr.write(`snapshot test: ${what} at ${((performance.now() - t0) / 1000).toFixed(1)} s\n`); };
  try {
    await ok(env, "create", "vm1", "--memory", "128M", "--disk", `${base},format=raw`, "--disk", "64M");
    const cfg0 = JSON.parse(readFileSync(join(home, "vms", "vm1", "config.json"), "utf8")) as { disks: { path: string; format: string }[] };
    assert.equal(cfg0.disks[1].format, "qcow2");
    assert.ok(cfg0.disks[1].path.startsWith(join(home, "vms", "vm1", "disks")), cfg0.disks[1].path);
    const info = JSON.parse(execFileSync("qemu-img", ["info", "--output=json", cfg0.disks[1].path], { encoding: "utf8" })) as { "virtual-size": number; format: string };
    assert.deepEqual([info.format, info["virtual-size"]], ["qcow2", 64 << 20]);

    const notRunning = await rvisor(env, "snapshot", "create", "vm1", "s0");
    assert.deepEqual([notRunning.code, notRunning.stderr], [1, "error: VM 'vm1' is shut off: a snapshot captures a running or paused machine (start it first)\n"]);

    await ok(env, "start", "vm1");
    await waitReady(home, "vm1");
    step("vm1 booted");
    let g = await attach(env, "vm1");
    consoles.push(g);
    // The second disk is the fresh 64M qcow2: the guest sees its size.
    assert.equal((await g.run("cat /sys/block/vdb/size")).trim(), String((64 << 20) / 512));
    await g.run("mount -t ext4 /dev/vda /mnt && echo before > /mnt/marker && sync");
    g.send("(i=0; while true; do echo TICK$i; echo $i > /mnt/counter; i=$((i+1)); sleep 1; done) &\n");
    await g.waitFor("TICK3", 60_000);

    const before = Math.max(...ticks(g.output));
    const snap = await ok(env, "snapshot", "create", "vm1", "s1");
    const after = Math.max(...ticks(g.output));
    assert.match(snap, /snapshot 's1' of VM 'vm1' taken \([\d.]+ MiB, guest paused \d+ ms, 2 disk\(s\) frozen\)/);
    step(`snapshot s1 (${snap.trim()})`);
    const dup = await rvisor(env, "snapshot", "create", "vm1", "s1");
    assert.deepEqual([dup.code, dup.stderr], [1, "error: VM 'vm1' already has a snapshot 's1'\n"]);
    assert.equal((await list(env)).get("vm1")?.state, "running", "the snapshot resumed the guest");

    // It runs on: the counter goes on, the marker changes on the disk.
    await g.waitFor(`TICK${after + 4}`, 60_000);
    await g.run("echo after > /mnt/marker && sync");
    assert.equal(await diskRead(g, "/mnt/marker"), "after");

    const recs = JSON.parse(await ok(env, "snapshot", "list", "vm1", "--json")) as SnapRec[];
    assert.equal(recs.length, 1);
    const s1 = recs[0];
    assert.equal(s1.name, "s1");
    assert.equal(s1.state, "running");
    assert.equal(s1.disks.length, 2);
    assert.equal(s1.disks[0].path, base, "disk 0's snapshot image is the original raw file (now a read-only base)");
    assert.deepEqual(s1.disks[0].chain, [base]);
    assert.equal(s1.disks[1].chain.length, 1);
    assert.equal(s1.machineBytes, statSync(join(home, "vms", "vm1", "snapshots", "s1", "machine.rvsnap")).size);
    assert.match(await ok(env, "snapshot", "list", "vm1"), /^s1\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\s+running\s+[\d.]+M\s+\d+ ms\s+0:base\.img 1:disk1-/m);
    assert.match(await ok(env, "snapshots", "vm1"), /^s1\s/m);
    // The VM writes into new overlays on the frozen images.
    const cfg1 = JSON.parse(readFileSync(join(home, "vms", "vm1", "config.json"), "utf8")) as { disks: { path: string; format: string }[] };
    assert.equal(cfg1.disks[0].format, "qcow2");
    assert.notEqual(cfg1.disks[0].path, base);

    // A second snapshot, of the paused VM (it stays paused), with a corrupted machine file:
    // restore is refused, the VM runs on unchanged.
    await ok(env, "pause", "vm1");
    await ok(env, "snapshot", "create", "vm1", "s2");
    assert.equal((await list(env)).get("vm1")?.state, "paused");
    await ok(env, "resume", "vm1");
    assert.deepEqual((JSON.parse(await ok(env, "snapshot", "list", "vm1", "--json")) as SnapRec[]).map((r) => [r.name, r.state]), [["s1", "running"], ["s2", "paused"]]);
    const m2 = join(home, "vms", "vm1", "snapshots", "s2", "machine.rvsnap");
    const bytes = readFileSync(m2);
    bytes[bytes.length >> 1] ^= 0xff;
    writeFileSync(m2, bytes);
    const cfgBefore = readFileSync(join(home, "vms", "vm1", "config.json"), "utf8");
    const pidBefore = (await list(env)).get("vm1")?.pid;
    const bad = await rvisor(env, "restore", "vm1", "s2");
    assert.deepEqual([bad.code, bad.stderr], [1, "error: snapshot 's2' of VM 'vm1' is corrupt: snapshot checksum mismatch: the file is corrupt\n"]);
    assert.equal(readFileSync(join(home, "vms", "vm1", "config.json"), "utf8"), cfgBefore);
    const afterBad = (await list(env)).get("vm1");
    assert.deepEqual([afterBad?.state, afterBad?.pid], ["running", pidBefore], `after the refused restore: ${await rvisor(env, "info", "vm1", "--json").then((r) => r.stdout)}`);
    assert.equal((await g.run("echo alive")).trim(), "alive");
    const unknown = await rvisor(env, "restore", "vm1", "nosuch");
    assert.deepEqual([unknown.code, unknown.stderr], [1, "error: VM 'vm1' has no snapshot 'nosuch'\n"]);
    const noVm = await rvisor(env, "restore", "novm", "s1");
    assert.deepEqual([noVm.code, noVm.stderr], [1, "error: VM 'novm' does not exist\n"]);
    // Its frozen images stay: the VM's current overlays are built on them.
    assert.equal(await ok(env, "snapshot", "rm", "vm1", "s2"), "snapshot 's2' of VM 'vm1' removed\n");

    // Restore: the VM restarts from s1; the counter continues from the snapshot's value.
    // Paused first, so nothing the old run prints lands after this point of the log.
    await ok(env, "pause", "vm1");
    await new Promise((r) => setTimeout(r, 500));
    g.kill();
    const from = logSize(home, "vm1");
    const ranTo = Math.max(...ticks(readFileSync(join(home, "vms", "vm1", "console.log"), "latin1")));
    assert.ok(ranTo > after + 3, `ran to ${ranTo}`);
    assert.match(await ok(env, "restore", "vm1", "s1"), /VM 'vm1' restored to snapshot 's1' of .* \(pid \d+, running\)/);
    step("restored vm1 to s1");
    const resumed = await waitLog(home, "vm1", /TICK\d+\r?\n[\s\S]*TICK\d+/, from, 60_000);
    const first = ticks(resumed)[0];
    assert.ok(first >= before && first <= after + 1, `the first tick after the restore is ${first}; the snapshot was taken between ticks ${before} and ${after} (it ran on to ${ranTo})`);
    g = await attach(env, "vm1", { prompt: false });
    consoles.push(g);
    assert.equal(await diskRead(g, "/mnt/marker"), "before", "the disk is back at the snapshot point");
    const counter = Number(await diskRead(g, "/mnt/counter"));
    assert.ok(counter >= first - 1 && counter < ranTo + 10, `counter file ${counter}`);
    await ok(env, "stop", "vm1", "--force");
    g.kill();

    // Three clones from s1, all running at once: each its own disk, each sees only its own writes.
    const clones = ["c1", "c2", "c3"];
    for (const c of clones) assert.match(await ok(env, "clone", "vm1", c, "--snapshot", "s1"), new RegExp(`VM '${c}' cloned from 'vm1' snapshot 's1'`));
    assert.match(await ok(env, "info", "c1"), /Next start:\s+continues from snapshot vm1\/s1/);
    assert.match(await ok(env, "info", "vm1"), /Snapshots:\s+s1\n/);
    const exists = await rvisor(env, "clone", "vm1", "c1", "--snapshot", "s1");
    assert.deepEqual([exists.code, exists.stderr], [1, "error: VM 'c1' already exists\n"]);
    const overlays = new Set(clones.map((c) => (JSON.parse(readFileSync(join(home, "vms", c, "config.json"), "utf8")) as { disks: { path: string }[] }).disks[0].path));
    assert.equal(overlays.size, 3, "each clone has its own overlay");
    for (const c of clones) assert.match(await ok(env, "start", c), new RegExp(`VM '${c}' started \\(pid \\d+\\) from snapshot vm1/s1`));
    step("3 clones started");
    const cg: GuestConsole[] = [];
    for (const c of clones) {
      await waitLog(home, c, /TICK\d+/, 0, 120_000); // the counter of the snapshot runs on in each clone
      const cc = await attach(env, c, { prompt: false });
      consoles.push(cc);
      cg.push(cc);
      assert.equal(await diskRead(cc, "/mnt/marker"), "before");
      await cc.run(`echo ${c} > /mnt/who && sync`);
    }
    for (const [i, c] of clones.entries()) assert.equal(await diskRead(cg[i], "/mnt/who"), c, `clone ${c} sees another clone's write`);

    // Graceful stop: c1's guest powers off on the power button; c2's ignores it (no acpid) and is
    // stopped by the host after the timeout.
    const stop1 = await ok(env, "stop", "c1", "--timeout", "120");
    assert.match(stop1, /VM 'c1' shut off \(the guest powered off\)/);
    assert.equal((JSON.parse(await ok(env, "info", "c1", "--json")) as { lastExit: { reason: string } }).lastExit.reason, "poweroff");
    assert.match(readFileSync(join(home, "vms", "c1", "console.log"), "latin1"), /reboot: Power down/);
    await cg[1].run("killall acpid; echo killed");
    const stop2 = await ok(env, "stop", "c2", "--timeout", "5");
    assert.match(stop2, /VM 'c2' shut off \(stopped by the host: the guest did not power off within 5 s; vCPUs stopped, disks flushed\)/);
    assert.equal((JSON.parse(await ok(env, "info", "c2", "--json")) as { lastExit: { reason: string } }).lastExit.reason, "stop");
    await ok(env, "stop", "c3", "--force");
    step("clones stopped");

    // Nothing needed by a clone goes: rm vm1 is refused while clones use its images; snapshot rm keeps them.
    const rmSrc = await rvisor(env, "rm", "vm1");
    assert.deepEqual([rmSrc.code, rmSrc.stderr], [1, "error: VM 'vm1' has disk images that 'c1', 'c2', 'c3' use (clones): remove them first\n"]);
    await ok(env, "snapshot", "rm", "vm1", "s1");
    for (const c of clones) {
      const r = await rvisor(env, "info", c);
      assert.equal(r.code, 0);
    }

    // qemu-img check on every image rvisor wrote, and every chain opens.
    let checked = 0;
    for (const vm of readdirSync(join(home, "vms")).filter((n) => !n.startsWith("."))) {
      const dir = join(home, "vms", vm, "disks");
      if (!existsSync(dir)) continue;
      for (const f of readdirSync(dir)) {
        execFileSync("qemu-img", ["check", "-q", join(dir, f)]);
        checked++;
      }
    }
    process.stderr.write(`snapshot test: qemu-img check passed on ${checked} images\n`);
    assert.ok(checked >= 6, `only ${checked} images checked`);
    // A clone's disk chains read as qemu-img sees them: disk 0 is its overlay on s1's image of
    // disk 0 (base.img itself, frozen by the first snapshot); disk 1 its overlay on s1's image
    // of disk 1 (the fresh 64M image it started as).
    const chain = (p: string): string[] => (JSON.parse(execFileSync("qemu-img", ["info", "--backing-chain", "--output=json", p], { encoding: "utf8" })) as { filename: string }[])
      .map((x) => resolve(x.filename));
    const c1disks = (JSON.parse(readFileSync(join(home, "vms", "c1", "config.json"), "utf8")) as { disks: { path: string }[] }).disks;
    assert.deepEqual(chain(c1disks[0].path), [c1disks[0].path, base]);
    assert.equal(s1.disks[1].path, cfg0.disks[1].path);
    assert.deepEqual(chain(c1disks[1].path), [c1disks[1].path, cfg0.disks[1].path]);
    for (const c of clones) await ok(env, "rm", c);
    await ok(env, "rm", "vm1");
    assert.deepEqual(readdirSync(join(home, "vms")).filter((n) => !n.startsWith(".")), []);
    step("done");
  } finally {
    for (const c of consoles) c.kill();
    for (const n of ["vm1", "c1", "c2", "c3"]) await rvisor(env, "kill", n);
    rmSync(home, { recursive: true, force: true });
  }
});

test("clone of a shut-off VM: both move onto overlays over its disk, which stays untouched", { skip, timeout: scaled(120_000) }, async () => {
  const home = mkdtempSync(join(tmpdir(), "rvisor-snap-"));
  const env = { ...process.env, RVISOR_HOME: home };
  try {
    const disk = join(home, "d.img");
    writeFileSync(disk, Buffer.alloc(1 << 20, 7));
    await ok(env, "create", "a", "--disk", `${disk},format=raw`, "--disk", "1G");
    const running = await rvisor(env, "clone", "nosuch", "b");
    assert.deepEqual([running.code, running.stderr], [1, "error: VM 'nosuch' does not exist\n"]);
    assert.match(await ok(env, "clone", "a", "b"), /VM 'b' cloned from 'a'\n/);
    const cfg = (n: string): { disks: { path: string; format: string }[] } => JSON.parse(readFileSync(join(home, "vms", n, "config.json"), "utf8")) as { disks: { path: string; format: string }[] };
    const [a, b] = [cfg("a"), cfg("b")];
    for (const c of [a, b]) assert.deepEqual(c.disks.map((d) => d.format), ["qcow2", "qcow2"]);
    assert.notEqual(a.disks[0].path, b.disks[0].path);
    for (const c of [a, b]) {
      const chain = JSON.parse(execFileSync("qemu-img", ["info", "--backing-chain", "--output=json", c.disks[0].path], { encoding: "utf8" })) as { filename: string }[];
      assert.deepEqual(chain.map((x) => resolve(x.filename)).slice(1), [disk]);
      for (const d of c.disks) execFileSync("qemu-img", ["check", "-q", d.path]);
    }
    const badSnap = await rvisor(env, "clone", "a", "c", "--snapshot", "nope");
    assert.deepEqual([badSnap.code, badSnap.stderr], [1, "error: VM 'a' has no snapshot 'nope'\n"]);
    const badName = await rvisor(env, "clone", "a", "bad/name");
    assert.equal(badName.code, 2, "an invalid name is a usage error, as in create");
    assert.match(badName.stderr, /^error: name: /);
    const sizes = await rvisor(env, "create", "x", "--disk", "0K");
    assert.deepEqual([sizes.code, sizes.stderr], [2, "error: disks[0]: disk size 0K is out of range (1 sector to 1024T)\n"]);
    const ro = await rvisor(env, "create", "x", "--disk", "1G,readonly=on");
    assert.deepEqual([ro.code, ro.stderr], [2, "error: --disk '1G,readonly=on': a new, empty disk cannot be read-only\n"]);
    await ok(env, "rm", "b");
    await ok(env, "rm", "a");
    assert.equal(readFileSync(disk).every((x) => x === 7), true, "the original image was not written");
    assert.deepEqual(readdirSync(join(home, "vms")).filter((n) => !n.startsWith(".")), []);
  } finally { rmSync(home, { recursive: true, force: true }); }
});
