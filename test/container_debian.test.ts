// A Debian trixie riscv64 image from Debian's own packages (mmdebstrap --variant=extract, merged
// /usr, python3 and perl), imported as a rootfs tarball; Python and Perl scripts run in a
// container and under qemu-riscv64 on the same root filesystem must print the same. Cached under
// ~/.cache/rvisor/debian-ctr-<key> (test/lib/debian_image.ts); skipped when it cannot be built.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RVISOR_BIN } from "./lib/guest.js";
import { repoRoot } from "./lib/toolchain.js";
import { debianRootfs, debianToolsMissing } from "./lib/debian_image.js";
import { scaled } from "./lib/time_scale.js";

const IMG = "debian:trixie";
const work = mkdtempSync(join(tmpdir(), "rvisor-ctr-deb-"));
const home = join(work, "home");

interface Result { code: number; stdout: string; stderr: string }
function run(cmd: string, args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { env: { ...process.env, RVISOR_HOME: home }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "", stderr = "";
    p.stdout.on("data", (d: Buffer) => { stdout += d; });
    p.stderr.on("data", (d: Buffer) => { stderr += d; });
    p.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
const built = debianToolsMissing() ?? debianRootfs();
const skip: string | false = typeof built === "string" ? built : false;
const root = typeof built === "string" ? "" : built.root;

const ctr = (args: string[]): Promise<Result> => run(process.execPath, [RVISOR_BIN, "container", ...args]);
const scripts = join(repoRoot(), "test", "container");

before(async () => {
  if (typeof built === "string") return;
  const r = await run(process.execPath, [RVISOR_BIN, "image", "import", built.tar, IMG]);
  assert.equal(r.code, 0, r.stderr);
});

after(() => { rmSync(work, { recursive: true, force: true }); });

/** Runs `prog script` in a container (scripts mounted read-only at /t) and under qemu-riscv64 -L on the same tree. */
async function compare(prog: string, script: string): Promise<string> {
  const c = await ctr(["run", "--rm", "-v", `${scripts}:/t:ro`, IMG, prog, `/t/${script}`]);
  assert.equal(c.code, 0, c.stderr);
  const q = await run("qemu-riscv64", ["-L", root, join(root, "usr", "bin", prog), join(scripts, script)]);
  assert.equal(q.code, 0, q.stderr);
  assert.equal(c.stdout, q.stdout);
  return c.stdout;
}

test("debian container: Python 3 prints what it prints under qemu-riscv64", { skip, timeout: scaled(600_000) }, async () => {
  const out = await compare("python3", "debian.py");
  assert.match(out, /^\(3, \d+, \d+\)\n/);
  // In the container only: pid 1, its own hostname, threads and a subprocess (another riscv64 program).
  const c = await ctr(["run", "--rm", "--hostname", "deb", IMG, "python3", "-c",
    "import os, socket, subprocess, threading\n" +
    "r = []\nts = [threading.Thread(target=lambda i=i: r.append(i * i)) for i in range(4)]\n[t.start() for t in ts]; [t.join() for t in ts]\n" +
    "print(os.getpid(), socket.gethostname(), sorted(r), subprocess.run(['perl', '-e', 'print 6*7'], capture_output=True, text=True).stdout)"]);
  assert.equal(c.code, 0, c.stderr);
  assert.equal(c.stdout, "1 deb [0, 1, 4, 9] 42\n");
});

test("debian container: Perl prints what it prints under qemu-riscv64", { skip, timeout: scaled(600_000) }, async () => {
  const out = await compare("perl", "debian.pl");
  assert.match(out, /^5\.\d+\n/);
});
