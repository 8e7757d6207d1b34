// Boots the real guest with `--net user` and uses the network the way a user would: the NIC
// shows up with its MAC, busybox udhcpc gets 10.0.2.15 with router and DNS by DHCP, ping
// reaches the gateway, nslookup resolves through the forwarder at 10.0.2.3 (the host's
// resolver, offline: `localhost`), UDP goes both ways with an echo server the test runs on the
// host's 127.0.0.1 (reached from the guest as 10.0.2.2), and TCP to a closed host port is refused
// at once. TCP itself is in linux_tcp.test.ts. Everything stays on loopback.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as dgram from "node:dgram";
import { GuestConsole, guestDhcp, guestImage as image } from "./lib/guest.js";
import { scaled } from "./lib/time_scale.js";

const BOOT_TIMEOUT = 180_000;
const img = await image();
const skip = typeof img === "string" ? img : false;

test("--net user: DHCP, ping to the gateway, DNS through the host resolver, UDP both ways with a host socket", { skip, timeout: scaled(600_000) }, async () => {
  if (typeof img === "string") return;
  const echo = dgram.createSocket("udp4");
  const seen: string[] = [];
  echo.on("message", (m, r) => { seen.push(m.toString()); echo.send(Buffer.from(m.toString().toUpperCase()), r.port, r.address); });
  await new Promise<void>((res) => echo.bind(0, "127.0.0.1", res));
  const port = echo.address().port;
  const g = new GuestConsole(["--kernel", img.kernel, "--initrd", img.initrd, "--append", "console=ttyS0 quiet", "--mem", "256M",
    "--net", "user,mac=52:54:00:ab:cd:ef"]);
  try {
    await g.waitFor("rvisor guest ready", BOOT_TIMEOUT);
    await g.waitFor(/# $/m, 30_000);
    assert.equal((await g.run("cat /sys/class/net/eth0/address")).trim(), "52:54:00:ab:cd:ef");
    const dhcp = await guestDhcp(g);
    assert.match(dhcp, /lease 86400 router 10\.0\.2\.2 dns 10\.0\.2\.3/, dhcp);
    const addr = await g.run("ip -4 addr show eth0; ip route");
    assert.match(addr, /inet 10\.0\.2\.15\/24/, addr);
    assert.match(addr, /default via 10\.0\.2\.2 dev eth0/, addr);
    const ping = await g.run("ping -c 3 -W 5 10.0.2.2", 60_000);
    assert.match(ping, /3 packets transmitted, 3 packets received, 0% packet loss/, ping);
    const ns = await g.run("nslookup localhost 10.0.2.3 2>&1", 60_000);
    assert.match(ns, /Server:\s+10\.0\.2\.3/, ns);
    assert.match(ns, /Address:\s+127\.0\.0\.1/, ns);
    assert.doesNotMatch(ns, /NXDOMAIN/, "no AAAA record is an empty answer, not a missing name");
    // The guest's resolver (udhcpc wrote /etc/resolv.conf) goes through the forwarder too.
    assert.match(await g.run("cat /etc/resolv.conf"), /nameserver 10\.0\.2\.3/);
    // UDP out to the host's loopback as 10.0.2.2, and the echo back to the guest's socket.
    const udp = await g.run(`echo hello-udp | nc -u -w 3 10.0.2.2 ${port}`, 60_000);
    assert.deepEqual(seen, ["hello-udp\n"]);
    assert.match(udp, /HELLO-UDP/, udp);
    // TCP to a host port nobody listens on: refused at once (the host's ECONNREFUSED becomes RST), no hang.
    const t0 = performance.now();
    const tcp = await g.run(`nc -w 10 10.0.2.2 ${port} </dev/null 2>&1; echo rc=$?`, 60_000);
    assert.match(tcp, /rc=1/, tcp);
    assert.ok(performance.now() - t0 < scaled(8_000), "refused at once, not after nc's 10 s timeout");
    g.send("poweroff\n");
    assert.equal(await g.exited, 0);
  } finally {
    g.kill();
    echo.close();
  }
});
