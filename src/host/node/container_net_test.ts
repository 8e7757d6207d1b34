import { test } from "node:test";
import assert from "node:assert/strict";
import { createConnection, createServer } from "node:net";
import { ContainerNet, isContainerLocal } from "./container_net.js";
import { NodeNet } from "./user_net.js";
import type { HostListener, HostStream, HostStreamEvents, SockAddr } from "../../user/host.js";

const ECONNREFUSED = 111;
function collector(): { ev: HostStreamEvents; data: () => string; ended: Promise<void>; connected: Promise<[SockAddr, SockAddr]>; err: Promise<number> } {
  let buf = "";
  let endR = (): void => {}, conR = (_v: [SockAddr, SockAddr]): void => {}, errR = (_e: number): void => {};
  const ended = new Promise<void>((r) => { endR = r; });
  const connected = new Promise<[SockAddr, SockAddr]>((r) => { conR = r; });
  const err = new Promise<number>((r) => { errR = r; });
  return {
    ev: { connected: (l, r) => conR([l, r]), data: (c) => { buf += Buffer.from(c).toString(); }, end: () => endR(), drained: () => {}, error: (e) => errR(e) },
    data: () => buf, ended, connected, err,
  };
}

function listen(net: ContainerNet, port: number, onConn: (s: HostStream, local: SockAddr, remote: SockAddr) => HostStreamEvents): Promise<HostListener> {
  return new Promise((resolve, reject) => {
    net.listen({ family: "inet", address: "0.0.0.0", port }, { backlog: 8, ipv6Only: false }, { connection: onConn, error: () => {} }, (r) => {
      if (typeof r === "number") reject(new Error(`listen: ${r}`)); else resolve(r);
    });
  });
}

test("container net: the container's loopback and wildcard are its own", () => {
  for (const a of ["127.0.0.1", "127.0.1.1", "::1", "0.0.0.0", "::", "::ffff:127.0.0.1"]) assert.ok(isContainerLocal(a), a);
  for (const a of ["10.0.2.2", "192.168.1.1", "2001:db8::1"]) assert.ok(!isContainerLocal(a), a);
});

test("container net: an unpublished port is reachable inside only; echo through an in-memory stream", async () => {
  const inner = new NodeNet();
  const net = new ContainerNet(inner, []);
  const l = await listen(net, 8080, (s, local) => {
    assert.equal(local.port, 8080);
    return { connected: () => {}, data: (c) => { s.write(c); s.shutdownWrite(); }, end: () => {}, drained: () => {}, error: () => {} };
  });
  assert.deepEqual(l.address(), { family: "inet", address: "0.0.0.0", port: 8080 });
  const c = collector();
  const s = net.connect({ family: "inet", address: "127.0.0.1", port: 8080 }, null, c.ev);
  const [local, remote] = await c.connected;
  assert.equal(remote.port, 8080);
  assert.ok(local.port >= 32768);
  s.write(Buffer.from("ping"));
  await c.ended;
  assert.equal(c.data(), "ping");
  // Nothing on the host: the host's 8080 is not the container's (a connect there is refused or reaches someone else, never this listener).
  const refused = collector();
  net.connect({ family: "inet", address: "127.0.0.1", port: 8081 }, null, refused.ev);
  assert.equal(await refused.err, ECONNREFUSED);
  // A second bind of the port is refused, a closed one is free again.
  await assert.rejects(listen(net, 8080, () => c.ev), /listen: -98/);
  l.close();
  (await listen(net, 8080, () => c.ev)).close();
  await inner.closeAll();
});

test("container net: a published port listens on the host's address and port, the guest sees its own", async () => {
  const inner = new NodeNet();
  const probe = await freePort();
  const net = new ContainerNet(inner, [{ hostIp: "127.0.0.1", hostPort: probe, port: 80, proto: "tcp" }]);
  let seenLocal: SockAddr | null = null;
  const l = await listen(net, 80, (s, local) => {
    seenLocal = local;
    return { connected: () => {}, data: (c) => { s.write(Buffer.from(`got ${Buffer.from(c).toString()}`)); s.close(); }, end: () => {}, drained: () => {}, error: () => {} };
  });
  const reply = await new Promise<string>((resolve, reject) => {
    const sock = createConnection({ host: "127.0.0.1", port: probe }, () => sock.write("x"));
    let out = "";
    sock.on("data", (d) => { out += d.toString(); });
    sock.on("end", () => { sock.end(); resolve(out); });
    sock.on("error", reject);
  });
  assert.equal(reply, "got x");
  assert.equal((seenLocal as SockAddr | null)?.port, 80);
  l.close();
  await inner.closeAll();
});

test("container net: UDP between container sockets stays in memory", async () => {
  const inner = new NodeNet();
  const net = new ContainerNet(inner, []);
  let got: [string, SockAddr] | null = null;
  let done = (): void => {};
  const arrived = new Promise<void>((r) => { done = r; });
  const a = net.dgram("inet", { message: (d, from) => { got = [Buffer.from(d).toString(), from]; done(); }, error: () => {} });
  await new Promise<void>((r) => a.bind({ family: "inet", address: "0.0.0.0", port: 5353 }, (x) => { assert.notEqual(typeof x, "number"); r(); }));
  const b = net.dgram("inet", { message: () => {}, error: () => {} });
  b.send(Buffer.from("dns?"), { family: "inet", address: "127.0.0.1", port: 5353 });
  await arrived;
  const [text, from] = got as unknown as [string, SockAddr];
  assert.equal(text, "dns?");
  assert.equal(from.address, "127.0.0.1");
  assert.equal(from.port, b.address()?.port);
  a.close(); b.close();
  await inner.closeAll();
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const p = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return p;
}
