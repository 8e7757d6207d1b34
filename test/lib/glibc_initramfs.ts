// The default guest's initramfs plus a glibc program: test/guest_programs/glibc_time.c built
// with Debian's cross gcc as a dynamic executable whose interpreter and libraries live in
// /opt/glibc/lib (copied from the cross sysroot), appended to initramfs.cpio.gz as a second
// cpio archive (the kernel unpacks concatenated archives in order). Cached outside the repo,
// keyed by the program source, the base initramfs and the sysroot's libc.
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { gzipSync } from "node:zlib";
import { repoRoot } from "./toolchain.js";

export const GLIBC_PROGRAM = "/opt/glibc/glibc_time";
const SYSROOT_LIB = "/usr/riscv64-linux-gnu/lib";
const LIBS = ["ld-linux-riscv64-lp64d.so.1", "libc.so.6"];
const GCC = "riscv64-linux-gnu-gcc";

interface CpioLib { makeCpio(root: string, extra?: unknown[]): Buffer }

/** Path of the combined initramfs (gzip + gzip), built once per inputs. */
export async function glibcInitramfs(baseInitrd: string): Promise<string> {
  const src = join(repoRoot(), "test", "guest_programs", "glibc_time.c");
  const base = readFileSync(baseInitrd);
  const h = createHash("sha256").update(readFileSync(src)).update(base);
  for (const l of LIBS) h.update(readFileSync(join(SYSROOT_LIB, l)));
  const dir = join(tmpdir(), "rvisor-test-cache", `glibc-initramfs-${h.digest("hex").slice(0, 16)}`);
  const out = join(dir, "initramfs.cpio.gz");
  if (existsSync(out)) return out;
  mkdirSync(dir, { recursive: true });
  const stage = mkdtempSync(join(tmpdir(), "rvisor-glibc-stage-"));
  try {
    mkdirSync(join(stage, "opt", "glibc", "lib"), { recursive: true });
    for (const l of LIBS) copyFileSync(join(SYSROOT_LIB, l), join(stage, "opt", "glibc", "lib", l));
    const r = spawnSync(GCC, ["-O1", "-o", join(stage, GLIBC_PROGRAM.slice(1)), src,
      "-Wl,--dynamic-linker=/opt/glibc/lib/ld-linux-riscv64-lp64d.so.1", "-Wl,-rpath=/opt/glibc/lib"], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${GCC} glibc_time.c failed:\n${r.stderr}`);
    const lib = (await import(new URL("../../../scripts/lib/image.mjs", import.meta.url).href)) as CpioLib;
    // No extra device nodes: the base archive has /dev/console already.
    const extra = gzipSync(lib.makeCpio(stage, []));
    const tmp = `${out}.${process.pid}.tmp`;
    writeFileSync(tmp, Buffer.concat([base, extra]));
    renameSync(tmp, out);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
  return out;
}

/** Lines the program prints when the guest runs it correctly (hwprobe's line is checked by each test). */
export const GLIBC_EXPECTED = [
  /^glibc 2\.\d+$/m,
  /^nanosleep 0\.2 s took 0\.2 s or a little more$/m,
  /^rdtime agrees with CLOCK_MONOTONIC$/m,
  /^CLOCK_REALTIME matches time\(\)$/m,
  /^glibc program done$/m,
];
