// execve of host-native programs from `rvisor exec` in the unconfined mode (guest paths are host
// paths): they run as host processes wired to the guest's descriptors, as under qemu-riscv64,
// which hands them to the host kernel. Each case runs test/user/programs/hostexec.c under both
// (each in its own directory); output and exit status must be identical. Under --root the same
// execve fails with ENOEXEC, as on a riscv64 machine.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildProgram, RVISOR, runIn, toolsMissing } from "./user/build.js";
import { appletDirs, findBusybox, QEMU } from "./user/busybox.js";
import { PtySession, PYTHON } from "./user/pty.js";
import { scaled } from "./lib/time_scale.js";

const skip = toolsMissing();
const work = mkdtempSync(join(tmpdir(), "rvisor-hostexec-"));
const PATH = "/usr/bin:/bin";

const CASES: [string, string[], string][] = [
  ["echo", ["run", "/bin/echo", "hello", "from the host"], "hello from the host\nexit 0\n"],
  ["env", ["run", "/usr/bin/env"], "RVX=from-guest\nPATH=/usr/bin:/bin\nLC_ALL=C\nexit 0\n"],
  ["exit status", ["run", "/bin/sh", "-c", "echo out; echo err >&2; exit 7"], "out\nexit 7\nerr\n"],
  ["killed by a signal", ["run", "/bin/sh", "-c", "kill -9 $$"], "signal 9\n"],
  ["working directory", ["cwd"], "/tmp\nexit 0\n"],
  ["pipeline through a host program (with backpressure)", ["pipeline"], "pipeline: 103890 bytes, 3500 lines, ends with NE 3499 OF THE RISCV64 SIDE\nexit 0\n"],
  ["shared file offset", ["offsets"], "exit 0\nfile:\nA\nguest\nexit 0\nB\nend\n"],
  ["kill reaches the host program", ["kill"], "signal 15\n"],
  ["the first process execs", ["direct", "/bin/sh", "-c", "read x; echo \"direct $x\"; exit 3"], "direct typed\n"],
  ["not executable", ["direct", "/etc/passwd"], "execve: errno 13 (Permission denied)\n"],
  ["missing", ["direct", "/bin/no-such-program"], "execve: errno 2 (No such file or directory)\n"],
];

test("user hostexec: host-native programs run as under qemu-riscv64 (output, status, pipes, offsets, signals)", { skip, timeout: scaled(120_000) }, async (t) => {
  const bin = buildProgram("hostexec", "static");
  await Promise.all(CASES.map(async ([name, args, want], i) => {
    const qd = join(work, `${i}-q`), rd = join(work, `${i}-r`);
    mkdirSync(qd); mkdirSync(rd);
    const [q, r] = await Promise.all([runIn(QEMU, [bin, ...args], qd, PATH, "typed\n"), runIn(process.execPath, [RVISOR, "exec", bin, ...args], rd, PATH, "typed\n")]);
    t.diagnostic(`${name}: rvisor ${r.ms} ms, qemu ${q.ms} ms`);
    assert.equal(q.stdout + q.stderr, want, `${name}: qemu-riscv64 (the reference) changed`);
    assert.equal(r.stdout + r.stderr, q.stdout + q.stderr, `${name}: output differs from qemu-riscv64`);
    assert.equal(r.code, q.code, `${name}: exit status`);
  }));
});

test("user hostexec: under --root and on a container's overlay (--layer) a host-native program is ENOEXEC, as on riscv64 Linux", { skip, timeout: scaled(60_000) }, async () => {
  const root = join(work, "root");
  mkdirSync(join(root, "bin"), { recursive: true });
  copyFileSync("/bin/echo", join(root, "bin", "echo"));
  copyFileSync(buildProgram("hostexec", "static"), join(root, "hostexec"));
  // --root, and the overlay a container runs on (--layer: the image's layers).
  for (const how of [["--root", root], ["--layer", root]]) {
    const r = await runIn(process.execPath, [RVISOR, "exec", ...how, "/hostexec", "run", "/bin/echo", "hi"], work, PATH);
    assert.equal(r.stdout, "execve /bin/echo: errno 8 (Exec format error)\nexit 127\n", `${how[0]}: ${r.stderr}`);
    assert.equal(r.code, 0);
  }
});

const bb = skip === false ? await findBusybox(() => {}, false) : { skip };

// A riscv64 shell whose pipelines mix host programs (absolute paths) and riscv64 applets (PATH:
// symlinks to busybox for rvisor, scripts that start them under qemu-riscv64 again for qemu).
const SCRIPT = `exec 2>&1
/bin/echo "host echo"
printf 'pear\\napple\\nfig\\n' | /usr/bin/sort | tr a-z A-Z
x=$(/bin/echo captured); echo "$x"
/usr/bin/env -i ONLY=this /usr/bin/env
/bin/sh -c 'exit 5'; echo "status $?"
seq 1 500 | /usr/bin/wc -l
/bin/echo to-file > out.txt; /bin/cat out.txt; wc -c < out.txt
/bin/cat | sed s/typed/read-by-host-cat/
/usr/bin/stat -L -c %F /dev/stdin < /dev/null
/usr/bin/stat -L -c %F /dev/stdin < .
/usr/bin/yes | head -n 2
`;

test("user hostexec: busybox sh pipelines through host programs match qemu-riscv64", { skip: "skip" in bb ? bb.skip : false, timeout: scaled(60_000) }, async () => {
  if (!("path" in bb)) return;
  const dirs = appletDirs(bb.path, work);
  const qd = join(work, "sh-q"), rd = join(work, "sh-r");
  mkdirSync(qd); mkdirSync(rd);
  const sh = [bb.path, "sh", "-c", SCRIPT];
  const [q, r] = await Promise.all([
    runIn(QEMU, sh, qd, dirs.qemu, "typed\n"), runIn(process.execPath, [RVISOR, "exec", ...sh], rd, dirs.rvisor, "typed\n"),
  ]);
  assert.equal(q.stdout, "host echo\nAPPLE\nFIG\nPEAR\ncaptured\nONLY=this\nstatus 5\n500\nto-file\n8\nread-by-host-cat\ncharacter special file\ndirectory\ny\ny\n", `qemu-riscv64 (the reference): ${q.stderr}`);
  assert.equal(r.stdout, q.stdout, r.stderr);
  assert.equal(r.code, q.code);
});

// On a terminal: the host program gets the terminal in the host's own (cooked) modes and reads it
// itself (typed line echoed by the host's line discipline, Ctrl-D ends it); then the guest's tty
// takes it back (raw again, rvisor's line discipline reads the next line).
const TTY_SCRIPT = "/bin/stty -a | /bin/grep -o -- '-\\?icanon' ; /bin/sh -c 'echo ready; exec /bin/cat' ; echo back ; read x ; echo \"guest read $x\"";

test("user hostexec: a host program on the guest's terminal gets it in the host's modes, and the guest's tty takes it back", { skip: "skip" in bb ? bb.skip : PYTHON === null ? "python3 not found" : false, timeout: scaled(60_000) }, async () => {
  if (!("path" in bb)) return;
  const busybox: string = bb.path;
  const dirs = appletDirs(busybox, work);
  const sh = [busybox, "sh", "-c", TTY_SCRIPT];
  const runs: [string, string[], string][] = [[QEMU, sh, dirs.qemu], [process.execPath, [RVISOR, "exec", ...sh], dirs.rvisor]];
  const outs: string[] = [];
  for (const [cmd, args, path] of runs) {
    const s: PtySession = new PtySession(cmd, args, { env: { PATH: path, LC_ALL: "C", TERM: "dumb" } });
    try {
      let at = await s.expect(/ready\r?\n/, 0);
      s.send("typed\n");
      at = await s.expect(/typed\r\ntyped\r\n/, at);
      s.send("\x04");
      at = await s.expect(/back\r\n/, at);
      s.send("again\n");
      await s.expect(/guest read again\r\n/, at);
      assert.equal(await s.wait(), 0);
      outs.push(s.out.replace(/\r/g, ""));
    } finally { s.kill(); }
  }
  assert.equal(outs[1], outs[0], "the terminal session differs from qemu-riscv64's");
  assert.match(outs[1], /^icanon\n/);
});

test.after(() => rmSync(work, { recursive: true, force: true }));
