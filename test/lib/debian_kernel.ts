// Debian's distribution kernel for riscv64 (trixie's linux-image-riscv64) and trixie's OpenSBI
// (the reference for the built-in SBI), fetched with apt
// from Debian's archive through a private riscv64 apt configuration (its own sources.list,
// lists and cache under the rvisor cache root; the host's apt state is never touched), and
// cached by package version: <cache>/debian-kernel/<package>_<version>/{Image,config} and
// <cache>/debian-kernel/opensbi_<version>/fw_jump.bin.
//
// On riscv64 the package ships /boot/vmlinux-<version>, a flat Image (the RISC-V Image header,
// "RSC\x05" at 0x38, behind an EFI PE stub) that boots as is. Every network step has a
// timeout; an unreachable archive is one clear error, unless a kernel is cached already.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { which } from "./toolchain.js";
import { scaled } from "./time_scale.js";

export const DEBIAN_SUITE = "trixie";
export const DEBIAN_ARCHIVE = "http://deb.debian.org/debian";
const META_PACKAGE = "linux-image-riscv64";
const OPENSBI_PACKAGE = "opensbi";
const OPENSBI_FW_JUMP = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin";
const KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg";
/** How long the package lists are trusted before apt-get update runs again. */
const LISTS_MAX_AGE_MS = 24 * 3600 * 1000;
const UPDATE_TIMEOUT_MS = 180_000, DOWNLOAD_TIMEOUT_MS = 600_000;

export interface DebianKernel {
  package: string; version: string; image: string; config: string;
  /** trixie's OpenSBI fw_jump.bin (package opensbi, architecture all), the reference for the built-in SBI. */
  opensbi: string; opensbiVersion: string;
}

/** Why the kernel cannot be fetched on this host at all (not Debian's tools), or null. */
export function debianKernelUnavailable(): string | null {
  for (const t of ["apt-get", "apt-cache", "dpkg-deb", "tar"]) if (which(t) === null) return `${t} not found (Debian's apt tools fetch the kernel)`;
  if (!existsSync(KEYRING)) return `${KEYRING} missing (install debian-archive-keyring)`;
  return null;
}

function cacheDir(): string {
  // The guest image's cache root (scripts/lib/image.mjs cacheRoot).
  const root = process.env["RVISOR_CACHE"] ?? join(process.env["XDG_CACHE_HOME"] ?? join(homedir(), ".cache"), "rvisor");
  return join(root, "debian-kernel");
}

class AptRoot {
  readonly dir: string;
  constructor(base: string) {
    this.dir = join(base, `apt-${DEBIAN_SUITE}-riscv64`);
    for (const d of ["etc/apt/apt.conf.d", "etc/apt/preferences.d", "etc/apt/sources.list.d", "var/lib/apt/lists/partial", "var/cache/apt/archives/partial", "var/lib/dpkg"]) {
      mkdirSync(join(this.dir, d), { recursive: true });
    }
    const status = join(this.dir, "var/lib/dpkg/status");
    if (!existsSync(status)) writeFileSync(status, "");
    writeFileSync(join(this.dir, "etc/apt/sources.list"), `deb [arch=riscv64 signed-by=${KEYRING}] ${DEBIAN_ARCHIVE} ${DEBIAN_SUITE} main\n`);
  }

  private opts(): string[] {
    const d = this.dir;
    return ["-o", `Dir=${d}`, "-o", `Dir::State::status=${d}/var/lib/dpkg/status`, "-o", `Dir::Etc::SourceParts=${d}/etc/apt/sources.list.d`,
      "-o", `Dir::Etc::Parts=${d}/etc/apt/apt.conf.d`, "-o", `Dir::Etc::Preferences=${d}/etc/apt/preferences`,
      "-o", `Dir::Etc::PreferencesParts=${d}/etc/apt/preferences.d`, "-o", "APT::Architecture=riscv64", "-o", "APT::Architectures=riscv64",
      "-o", "Acquire::Languages=none", "-o", "Acquire::http::Timeout=30", "-o", "Acquire::Retries=1", "-o", "APT::Sandbox::User=root", "-q"];
  }

  run(tool: "apt-get" | "apt-cache", args: string[], timeoutMs: number, cwd?: string): { ok: boolean; out: string; err: string } {
    const r = spawnSync(tool, [...this.opts(), ...args], { encoding: "utf8", timeout: timeoutMs, cwd, killSignal: "SIGKILL" });
    const timedOut = r.error !== undefined && (r.error as NodeJS.ErrnoException).code === "ETIMEDOUT";
    const err = timedOut ? `timed out after ${timeoutMs / 1000} s` : r.stderr ?? String(r.error);
    return { ok: r.status === 0 && !timedOut, out: r.stdout ?? "", err };
  }

  listsAge(): number {
    const lists = join(this.dir, "var/lib/apt/lists");
    const files = readdirSync(lists).filter((f) => /_Packages(\.\w+)?$/.test(f)); // kept compressed (.lz4) by apt
    if (files.length === 0) return Infinity;
    return Date.now() - Math.max(...files.map((f) => statSync(join(lists, f)).mtimeMs));
  }
}

/**
 * A package's name and version in the lists; with `follow`, the linux-image-* package a
 * metapackage (linux-image-riscv64) depends on.
 */
function resolve(apt: AptRoot, name: string, follow: boolean): { pkg: string; version: string } | string {
  let pkg = name;
  if (follow) {
    const meta = apt.run("apt-cache", ["show", "--no-all-versions", name], 60_000);
    if (!meta.ok) return `apt-cache show ${name}: ${meta.err.trim()}`;
    const dep = /^Depends:\s*(linux-image-[^\s,(]+)/m.exec(meta.out);
    if (dep === null) return `${name} has no linux-image dependency:\n${meta.out}`;
    pkg = dep[1];
  }
  const show = apt.run("apt-cache", ["show", "--no-all-versions", pkg], 60_000);
  const ver = /^Version:\s*(\S+)/m.exec(show.out);
  if (!show.ok || ver === null) return `apt-cache show ${pkg}: ${show.err.trim()}`;
  return { pkg, version: ver[1] };
}

/** apt-get download PKG=VERSION, extracts `member` of its data into a scratch dir and hands that to `take`. */
function fetchPackage(apt: AptRoot, base: string, p: { pkg: string; version: string }, member: string, take: (dir: string) => void, log: (s: string) => void): void {
  log(`debian: apt-get download ${p.pkg}=${p.version}`);
  const work = mkdtempSync(join(base, "download-"));
  try {
    const dl = apt.run("apt-get", ["download", `${p.pkg}=${p.version}`], DOWNLOAD_TIMEOUT_MS, work);
    const deb = readdirSync(work).find((f) => f.endsWith(".deb"));
    if (!dl.ok || deb === undefined) throw new Error(`apt-get download ${p.pkg}=${p.version} failed: ${dl.err.trim().split("\n").slice(-3).join(" | ")}`);
    const x = join(work, "x");
    mkdirSync(x);
    const tar = spawnSync("sh", ["-c", `dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" "$3"`, "sh", join(work, deb), x, member], { encoding: "utf8", timeout: scaled(120_000) });
    if (tar.status !== 0) throw new Error(`extracting ${member} from ${deb}: ${tar.stderr}`);
    take(x);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function cached(base: string): DebianKernel | null {
  const cur = join(base, "current.json");
  if (!existsSync(cur)) return null;
  const c = JSON.parse(readFileSync(cur, "utf8")) as DebianKernel;
  return existsSync(c.image) && existsSync(c.config) && typeof c.opensbi === "string" && existsSync(c.opensbi) ? c : null;
}

/** Fetches (or finds in the cache) trixie's riscv64 kernel. Throws one clear error when it cannot. */
export function fetchDebianKernel(log: (s: string) => void = () => {}): DebianKernel {
  const why = debianKernelUnavailable();
  if (why !== null) throw new Error(why);
  const base = cacheDir();
  mkdirSync(base, { recursive: true });
  const apt = new AptRoot(base);
  const have = cached(base);
  if (have !== null && apt.listsAge() < LISTS_MAX_AGE_MS) return have;

  log(`debian kernel: apt-get update (${DEBIAN_SUITE} riscv64 from ${DEBIAN_ARCHIVE})`);
  const up = apt.run("apt-get", ["update"], UPDATE_TIMEOUT_MS);
  // apt-get update can exit 0 after failing to fetch (it warns): a missing Packages list is the test.
  if (!up.ok || apt.listsAge() === Infinity || /^(E|W): Failed to fetch/m.test(up.err)) {
    if (have !== null) { log(`debian kernel: archive unreachable, using the cached ${have.package} ${have.version}`); return have; }
    throw new Error(`cannot reach Debian's archive (${DEBIAN_ARCHIVE} ${DEBIAN_SUITE}) to fetch ${META_PACKAGE}: ${up.err.trim().split("\n").slice(-3).join(" | ")}`);
  }
  const r = resolve(apt, META_PACKAGE, true);
  if (typeof r === "string") throw new Error(r);
  const sbi = resolve(apt, OPENSBI_PACKAGE, false);
  if (typeof sbi === "string") throw new Error(sbi);
  const dest = join(base, `${r.pkg}_${r.version}`), sbiDest = join(base, `${sbi.pkg}_${sbi.version}`);
  const result: DebianKernel = {
    package: r.pkg, version: r.version, image: join(dest, "Image"), config: join(dest, "config"),
    opensbi: join(sbiDest, "fw_jump.bin"), opensbiVersion: sbi.version,
  };
  if (!existsSync(result.image) || !existsSync(result.config)) {
    fetchPackage(apt, base, r, "./boot", (x) => {
      const boot = readdirSync(join(x, "boot"));
      const vmlinux = boot.find((f) => f.startsWith("vmlinux-")), cfg = boot.find((f) => f.startsWith("config-"));
      if (vmlinux === undefined || cfg === undefined) throw new Error(`${r.pkg} has no /boot/vmlinux-* and /boot/config-* (has: ${boot.join(" ")})`);
      const img = readFileSync(join(x, "boot", vmlinux));
      // The RISC-V Image header (Documentation/arch/riscv/boot-image-header.rst): magic2 "RSC\x05" at 0x38.
      if (img.length < 64 || img.toString("latin1", 0x38, 0x3c) !== "RSC\x05") throw new Error(`${vmlinux} is not a RISC-V Image`);
      mkdirSync(dest, { recursive: true });
      renameSync(join(x, "boot", cfg), result.config);
      renameSync(join(x, "boot", vmlinux), result.image);
    }, log);
  }
  if (!existsSync(result.opensbi)) {
    fetchPackage(apt, base, sbi, `.${OPENSBI_FW_JUMP}`, (x) => {
      mkdirSync(sbiDest, { recursive: true });
      renameSync(join(x, OPENSBI_FW_JUMP), result.opensbi);
    }, log);
  }
  writeFileSync(join(base, "current.json"), JSON.stringify(result, null, 2) + "\n");
  return result;
}
