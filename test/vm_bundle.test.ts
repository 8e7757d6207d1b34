// The VM process's bundle (scripts/vm-bundle.mjs → dist/bundle/vm.cjs): starts use it only when
// it is at least as new as the compiled vm_main.js (vmMainEntry), and the bundle itself runs a
// VM: built into a temporary directory, started by hand as `node vm.cjs NAME` with the start-up
// pipe, it comes up, records itself, echoes its console, takes a snapshot (node:crypto, loaded only when first
// called: lazy builtins), and stops from the host side. The VM is a bare machine whose
// one program echoes the serial console (no guest image needed).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { Hypervisor } from "../src/host/node/hypervisor.js";
import { VM_BUNDLE, VM_MAIN, vmMainEntry } from "../src/host/node/vm_pool.js";
import { READY_ENV, READY_FD, READY_LINE } from "../src/hypervisor/control.js";
import { vmNodeOptions } from "../src/hypervisor/memory.js";
import { pidAlive } from "../src/host/node/vm_store.js";
import { echoes, echoHome, echoVmDefinition } from "./lib/echo_vm.js";
import { scaled } from "./lib/time_scale.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

test("vmMainEntry: the bundle when it is at least as new as vm_main.js, else vm_main.js", () => {
  assert.equal(VM_BUNDLE, join(ROOT, "dist", "bundle", "vm.cjs"));
  assert.equal(VM_MAIN, join(ROOT, "dist", "src", "host", "node", "vm_main.js"));
  const dir = mkdtempSync(join(tmpdir(), "rvisor-entry-"));
  try {
    const bundle = join(dir, "vm.cjs"), modules = join(dir, "vm_main.js");
    assert.equal(vmMainEntry(bundle, modules), modules, "no bundle");
    writeFileSync(bundle, "");
    writeFileSync(modules, "");
    utimesSync(bundle, 1000, 1000);
    utimesSync(modules, 2000, 2000);
    assert.equal(vmMainEntry(bundle, modules), modules, "a stale bundle (tsc ran after it)");
    utimesSync(bundle, 2000, 2000);
    assert.equal(vmMainEntry(bundle, modules), bundle, "as new");
    utimesSync(bundle, 3000, 3000);
    assert.equal(vmMainEntry(bundle, modules), bundle, "newer");
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test("the VM bundle runs a VM: up through the start-up pipe, console echoes, a snapshot (lazy node:crypto), host stop", { timeout: scaled(60_000) }, async () => {
  const { home, env, kernel } = echoHome("bundle");
  const out = join(home, "bundle");
  const hv = new Hypervisor({ home, env });
  try {
    execFileSync(process.execPath, [join(ROOT, "scripts", "vm-bundle.mjs"), "--out", out], { stdio: "pipe" });
    const script = join(out, "vm.cjs");
    const text = readFileSync(script, "latin1");
    assert.doesNotMatch(text, /[^\x00-\x7f]/, "the bundle is ASCII (V8 keeps one byte per character of its source)");
    // Lazily loaded builtins: each require of one sits in the getter its wrappers call.
    const requires = [...text.matchAll(/(.{4})require\("node:(crypto|child_process)"\)/g)];
    assert.deepEqual(requires.map((m) => [m[2], m[1]]), [["child_process", "??= "], ["crypto", "??= "]]);
    await hv.create(echoVmDefinition("b1", kernel));
    const stdio: ("ignore" | "pipe")[] = ["ignore", "ignore", "pipe"];
    while (stdio.length < READY_FD) stdio.push("ignore");
    stdio.push("pipe");
    const child = spawn(process.execPath, [...vmNodeOptions(), script, "b1"], { stdio, env: { ...env, [READY_ENV]: String(READY_FD) } });
    let err = "";
    (child.stdio[2] as Readable).on("data", (d: Buffer) => { err += d.toString(); });
    let got = "";
    (child.stdio[READY_FD] as Readable).on("data", (d: Buffer) => { got += d.toString(); });
    const deadline = performance.now() + 30_000;
    while (!got.includes(READY_LINE)) {
      assert.ok(performance.now() < deadline && child.exitCode === null, `the bundled VM process did not come up: ${err}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const info = await hv.info("b1");
    assert.deepEqual([info.state, info.pid], ["running", child.pid]);
    const c = await hv.console("b1");
    try { await echoes(c, "from-the-bundle\r"); } finally { c.destroy(); }
    // A snapshot names its new overlay with node:crypto's randomBytes: the lazy wrapper loads it.
    const snap = await hv.snapshot("b1", "s1");
    assert.equal(snap.name, "s1");
    const r = await hv.stop("b1", { force: true });
    assert.deepEqual([r.outcome, r.reason, r.pid], ["stopped", "forced", child.pid]);
    assert.equal(pidAlive(child.pid ?? -1), false);
    assert.equal((await hv.info("b1")).lastExit?.reason, "stop");
    assert.equal(err.trim(), "", "nothing on the VM process's stderr");
  } finally {
    for (const v of await hv.list()) if (v.pid !== null) await hv.kill(v.name).catch(() => undefined);
    rmSync(home, { recursive: true, force: true });
  }
});
