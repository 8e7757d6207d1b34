import { test } from "node:test";
import assert from "node:assert/strict";
import * as dgram from "node:dgram";
import { NodeNetHost } from "./net_host.js";

test("NodeNetHost: a UDP socket reaches a loopback echo server and gets the reply with its source", async () => {
  const echo = dgram.createSocket("udp4");
  echo.on("message", (m, r) => echo.send(m, r.port, r.address));
  await new Promise<void>((res) => echo.bind(0, "127.0.0.1", res));
  const port = echo.address().port;
  const host = new NodeNetHost();
  try {
    const got = await new Promise<[string, string, number]>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("no reply in 5 s")), 5_000);
      const s = host.udpOpen((data, address, p) => { clearTimeout(t); s.close(); resolve([new TextDecoder().decode(data), address, p]); });
      s.send(new TextEncoder().encode("ping"), "127.0.0.1", port);
    });
    assert.deepEqual(got, ["ping", "127.0.0.1", port]);
  } finally {
    echo.close();
    host.closeAll();
  }
});

test("NodeNetHost: lookup of localhost (offline, /etc/hosts); a family without records is nodata, not nxdomain", async () => {
  const host = new NodeNetHost();
  const a = await host.lookup("localhost", 4);
  assert.deepEqual(a, { kind: "ok", addresses: ["127.0.0.1"] });
  const aaaa = await host.lookup("localhost", 6);
  assert.ok(aaaa.kind === "nodata" || (aaaa.kind === "ok" && aaaa.addresses.includes("::1")), JSON.stringify(aaaa));
});
