// execve of host-native programs from `rvisor exec` in the unconfined mode (guest paths are host
// paths): they run as host processes wired to the guest's descriptors, as under qemu-riscv64,
// which hands them to the host kernel. Each case runs test/user/programs/hostexec.c under both
// (each in its own directory); output and exit status must be identical. Under --root the same
// execve fails with ENOEXEC, as on a riscv64 machine.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildProgram, RVISOR, toolsMissing, type RunResult } from "./user/build.js";
import { QEMU } from "./user/busybox.js";

const skip = toolsMissing();
const work = mkdtempSync(join(tmpdir(), "rvisor-hostexec-"));

function runIn(cmd: string, args: string[], cwd: string, input = ""): Promise<RunResult> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const p = spawn(cmd, args, { cwd, env: { PATH: "/usr/bin:/bin", LC_ALL: "C" }, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "", stderr = "";
    p.stdout.on("data", (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on("data", (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => p.kill("SIGKILL"), 30_000);
    p.on("close", (code) => { clearTimeout(timer); resolve({ code, stdout, stderr, ms: Date.now() - t0 }); });
    p.stdin.end(input);
  });
}

const CASES: [string, string[], string][] = [
  ["echo", ["run", "/bin/echo", "hello", "from the host"], "hello from the host\nexit 0\n"],
  ["env", ["run", "/usr/bin/env"], "RVX=from-guest\nPATH=/usr/bin:/bin\nLC_ALL=C\nexit 0\n"],
  ["exit status", ["run", "/bin/sh", "-c", "echo out; echo err >&2; exit 7"], "out\nexit 7\nerr\n"],
  ["killed by a signal", ["run", "/bin/sh", "-c", "kill -9 $$"], "signal 9\n"],
  ["working directory", ["cwd"], "/tmp\nexit 0\n"],
  ["pipeline through a host program", ["pipeline"], "pipeline: 58890 bytes, 2000 lines, ends with NE 1999 OF THE RISCV64 SIDE\nexit 0\n"],
  ["shared file offset", ["offsets"], "exit 0\nfile:\nA\nguest\nexit 0\nB\nend\n"],
  ["kill reaches the host program", ["kill"], "signal 15\n"],
  ["the first process execs", ["direct", "/bin/sh", "-c", "read x; echo \"direct $x\"; exit 3"], "direct typed\n"],
  ["not executable", ["direct", "/etc/passwd"], "execve: errno 13 (Permission denied)\n"],
  ["missing", ["direct", "/bin/no-such-program"], "execve: errno 2 (No such file or directory)\n"],
];

test("user hostexec: host-native programs run as under qemu-riscv64 (output, status, pipes, offsets, signals)", { skip, timeout: 120_000 }, async (t) => {
  const bin = buildProgram("hostexec", "static");
  await Promise.all(CASES.map(async ([name, args, want], i) => {
    const qd = join(work, `${i}-q`), rd = join(work, `${i}-r`);
    mkdirSync(qd); mkdirSync(rd);
    const [q, r] = await Promise.all([runIn(QEMU, [bin, ...args], qd, "typed\n"), runIn(process.execPath, [RVISOR, "exec", bin, ...args], rd, "typed\n")]);
    t.diagnostic(`${name}: rvisor ${r.ms} ms, qemu ${q.ms} ms`);
    assert.equal(q.stdout + q.stderr, want, `${name}: qemu-riscv64 (the reference) changed`);
    assert.equal(r.stdout + r.stderr, q.stdout + q.stderr, `${name}: output differs from qemu-riscv64`);
    assert.equal(r.code, q.code, `${name}: exit status`);
  }));
});

test("user hostexec: under --root a host-native program is ENOEXEC, as on riscv64 Linux", { skip, timeout: 60_000 }, async () => {
  const root = join(work, "root");
  mkdirSync(join(root, "bin"), { recursive: true });
  copyFileSync("/bin/echo", join(root, "bin", "echo"));
  copyFileSync(buildProgram("hostexec", "static"), join(root, "hostexec"));
  const r = await runIn(process.execPath, [RVISOR, "exec", "--root", root, "/hostexec", "run", "/bin/echo", "hi"], work);
  assert.equal(r.stdout, "execve /bin/echo: errno 8 (Exec format error)\nexit 127\n", r.stderr);
  assert.equal(r.code, 0);
});

test.after(() => rmSync(work, { recursive: true, force: true }));
