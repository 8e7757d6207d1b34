// The REST API with the real guest image, through `rvisor serve` on its default Unix socket:
// create via REST → InstanceStart → a shell answers over the console WebSocket → pause (the
// guest's counter stops) → resume (it continues) → SendCtrlAltDel (shut off; the WebSocket
// closes) → delete. Also `rvisor serve` usage errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { guestImage, RVISOR_BIN } from "./lib/guest.js";
import { ApiClient, WsConsole } from "./lib/api_client.js";
import { scaled } from "./lib/time_scale.js";

const BOOT_TIMEOUT = 180_000;
const img = await guestImage();
const skip = typeof img === "string" ? img : false;
const WS_NORMAL = 1000;

function ticks(s: string): number[] { return [...s.matchAll(/TICK(\d+)/g)].map((m) => Number(m[1])); }

test("REST with the guest image: create, start, a shell over the console WebSocket, pause, resume, stop, delete", { skip, timeout: scaled(420_000) }, async () => {
  const home = mkdtempSync(join(tmpdir(), "rvisor-api-guest-"));
  const env: NodeJS.ProcessEnv = { ...process.env, RVISOR_HOME: home };
  for (const k of ["RVISOR_LIMITS_INSTANCES", "RVISOR_LIMITS_CPU", "RVISOR_LIMITS_MEMORY"]) delete env[k];
  const serve = spawn(process.execPath, [RVISOR_BIN, "serve"], { env, stdio: ["ignore", "pipe", "pipe"] });
  let served = "";
  serve.stdout.on("data", (d: Buffer) => { served += d.toString(); });
  serve.stderr.on("data", (d: Buffer) => { served += d.toString(); });
  const socketPath = join(home, "api.sock");
  let ws: WsConsole | null = null;
  const api = new ApiClient({ socketPath });
  const t0 = performance.now();
  try {
    for (let i = 0; !served.includes(`rvisor API listening on unix:${socketPath}`); i++) {
      assert.ok(i < 600 && serve.exitCode === null, `rvisor serve did not come up: ${served}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal((await api.call("POST", "/v1/vms", "/v1/vms", { name: "g1", memory: "128M" })).status, 201);
    assert.equal((await api.call("PUT", "/v1/vms/{name}/actions", "/v1/vms/g1/actions", { action_type: "InstanceStart" })).status, 204);
    // The guest's banner in the kept log, then a shell on the console WebSocket.
    const deadline = performance.now() + scaled(BOOT_TIMEOUT);
    for (;;) {
      const logs = await api.call("GET", "/v1/vms/{name}/logs", "/v1/vms/g1/logs");
      if (logs.text.includes("rvisor guest ready")) break;
      assert.ok(performance.now() < deadline, `the guest did not boot; log:\n${logs.text.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    process.stderr.write(`api guest: ready ${((performance.now() - t0) / 1000).toFixed(1)} s after create\n`);
    ws = new WsConsole(await api.console("g1"));
    ws.ws.send(JSON.stringify({ type: "resize", cols: 100, rows: 30 }));
    ws.send("\r");
    await ws.waitFor(() => ws !== null && /# $/m.test(ws.output), "a shell prompt", 30_000);
    // The marker is assembled by the shell, so the echoed command line does not match it.
    ws.send('echo "MARK""ER-$((6*7))"\r');
    await ws.waitText("MARKER-42", 30_000);
    assert.deepEqual(ws.texts, [], "the resize was refused");

    ws.send("(i=0; while true; do echo TICK$i; i=$((i+1)); sleep 1; done) &\r");
    await ws.waitText("TICK2", 30_000);
    assert.equal((await api.call("PATCH", "/v1/vms/{name}/vm", "/v1/vms/g1/vm", { state: "Paused" })).status, 204);
    assert.equal(((await api.call("GET", "/v1/vms/{name}", "/v1/vms/g1")).json as { state: string }).state, "paused");
    await new Promise((r) => setTimeout(r, 500)); // output of the slice in flight at the pause
    const before = ticks(ws.output);
    await new Promise((r) => setTimeout(r, 3000));
    assert.deepEqual(ticks(ws.output), before, "the guest printed while paused");
    assert.equal((await api.call("PATCH", "/v1/vms/{name}/vm", "/v1/vms/g1/vm", { state: "Resumed" })).status, 204);
    await ws.waitText(`TICK${Math.max(...before) + 1}`, 20_000);
    ws.send('kill %1; echo "AFT""ER-resume"\r');
    await ws.waitText("AFTER-resume", 30_000);

    // SendCtrlAltDel presses the power button: the guest's acpid powers it off.
    assert.equal((await api.call("PUT", "/v1/vms/{name}/actions", "/v1/vms/g1/actions", { action_type: "SendCtrlAltDel" })).status, 204);
    await ws.waitFor(() => ws?.closed !== null, "the console to close", 30_000);
    assert.deepEqual(ws.closed, { code: WS_NORMAL, reason: "VM stopped" });
    const off = (await api.call("GET", "/v1/vms/{name}", "/v1/vms/g1")).json as { state: string; lastExit: { reason: string } };
    assert.deepEqual([off.state, off.lastExit.reason], ["shut off", "poweroff"]);
    assert.equal((await api.call("DELETE", "/v1/vms/{name}", "/v1/vms/g1")).status, 204);
    assert.deepEqual((await api.call("GET", "/v1/vms", "/v1/vms")).json, []);
    process.stderr.write(`api guest test: ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  } finally {
    ws?.ws.terminate();
    await new Promise<void>((r) => execFile(process.execPath, [RVISOR_BIN, "kill", "g1"], { env }, () => r()));
    serve.kill("SIGTERM");
    await new Promise((r) => serve.once("exit", r));
    // A clean exit removes the socket.
    assert.equal(existsSync(socketPath), false, "rvisor serve left its socket behind");
    rmSync(home, { recursive: true, force: true });
  }
});

test("rvisor serve: usage errors, and a second server on the same socket is refused", { timeout: scaled(60_000) }, async () => {
  const home = mkdtempSync(join(tmpdir(), "rvisor-serve-"));
  const env: NodeJS.ProcessEnv = { ...process.env, RVISOR_HOME: home };
  const serve = (...args: string[]): Promise<{ code: number; stderr: string }> => new Promise((resolve) => {
    execFile(process.execPath, [RVISOR_BIN, "serve", ...args], { env, timeout: scaled(30_000) }, (err, _out, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === "number" ? err.code : 1, stderr });
    });
  });
  const first = spawn(process.execPath, [RVISOR_BIN, "serve"], { env, stdio: ["ignore", "pipe", "inherit"] });
  try {
    const short = join(home, "short-token");
    writeFileSync(short, "abc\n");
    const cases: [string[], number, RegExp][] = [
      [["--listen", "127.0.0.1:0"], 2, /--listen needs --token-file: a TCP listener requires a bearer token/],
      [["--token-file", short], 2, /--token-file is for --listen/],
      [["--listen", "127.0.0.1:0", "--token-file", short], 2, /the token must be at least 16 characters/],
      [["--listen", "127.0.0.1:0", "--token-file", join(home, "none")], 2, /cannot read .*ENOENT/],
      [["--listen", "localhost", "--token-file", short], 2, /use HOST:PORT/],
      [["--bogus"], 2, /Unknown option '--bogus'/],
    ];
    for (const [args, code, msg] of cases) {
      const r = await serve(...args);
      assert.equal(r.code, code, `serve ${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, msg);
    }
    await new Promise<void>((resolve) => first.stdout.on("data", (d: Buffer) => { if (d.toString().includes("listening")) resolve(); }));
    const second = await serve();
    assert.deepEqual([second.code, second.stderr.trim()], [1, `rvisor serve: another server is listening on ${join(home, "api.sock")}`]);
  } finally {
    first.kill("SIGTERM");
    await new Promise((r) => first.once("exit", r));
    rmSync(home, { recursive: true, force: true });
  }
});
