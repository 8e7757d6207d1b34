import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { linkSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DiskLockError, imageIdOf, lockDisk } from "./disk_lock.js";
import { openDisk } from "./disk_image.js";

function withDir(fn: (dir: string) => void | Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), "rvisor-lock-"));
    try { await fn(dir); } finally { rmSync(dir, { recursive: true, force: true }); }
  };
}

function setup(dir: string): { img: string; locks: string } {
  const img = join(dir, "disk.img");
  writeFileSync(img, new Uint8Array(4096));
  return { img, locks: join(dir, "locks") };
}

/** The pid of a process that has certainly exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  return Number(r.stdout);
}

test("a writer excludes everyone; readers share; release and re-lock", withDir((dir) => {
  const { img, locks } = setup(dir);
  const id = imageIdOf(img);
  const o = { dir: locks, procLocks: false as const };
  const w = lockDisk(img, id, "write", o);
  assert.throws(() => lockDisk(img, id, "write", o), (e: unknown) => e instanceof DiskLockError &&
    /^Failed to get "write" lock on .*disk\.img: in use by rvisor pid \d+, this process \(writing\)$/.test(e.message));
  assert.throws(() => lockDisk(img, id, "read", o), /Failed to get shared "write" lock/);
  w.release();
  w.release(); // idempotent
  const r1 = lockDisk(img, id, "read", o), r2 = lockDisk(img, id, "read", o);
  assert.throws(() => lockDisk(img, id, "write", o), /in use by rvisor pid \d+, this process \(reading\)/);
  r1.release();
  assert.throws(() => lockDisk(img, id, "write", o), /reading/);
  r2.release();
  lockDisk(img, id, "write", o).release();
  assert.deepEqual(readdirSync(locks), [], "a refused attempt leaves no file behind");
}));

test("the lock follows the image, not the path: a hard link is the same image", withDir((dir) => {
  const { img, locks } = setup(dir);
  const other = join(dir, "other-name.img");
  linkSync(img, other);
  const o = { dir: locks, procLocks: false as const };
  const w = lockDisk(img, imageIdOf(img), "write", o);
  assert.throws(() => lockDisk(other, imageIdOf(other), "read", o), DiskLockError);
  w.release();
}));

test("a dead holder's lock (kill -9) and a recycled pid are taken over", withDir((dir) => {
  const { img, locks } = setup(dir);
  const id = imageIdOf(img);
  const o = { dir: locks, procLocks: false as const };
  lockDisk(img, id, "read", o).release(); // creates the directory
  const key = `${id.dev}-${id.ino}`;
  // A writer that died without cleaning up.
  const dead = deadPid();
  writeFileSync(join(locks, `${key}.${dead}.0.w`), JSON.stringify({ path: img, pid: dead, start: "1" }));
  // A "writer" whose pid is alive now (our parent) but belongs to a process started at another time.
  writeFileSync(join(locks, `${key}.${process.ppid}.0.w`), JSON.stringify({ path: img, pid: process.ppid, start: "-1" }));
  const w = lockDisk(img, id, "write", o);
  assert.deepEqual(readdirSync(locks).filter((f) => !f.includes(`.${process.pid}.`)), [], "stale holder files are removed");
  w.release();
  // A live holder from another process (the parent, with its real start time) does block.
  // (Empty content, as while a holder is still writing it: the name alone identifies the holder.)
  writeFileSync(join(locks, `${key}.${process.ppid}.1.r`), "");
  assert.throws(() => lockDisk(img, id, "write", o), new RegExp(`in use by rvisor pid ${process.ppid} \\(reading\\)`));
}));

test("QEMU's OFD locks in /proc/locks are honoured", withDir((dir) => {
  const { img, locks } = setup(dir);
  const id = imageIdOf(img);
  const st = statSync(img, { bigint: true });
  const major = ((st.dev >> 8n) & 0xfffn).toString(16).padStart(2, "0"), minor = (st.dev & 0xffn).toString(16).padStart(2, "0");
  const file = `${major}:${minor}:${st.ino}`;
  const proc = join(dir, "proc-locks");
  const cases: [string, boolean, boolean][] = [
    // QEMU writing (perm bytes 100-101, "write" not shared: 201): nobody may open it.
    [`1: OFDLCK ADVISORY  READ -1 ${file} 201 201\n2: OFDLCK ADVISORY  READ -1 ${file} 100 101\n`, false, false],
    // QEMU reading (consistent read 100, "write" not shared 201): readers yes, writers no.
    [`1: OFDLCK ADVISORY  READ -1 ${file} 201 201\n2: OFDLCK ADVISORY  READ -1 ${file} 100 100\n`, true, false],
    // QEMU reading with share-rw=on (only 100): both.
    [`1: OFDLCK ADVISORY  READ -1 ${file} 100 100\n`, true, true],
    // Some other tool's exclusive whole-file lock.
    [`1: POSIX  ADVISORY  WRITE 4242 ${file} 0 EOF\n`, false, false],
    // Locks on another file do not matter.
    [`1: OFDLCK ADVISORY  READ -1 ${major}:${minor}:${st.ino + 1n} 100 101\n`, true, true],
  ];
  for (const [text, readOk, writeOk] of cases) {
    writeFileSync(proc, text);
    for (const [mode, ok] of [["read", readOk], ["write", writeOk]] as const) {
      const o = { dir: locks, procLocks: proc };
      if (ok) lockDisk(img, id, mode, o).release();
      else assert.throws(() => lockDisk(img, id, mode, o), /Failed to get .*"write" lock .*(QEMU lock|exclusive lock)/, `${mode} with\n${text}`);
    }
  }
}));

test("an open disk image is locked while open and unlocked on close", withDir(async (dir) => {
  const { img, locks } = setup(dir);
  const lock = { dir: locks, procLocks: false as const };
  const raw = { format: "raw" as const, lock };
  const a = await openDisk(img, raw);
  await assert.rejects(openDisk(img, { ...raw, readonly: true }), (e: unknown) => e instanceof DiskLockError && /Failed to get shared "write" lock/.test(e.message));
  await a.close();
  const r1 = await openDisk(img, { ...raw, readonly: true });
  const r2 = await openDisk(img, { ...raw, readonly: true });
  await assert.rejects(openDisk(img, raw), /Failed to get "write" lock/);
  await r1.close(); await r2.close();
  const b = await openDisk(img, raw);
  await b.close();
  assert.deepEqual(readdirSync(locks), []);
}));
