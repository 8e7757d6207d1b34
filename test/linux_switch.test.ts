// The VM switch with the real guest: three `rvisor run` processes, alpha and beta on switch lan1,
// gamma on lan2. Each gets its address by DHCP from its switch; beta resolves alpha.internal
// through lan1's DNS and downloads a file from alpha's busybox httpd, and the checksum matches;
// gamma cannot resolve alpha.internal and cannot reach alpha's address. Loopback only: the
// switches are Unix sockets under a temporary RVISOR_HOME.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GuestConsole, guestDhcp, guestImage as image } from "./lib/guest.js";
import { scaled } from "./lib/time_scale.js";

const BOOT_TIMEOUT = 300_000;
const img = await image();
const skip = typeof img === "string" ? img : false;

test("--net switch=NAME: two VMs on one switch exchange a file by NAME.internal; a VM on another switch reaches neither", { skip, timeout: scaled(900_000) }, async () => {
  if (typeof img === "string") return;
  const home = mkdtempSync(join(tmpdir(), "rvisor-switch-"));
  const env = { ...process.env, RVISOR_HOME: home };
  const boot = (sw: string, name: string, mac: string): GuestConsole => new GuestConsole(["--kernel", img.kernel, "--initrd", img.initrd,
    "--append", "console=ttyS0 quiet", "--mem", "128M", "--net", `switch=${sw},mac=${mac},name=${name}`], "run", env);
  const guests = [boot("lan1", "alpha", "52:54:00:5a:00:01"), boot("lan1", "beta", "52:54:00:5a:00:02"), boot("lan2", "gamma", "52:54:00:5a:00:03")];
  const [alpha, beta, gamma] = guests;
  try {
    for (const g of guests) { await g.waitFor("rvisor guest ready", BOOT_TIMEOUT); await g.waitFor(/# $/m, 60_000); }
    const leases = [];
    for (const g of guests) {
      const out = await guestDhcp(g);
      assert.match(out, /lease \d+/, out);
      const ip = (await g.run("ip addr show eth0")).match(/inet (10\.0\.\d+\.\d+)\/24/);
      assert.ok(ip !== null, "no address on eth0");
      leases.push(ip[1]);
    }
    const [ipA, ipB, ipG] = leases;
    const net = (ip: string): string => ip.split(".").slice(0, 3).join(".");
    assert.equal(net(ipA), net(ipB), "alpha and beta share lan1's subnet");
    assert.notEqual(ipA, ipB);
    assert.notEqual(net(ipG), net(ipA), "lan2 has its own subnet");

    // alpha serves 256 KiB of random bytes; beta fetches them by name.
    const made = await alpha.run("mkdir -p /www && dd if=/dev/urandom of=/www/f bs=1024 count=256 2>/dev/null && sha256sum /www/f && httpd -p 80 -h /www && echo served", 60_000);
    assert.match(made, /served/, made);
    const sumA = made.trim().split(/\s+/)[0];
    assert.match(sumA, /^[0-9a-f]{64}$/);
    const ns = await beta.run("nslookup alpha.internal 2>&1", 60_000);
    assert.ok(ns.includes(ipA), `beta resolves alpha.internal to ${ipA}: ${ns}`);
    const got = await beta.run("wget -q -O /tmp/f http://alpha.internal/f && sha256sum /tmp/f", 180_000);
    assert.equal(got.trim().split(/\s+/)[0], sumA, got);

    // gamma: its switch does not know alpha, and alpha's address leads nowhere from lan2.
    const nsG = await gamma.run("nslookup alpha.internal 2>&1; echo rc=$?", 60_000);
    assert.ok(!nsG.includes(ipA), `gamma must not resolve alpha.internal: ${nsG}`);
    const reach = await gamma.run(`wget -q -T 5 -O /tmp/f http://${ipA}/f 2>&1; echo rc=$?`, 60_000);
    assert.match(reach, /rc=[1-9]/, reach);
    const ping = await gamma.run(`ping -c 1 -W 3 ${ipA} >/dev/null 2>&1; echo rc=$?`, 60_000);
    assert.match(ping, /rc=[1-9]/, ping);
  } finally {
    for (const g of guests) g.kill();
    rmSync(home, { recursive: true, force: true });
  }
});
