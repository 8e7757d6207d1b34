// A guest cannot crash rvisor (issue 7): system-call arguments that no real caller passes
// (sizes of 2^63 and more, (size_t)-1, kernel-half pointers, mappings past the top) get the errno
// Linux gives, compared with qemu-riscv64; and running out of guest memory fails fork with
// EAGAIN/ENOMEM or OOM-kills one process, while the machine and its other processes go on.
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildProgram, qemu, rvisor, toolsMissing } from "./user/build.js";
import { scaled } from "./lib/time_scale.js";

const skip = toolsMissing();
/** oom.c's MAX_FORKS. */
const MAX_FORKS = 40;

test("user hostile: boundary arguments give Linux's errno (vs qemu-riscv64)", { skip, timeout: scaled(120_000) }, async () => {
  const bin = buildProgram("hostile_args", "static");
  const q = await qemu([bin]);
  assert.equal(q.code, 0, q.stderr);
  for (const mem of [[], ["--mem", "64"]]) {
    const r = await rvisor([...mem, bin]);
    assert.equal(r.stdout, q.stdout, `rvisor ${mem.join(" ")} stdout differs; stderr:\n${r.stderr}`);
    assert.equal(r.code, 0, r.stderr);
  }
});

test("user hostile: guest memory exhaustion fails the call or kills one process (vs qemu-riscv64)", { skip, timeout: scaled(120_000) }, async () => {
  const bin = buildProgram("oom", "static");
  const q = await qemu([bin]);
  const r = await rvisor(["--mem", "64", bin]);
  // The same behaviour shape (counts differ: the host has far more memory than 64 MiB).
  assert.equal(r.stdout, q.stdout, `stdout differs; rvisor stderr:\n${r.stderr}`);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(q.code, 0, q.stderr);
  // And in rvisor the memory really ran out: fork copies no page, but the children's writes make
  // copies that cannot all fit in 64 MiB, so forks failed (ENOMEM) or children were OOM-killed.
  const m = /fork bomb: (\d+) forked, (\d+) failed, (\d+) killed/.exec(r.stderr);
  assert.ok(m !== null && Number(m[1]) >= 1 && Number(m[2]) + Number(m[3]) >= 1, r.stderr);
  // qemu-riscv64 runs on the host's memory: there every child made its copy and exited 0.
  assert.match(q.stderr, new RegExp(`fork bomb: ${MAX_FORKS} forked, 0 failed, 0 killed`));
  assert.match(r.stderr, /dense 96 MiB: status 0x9\n/);
  assert.match(r.stderr, /out of guest memory \(page fault\): killed process \d+/);
  assert.match(r.stderr, /mmap 32 MiB rw: ok\n/);
  assert.match(r.stderr, /mmap 128 MiB rw: ENOMEM\n/);
  assert.match(r.stderr, /thread bomb: \d+ created, [1-9]\d* failed\n/);
  assert.match(r.stderr, /small child: status 0x0\n/);
});

test("user hostile: an exception in a syscall handler kills the calling process, not the kernel", { skip, timeout: scaled(60_000) }, async () => {
  const bin = buildProgram("handler_error", "static");
  const { Kernel } = await import("../src/user/kernel.js");
  const { SYSCALLS } = await import("../src/user/syscalls.js");
  const { nodeUserHost } = await import("../src/host/node/user_host.js");
  const NR = 424;
  const saved = SYSCALLS[NR];
  SYSCALLS[NR] = { nr: NR, name: "test_throw", args: "", status: "supported", fn: () => { throw new RangeError("Invalid typed array length: -1"); } };
  try {
    const host = nodeUserHost();
    let out = "";
    const term = host.term;
    host.term = {
      isatty: () => false, winsize: () => null, setRaw: () => {}, write: (_fd, d) => { out += new TextDecoder().decode(d); return d.length; },
      startInput: (cb) => term.startInput(cb), onSignal: () => {}, onResize: () => {}, release: () => {}, suspend: () => {},
      stop: () => term.stop(),
    };
    const log: string[] = [];
    const k = new Kernel(host, { root: "/", readonly: true, strace: false, log: (l) => log.push(l), memBytes: 32 << 20 });
    k.start(bin, [bin], [], "/");
    assert.equal(await k.run(), 0);
    assert.equal(out, "child killed\n");
    assert.equal(k.internalErrors, 1);
    assert.match(log.join("\n"), /internal error in test_throw\(424\): RangeError: Invalid typed array length: -1; killing process \d+/);
  } finally {
    SYSCALLS[NR] = saved;
  }
});
