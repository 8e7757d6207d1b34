// A restart of the manager loses no running VM: `rvisor serve` (the REST API) starts three VMs,
// is killed with SIGKILL, and a second server finds every one of them running — `GET /v1/vms`
// says so with the same pids, the console WebSocket of each answers, and InstanceStop stops one.
// Then the same for the Node API: a new Hypervisor object (as a new program would make) lists the
// VMs the old server started, attaches their consoles and stops them. No daemon state is
// involved: the state directory and each VM's own process are all there is (vm_store.ts).
// The VMs are bare machines whose one program echoes the serial console (UART_ECHO_LOOP), so
// no guest image is needed and nothing waits for a boot.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { Hypervisor } from "../src/host/node/hypervisor.js";
import { pidAlive } from "../src/host/node/vm_store.js";
import { ApiClient, WsConsole } from "./lib/api_client.js";
import { RVISOR_BIN } from "./lib/guest.js";
import { echoes, echoHome, echoVmDefinition } from "./lib/echo_vm.js";
import { scaled } from "./lib/time_scale.js";

const NAMES = ["r1", "r2", "r3"];

interface Served { child: ChildProcessWithoutNullStreams; output: () => string }

async function serve(env: NodeJS.ProcessEnv, socketPath: string): Promise<Served> {
  const child = spawn(process.execPath, [RVISOR_BIN, "serve"], { env, stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => { out += d.toString(); });
  child.stderr.on("data", (d: Buffer) => { out += d.toString(); });
  const deadline = performance.now() + 60_000;
  while (!out.includes(`rvisor API listening on unix:${socketPath}`)) {
    assert.ok(performance.now() < deadline && child.exitCode === null, `rvisor serve did not come up: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, output: () => out };
}

interface Row { name: string; state: string; pid: number | null }

async function rows(api: ApiClient): Promise<Map<string, Row>> {
  const r = await api.call("GET", "/v1/vms", "/v1/vms");
  assert.equal(r.status, 200, r.text);
  return new Map((r.json as Row[]).map((v) => [v.name, v]));
}

test("manager restart: SIGKILL `rvisor serve` with 3 VMs running; a new server and a new Hypervisor find them all running; console and stop work", { timeout: scaled(180_000) }, async () => {
  const { home, env, kernel } = echoHome("restart");
  const socketPath = join(home, "api.sock");
  const api = new ApiClient({ socketPath });
  const servers: Served[] = [];
  let ws: WsConsole | null = null;
  try {
    const first = await serve(env, socketPath);
    servers.push(first);
    for (const name of NAMES) {
      const made = await api.call("POST", "/v1/vms", "/v1/vms", echoVmDefinition(name, kernel));
      assert.equal(made.status, 201, made.text);
      const started = await api.call("PUT", "/v1/vms/{name}/actions", `/v1/vms/${name}/actions`, { action_type: "InstanceStart" });
      assert.equal(started.status, 204, started.text);
    }
    const before = await rows(api);
    const pids = new Map(NAMES.map((n) => [n, before.get(n)?.pid ?? null]));
    for (const n of NAMES) {
      assert.equal(before.get(n)?.state, "running");
      assert.ok(typeof pids.get(n) === "number");
    }
    // A console is attached through the first server when it dies.
    ws = new WsConsole(await api.console("r1"));
    ws.send("through-server-1\r");
    await ws.waitText("through-server-1", 30_000);

    // The manager dies without any chance to clean up.
    first.child.kill("SIGKILL");
    await new Promise((r) => first.child.once("exit", r));
    await ws.waitFor(() => ws?.closed !== null, "the console WebSocket to close with its server", 30_000);
    for (const n of NAMES) assert.ok(pidAlive(pids.get(n) ?? 0), `VM ${n}'s process died with the server`);

    // A new server on the same (stale) socket finds every VM, with the same processes.
    const second = await serve(env, socketPath);
    servers.push(second);
    const after = await rows(api);
    for (const n of NAMES) assert.deepEqual([after.get(n)?.state, after.get(n)?.pid], ["running", pids.get(n)], `VM ${n} after the restart`);
    const info = await api.call("GET", "/v1/vms/{name}", "/v1/vms/r2");
    assert.equal((info.json as { state: string; pid: number }).pid, pids.get("r2"));
    for (const n of NAMES) {
      ws = new WsConsole(await api.console(n));
      ws.send(`after-restart-${n}\r`);
      await ws.waitText(`after-restart-${n}`, 30_000);
      ws.ws.terminate();
      ws = null;
    }
    const stop = await api.call("PUT", "/v1/vms/{name}/actions", "/v1/vms/r1/actions", { action_type: "InstanceStop", timeout_s: 0 });
    assert.equal(stop.status, 204, stop.text);
    const stopped = await rows(api);
    assert.deepEqual([stopped.get("r1")?.state, stopped.get("r1")?.pid], ["shut off", null]);
    assert.equal(pidAlive(pids.get("r1") ?? 0), false);
    assert.deepEqual([stopped.get("r2")?.state, stopped.get("r3")?.state], ["running", "running"]);

    // The Node API: a new Hypervisor (a new program) after the second server is killed too.
    second.child.kill("SIGKILL");
    await new Promise((r) => second.child.once("exit", r));
    const hv = new Hypervisor({ home, env });
    const listed = new Map((await hv.list()).map((v) => [v.name, v]));
    assert.deepEqual(NAMES.map((n) => [n, listed.get(n)?.state, listed.get(n)?.pid]),
      [["r1", "shut off", null], ["r2", "running", pids.get("r2")], ["r3", "running", pids.get("r3")]]);
    for (const n of ["r2", "r3"]) {
      const c = await hv.console(n);
      try { await echoes(c, `node-api-${n}\r`); } finally { c.destroy(); }
    }
    const r2 = await hv.stop("r2", { force: true });
    assert.equal(r2.outcome, "stopped");
    assert.equal((await hv.info("r2")).state, "shut off");
    assert.equal((await hv.info("r3")).state, "running");
    // And a VM started by this Hypervisor is found by yet another one.
    await hv.start("r1");
    const hv2 = new Hypervisor({ home, env });
    assert.equal((await hv2.info("r1")).state, "running");
    for (const n of ["r1", "r3"]) await hv2.stop(n, { force: true });
    assert.deepEqual((await hv2.list()).map((v) => v.state), ["shut off", "shut off", "shut off"]);
  } finally {
    ws?.ws.terminate();
    const hv = new Hypervisor({ home, env });
    for (const v of await hv.list()) if (v.pid !== null) await hv.kill(v.name).catch(() => undefined);
    for (const s of servers) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill("SIGKILL");
    rmSync(home, { recursive: true, force: true });
  }
});
