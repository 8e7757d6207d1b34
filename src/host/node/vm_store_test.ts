import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseVmConfig } from "../../hypervisor/config.js";
import { defaultHome, VmExistsError, VmStore, writeFileAtomic } from "./vm_store.js";
import { GuestClock, RotatingLog } from "./vm_process.js";

function tempHome(): string { return mkdtempSync(join(tmpdir(), "rvisor-home-")); }

test("state dir: RVISOR_HOME, else XDG_DATA_HOME/rvisor, else ~/.local/share/rvisor", () => {
  assert.equal(defaultHome({ RVISOR_HOME: "/h", XDG_DATA_HOME: "/x" }), "/h");
  assert.equal(defaultHome({ XDG_DATA_HOME: "/x" }), "/x/rvisor");
  assert.match(defaultHome({}), /\/\.local\/share\/rvisor$/);
});

test("state dir: atomic writes leave the old file or the new one, never a temporary", () => {
  const home = tempHome();
  try {
    const f = join(home, "config.json");
    writeFileAtomic(f, "one");
    writeFileAtomic(f, "two");
    assert.equal(readFileSync(f, "utf8"), "two");
    assert.deepEqual(readdirSync(home), ["config.json"]);
    // A write that cannot be renamed into place (the target is a directory) leaves nothing behind.
    const d = join(home, "dir");
    mkdirSync(d);
    assert.throws(() => writeFileAtomic(d, "data"));
    assert.deepEqual(readdirSync(home).sort(), ["config.json", "dir"]);
  } finally { rmSync(home, { recursive: true, force: true }); }
});

test("state dir: create, read back, list, refuse a duplicate, remove", () => {
  const home = tempHome();
  try {
    const s = new VmStore(home);
    const cfg = parseVmConfig({ name: "alpha", cpus: 2 });
    s.create(cfg);
    assert.deepEqual(s.read("alpha"), cfg);
    s.create(parseVmConfig({ name: "beta" }));
    assert.deepEqual(s.names(), ["alpha", "beta"]);
    assert.throws(() => s.create(cfg), VmExistsError);
    s.remove("alpha");
    assert.deepEqual(s.names(), ["beta"]);
    assert.deepEqual(readdirSync(s.vmsDir), ["beta"]);
    assert.equal(s.runtime("beta"), null);
  } finally { rmSync(home, { recursive: true, force: true }); }
});

test("state dir: a socket path too long for sun_path moves under the temp dir", () => {
  const s = new VmStore(join("/tmp", "x".repeat(100)));
  const p = s.socketPath("vm");
  assert.ok(Buffer.byteLength(p) <= 107, p);
  assert.ok(!p.startsWith(s.dir("vm")));
  assert.equal(new VmStore("/tmp/h").socketPath("vm"), "/tmp/h/vms/vm/control.sock");
});

const CREATE_SCRIPT = `
import { VmStore } from ${JSON.stringify(new URL("./vm_store.js", import.meta.url).href)};
import { parseVmConfig } from ${JSON.stringify(new URL("../../hypervisor/config.js", import.meta.url).href)};
const s = new VmStore(process.argv[1]);
await new Promise((r) => setTimeout(r, Number(process.argv[3]) - Date.now()));
try { s.create(parseVmConfig({ name: "same", cpus: Number(process.argv[2]) })); console.log("created"); }
catch (e) { console.log(e.constructor.name); }
`;

test("state dir: of 8 concurrent creates of one name in 8 processes exactly one succeeds", async () => {
  const home = tempHome();
  try {
    const at = Date.now() + 700; // all processes start creating at the same instant
    const runs = Array.from({ length: 8 }, (_, i) => new Promise<string>((resolve) => {
      const c = spawn(process.execPath, ["--input-type=module", "-e", CREATE_SCRIPT, home, String(i + 1), String(at)], { stdio: ["ignore", "pipe", "inherit"] });
      let out = "";
      c.stdout.on("data", (d: Buffer) => { out += d.toString(); });
      c.on("exit", () => resolve(out.trim()));
    }));
    const results = await Promise.all(runs);
    assert.equal(results.filter((r) => r === "created").length, 1, results.join(","));
    assert.equal(results.filter((r) => r === "VmExistsError").length, 7, results.join(","));
    const s = new VmStore(home);
    assert.deepEqual(readdirSync(s.vmsDir), ["same"]); // no temporary directories left behind
    const winner = results.indexOf("created") + 1;
    assert.equal(s.read("same").cpus, winner);
  } finally { rmSync(home, { recursive: true, force: true }); }
});

test("state dir: the host lock serialises critical sections and breaks a dead owner's lock", async () => {
  const home = tempHome();
  try {
    const s = new VmStore(home);
    const order: string[] = [];
    const a = s.withLock(async () => { order.push("a+"); await new Promise((r) => setTimeout(r, 100)); order.push("a-"); });
    const b = s.withLock(() => { order.push("b"); });
    await Promise.all([a, b]);
    assert.deepEqual(order, ["a+", "a-", "b"]);
    writeFileSync(join(home, ".lock"), "999999999"); // no such process
    assert.equal(await s.withLock(() => 7), 7);
    assert.equal(existsSync(join(home, ".lock")), false);
  } finally { rmSync(home, { recursive: true, force: true }); }
});

test("host lock: commands in separate processes exclude each other, a release mid-check and a stale lock are survived", async () => {
  const home = tempHome();
  try {
    const counter = join(home, "counter");
    writeFileSync(counter, "0");
    // Empty (the pid never written) and old: a command that died between its open and its write.
    writeFileSync(join(home, ".lock"), "");
    utimesSync(join(home, ".lock"), new Date(0), new Date(0));
    const store = new URL("./vm_store.js", import.meta.url).href;
    const script = `const { VmStore } = await import(${JSON.stringify(store)});
      const fs = await import("node:fs");
      const s = new VmStore(${JSON.stringify(home)});
      for (let i = 0; i < 60; i++) await s.withLock(() => {
        const n = Number(fs.readFileSync(${JSON.stringify(counter)}, "utf8"));
        fs.writeFileSync(${JSON.stringify(counter)}, String(n + 1));
      });`;
    const procs = Array.from({ length: 4 }, () => new Promise<{ code: number | null; err: string }>((resolve) => {
      const p = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "ignore", "pipe"] });
      let err = "";
      p.stderr.on("data", (d: Buffer) => { err += d.toString(); });
      p.on("close", (code) => resolve({ code, err }));
    }));
    for (const r of await Promise.all(procs)) assert.equal(r.code, 0, r.err);
    assert.equal(readFileSync(counter, "utf8"), "240", "every increment was made holding the lock");
    assert.equal(existsSync(join(home, ".lock")), false);
  } finally { rmSync(home, { recursive: true, force: true }); }
});

test("guest clock: stands still while paused, continues without a jump on resume", () => {
  let host = 1000;
  const c = new GuestClock(() => host);
  host = 1500;
  assert.equal(c.now(), 1500);
  c.pause();
  host = 9000;
  assert.equal(c.now(), 1500);
  c.resume();
  assert.equal(c.now(), 1500);
  host = 9100;
  assert.equal(c.now(), 1600);
});

test("console log: rotated past its bound, one old generation kept", () => {
  const home = tempHome();
  try {
    const f = join(home, "console.log");
    const log = new RotatingLog(f, 100);
    for (let i = 0; i < 25; i++) log.write(Buffer.from(`line ${String(i).padStart(3, "0")}\n`)); // 9 bytes each
    log.close();
    assert.ok(statSync(f).size <= 100);
    assert.ok(statSync(`${f}.1`).size <= 100);
    assert.match(readFileSync(f, "utf8"), /line 024\n$/);
    const both = readFileSync(`${f}.1`, "utf8") + readFileSync(f, "utf8");
    assert.match(both, /^line 0(0[0-9]|1[0-9])\n/);
    assert.deepEqual(readdirSync(home).sort(), ["console.log", "console.log.1"]);
  } finally { rmSync(home, { recursive: true, force: true }); }
});
