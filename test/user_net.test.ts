// Sockets in the process VM: test/user/programs/net.c (TCP over IPv4/IPv6 with fork and threads,
// UDP, Unix socketpair with SCM_RIGHTS, a Unix listening socket, options) must print what it
// prints under qemu-riscv64; and a TCP server in the guest answers clients on the host.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildProgram, qemu, rvisor, RVISOR, SYSROOT, toolsMissing } from "./user/build.js";
import { scaled } from "./lib/time_scale.js";

const skip = toolsMissing();
const work = mkdtempSync(join(tmpdir(), "rvisor-net-"));

for (const linking of ["static", "dynamic"] as const) {
  test(`user net: ${linking} sockets program matches qemu-riscv64`, { skip, timeout: scaled(90_000) }, async (t) => {
    const bin = buildProgram("net", linking);
    const prefix = linking === "dynamic" ? ["-L", SYSROOT] : [];
    const qd = join(work, `${linking}-q`), rd = join(work, `${linking}-r`);
    mkdirSync(qd); mkdirSync(rd);
    const [q, r] = await Promise.all([qemu([...prefix, bin, qd]), rvisor([...prefix, bin, rd])]);
    t.diagnostic(`rvisor ${r.ms} ms, qemu ${q.ms} ms`);
    assert.equal(q.code, 0, `qemu failed:\n${q.stdout}${q.stderr}`);
    assert.equal(r.stdout, q.stdout, `stdout differs; rvisor stderr:\n${r.stderr}`);
    assert.equal(r.code, q.code);
  });
}

/** Sends `lines` to host:port from Node and collects the reply until the server closes. */
function talk(host: string, port: number, lines: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port }, () => {
      for (const l of lines) s.write(l + "\n");
      s.end();
    });
    let got = "";
    s.on("data", (d: Buffer) => { got += d.toString(); });
    s.on("end", () => resolve(got));
    s.on("error", reject);
  });
}

for (const fam of ["4", "6"] as const) {
  test(`user net: guest TCP server (IPv${fam}) answers host clients`, { skip, timeout: scaled(60_000) }, async () => {
    const p = spawn(process.execPath, [RVISOR, "exec", buildProgram("tcp_server", "static"), fam, "2"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    p.stderr.on("data", (d: Buffer) => { err += d.toString(); });
    const port = await new Promise<number>((resolve, reject) => {
      p.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        const m = /^port (\d+)\n/.exec(out);
        if (m !== null) resolve(Number(m[1]));
      });
      p.on("close", () => reject(new Error(`guest exited early: ${out}${err}`)));
    });
    const host = fam === "6" ? "::1" : "127.0.0.1";
    assert.equal(await talk(host, port, ["hello", "from the host"]), "guest: HELLO\nguest: FROM THE HOST\n");
    // A second client, with many lines (the guest reads them through stdio buffering).
    const many = Array.from({ length: 500 }, (_, i) => `line ${i}`);
    assert.equal(await talk(host, port, many), many.map((l) => `guest: ${l.toUpperCase()}\n`).join(""));
    const code = await new Promise<number | null>((resolve) => { if (p.exitCode !== null) resolve(p.exitCode); else p.on("close", (c) => resolve(c)); });
    assert.equal(code, 0, err);
    assert.equal(out, `port ${port}\nconnection 1: 2 lines\nconnection 2: 500 lines\n`);
  });
}

test.after(() => rmSync(work, { recursive: true, force: true }));
