// File mappings hold their files open exactly as long as Linux does (test/user/programs/mapfiles.c):
// run under RLIMIT_NOFILE 256, so a mapping that never let its file go would exhaust the host's
// descriptors long before the program's 2000 open/mmap/close/munmap cycles end. Static and
// dynamic builds, against qemu-riscv64.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildProgram, qemu, run, RVISOR, SYSROOT, toolsMissing } from "./user/build.js";
import { scaled } from "./lib/time_scale.js";

const skip = toolsMissing();
/** Far fewer descriptors than the program's cycles (and than a host's usual 1024). */
const NOFILE = 256;

for (const linking of ["static", "dynamic"] as const) {
  test(`user mapfiles (${linking}): mappings keep their files open until unmapped, no longer (vs qemu-riscv64)`, { skip, timeout: scaled(120_000) }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "rvisor-mapfiles-"));
    try {
      const bin = buildProgram("mapfiles", linking);
      const prefix = linking === "dynamic" ? ["-L", SYSROOT] : [];
      const q = await qemu([...prefix, bin, join(dir, "q")]);
      assert.equal(q.code, 0, q.stderr);
      const r = await run("sh", ["-c", `ulimit -n ${NOFILE} && exec "$0" "$@"`, process.execPath, RVISOR, "exec", ...prefix, bin, join(dir, "r")]);
      assert.equal(r.stdout, q.stdout, `stdout differs; rvisor stderr:\n${r.stderr}`);
      assert.equal(r.code, 0);
      assert.match(r.stdout, /^cycles ok, fds 0\nsplit a c\nchild a c\nchild status 0\nmemfd memfd-kept\nfds at end 0\n$/);
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
}
