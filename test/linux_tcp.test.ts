// TCP through the user-mode network with the real guest (busybox wget, nc, httpd), on loopback
// only. One boot with two cards: eth-a is `--net user` with forwards (tcp to the guest's httpd,
// udp to a guest nc), eth-b is a second network 10.0.3.0/24 with restrict=on and a forward of its
// own. The guest downloads a 1.5 MiB file from an HTTP server on the host's 127.0.0.1 (as
// 10.0.2.2) and its checksum matches, uploads it back with nc, fetches 20 files at once; a host
// client reaches the guest's httpd through hostfwd (a small page, the big file, 20 at once); UDP
// goes both ways through a udp forward; on the restricted card the host's server and an outside
// address are refused at once while its forward and its guestfwd service still work. A taken
// host port is a clear error.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import * as dgram from "node:dgram";
import * as http from "node:http";
import * as net from "node:net";
import { spawn } from "node:child_process";
import { GuestConsole, RVISOR_BIN, guestDhcp, guestImage as image } from "./lib/guest.js";
import { scaled } from "./lib/time_scale.js";

const BOOT_TIMEOUT = 180_000;
const img = await image();
const skip = typeof img === "string" ? img : false;
const BLOB_LEN = 1536 * 1024;
const PARALLEL = 20;
const MAC_A = "52:54:00:aa:00:01", MAC_B = "52:54:00:bb:00:02";

const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

/** A port that was free a moment ago (for a forward the test asks rvisor to listen on). */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

function get(port: number, path: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path, agent: false, timeout: scaled(120_000) }, (res) => {
      const parts: Buffer[] = [];
      res.on("data", (b: Buffer) => parts.push(b));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on("error", reject);
  });
}

const smallBody = (i: number): string => `small-${i}-`.padEnd(16 * 1024, String.fromCharCode(97 + (i % 26)));

test("--net user TCP with the real guest: wget from the host, nc upload, 20 at once, hostfwd to httpd, udp forward, restrict=on", { skip, timeout: scaled(900_000) }, async () => {
  if (typeof img === "string") return;
  const blob = randomBytes(BLOB_LEN);
  let open = 0, maxOpen = 0;
  const server = http.createServer((req, res) => {
    open++; maxOpen = Math.max(maxOpen, open);
    res.on("close", () => { open--; });
    const m = /^\/small\/(\d+)$/.exec(req.url ?? "");
    if (req.url === "/blob") { res.writeHead(200, { "content-length": blob.length }); res.end(blob); }
    else if (m !== null) { const b = smallBody(Number(m[1])); res.writeHead(200, { "content-length": b.length }); res.end(b); }
    else { res.writeHead(404); res.end(); }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const httpPort = (server.address() as net.AddressInfo).port;
  // The upload sink: hashes what arrives and ends the connection once it has it all.
  const uploads: string[] = [];
  const sink = net.createServer((s) => {
    const parts: Buffer[] = [];
    let n = 0;
    s.on("data", (b: Buffer) => {
      parts.push(b); n += b.length;
      if (n >= BLOB_LEN) { uploads.push(sha256(Buffer.concat(parts))); s.end(); }
    });
    s.on("error", () => undefined);
  });
  await new Promise<void>((r) => sink.listen(0, "127.0.0.1", r));
  const sinkPort = (sink.address() as net.AddressInfo).port;
  const [fwdA, udpA, fwdB] = [await freePort(), await freePort(), await freePort()];
  const g = new GuestConsole(["--kernel", img.kernel, "--initrd", img.initrd, "--append", "console=ttyS0 quiet", "--mem", "256M",
    "--net", `user,mac=${MAC_A},hostfwd=tcp::${fwdA}-:80,hostfwd=udp:127.0.0.1:${udpA}-:7777`,
    "--net", `user,mac=${MAC_B},net=10.0.3.0/24,restrict=on,hostfwd=tcp::${fwdB}-:80,guestfwd=tcp:10.0.3.100:80-tcp:127.0.0.1:${httpPort}`]);
  const udp = dgram.createSocket("udp4");
  try {
    await g.waitFor("rvisor guest ready", BOOT_TIMEOUT);
    await g.waitFor(/# $/m, 30_000);
    const ifaces = await g.run("for i in /sys/class/net/eth*; do echo ${i##*/}=$(cat $i/address); done");
    const ifOf = (mac: string): string => { const m = new RegExp(`(eth\\d)=${mac}`).exec(ifaces); assert.ok(m !== null, ifaces); return m[1]; };
    const ethA = ifOf(MAC_A), ethB = ifOf(MAC_B);
    assert.match(await guestDhcp(g, ethA), /router 10\.0\.2\.2/);

    // Host → guest bulk: wget from the host's loopback as 10.0.2.2, checksum compared.
    const dl = await g.run(`wget -q -O /tmp/blob http://10.0.2.2:${httpPort}/blob && sha256sum /tmp/blob`, 300_000);
    assert.equal(dl.trim().split(/\s+/)[0], sha256(blob), dl);

    // Guest → host bulk: nc sends the file, the host hashes it and closes.
    await g.run(`nc 10.0.2.2 ${sinkPort} < /tmp/blob; echo nc=$?`, 300_000);
    assert.deepEqual(uploads, [sha256(blob)]);

    // 20 connections at once from the guest.
    const par = await g.run(`for i in $(seq 1 ${PARALLEL}); do wget -q -O /tmp/s$i http://10.0.2.2:${httpPort}/small/$i & done; wait; ` +
      `for i in $(seq 1 ${PARALLEL}); do head -c 12 /tmp/s$i; echo " $(wc -c < /tmp/s$i)"; done`, 300_000);
    for (let i = 1; i <= PARALLEL; i++) assert.ok(par.includes(`${smallBody(i).slice(0, 12)} ${16 * 1024}`), `file ${i}: ${par}`);

    // hostfwd tcp: host clients reach the guest's busybox httpd.
    await g.run("mkdir -p /tmp/www && echo hello-from-guest > /tmp/www/index.html && cp /tmp/blob /tmp/www/blob && httpd -p 80 -h /tmp/www; echo started");
    const page = await get(fwdA, "/index.html");
    assert.equal(page.status, 200);
    assert.equal(page.body.toString(), "hello-from-guest\n");
    const big = await get(fwdA, "/blob");
    assert.equal(big.body.length, BLOB_LEN);
    assert.equal(sha256(big.body), sha256(blob), "guest → host through the forward");
    const many = await Promise.all(Array.from({ length: PARALLEL }, () => get(fwdA, "/index.html")));
    assert.ok(many.every((r) => r.status === 200 && r.body.toString() === "hello-from-guest\n"));

    // hostfwd udp: a datagram to the guest's nc and its answer back to the host client.
    await g.run(`(sleep 3; echo udp-pong) | nc -u -l -p 7777 -w 20 > /tmp/udp.txt 2>&1 & echo started`);
    await new Promise<void>((r) => udp.bind(0, "127.0.0.1", r));
    const pong = new Promise<string>((resolve) => udp.once("message", (m) => resolve(m.toString())));
    udp.send("udp-ping\n", udpA, "127.0.0.1");
    assert.equal(await pong, "udp-pong\n");
    assert.equal((await g.run("sleep 1; cat /tmp/udp.txt")).trim(), "udp-ping");

    // restrict=on on the second card: only its forward and the built-in services.
    await g.run(`ip addr add 10.0.3.15/24 dev ${ethB} && ip link set ${ethB} up && ip route add 192.0.2.0/24 via 10.0.3.2 dev ${ethB}`);
    assert.match(await g.run("ping -c 1 -W 5 10.0.3.2", 60_000), /1 packets received/, "ICMP echo to the gateway is local");
    const t0 = performance.now();
    const refusedHost = await g.run(`nc -w 20 10.0.3.2 ${httpPort} </dev/null 2>&1; echo rc=$?`, 60_000);
    const refusedOut = await g.run("nc -w 20 192.0.2.1 80 </dev/null 2>&1; echo rc=$?", 60_000);
    assert.match(refusedHost, /rc=1/, refusedHost);
    assert.match(refusedOut, /rc=1/, refusedOut);
    assert.ok(performance.now() - t0 < scaled(30_000), "refused at once (RST), not after nc's timeout");
    // ... and the host service it names (guestfwd) is reachable.
    const named = await g.run("wget -q -O - http://10.0.3.100/small/3 | head -c 12", 120_000);
    assert.equal(named, smallBody(3).slice(0, 12));
    const viaB = await get(fwdB, "/index.html");
    assert.equal(viaB.body.toString(), "hello-from-guest\n", "the restricted card's forward works");
    assert.ok(maxOpen <= PARALLEL + 1);
    g.send("poweroff\n");
    assert.equal(await g.exited, 0);
  } finally {
    g.kill();
    udp.close();
    server.close();
    sink.close();
  }
});

test("--net user,hostfwd: a host port already in use is a clear error before the guest boots", { skip, timeout: scaled(60_000) }, async () => {
  if (typeof img === "string") return;
  const taken = net.createServer();
  await new Promise<void>((r) => taken.listen(0, "127.0.0.1", r));
  const port = (taken.address() as net.AddressInfo).port;
  try {
    const child = spawn(process.execPath, [RVISOR_BIN, "run", "--kernel", img.kernel, "--initrd", img.initrd, "--mem", "256M",
      "--net", `user,hostfwd=tcp::${port}-:80`], { stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    child.stderr.setEncoding("utf8").on("data", (s: string) => { err += s; });
    const code = await new Promise<number | null>((r) => child.on("exit", r));
    assert.equal(code, 1);
    assert.equal(err, `rvisor: --net 'user,hostfwd=tcp::${port}-:80': hostfwd=tcp:127.0.0.1:${port}-:80: host port ${port} on 127.0.0.1 is already in use (EADDRINUSE)\n`);
  } finally {
    taken.close();
  }
});
