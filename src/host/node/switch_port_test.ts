// The switch across processes: ports in this process join a switch process that the first one
// starts (`rvisor __switch NAME`, detached), exchange frames through it, get refused for a name
// already there, survive a peer that breaks the framing, and the switch exits after the last leaves.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NetFrontend } from "../../net/backend.js";
import { BROADCAST_MAC, buildEth } from "../../net/packet.js";
import { SwitchJoinFailed, SwitchPort, switchPaths } from "./switch_port.js";
import { pidAlive } from "./vm_store.js";
import { scaled } from "../../../test/lib/time_scale.js";

class Frontend implements NetFrontend {
  readonly frames: Uint8Array[] = [];
  readonly offloads = 0;
  canReceive(): boolean { return true; }
  deliver(f: Uint8Array): void { this.frames.push(f.slice()); }
}

const mac = (s: string): Uint8Array => Uint8Array.from(s.split(":").map((x) => parseInt(x, 16)));

async function until(what: string, cond: () => boolean, ms = 30_000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function port(root: string, sw: string, name: string, m: string): Promise<{ p: SwitchPort; fe: Frontend }> {
  const p = await SwitchPort.open({ root, switchName: sw, vmName: name, mac: m });
  const fe = new Frontend();
  p.attach(fe);
  return { p, fe };
}

test("switch process: started on demand, forwards between ports, refuses a duplicate name, drops a broken peer, exits when empty", { timeout: scaled(120_000) }, async () => {
  const root = mkdtempSync(join(tmpdir(), "rvisor-sw-"));
  const paths = switchPaths(root, "lab");
  try {
    const a = await port(root, "lab", "a", "52:54:00:00:00:0a");
    assert.match(a.p.subnet, /^10\.0\.\d+\.0\/24$/);
    assert.ok(existsSync(paths.pid), "the switch records its pid");
    const pid = Number(readFileSync(paths.pid, "utf8"));
    assert.ok(pidAlive(pid));
    const b = await port(root, "lab", "b", "52:54:00:00:00:0b");
    // A second switch name is another process with its own subnet.
    const c = await port(root, "other", "c", "52:54:00:00:00:0c");
    assert.notEqual(c.p.subnet, a.p.subnet);

    a.p.transmit(buildEth(mac("52:54:00:00:00:0b"), mac("52:54:00:00:00:0a"), 0x88b5, new Uint8Array(46).fill(1)));
    await until("b receives a's frame", () => b.fe.frames.length === 1);
    b.p.transmit(buildEth(BROADCAST_MAC, mac("52:54:00:00:00:0b"), 0x88b5, new Uint8Array(46).fill(2)));
    await until("a receives b's broadcast", () => a.fe.frames.length === 1);
    assert.equal(a.fe.frames[0][14], 2);

    await assert.rejects(port(root, "lab", "A", "52:54:00:00:00:0d"), (e: Error) => e instanceof SwitchJoinFailed && /already on switch/.test(e.message));

    // A peer that says hello and then sends a length prefix of 4 GiB is cut off; a and b carry on.
    const bad = connect(paths.socket);
    await new Promise<void>((r) => bad.once("connect", () => r()));
    const hello = Buffer.from(JSON.stringify({ rvisorSwitch: 1, name: "evil", mac: "52:54:00:00:00:0e" }));
    const len = Buffer.alloc(4); len.writeUInt32BE(hello.length);
    bad.write(Buffer.concat([len, hello, Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3])]));
    await new Promise<void>((r) => { bad.on("close", () => r()); bad.on("error", () => undefined); bad.resume(); });
    a.p.transmit(buildEth(mac("52:54:00:00:00:0b"), mac("52:54:00:00:00:0a"), 0x88b5, new Uint8Array(46).fill(3)));
    await until("b still receives", () => b.fe.frames.length === 2);
    assert.equal(c.fe.frames.length, 0, "nothing crosses to another switch");

    a.p.close(); b.p.close(); c.p.close();
    await until("the switch exits once empty", () => !pidAlive(pid) && !existsSync(paths.pid), 60_000);
    assert.equal(existsSync(paths.socket), false);
  } finally {
    for (const n of ["lab", "other"]) {
      const f = switchPaths(root, n).pid;
      if (existsSync(f)) { try { process.kill(Number(readFileSync(f, "utf8")), "SIGTERM"); } catch { /* gone */ } }
    }
    rmSync(root, { recursive: true, force: true });
  }
});
