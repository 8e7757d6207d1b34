// Event and process primitives of the process VM (timerfd, signalfd, inotify, memfd, pidfd,
// close_range, setitimer/alarm, EPOLLET, the CPU count): a C program built static and dynamic,
// run under rvisor and under qemu-riscv64, whose outputs must match; then what rvisor answers
// on its own (robust futexes, membarrier, capabilities, quiet probes, copy-on-write fork), the
// unsupported-call warnings (only with --verbose or --strace) and `rvisor exec --syscalls`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildProgram, qemu, run, rvisor, RVISOR, SYSROOT, toolsMissing } from "./user/build.js";
import { scaled } from "./lib/time_scale.js";

const skip = toolsMissing();
const work = mkdtempSync(join(tmpdir(), "rvisor-events-"));
test.after(() => rmSync(work, { recursive: true, force: true }));

for (const linking of ["static", "dynamic"] as const) {
  test(`user events: ${linking} program matches qemu-riscv64`, { skip, timeout: scaled(180_000) }, async () => {
    const bin = buildProgram("events", linking);
    const prefix = linking === "dynamic" ? ["-L", SYSROOT] : [];
    const q = await qemu([...prefix, bin, join(work, `${linking}-q`)], 120_000);
    const r = await rvisor([...prefix, bin, join(work, `${linking}-r`)], 120_000);
    assert.equal(q.code, 0, `qemu-riscv64 failed:\n${q.stderr}`);
    assert.equal(r.stdout, q.stdout, `stdout differs; rvisor stderr:\n${r.stderr}`);
    assert.equal(r.code, 0);
    assert.equal(r.stderr, "", "nothing on stderr (no warnings)");
  });
}

const RV_EXPECTED = `robust init 0
robust lock after owner died EOWNERDEAD
robust consistent 0
robust relock 0
get_robust_list 0 len 24 set 1
set_robust_list bad len -1 errno 22
membarrier query 0x1f
membarrier private unregistered -1 errno 1
membarrier register 0
membarrier private 0
membarrier global 0
membarrier bad flags -1 errno 22
membarrier sync-core -1 errno 22
capget 0 eff 0 perm 0 inh 0
capget probe 0 version 0x20080522
capget bad version -1 errno 22
capget no such pid -1 errno 3
capset empty 0
capset more -1 errno 1
rseq -1 errno 38
io_uring_setup -1 errno 38
signalfd4 sizemask 4 -1 errno 22
syscall 1000 -1 errno 38
cow fork of a 128 MiB heap: no copy, parent data intact 1
`;

test("user events: robust futexes, membarrier, capget, quiet probes, copy-on-write fork", { skip, timeout: scaled(120_000) }, async (t) => {
  const bin = buildProgram("events_rv", "static");
  const r = await rvisor([bin], 100_000);
  assert.equal(r.stdout, RV_EXPECTED, r.stderr);
  assert.equal(r.code, 0);
  // The only stderr line is the program's own fork timing: no warning for rseq, io_uring_setup or 1000.
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /^fork\+exit\+wait with a 128 MiB heap: [\d.]+ ms$/);
  t.diagnostic(lines[0]);
  const v = await rvisor(["--verbose", bin], 100_000);
  assert.equal(v.stdout, RV_EXPECTED);
  assert.match(v.stderr, /rvisor: unsupported syscall 1000 \(1000\): returning ENOSYS/);
  assert.doesNotMatch(v.stderr, /unsupported syscall (rseq|io_uring_setup)/, "probed calls answer ENOSYS quietly even then");
  const s = await rvisor(["--strace", bin], 100_000);
  assert.match(s.stderr, /unsupported syscall 1000/);
  assert.match(s.stderr, /\d+ rseq\(.*\) = -1 errno=38 \(ENOSYS\)/);
});

test("user events: rvisor exec --syscalls lists every call with its status and why", { skip: false, timeout: scaled(60_000) }, async () => {
  const r = await run(process.execPath, [RVISOR, "exec", "--syscalls"]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split("\n");
  const rows = lines.slice(0, -1).map((l) => /^ *(\d+) {2}(\w+) +(supported|partial|unsupported)(?: {2}(.*))?$/.exec(l));
  for (const [i, m] of rows.entries()) assert.ok(m !== null, `line ${i + 1} is not "NR NAME STATUS [WHY]": ${lines[i]}`);
  const byName = new Map(rows.map((m) => [(m as RegExpExecArray)[2], m as RegExpExecArray]));
  for (const m of byName.values()) if (m[3] !== "supported") assert.ok((m[4] ?? "").length > 0, `${m[2]} is ${m[3]} without a why`);
  for (const n of ["timerfd_create", "signalfd4", "inotify_init1", "pidfd_open", "membarrier", "setitimer", "capget", "close_range"]) {
    assert.notEqual(byName.get(n)?.[3], "unsupported", `${n} is implemented`);
  }
  assert.equal(byName.get("rseq")?.[3], "unsupported");
  assert.match(byName.get("io_uring_setup")?.[4] ?? "", /^ENOSYS/);
  const nrs = rows.map((m) => Number((m as RegExpExecArray)[1]));
  assert.deepEqual(nrs, [...nrs].sort((a, b) => a - b), "in number order");
  const sum = /^(\d+) calls: (\d+) supported, (\d+) partial, (\d+) unsupported/.exec(lines[lines.length - 1]);
  assert.ok(sum !== null, lines[lines.length - 1]);
  assert.equal(Number(sum[1]), rows.length);
  assert.equal(Number(sum[2]) + Number(sum[3]) + Number(sum[4]), rows.length);
  const bad = await run(process.execPath, [RVISOR, "exec", "--syscalls", "/bin/true"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--syscalls takes no program/);
});
