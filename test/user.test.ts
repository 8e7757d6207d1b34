// The process VM (`rvisor exec`): C programs for each syscall family, built static and dynamic
// with Debian's cross gcc, run under rvisor and under qemu-riscv64; stdout and exit status must
// match. Plus rvisor-only checks: execve, error messages, --root confinement, --strace.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildProgram, qemu, rvisor, SYSROOT, toolsMissing } from "./user/build.js";
import { scaled } from "./lib/time_scale.js";

const skip = toolsMissing();
const PROGRAMS = ["files", "memory", "threads", "procs", "signals", "futex_time", "poll"];
const work = mkdtempSync(join(tmpdir(), "rvisor-user-"));

for (const linking of ["static", "dynamic"] as const) {
  test(`user: ${linking} programs match qemu-riscv64`, { skip, timeout: scaled(120_000) }, async (t) => {
    await Promise.all(PROGRAMS.map(async (name, i) => {
      const bin = buildProgram(name, linking);
      const prefix = linking === "dynamic" ? ["-L", SYSROOT] : [];
      const arg = name === "files" ? [join(work, `${linking}-${i}`)] : [];
      const q = await qemu([...prefix, bin, ...(arg.length ? [arg[0] + "-q"] : [])]);
      const r = await rvisor([...prefix, bin, ...(arg.length ? [arg[0] + "-r"] : [])]);
      t.diagnostic(`${name}: rvisor ${r.ms} ms, qemu ${q.ms} ms`);
      assert.equal(r.stdout, q.stdout, `${name} (${linking}) stdout differs; rvisor stderr:\n${r.stderr}`);
      assert.equal(r.code, q.code, `${name} (${linking}) exit status`);
    }));
  });
}

test("user: execve of a riscv64 program (/proc/self/exe, env)", { skip, timeout: scaled(60_000) }, async () => {
  const r = await rvisor([buildProgram("exec", "static")]);
  assert.equal(r.stdout, "exec'd child yes\ncode 42\n", r.stderr);
  assert.equal(r.code, 0);
});

test("user: dynamic program under --root /usr/riscv64-linux-gnu", { skip, timeout: scaled(60_000) }, async () => {
  const bin = buildProgram("threads", "dynamic");
  const r = await rvisor(["--root", SYSROOT, "--ro", bin]);
  assert.equal(r.stdout, "counter 80000 sum 64\n", r.stderr);
});

test("user: --root confines paths, .. and symlinks", { skip, timeout: scaled(60_000) }, async () => {
  const root = mkdtempSync(join(tmpdir(), "rvisor-root-"));
  writeFileSync(join(root, "inside.txt"), "inside\n");
  const { symlinkSync, mkdirSync } = await import("node:fs");
  symlinkSync("/etc/passwd", join(root, "abs-link"));
  symlinkSync("../../../../../../etc/hostname", join(root, "rel-link"));
  mkdirSync(join(root, "etc"));
  writeFileSync(join(root, "etc", "passwd"), "confined passwd\n");
  // Resolution is checked through the kernel's Vfs (every guest path goes through it).
  const { Kernel } = await import("../src/user/kernel.js");
  const { nodeUserHost } = await import("../src/host/node/user_host.js");
  const k = new Kernel(nodeUserHost(), { root, readonly: true, strace: false, log: () => {}, memBytes: 16 << 20 });
  assert.equal(k.vfs.resolve("/", "../../../etc/passwd", true), "/etc/passwd");
  assert.equal(k.vfs.resolve("/", "abs-link", true), "/etc/passwd");
  assert.equal(k.vfs.toHost(k.vfs.resolve("/", "rel-link", true) as string), join(root, "etc", "hostname"));
  assert.equal(k.vfs.toHost("/etc/passwd"), join(root, "etc", "passwd"));
  rmSync(root, { recursive: true, force: true });
});

test("user: clear errors for bad input", { skip, timeout: scaled(60_000) }, async () => {
  const notElf = join(work, "not-elf");
  writeFileSync(notElf, "hello\n");
  let r = await rvisor([notElf]);
  assert.match(r.stderr, /not an ELF file/);
  assert.notEqual(r.code, 0);
  r = await rvisor([process.execPath]);
  assert.match(r.stderr, /not a RISC-V ELF file/);
  r = await rvisor([buildProgram("poll", "dynamic")]);
  assert.match(r.stderr, /interpreter \/lib\/ld-linux-riscv64-lp64d\.so\.1 not found/);
  r = await rvisor([join(work, "missing")]);
  assert.match(r.stderr, /no such file/);
  assert.equal(r.stderr.trim().split("\n").length, 1);
});

test("user: --strace prints calls", { skip, timeout: scaled(60_000) }, async () => {
  const r = await rvisor(["--strace", buildProgram("poll", "static")]);
  assert.match(r.stderr, /\d+ pipe2\(0x[0-9a-f]+,0x0\) = 0/);
  assert.match(r.stderr, /\d+ exit_group\(0\)/);
});

test.after(() => rmSync(work, { recursive: true, force: true }));
