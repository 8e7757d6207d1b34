// The memory cap of a VM process (src/hypervisor/memory.ts): a VM whose host side grows past its
// guest RAM plus the host overhead is stopped and reported crashed, with the reason, by `info`
// and `list` (Node API and CLI), while the other VMs keep running. A guest cannot grow its
// process beyond its fixed RAM, so the growth comes from the test-only hook RVISOR_TEST_HOST_GROW_MIB,
// which makes the VM process allocate host memory as a leak would. The VMs are bare machines
// whose one program echoes the serial console (no guest image needed).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { Hypervisor } from "../src/host/node/hypervisor.js";
import { memoryCapBytes, TEST_HOST_GROW_ENV } from "../src/hypervisor/memory.js";
import { pidAlive } from "../src/host/node/vm_store.js";
import { RVISOR_BIN } from "./lib/guest.js";
import { echoes, echoHome, echoVmDefinition } from "./lib/echo_vm.js";
import { scaled } from "./lib/time_scale.js";

const MEMORY_MIB = 16;
const GROW_MIB_PER_STEP = 32;

test("memory cap: a VM process that grows past guest RAM + host overhead is stopped and listed as crashed with the reason; the others keep running", { timeout: scaled(120_000) }, async () => {
  const { home, env, kernel } = echoHome("memcap", [TEST_HOST_GROW_ENV]);
  const hv = new Hypervisor({ home, env });
  // VMs started by this one grow their host memory.
  const leaky = new Hypervisor({ home, env: { ...env, [TEST_HOST_GROW_ENV]: String(GROW_MIB_PER_STEP) } });
  try {
    for (const n of ["good1", "leak", "good2"]) await hv.create(echoVmDefinition(n, kernel, `${MEMORY_MIB}M`));
    const p1 = await hv.start("good1");
    const pl = await leaky.start("leak");
    const p2 = await hv.start("good2");
    const deadline = performance.now() + 60_000;
    while ((await hv.info("leak")).state !== "crashed") {
      assert.ok(performance.now() < deadline, "the leaking VM was not stopped");
      await new Promise((r) => setTimeout(r, 100));
    }
    const capMib = memoryCapBytes(MEMORY_MIB) / (1 << 20);
    const info = await hv.info("leak");
    assert.equal(info.pid, null);
    assert.equal(info.lastExit?.reason, "error");
    assert.match(info.crash ?? "", new RegExp(`^memory cap exceeded: the VM process used \\d+ MiB, more than its cap of ${capMib} MiB`));
    // The process ends right after it records its exit.
    while (pidAlive(pl)) {
      assert.ok(performance.now() < deadline, "the leaking VM's process is still there");
      await new Promise((r) => setTimeout(r, 50));
    }
    const rows = new Map((await hv.list()).map((r) => [r.name, r]));
    assert.deepEqual([rows.get("good1")?.state, rows.get("good1")?.pid, rows.get("good2")?.state, rows.get("good2")?.pid], ["running", p1, "running", p2]);
    assert.equal(rows.get("leak")?.state, "crashed");
    assert.equal(rows.get("leak")?.crash, info.crash);
    assert.equal(rows.get("good1")?.crash, undefined);
    for (const n of ["good1", "good2"]) { const c = await hv.console(n); try { await echoes(c, `still-${n}\r`); } finally { c.destroy(); } }
    // The CLI says so too.
    const cli = (...args: string[]): string => execFileSync(process.execPath, [RVISOR_BIN, ...args], { env, encoding: "utf8" });
    const list = cli("list");
    assert.match(list, /^leak\s+crashed\s+1\s+16M\s+-\s+user$/m); // the last column: its default network card
    assert.match(list, new RegExp(`^leak: crashed: memory cap exceeded: .* cap of ${capMib} MiB`, "m"));
    assert.doesNotMatch(list, /^good\d: crashed/m);
    assert.match(cli("info", "leak"), /^Crashed:\s+memory cap exceeded/m);
    // A crashed VM starts again (without the leak it stays up).
    const again = await hv.start("leak");
    assert.equal((await hv.info("leak")).state, "running");
    // Killed from outside, it is crashed for that reason, not for the memory cap of its earlier run.
    process.kill(again, "SIGKILL");
    while (pidAlive(again)) await new Promise((r) => setTimeout(r, 50));
    const killed = await hv.info("leak");
    assert.deepEqual([killed.state, killed.crash], ["crashed", "its process ended without a clean exit (killed by a signal, or it died)"]);
  } finally {
    for (const v of await hv.list()) if (v.pid !== null) await hv.kill(v.name).catch(() => undefined);
    rmSync(home, { recursive: true, force: true });
  }
});
