// The Debian trixie riscv64 root the container tests, the process-VM tests (user_debian) and the
// benchmarks use: Debian's own packages (python3, perl, bash, coreutils) unpacked by mmdebstrap --variant=extract with merged /usr, as a rootfs tarball
// (for rvisor image import) and extracted (for qemu-riscv64 -L). Cached under
// ~/.cache/rvisor/debian-ctr-<key>; the key hashes the suite, architecture, packages, hooks,
// mmdebstrap's version and this recipe. Building needs Debian's mirror.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { which } from "./toolchain.js";
import { scaled } from "./time_scale.js";

const RECIPE = "debian-ctr-v2";
const SUITE = "trixie", ARCH = "riscv64", PACKAGES = ["python3", "perl", "bash", "coreutils"];
const HOOK = "/usr/share/mmdebstrap/hooks/merged-usr";

/** The tools building and comparing need, missing ones named; null when all are there. */
export function debianToolsMissing(): string | null {
  const missing = ["mmdebstrap", "qemu-riscv64"].filter((t) => which(t) === null);
  return missing.length > 0 ? `missing ${missing.join(", ")} (sudo bash scripts/install-deps.sh)` : null;
}

/** The rootfs tarball and its extracted tree (for qemu-riscv64 -L), built once per key; `extra`
 *  adds packages (a root of its own, keyed by them too). */
export function debianRootfs(extra: readonly string[] = []): { tar: string; root: string } | string {
  const version = spawnSync("mmdebstrap", ["--version"], { encoding: "utf8" }).stdout.trim();
  const packages = [...PACKAGES, ...extra];
  const key = createHash("sha256").update([RECIPE, SUITE, ARCH, ...packages, HOOK, version].join("\n")).digest("hex").slice(0, 16);
  const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "rvisor", `debian-ctr-${key}`);
  const out = { tar: join(cache, "rootfs.tar"), root: join(cache, "root") };
  if (existsSync(out.tar) && existsSync(join(out.root, "usr", "bin", "python3"))) return out;
  const tmp = mkdtempSync(join(tmpdir(), "rvisor-mmdebstrap-"));
  try {
    const tar = join(tmp, "rootfs.tar");
    const r = spawnSync("mmdebstrap", ["--quiet", "--variant=extract", `--arch=${ARCH}`, `--include=${packages.join(",")}`, `--hook-dir=${HOOK}`, SUITE, tar], { encoding: "utf8", timeout: scaled(900_000) });
    if (r.status !== 0) return `mmdebstrap could not build the ${SUITE} ${ARCH} root (no mirror?): ${(r.stderr || r.stdout).trim().split("\n").slice(-2).join(" ")}`;
    mkdirSync(join(tmp, "root"));
    const x = spawnSync("tar", ["-C", join(tmp, "root"), "-xf", tar], { encoding: "utf8" });
    if (x.status !== 0) throw new Error(`tar -x: ${x.stderr}`);
    mkdirSync(join(cache, ".."), { recursive: true });
    rmSync(cache, { recursive: true, force: true });
    renameSync(tmp, cache);
    return out;
  } finally { rmSync(tmp, { recursive: true, force: true }); }
}
