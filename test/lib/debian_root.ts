// A small Debian trixie riscv64 root filesystem from Debian's own packages, as
// `mmdebstrap --variant=extract` makes one: the packages asked for and everything they depend
// on (apt-cache depends --recurse), downloaded with apt through the private riscv64 apt
// configuration of debian_kernel.ts and unpacked with dpkg-deb (no maintainer scripts run), then
// the merged-/usr links. Cached by the exact package versions under the rvisor cache root.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { AptRoot, cacheDir, debianKernelUnavailable } from "./debian_kernel.js";

const LISTS_MAX_AGE_MS = 24 * 3600 * 1000;
const UPDATE_TIMEOUT_MS = 300_000, DOWNLOAD_TIMEOUT_MS = 900_000;

/** What the process-VM tests run: language runtimes and the usual command-line tools. */
export const DEBIAN_TOOLS = ["base-files", "python3.13", "perl-base", "coreutils", "dash", "bash", "grep", "sed", "findutils", "tar", "gzip", "diffutils", "procps"];

/** Why no root can be made here, or null. */
export function debianRootUnavailable(): string | null {
  return debianKernelUnavailable() ?? (spawnSync("dpkg-deb", ["--version"]).status === 0 ? null : "dpkg-deb not found");
}

function closure(apt: AptRoot, pkgs: string[]): string[] {
  const r = apt.run("apt-cache", ["depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances", ...pkgs], 120_000);
  if (!r.ok) throw new Error(`apt-cache depends: ${r.err.trim()}`);
  const names = new Set<string>();
  for (const line of r.out.split("\n")) if (/^[a-z0-9][a-z0-9+.-]*$/.test(line)) names.add(line);
  return [...names].sort();
}

/** The root's directory (made, or found in the cache). Throws one clear error when it cannot be made. */
export function debianRoot(pkgs: string[] = DEBIAN_TOOLS, log: (s: string) => void = () => {}): string {
  const why = debianRootUnavailable();
  if (why !== null) throw new Error(why);
  const base = cacheDir();
  mkdirSync(base, { recursive: true });
  const apt = new AptRoot(base);
  if (apt.listsAge() > LISTS_MAX_AGE_MS) {
    log("debian root: apt-get update (trixie riscv64)");
    const up = apt.run("apt-get", ["update"], UPDATE_TIMEOUT_MS);
    if (!up.ok || apt.listsAge() === Infinity) throw new Error(`apt-get update failed: ${up.err.trim().split("\n").slice(-3).join(" | ")}`);
  }
  const all = closure(apt, pkgs);
  const show = apt.run("apt-cache", ["show", "--no-all-versions", ...all], 120_000);
  if (!show.ok) throw new Error(`apt-cache show: ${show.err.trim()}`);
  const versions = [...show.out.matchAll(/^Package: (\S+)\n(?:.*\n)*?Version: (\S+)/gm)].map((m) => `${m[1]}=${m[2]}`).sort();
  const key = createHash("sha256").update(versions.join("\n")).digest("hex").slice(0, 16);
  const root = join(base, `debian-root-${key}`);
  if (existsSync(join(root, ".complete"))) return root;
  log(`debian root: ${versions.length} packages into ${root}`);
  const work = mkdtempSync(join(base, "root-"));
  try {
    const debs = join(work, "debs"), dest = join(work, "root");
    mkdirSync(debs); mkdirSync(dest);
    const dl = apt.run("apt-get", ["download", ...versions], DOWNLOAD_TIMEOUT_MS, debs);
    if (!dl.ok) throw new Error(`apt-get download failed: ${dl.err.trim().split("\n").slice(-3).join(" | ")}`);
    // merged /usr (as debootstrap and mmdebstrap lay it out before unpacking)
    for (const d of ["bin", "sbin", "lib"]) { mkdirSync(join(dest, "usr", d), { recursive: true }); symlinkSync(`usr/${d}`, join(dest, d)); }
    for (const deb of readdirSync(debs).filter((f) => f.endsWith(".deb"))) {
      const x = spawnSync("dpkg-deb", ["-x", join(debs, deb), dest], { encoding: "utf8", timeout: 120_000 });
      if (x.status !== 0) throw new Error(`dpkg-deb -x ${deb}: ${x.stderr}`);
    }
    mkdirSync(join(dest, "tmp"), { recursive: true });
    writeFileSync(join(dest, ".complete"), versions.join("\n") + "\n");
    rmSync(root, { recursive: true, force: true });
    renameSync(dest, root);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return root;
}
