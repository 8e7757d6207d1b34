// The busybox OCI image the image tests and benchmarks use, built with umoci from the guest
// image's static riscv64 busybox and cached under ~/.cache/rvisor/oci-busybox-<key> (the key
// hashes the busybox binary and the recipe). Two layers: busybox, /bin/sh, /etc/motd and
// /var/cache/old; then /etc/motd deleted (a whiteout) and /etc/hello added. Tags: riscv64 (the
// image), amd64 (the same layers with an amd64 config, for multi-platform indexes).
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";

const RECIPE = "busybox-umoci-v2";

export function run(cmd: string, args: string[], opts: { cwd?: string } = {}): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** The busybox OCI layout (cached by busybox binary and recipe): tags riscv64 and amd64. */
export function busyboxLayout(busybox: string): string {
  const key = createHash("sha256").update(RECIPE).update(readFileSync(busybox)).digest("hex").slice(0, 16);
  const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "rvisor", `oci-busybox-${key}`);
  if (existsSync(join(cache, "index.json"))) return cache;
  const tmp = mkdtempSync(join(tmpdir(), "rvisor-umoci-"));
  const L = join(tmp, "layout"), B = join(tmp, "bundle");
  run("umoci", ["init", "--layout", L]);
  run("umoci", ["new", "--image", `${L}:riscv64`]);
  run("umoci", ["unpack", "--rootless", "--image", `${L}:riscv64`, B]);
  const R = join(B, "rootfs");
  for (const d of ["bin", "etc", "var/cache"]) mkdirSync(join(R, d), { recursive: true });
  copyFileSync(busybox, join(R, "bin", "busybox"));
  chmodSync(join(R, "bin", "busybox"), 0o755);
  symlinkSync("busybox", join(R, "bin", "sh"));
  writeFileSync(join(R, "etc", "motd"), "lower motd\n");
  writeFileSync(join(R, "var", "cache", "old"), "old\n");
  run("umoci", ["repack", "--image", `${L}:riscv64`, B]);
  // The second layer (from a fresh unpack): etc/motd deleted (a whiteout), etc/hello added.
  const B2 = join(tmp, "bundle2"), R2 = join(B2, "rootfs");
  run("umoci", ["unpack", "--rootless", "--image", `${L}:riscv64`, B2]);
  rmSync(join(R2, "etc", "motd"));
  writeFileSync(join(R2, "etc", "hello"), "hello from layer 2\n");
  run("umoci", ["repack", "--image", `${L}:riscv64`, B2]);
  run("umoci", ["config", "--image", `${L}:riscv64`, "--architecture", "riscv64", "--os", "linux", "--config.cmd", "/bin/sh", "--config.env", "PATH=/bin", "--config.workingdir", "/etc"]);
  run("umoci", ["config", "--image", `${L}:riscv64`, "--tag", "amd64", "--architecture", "amd64", "--os", "linux"]);
  mkdirSync(join(cache, ".."), { recursive: true });
  rmSync(cache, { recursive: true, force: true });
  renameSync(L, cache);
  rmSync(tmp, { recursive: true, force: true });
  return cache;
}

