// The VM lifecycle verbs against the real guest image, with RVISOR_HOME in a temporary
// directory: create → start → console answers → pause (a counter in the guest stops, guest
// time stands still) → resume (it continues) → detach → stop → shut off; then two VMs at once,
// one killed with SIGKILL while the other keeps answering and `list` reports the first crashed;
// and host-wide limits refused with the limit named.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GuestConsole, guestImage } from "./lib/guest.js";
import { attach, list, ok, rvisor, ticks, waitReady } from "./lib/vm.js";
import { vmMac } from "../src/hypervisor/config.js";
import { scaled } from "./lib/time_scale.js";

const img = await guestImage();
const skip = typeof img === "string" ? img : false;

function uptime(s: string): number {
  const m = /^(\d+\.\d+) \d+\.\d+$/m.exec(s);
  assert.ok(m !== null, `no /proc/uptime line in ${JSON.stringify(s)}`);
  return Number(m[1]);
}

test("VM lifecycle: create, start, console, pause freezes the guest, resume, detach, stop", { skip, timeout: scaled(420_000) }, async () => {
  const home = mkdtempSync(join(tmpdir(), "rvisor-vms-"));
  const env = { ...process.env, RVISOR_HOME: home };
  const t0 = performance.now();
  let g: GuestConsole | null = null;
  try {
    assert.match(await ok(env, "create", "vm1", "--memory", "128M", "--cpus", "1"), /VM 'vm1' created \(1 vCPU, 128M\)/);
    assert.deepEqual((await list(env)).get("vm1"), {
      name: "vm1", state: "shut off", cpus: 1, memoryMib: 128, pid: null,
      network: [{ id: "net0", model: "virtio-net", mode: "user", mac: vmMac("vm1", 0), hostfwd: [], restrict: false }], // its default card
    });
    const dup = await rvisor(env, "create", "vm1");
    assert.equal(dup.code, 1);
    assert.equal(dup.stderr, "error: VM 'vm1' already exists\n");
    const notRunning = await rvisor(env, "pause", "vm1");
    assert.deepEqual([notRunning.code, notRunning.stderr], [1, "error: VM 'vm1' is not running\n"]);

    assert.match(await ok(env, "start", "vm1"), /VM 'vm1' started \(pid \d+\)/);
    const again = await rvisor(env, "start", "vm1");
    assert.deepEqual([again.code, again.stderr], [1, "error: VM 'vm1' is already running\n"]);
    const row = (await list(env)).get("vm1");
    assert.equal(row?.state, "running");
    assert.ok(row?.pid !== null && row?.pid !== undefined && row.pid > 0);
    await waitReady(home, "vm1");
    process.stderr.write(`vm1: guest ready ${((performance.now() - t0) / 1000).toFixed(1)} s after create\n`);

    g = await attach(env, "vm1");
    assert.equal((await g.run("echo $((6*7))")).trim(), "42");
    const up1 = uptime(await g.run("cat /proc/uptime"));
    const hostUp1 = performance.now();
    g.send("(i=0; while true; do echo TICK$i; i=$((i+1)); sleep 1; done) &\n");
    await g.waitFor("TICK2", 30_000);

    // Pause: no tick for 3 s, and the guest's uptime has not moved across the pause.
    assert.match(await ok(env, "pause", "vm1"), /VM 'vm1' paused/);
    assert.equal((await list(env)).get("vm1")?.state, "paused");
    const paused = await rvisor(env, "pause", "vm1");
    assert.deepEqual([paused.code, paused.stderr], [1, "error: VM 'vm1' is already paused\n"]);
    await new Promise((r) => setTimeout(r, 500)); // output of the slice in flight at the pause
    const before = ticks(g.output);
    const wallPaused = performance.now();
    await new Promise((r) => setTimeout(r, 3000));
    assert.deepEqual(ticks(g.output), before, "the guest printed while paused");
    assert.match(await ok(env, "resume", "vm1"), /VM 'vm1' resumed/);
    const pausedMs = performance.now() - wallPaused;
    const last = Math.max(...before);
    await g.waitFor(`TICK${last + 1}`, 15_000);
    assert.equal((await list(env)).get("vm1")?.state, "running");
    const up2 = uptime(await g.run("cat /proc/uptime"));
    const hostS = (performance.now() - hostUp1) / 1000;
    // The guest's uptime advanced by the host time between the two reads minus the pause
    // (mtime stood still; it did not jump on resume), give or take a second of command latency.
    assert.ok(up2 - up1 < hostS - pausedMs / 1000 + 1, `uptime ${up1} → ${up2} over ${hostS} s of host time, paused ${pausedMs} ms`);
    assert.ok(up2 - up1 > 1, `uptime ${up1} → ${up2}`);

    // Ctrl-] detaches; the VM keeps running.
    g.send("\x1d");
    assert.equal(await g.exited, 0);
    assert.match(g.output, /Detached from VM 'vm1'/);
    assert.equal((await list(env)).get("vm1")?.state, "running");
    // The detached VM keeps running: the counter goes on in the kept console log (the guest
    // prints a tick a second; poll, since the last lines may still be the detach's prompt).
    let logs = "";
    for (let tries = 0; tries < 40; tries++) {
      logs = await ok(env, "logs", "vm1", "--tail", "3");
      assert.ok(logs.split("\n").length <= 4, logs);
      if (ticks(logs).length > 0) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.ok(ticks(logs).length > 0, `no tick in the last log lines after detaching:\n${logs}`);
    assert.match(await ok(env, "info", "vm1"), /State:\s+running/);

    // stop presses the power button: the guest's acpid powers it off.
    const stop = await ok(env, "stop", "vm1", "--timeout", "60");
    assert.match(stop, /VM 'vm1' shut off \(the guest powered off\)/);
    assert.deepEqual((await list(env)).get("vm1"), {
      name: "vm1", state: "shut off", cpus: 1, memoryMib: 128, pid: null,
      network: [{ id: "net0", model: "virtio-net", mode: "user", mac: vmMac("vm1", 0), hostfwd: [], restrict: false }], // its default card
    });
    const info = JSON.parse(await ok(env, "info", "vm1", "--json")) as { state: string; lastExit: { reason: string } };
    assert.equal(info.state, "shut off");
    assert.equal(info.lastExit.reason, "poweroff");
    assert.equal(existsSync(join(home, "vms", "vm1", "vm.json")), false);
    // The log is kept after the VM is gone.
    assert.match(await ok(env, "logs", "vm1"), /rvisor guest ready/);
    assert.match(await ok(env, "rm", "vm1"), /VM 'vm1' removed/);
    assert.equal((await list(env)).size, 0);
    process.stderr.write(`lifecycle test: ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  } finally {
    g?.kill();
    await rvisor(env, "kill", "vm1");
    rmSync(home, { recursive: true, force: true });
  }
});

test("VM isolation: SIGKILL one VM's process, the other keeps answering; list says crashed; limits refused", { skip, timeout: scaled(420_000) }, async () => {
  const home = mkdtempSync(join(tmpdir(), "rvisor-vms-"));
  const env = { ...process.env, RVISOR_HOME: home };
  const t0 = performance.now();
  let g: GuestConsole | null = null;
  try {
    await ok(env, "create", "a", "--memory", "128M");
    await ok(env, "create", "b", "--memory", "128M");
    await ok(env, "start", "a");
    await ok(env, "start", "b");
    await Promise.all([waitReady(home, "a"), waitReady(home, "b")]);
    const rows = await list(env);
    const pidA = rows.get("a")?.pid ?? 0, pidB = rows.get("b")?.pid ?? 0;
    assert.ok(pidA > 0 && pidB > 0 && pidA !== pidB);

    process.kill(pidA, "SIGKILL");
    await new Promise((r) => setTimeout(r, 300));
    const after = await list(env);
    assert.equal(after.get("a")?.state, "crashed");
    assert.equal(after.get("b")?.state, "running");
    assert.match(await ok(env, "list"), /^a\s+crashed\s+1\s+128M\s+-\s+user$/m); // the last column: its default network card
    g = await attach(env, "b");
    assert.equal((await g.run("echo b-$((20+22))")).trim(), "b-42");
    const crashed = await rvisor(env, "console", "a");
    assert.deepEqual([crashed.code, crashed.stderr], [1, "error: VM 'a' has crashed (its process is gone)\n"]);

    // Host-wide limits: b (128M) runs; the crashed a counts for nothing.
    await ok(env, "create", "c", "--memory", "128M");
    const mem = await rvisor({ ...env, RVISOR_LIMITS_MEMORY: "200M" }, "start", "c");
    assert.deepEqual([mem.code, mem.stderr], [1, "error: starting VM 'c' would exceed limits.memory=200M (128M in use, 128M requested)\n"]);
    writeFileSync(join(home, "config.json"), JSON.stringify({ "limits.instances": 3, "limits.cpu": 2 }));
    const inst = await rvisor(env, "create", "d");
    assert.deepEqual([inst.code, inst.stderr], [1, "error: creating VM 'd' would exceed limits.instances=3 (3 VMs defined)\n"]);
    const cpu = await rvisor({ ...env, RVISOR_LIMITS_INSTANCES: "" }, "create", "e", "--cpus", "4");
    assert.equal(cpu.code, 1);
    assert.equal(cpu.stderr, "error: creating VM 'e' would exceed limits.instances=3 (3 VMs defined)\n");
    writeFileSync(join(home, "config.json"), JSON.stringify({ "limits.cpu": 2 }));
    const cpuStart = await rvisor(env, "create", "e", "--cpus", "4");
    assert.deepEqual([cpuStart.code, cpuStart.stderr], [1, "error: VM 'e' has 4 vCPUs, more than limits.cpu=2\n"]);
    assert.equal((await list(env)).has("c"), true);
    assert.equal((await list(env)).get("c")?.state, "shut off");

    // The crashed VM starts again; rm refuses a running VM without --force.
    await ok(env, "start", "a");
    assert.equal((await list(env)).get("a")?.state, "running");
    const rm = await rvisor(env, "rm", "b");
    assert.deepEqual([rm.code, rm.stderr], [1, "error: VM 'b' is running (stop it first, or rm --force)\n"]);
    assert.match(await ok(env, "kill", "a"), /VM 'a' killed/);
    assert.match(await ok(env, "rm", "--force", "b"), /VM 'b' removed/);
    assert.equal(await g.exited, 0);
    assert.deepEqual([...(await list(env)).keys()], ["a", "c"]);
    process.stderr.write(`isolation test: ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  } finally {
    g?.kill();
    for (const n of ["a", "b"]) await rvisor(env, "kill", n);
    rmSync(home, { recursive: true, force: true });
  }
});

/** Linux reports utime/stime in /proc/PID/stat in USER_HZ ticks, 100 per second on every mainstream arch. */
const USER_HZ = 100;
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // fields from 3 (state) on
  return (Number(fields[11]) + Number(fields[12])) / USER_HZ; // utime (14), stime (15)
}

test("VM CPU quota: a booting VM with --cpu-quota 25 uses at most about a quarter of a core", { skip, timeout: scaled(120_000) }, async () => {
  const home = mkdtempSync(join(tmpdir(), "rvisor-vms-"));
  const env = { ...process.env, RVISOR_HOME: home };
  try {
    await ok(env, "create", "q", "--cpu-quota", "25");
    assert.match(await ok(env, "info", "q"), /CPUs:\s+1 \(max, quota 25%\)/);
    await ok(env, "start", "q");
    const pid = (await list(env)).get("q")?.pid ?? 0;
    await new Promise((r) => setTimeout(r, 2000)); // past process start-up
    const c0 = cpuSeconds(pid), t0 = performance.now();
    await new Promise((r) => setTimeout(r, 5000)); // the kernel boots: CPU-bound throughout
    const share = (cpuSeconds(pid) - c0) / ((performance.now() - t0) / 1000);
    process.stderr.write(`quota 25%: the VM process used ${(share * 100).toFixed(0)}% of a core while booting\n`);
    assert.ok(share < 0.35, `CPU share ${share}`);
    assert.ok(share > 0.05, `CPU share ${share}: the VM hardly ran`);
  } finally {
    await rvisor(env, "kill", "q");
    rmSync(home, { recursive: true, force: true });
  }
});

test("VM commands: usage errors exit 2, unknown VMs exit 1 with virsh-style messages", async () => {
  const home = mkdtempSync(join(tmpdir(), "rvisor-vms-"));
  const env = { ...process.env, RVISOR_HOME: home };
  try {
    const cases: [string[], number, string][] = [
      [["info", "nosuch"], 1, "error: VM 'nosuch' does not exist\n"],
      [["start", "nosuch"], 1, "error: VM 'nosuch' does not exist\n"],
      [["create", "bad/name"], 2, "error: name: invalid VM name 'bad/name': use 1 to 63 letters, digits, '-', '_' or '.', starting with a letter or digit\n"],
      [["create", "x", "--cpus", "9"], 2, "error: cpus: must be an integer from 1 to 8 (got '9')\n"],
      [["create", "x", "--memory", "4G"], 2, "error: memory: must be between 16M and 2G (got '4G')\n"],
      [["create", "x", "--disk", join(home, "missing.img")], 2, `error: disks[0].path: cannot use '${join(home, "missing.img")}': ENOENT\n`],
      [["create", "x", "--disk", `${home}/d.img,format=vmdk`], 2, "error: disks[0].format: unknown disk format 'vmdk' (valid: raw, qcow2)\n"],
      [["create", "x", "--cpu", "rv32"], 2, "error: cpu.profile: unknown CPU profile 'rv32' (valid: rv64gc, rva22, max)\n"],
      [["create", "x", "--cpu-quota", "0"], 2, "error: cpu.quotaPercent: must be a percentage from 1 to 100 (got '0')\n"],
      [["create"], 2, "error: expected a VM name\n"],
      [["list", "extra"], 2, "error: unexpected argument 'extra'\n"],
      [["stop", "x", "--bogus"], 2, "error: Unknown option '--bogus'. To specify a positional argument starting with a '-', place it at the end of the command after '--', as in '-- \"--bogus\"\n"],
    ];
    for (const [args, code, stderr] of cases) {
      const r = await rvisor(env, ...args);
      assert.deepEqual([r.code, r.stderr], [code, stderr], `rvisor ${args.join(" ")}`);
    }
    assert.equal((await list(env)).size, 0);
  } finally { rmSync(home, { recursive: true, force: true }); }
});
