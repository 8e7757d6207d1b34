// The process VM's container options (src/user/kernel.ts): a pid namespace (pid 1, orphans
// re-parented to it, signals without a handler not delivered to it from inside), the pids limit
// (fork fails with EAGAIN past it), the CPU share, and spawn() (a process beside the first one,
// as `container exec` starts it), on test/user/programs/pidns.c.
import { O_WRONLY } from "../src/abi/linux.js";
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildProgram, toolsMissing } from "./user/build.js";
import { Kernel, type KernelOptions } from "../src/user/kernel.js";
import { nodeUserHost } from "../src/host/node/user_host.js";
import { fakeStat, OpenFile } from "../src/user/file.js";
import type { HostStat } from "../src/user/host.js";
import { scaled } from "./lib/time_scale.js";

const skip = toolsMissing();

function kernel(opts: Partial<KernelOptions>): { k: Kernel; out: () => string } {
  const host = nodeUserHost();
  let out = "";
  const term = host.term;
  host.term = {
    isatty: () => false, winsize: () => null, setRaw: () => {}, write: (_fd, d) => { out += new TextDecoder().decode(d); return d.length; },
    startInput: (cb) => cb(null), onSignal: () => {}, onResize: () => {}, release: () => {}, suspend: () => {}, stop: () => term.stop(),
  };
  const k = new Kernel(host, { root: "/", readonly: true, strace: false, log: () => {}, memBytes: 64 << 20, orphans: "kill", ...opts });
  return { k, out: () => out };
}

test("pid namespace: pid 1, orphans re-parented to it, kill from inside ignored, fork EAGAIN past the pids limit", { skip, timeout: scaled(120_000) }, async () => {
  const bin = buildProgram("pidns", "static");
  const { k, out } = kernel({ pidNamespace: true, maxTasks: 5, cpuShare: 0.5 });
  k.start(bin, [bin], [], "/");
  assert.equal(await k.run(), 0);
  assert.equal(out(), "pid 1\norphan parent 1\nsurvived kill\nfork failed: Resource temporarily unavailable\nforked 4\n");
});

test("without a pid namespace: host-like pids, orphans leave the guest, its SIGTERM to itself kills it", { skip, timeout: scaled(120_000) }, async () => {
  const bin = buildProgram("pidns", "static");
  const { k, out } = kernel({});
  k.start(bin, [bin], [], "/");
  assert.equal(await k.run(), 128 + 15);
  const [pidLine, orphan] = out().split("\n");
  assert.ok(Number(pidLine.split(" ")[1]) >= 1000, pidLine);
  assert.equal(orphan, "orphan parent 0");
  assert.ok(!out().includes("survived"));
});

class Capture extends OpenFile {
  text = "";
  constructor() { super(); this.flags = O_WRONLY; }
  override write(d: Uint8Array): number { this.text += new TextDecoder().decode(d); return d.length; }
  override stat(): HostStat { return fakeStat(0o010600); }
}

test("spawn: a second process beside pid 1, with its own stdio; onProcessExit reports it", { skip, timeout: scaled(120_000) }, async () => {
  const bin = buildProgram("pidns", "static");
  const { k } = kernel({ pidNamespace: true, maxTasks: 64 });
  // pid 1 forks up to 64 children and waits on them: it is busy while the spawned process runs.
  k.start(bin, [bin], [], "/");
  const cap = new Capture();
  const exited: number[] = [];
  k.onProcessExit = (p) => { if (p.pid !== 1 && p.parent === null) exited.push(p.status ?? -1); };
  const p = k.spawn(bin, ["pidns"], [], "/", [cap, cap, cap]);
  assert.ok(p.pid > 1);
  assert.equal(p.parent, null);
  assert.equal(await k.run(), 0);
  // The spawned copy is not pid 1: its kill of itself ends it (SIGKILL, status 9).
  assert.match(cap.text, /^pid \d+\n/);
  assert.notEqual(cap.text, "pid 1\n");
  assert.ok(!cap.text.includes("survived"), cap.text);
  assert.deepEqual(exited, [9]);
});
