// The warm process pool (src/host/node/vm_pool.ts): a start takes a pre-started VM process,
// which becomes that VM's process (same pid) and is never reused; the pool refills with a new
// process; an idle pooled process ends with its manager (SIGKILLed) while the VMs it started keep
// running. The VMs are bare machines whose one program echoes the serial console, so no guest
// image is needed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Hypervisor } from "../src/host/node/hypervisor.js";
import { pidAlive } from "../src/host/node/vm_store.js";
import { echoes, echoHome, echoVmDefinition } from "./lib/echo_vm.js";
import { scaled } from "./lib/time_scale.js";

async function until(what: string, ok: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + scaled(timeoutMs);
  while (!ok()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test("warm pool: a start takes the warm process (same pid), the pool refills with a new one, each VM its own process", { timeout: scaled(120_000) }, async () => {
  const { home, env, kernel } = echoHome("pool");
  const hv = new Hypervisor({ home, env, warmPool: 1 });
  try {
    for (const n of ["a", "b"]) await hv.create(echoVmDefinition(n, kernel));
    await hv.warmUp(60_000);
    const [w1] = hv.warmPids();
    assert.ok(typeof w1 === "number" && pidAlive(w1));
    assert.equal(await hv.start("a"), w1, "VM a runs in the warm process");
    await hv.warmUp(60_000);
    const [w2] = hv.warmPids();
    assert.ok(w2 !== undefined && w2 !== w1, "the pool refilled with a new process");
    assert.equal(await hv.start("b"), w2);
    const [a, b] = [await hv.info("a"), await hv.info("b")];
    assert.deepEqual([a.state, a.pid, b.state, b.pid], ["running", w1, "running", w2]);
    for (const n of ["a", "b"]) { const c = await hv.console(n); try { await echoes(c, `hello-${n}\r`); } finally { c.destroy(); } }
    // One VM killed: the other, in its own process, keeps running; a restart of a takes a fresh process.
    await hv.kill("a");
    assert.equal((await hv.info("b")).state, "running");
    await hv.warmUp(60_000);
    const [w3] = hv.warmPids();
    assert.ok(w3 !== w1 && w3 !== w2);
    assert.equal(await hv.start("a"), w3, "a killed VM restarts in a new warm process, never its old one");
    const c = await hv.console("a");
    try { await echoes(c, "again\r"); } finally { c.destroy(); }
    // A pool of 0 starts cold; bad sizes are refused.
    assert.deepEqual(new Hypervisor({ home, env }).warmPids(), []);
    assert.throws(() => new Hypervisor({ home, env, warmPool: -1 }), /warmPool/);
    assert.throws(() => new Hypervisor({ home, env, warmPool: 1.5 }), /warmPool/);
  } finally {
    hv.close();
    for (const v of await hv.list()) if (v.pid !== null) await hv.kill(v.name).catch(() => undefined);
    rmSync(home, { recursive: true, force: true });
  }
});

test("warm pool: when the manager is SIGKILLed, its idle warm process exits and leaves no file; the VM it started keeps running", { timeout: scaled(120_000) }, async () => {
  const { home, env, kernel } = echoHome("pool");
  const hvUrl = new URL("../src/host/node/hypervisor.js", import.meta.url).href;
  // The manager: a program that keeps a pool, starts VM m from it, waits for the refill and says so.
  const script = `
    import { Hypervisor } from ${JSON.stringify(hvUrl)};
    const hv = new Hypervisor({ warmPool: 1 });
    await hv.create({ name: "m", memory: "16M", boot: { firmware: "none", kernel: ${JSON.stringify(kernel)} } });
    await hv.warmUp(60000);
    const vm = await hv.start("m");
    await hv.warmUp(60000);
    process.stdout.write(JSON.stringify({ vm, warm: hv.warmPids()[0] }) + "\\n");
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => { out += d.toString(); });
  child.stderr.on("data", (d: Buffer) => { out += d.toString(); });
  const hv = new Hypervisor({ home, env });
  try {
    await until("the manager to report", () => out.includes("\n") || child.exitCode !== null, 90_000);
    const { vm, warm } = JSON.parse(out.split("\n")[0]) as { vm: number; warm: number };
    assert.ok(pidAlive(vm) && pidAlive(warm) && vm !== warm, out);
    child.kill("SIGKILL");
    await until("the idle warm process to exit", () => !pidAlive(warm));
    assert.equal((await hv.info("m")).state, "running");
    assert.equal((await hv.info("m")).pid, vm);
    const c = await hv.console("m");
    try { await echoes(c, "survived\r"); } finally { c.destroy(); }
    assert.deepEqual(readdirSync(join(home, "pool")), [], "the idle warm process removed its stderr file");
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    for (const v of await hv.list()) if (v.pid !== null) await hv.kill(v.name).catch(() => undefined);
    rmSync(home, { recursive: true, force: true });
  }
});
