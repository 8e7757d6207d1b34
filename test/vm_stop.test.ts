// `stop`'s fallbacks (src/host/node/vm_ops.ts, shutdownVm): a guest that ignores the power button
// is stopped by the host once the timeout has passed (vCPUs stopped, disks flushed: exit reason
// "stop"), through the CLI (`rvisor stop NAME --timeout 1`) and the Node API (timeoutMs); a VM
// process that answers nothing at all (SIGSTOPped) is killed. The guests are bare machines whose
// one program echoes the serial console and knows nothing of a power button (no guest image needed).
import { test } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { Hypervisor } from "../src/host/node/hypervisor.js";
import { pidAlive } from "../src/host/node/vm_store.js";
import { echoes, echoHome, echoVmDefinition } from "./lib/echo_vm.js";
import { ok } from "./lib/vm.js";
import { scaled } from "./lib/time_scale.js";

const TIMEOUT_S = 1;
const MS_PER_S = 1000;
/** What the host-side stop may add to the timeout on a loaded 2-core host (flush, exit, the CLI's own start-up). */
const HOST_STOP_SLACK_MS = 8000;

test("stop: a guest that ignores the power button is stopped by the host after --timeout; one whose process answers nothing is killed", { timeout: scaled(90_000) }, async () => {
  const { home, env, kernel } = echoHome("stop");
  const hv = new Hypervisor({ home, env });
  try {
    for (const n of ["deaf", "api", "frozen"]) await hv.create(echoVmDefinition(n, kernel));

    // The CLI: the button is pressed, nothing happens for TIMEOUT_S, then the host stops the VM.
    const pid = await hv.start("deaf");
    const c = await hv.console("deaf");
    try { await echoes(c, "up\r"); } finally { c.destroy(); }
    let t0 = performance.now();
    const out = await ok(env, "stop", "deaf", "--timeout", String(TIMEOUT_S));
    let took = performance.now() - t0;
    assert.equal(out, `VM 'deaf' shut off (stopped by the host: the guest did not power off within ${TIMEOUT_S} s; vCPUs stopped, disks flushed)\n`);
    assert.ok(took >= TIMEOUT_S * MS_PER_S, `the host stepped in after ${took.toFixed(0)} ms, before the ${TIMEOUT_S} s timeout`);
    assert.ok(took < TIMEOUT_S * MS_PER_S + HOST_STOP_SLACK_MS, `stop took ${took.toFixed(0)} ms`);
    assert.equal(pidAlive(pid), false);
    const info = await hv.info("deaf");
    assert.deepEqual([info.state, info.pid, info.lastExit?.reason, info.lastExit?.code], ["shut off", null, "stop", 0]);
    // It starts again as usual.
    await hv.start("deaf");
    assert.equal((await hv.info("deaf")).state, "running");

    // The Node API with a timeout in milliseconds.
    const apiPid = await hv.start("api");
    t0 = performance.now();
    const r = await hv.stop("api", { timeoutMs: 500 });
    took = performance.now() - t0;
    assert.deepEqual(r, { outcome: "stopped", reason: "timeout", pid: apiPid });
    assert.ok(took >= 500, `stopped after ${took.toFixed(0)} ms`);
    assert.equal((await hv.info("api")).lastExit?.reason, "stop");

    // A process that answers nothing (stopped by SIGSTOP): neither the button nor the host-side
    // stop request gets an answer, so it is killed.
    const frozen = await hv.start("frozen");
    process.kill(frozen, "SIGSTOP");
    const k = await hv.stop("frozen", { timeoutMs: 500 });
    assert.deepEqual(k, { outcome: "killed", reason: "no-answer", pid: frozen });
    assert.equal(pidAlive(frozen), false);
    assert.equal((await hv.info("frozen")).state, "shut off");
    // The other VM went on running through all of this.
    const d = await hv.console("deaf");
    try { await echoes(d, "still\r"); } finally { d.destroy(); }
  } finally {
    for (const v of await hv.list()) if (v.pid !== null) await hv.kill(v.name).catch(() => undefined);
    rmSync(home, { recursive: true, force: true });
  }
});
