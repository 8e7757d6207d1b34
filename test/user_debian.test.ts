// Debian trixie's own riscv64 programs (python3, perl, coreutils, bash) from a root built from
// Debian's packages (mmdebstrap --variant=extract: test/lib/debian_image.ts), run under rvisor (--root) and under qemu-riscv64
// (-L, the same root): their output must match, and rvisor must print no warnings. LANG=C:
// the root has no locales (perl would warn about C.UTF-8 under both).
import { test } from "node:test";
import assert from "node:assert/strict";
import { debianRootfs, debianToolsMissing } from "./lib/debian_image.js";
import { run, rvisor, toolsMissing } from "./user/build.js";
import { scaled } from "./lib/time_scale.js";

const built = toolsMissing() || (debianToolsMissing() ?? debianRootfs());
const skip: string | false = typeof built === "string" ? built : false;

const CASES: { name: string; argv: string[] }[] = [
  { name: "python3", argv: ["/usr/bin/python3.13", "-c", "import os, subprocess, threading, json, hashlib, select, signal, time\n" +
    "print(subprocess.run(['/usr/bin/echo', 'child'], capture_output=True).stdout.decode().strip())\n" +
    "r = []; t = threading.Thread(target=lambda: r.append(sum(range(1000)))); t.start(); t.join(); print(r)\n" +
    "print(json.dumps({'a': [1, 2]}), hashlib.sha256(b'rvisor').hexdigest()[:16], os.cpu_count() == len(os.sched_getaffinity(0)))\n" +
    "hits = []; signal.signal(signal.SIGALRM, lambda s, f: hits.append(s)); signal.setitimer(signal.ITIMER_REAL, 0.01)\n" +
    "while not hits: time.sleep(0.01)\n" +
    "print('alarm', hits, hasattr(select, 'epoll'))"] },
  { name: "perl", argv: ["/usr/bin/perl", "-e", "my $p = fork; if (!$p) { exit 7 } waitpid($p, 0); print $? >> 8, \"\\n\"; print join(',', sort { $a <=> $b } (3, 1, 2)), \"\\n\"; printf \"%.3f\\n\", atan2(1, 1) * 4"] },
  { name: "bash + coreutils", argv: ["/usr/bin/bash", "-c", "printf 'b\\na\\nc\\n' | sort | tr a-z A-Z; seq 1 5 | paste -sd+ | wc -c; echo $(( 6 * 7 )); nproc >/dev/null && echo nproc"] },
];

test("user debian: trixie's python3, perl and coreutils match qemu-riscv64 on the same root", { skip, timeout: scaled(600_000) }, async (t) => {
  if (typeof built === "string") return;
  const { root } = built;
  for (const c of CASES) {
    const q = await run("qemu-riscv64", ["-E", "LANG=C", "-L", root, root + c.argv[0], ...c.argv.slice(1)], 240_000);
    const r = await rvisor(["-E", "LANG=C", "--root", root, ...c.argv], 240_000);
    assert.equal(q.code, 0, `${c.name} under qemu-riscv64: ${q.stderr}`);
    assert.equal(r.stdout, q.stdout, `${c.name}: stdout differs; rvisor stderr:\n${r.stderr}`);
    assert.equal(r.code, 0, c.name);
    assert.equal(r.stderr, "", `${c.name}: no warnings`);
    t.diagnostic(`${c.name}: rvisor ${r.ms} ms, qemu ${q.ms} ms`);
  }
});
