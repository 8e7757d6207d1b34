// A managed VM's network card (VmConfig.network) with the real guest: the VM process builds it,
// the guest gets 10.0.2.15 by DHCP, and a host client reaches the guest's busybox httpd through
// a hostfwd on loopback. A second VM whose forward's host port is taken fails to start and stays shut off.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GuestConsole, guestDhcp, guestImage } from "./lib/guest.js";
import { attach, list, ok, rvisor, waitReady } from "./lib/vm.js";

const img = await guestImage();
const skip = typeof img === "string" ? img : false;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => { const a = s.address() as net.AddressInfo; s.close(() => resolve(a.port)); });
  });
}

function get(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ host: "127.0.0.1", port, path, timeout: 60_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => { body += c; });
      res.on("end", () => resolve(body));
    }).on("error", reject).on("timeout", () => reject(new Error("timeout")));
  });
}

/** Gives VM (after create, through its config file, as the REST PUT network-interfaces does) `name` one user-mode card forwarding 127.0.0.1:port to the guest's port 80. */
function forward(home: string, name: string, port: number): void {
  const p = join(home, "vms", name, "config.json");
  const cfg = JSON.parse(readFileSync(p, "utf8")) as { network: { hostfwd: unknown[] }[] };
  assert.equal(cfg.network.length, 1, "one default card");
  cfg.network[0].hostfwd = [{ proto: "tcp", hostAddr: "127.0.0.1", hostPort: port, guestAddr: null, guestPort: 80 }];
  writeFileSync(p, `${JSON.stringify(cfg, null, 2)}\n`);
}

test("managed VM network: DHCP gives 10.0.2.15, hostfwd reaches the guest's httpd; a taken port fails the start", { skip, timeout: 600_000 }, async () => {
  const home = mkdtempSync(join(tmpdir(), "rvisor-vmnet-"));
  const env = { ...process.env, RVISOR_HOME: home };
  let g: GuestConsole | null = null;
  const blocker = net.createServer();
  try {
    const port = await freePort();
    await ok(env, "create", "web", "--memory", "128M", "--cpus", "1", "--net", `user,hostfwd=tcp:127.0.0.1:${port}-:80`);
    const cfg = JSON.parse(readFileSync(join(home, "vms", "web", "config.json"), "utf8")) as { network: { type: string; hostfwd: { hostPort: number }[] }[] };
    assert.deepEqual(cfg.network.map((n) => [n.type, n.hostfwd.map((f) => f.hostPort)]), [["user", [port]]]);
    const bad = await rvisor(env, "create", "bad", "--net", "user,net=10.9.0.0/24");
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /a managed VM's user network is 10\.0\.2\.0\/24/);
    await ok(env, "start", "web");
    await waitReady(home, "web");
    g = await attach(env, "web");
    const lease = await guestDhcp(g);
    assert.match(lease, /lease \d+ router 10\.0\.2\.2 dns 10\.0\.2\.3/);
    assert.match(await g.run("ip -4 addr show eth0"), /inet 10\.0\.2\.15\//);
    await g.run("mkdir -p /tmp/www && echo hello-managed > /tmp/www/index.html && httpd -p 80 -h /tmp/www; echo started");
    assert.equal(await get(port, "/index.html"), "hello-managed\n");

    // A second VM forwarding a host port that is taken: a clear error, and it stays shut off (forward given by editing the config).
    await ok(env, "create", "busy", "--memory", "128M", "--cpus", "1");
    const taken = await freePort();
    await new Promise<void>((r) => blocker.listen(taken, "127.0.0.1", r));
    forward(home, "busy", taken);
    const r = await rvisor(env, "start", "busy");
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`host port ${taken} on 127\\.0\\.0\\.1 is already in use`));
    assert.equal((await list(env)).get("busy")?.state, "shut off");
  } finally {
    g?.kill();
    blocker.close();
    await rvisor(env, "kill", "web");
    await rvisor(env, "kill", "busy");
    rmSync(home, { recursive: true, force: true });
  }
});
