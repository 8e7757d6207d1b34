// Go programs under the process VM: many goroutines over several threads (futexes, channels,
// mutexes), signal-based (SIGURG) asynchronous preemption, timers, the GC, file I/O, the
// netpoller (epoll, TCP loopback), os/signal, nil dereferences turned into panics and stack
// growth. Built with Debian's golang-go at test time; each runs under rvisor and under
// qemu-riscv64, and stdout and exit status must match.
import { test } from "node:test";
import assert from "node:assert/strict";
import { qemu, rvisor } from "./user/build.js";
import { buildGo, goMissing } from "./user/go_build.js";
import { scaled } from "./lib/time_scale.js";

const skip = goMissing();
if (skip !== false) process.stderr.write(`user_go: skipped: ${skip}\n`);

interface Case { name: string; code: number; expect: RegExp[] }
const CASES: Case[] = [
  {
    name: "goroutines", code: 3,
    expect: [/^pingpong 127500$/m, /^mutex 20000 50$/m, /^timers order=10,20,30 ticks=3 elapsed-ok=true$/m, /^gc 40000 true$/m,
      /^files=8 bytes=8028 /m, /^CLIENT 3 MSG 0\|CLIENT 3 MSG 1\|CLIENT 3 MSG 2$/m, /^goroutines-leaked false$/m],
  },
  { name: "preempt", code: 0, expect: [/^main ran 2\ngc done\nsleep ok true\nfp 3247.330713 2166.51941 1626.603439\n$/m] },
  {
    name: "sched", code: 0,
    expect: [/^timers fired 1000\ngc with spinners done\nread "hello" <nil>\ncond woke 200\nspinners all ran true\n$/m],
  },
  {
    name: "signals", code: 2,
    expect: [/^got signal user defined signal 1\ngot signal hangup\ngot signal user defined signal 2$/m,
      /^7 recovered: runtime error: invalid memory address or nil pointer dereference$/m, /^depth \[10000 10001 10001 10002\]$/m,
      /^pipe write: write \|1: broken pipe$/m],
  },
];

for (const c of CASES) {
  test(`user go: ${c.name} matches qemu-riscv64`, { skip, timeout: scaled(120_000) }, async (t) => {
    const bin = await buildGo(c.name);
    const [q, r] = await Promise.all([qemu([bin], 60_000), rvisor([bin], 60_000)]);
    t.diagnostic(`${c.name}: rvisor ${r.ms} ms, qemu-riscv64 ${q.ms} ms`);
    assert.equal(r.stdout, q.stdout, `${c.name}: stdout differs; rvisor stderr:\n${r.stderr.slice(0, 4000)}`);
    assert.equal(r.code, q.code, `${c.name}: exit status; rvisor stderr:\n${r.stderr.slice(0, 4000)}`);
    assert.equal(r.code, c.code);
    for (const re of c.expect) assert.match(r.stdout, re);
    if (c.name === "signals") assert.match(r.stderr, /^panic: boom$/m);
  });
}
