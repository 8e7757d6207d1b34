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
import { attach, list, logSize, ok, rvisor, waitLog, waitReady } from "./lib/vm.js";
import { scaled } from "./lib/time_scale.js";

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
    http.get({ host: "127.0.0.1", port, path, timeout: scaled(60_000) }, (res) => {
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

test("managed VM network: DHCP gives 10.0.2.15, hostfwd reaches the guest's httpd; a taken port fails the start", { skip, timeout: scaled(600_000) }, async () => {
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

interface NicRow { id: string; model: string; mode: string; mac: string; switch?: string; hostfwd?: string[] }

test("managed VMs on one --net switch=NAME: DHCP on the switch, data both ways by NAME.internal (TSO segments cut to frames); list and info show the cards", { skip, timeout: scaled(600_000) }, async () => {
  const home = mkdtempSync(join(tmpdir(), "rvisor-vmsw-"));
  const env = { ...process.env, RVISOR_HOME: home };
  const gs: GuestConsole[] = [];
  try {
    for (const n of ["alpha", "beta"]) await ok(env, "create", n, "--memory", "128M", "--cpus", "1", "--net", "switch=lan");
    const rows = JSON.parse(await ok(env, "list", "--json")) as { name: string; network: NicRow[] }[];
    const nic = (n: string): NicRow => rows.find((r) => r.name === n)!.network[0];
    assert.deepEqual([nic("alpha").model, nic("alpha").mode, nic("alpha").switch], ["virtio-net", "switch", "lan"]);
    assert.notEqual(nic("alpha").mac, nic("beta").mac);
    assert.match(await ok(env, "list"), /^alpha\s+shut off\s+1\s+128M\s+-\s+switch=lan$/m);
    assert.match(await ok(env, "info", "alpha"), new RegExp(`^Network 0:\\s+virtio-net net0 switch=lan ${nic("alpha").mac}$`, "m"));
    for (const n of ["alpha", "beta"]) await ok(env, "start", n);
    for (const n of ["alpha", "beta"]) { await waitReady(home, n); gs.push(await attach(env, n)); }
    const [a, b] = gs;
    for (const g of gs) assert.match(await guestDhcp(g), /lease \d+ router/);
    // Each guest's card has the MAC of its config.
    assert.equal((await a.run("cat /sys/class/net/eth0/address")).trim(), nic("alpha").mac);
    // 256 KiB each way: the guests' TSO segments are cut to MSS-sized frames on the way to the switch.
    for (const g of gs) await g.run("mkdir -p /tmp/www && dd if=/dev/urandom of=/tmp/www/f bs=1024 count=256 2>/dev/null && httpd -p 80 -h /tmp/www; echo started");
    const sum = async (g: GuestConsole, cmd: string): Promise<string> => (/^([0-9a-f]{32})/m.exec(await g.run(cmd, 120_000)) ?? ["", "none"])[1];
    const aSum = await sum(a, "md5sum /tmp/www/f"), bSum = await sum(b, "md5sum /tmp/www/f");
    assert.notEqual(aSum, bSum);
    assert.equal(await sum(b, "wget -q -O - http://alpha.internal/f | md5sum"), aSum, "beta fetched alpha's file");
    assert.equal(await sum(a, "wget -q -O - http://beta.internal/f | md5sum"), bSum, "alpha fetched beta's file");
    assert.match(await ok(env, "list"), /^alpha\s+running\s+1\s+128M\s+\d+\s+switch=lan$/m);
  } finally {
    for (const g of gs) g.kill();
    for (const n of ["alpha", "beta"]) await rvisor(env, "kill", n);
    rmSync(home, { recursive: true, force: true });
  }
});

test("managed VM network across a snapshot: restored, the guest keeps its lease, the host reaches its httpd through hostfwd at once and it reaches the host; a clone from the snapshot", { skip, timeout: scaled(600_000) }, async () => {
  const home = mkdtempSync(join(tmpdir(), "rvisor-vmsnap-"));
  const env = { ...process.env, RVISOR_HOME: home };
  let g: GuestConsole | null = null;
  let c: GuestConsole | null = null;
  const server = http.createServer((_req, res) => { res.writeHead(200); res.end("from-the-host\n"); });
  try {
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const hostPort = (server.address() as net.AddressInfo).port;
    const port = await freePort();
    await ok(env, "create", "web", "--memory", "128M", "--cpus", "1", "--net", `user,hostfwd=tcp:127.0.0.1:${port}-:80`);
    const info = JSON.parse(await ok(env, "info", "web", "--json")) as { network: NicRow[] };
    assert.deepEqual(info.network.map((n) => [n.mode, n.hostfwd]), [["user", [`tcp:127.0.0.1:${port}-:80`]]]);
    await ok(env, "start", "web");
    await waitReady(home, "web");
    g = await attach(env, "web");
    await guestDhcp(g);
    await g.run("mkdir -p /tmp/www && echo before-snapshot > /tmp/www/index.html && httpd -p 80 -h /tmp/www; echo started");
    assert.equal(await get(port, "/index.html"), "before-snapshot\n");
    await ok(env, "snapshot", "create", "web", "s1");
    g.kill(); g = null;
    await ok(env, "restore", "web", "s1");
    // The restored guest has sent nothing to the new VM process's stack yet: the forward reaches it all the same.
    assert.equal(await get(port, "/index.html"), "before-snapshot\n");
    g = await attach(env, "web");
    assert.match(await g.run("ip -4 addr show eth0"), /inet 10\.0\.2\.15\//, "the lease is in the guest's memory");
    assert.equal((await g.run(`wget -q -O - http://10.0.2.2:${hostPort}/`)).trim(), "from-the-host");

    // A clone from the snapshot: its config has a MAC of its own; its guest is the snapshot's machine.
    await ok(env, "clone", "web", "web2", "--snapshot", "s1");
    const macs = JSON.parse(await ok(env, "list", "--json")) as { name: string; network: NicRow[] }[];
    const mac = (n: string): string => macs.find((r) => r.name === n)!.network[0].mac;
    assert.notEqual(mac("web2"), mac("web"));
    await ok(env, "start", "web2");
    c = await attach(env, "web2");
    // The guest kernel read its MAC when it probed the card, before the snapshot: it keeps using
    // the source's until it reboots (as with QEMU, where the MAC is part of virtio-net's saved
    // state); the restored card reports the same, so host and guest agree on it.
    assert.equal((await c.run("cat /sys/class/net/eth0/address")).trim(), mac("web"));
    assert.equal((await c.run(`wget -q -O - http://10.0.2.2:${hostPort}/`)).trim(), "from-the-host", "the clone's own user network works");
    // Rebooted, the clone's guest probes its card again and takes the MAC of its own config.
    const from = logSize(home, "web2");
    c.send("reboot -f\n");
    await waitLog(home, "web2", "rvisor guest ready", from);
    c.kill();
    c = await attach(env, "web2");
    assert.equal((await c.run("cat /sys/class/net/eth0/address")).trim(), mac("web2"));
  } finally {
    g?.kill(); c?.kill();
    server.close();
    await rvisor(env, "kill", "web");
    await rvisor(env, "kill", "web2");
    rmSync(home, { recursive: true, force: true });
  }
});
