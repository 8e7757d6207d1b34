// Cross-toolchain helpers for tests and benchmarks: find riscv64 gcc/binutils and build
// bare-metal ELFs into a content-addressed cache outside the repository
// (os.tmpdir()/rvisor-test-cache/<sha256 of sources+flags>/), so repeated test runs do not
// recompile anything and concurrent runs never see half-written files.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

/** Prefix of the cross tools; override with RVISOR_CROSS_PREFIX (e.g. "riscv64-unknown-elf-"). */
export const CROSS_PREFIX = process.env["RVISOR_CROSS_PREFIX"] ?? "riscv64-linux-gnu-";

/** Directory holding package.json (works from both the .ts sources and dist/). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "test"))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error("repoRoot: package.json not found above " + fileURLToPath(import.meta.url));
    dir = up;
  }
}

/** Absolute path of an executable on PATH, or null. */
export function which(name: string): string | null {
  for (const d of (process.env["PATH"] ?? "").split(delimiter)) {
    if (d === "") continue;
    const p = join(d, name);
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return null;
}

export function crossGcc(): string | null {
  return which(CROSS_PREFIX + "gcc");
}

/** Message used when skipping because the cross compiler is missing (the only allowed skip). */
export function missingCompilerMessage(): string {
  return `${CROSS_PREFIX}gcc not found on PATH: install gcc-riscv64-linux-gnu (scripts/install-deps.sh)`;
}

/** Flags for every bare-metal program (conformance, differential, benchmark). */
export const BAREMETAL_FLAGS: readonly string[] = [
  "-march=rv64gc",
  "-mabi=lp64d",
  "-nostdlib",
  "-nostartfiles",
  "-static",
  "-fno-pie",
  "-no-pie",
  "-Wl,--build-id=none",
  "-Wl,--no-warn-rwx-segments",
];

export function conformanceDir(): string {
  return join(repoRoot(), "test", "conformance");
}

export function linkScript(): string {
  return join(conformanceDir(), "link.ld");
}

/** A source given either as a file on disk or as generated text. */
export type Source = { path: string } | { name: string; text: string };

export interface BuildSpec {
  /** Output file name (without directory), e.g. "rv64i.elf". */
  name: string;
  sources: readonly Source[];
  /** Extra compiler flags (after BAREMETAL_FLAGS and -T link.ld). */
  flags?: readonly string[];
  /** -I directories; every *.h file in them is part of the cache key. */
  includeDirs?: readonly string[];
  /** Linker script; defaults to test/conformance/link.ld. */
  linkerScript?: string;
}

export function cacheRoot(): string {
  return join(tmpdir(), "rvisor-test-cache");
}

function hashSpec(spec: BuildSpec, gcc: string): string {
  const h = createHash("sha256");
  const add = (label: string, data: string | Buffer): void => {
    h.update(`${label}\0${data.length}\0`);
    h.update(data);
  };
  add("gcc", gcc);
  add("flags", [...BAREMETAL_FLAGS, ...(spec.flags ?? [])].join("\u0001"));
  const ld = spec.linkerScript ?? linkScript();
  add("ld", readFileSync(ld));
  for (const s of spec.sources) {
    if ("path" in s) add("src:" + s.path.replace(/.*\//, ""), readFileSync(s.path));
    else add("src:" + s.name, s.text);
  }
  for (const dir of spec.includeDirs ?? []) {
    for (const f of readdirSync(dir).sort()) {
      if (f.endsWith(".h")) add("inc:" + f, readFileSync(join(dir, f)));
    }
  }
  return h.digest("hex").slice(0, 24);
}

/**
 * Builds one ELF with gcc into the cache and returns its path (cache hit: no gcc run).
 * Throws with gcc's diagnostics on failure.
 */
export function buildElf(spec: BuildSpec): string {
  const gcc = crossGcc();
  if (gcc === null) throw new Error(missingCompilerMessage());
  const dir = join(cacheRoot(), hashSpec(spec, gcc));
  const out = join(dir, spec.name);
  if (existsSync(out)) return out;
  mkdirSync(dir, { recursive: true });
  const srcPaths: string[] = [];
  for (const s of spec.sources) {
    if ("path" in s) srcPaths.push(resolve(s.path));
    else {
      const p = join(dir, s.name);
      writeFileSync(p, s.text);
      srcPaths.push(p);
    }
  }
  const tmp = `${out}.tmp${process.pid}`;
  const args = [
    ...BAREMETAL_FLAGS,
    "-T",
    spec.linkerScript ?? linkScript(),
    ...(spec.includeDirs ?? []).map((d) => "-I" + d),
    ...(spec.flags ?? []),
    ...srcPaths,
    "-o",
    tmp,
  ];
  const r = spawnSync(gcc, args, { encoding: "utf8" });
  if (r.status !== 0) {
    throw new Error(`${gcc} ${args.join(" ")}\nfailed (status ${String(r.status)}):\n${r.stderr}${r.stdout}`);
  }
  renameSync(tmp, out);
  return out;
}

/** The conformance programs (test/conformance/*.S), sorted. */
export function conformancePrograms(): string[] {
  return readdirSync(conformanceDir())
    .filter((f) => f.endsWith(".S"))
    .sort()
    .map((f) => join(conformanceDir(), f));
}

/**
 * What a conformance program needs, from `//! key: value` lines at its top:
 *   //! march: rv64gc_zba_zbb          compiler -march (default rv64gc)
 *   //! qemu-cpu: zba=true,zbb=true     extra QEMU -cpu properties for the reference run
 *   //! reference: spec                QEMU 7.2 lacks the extension: the program's own expected
 *                                      values (worked out from the specification) are the reference
 *   //! cpu: rv64gc                     rvisor's ISA profile for the run (default: max)
 */
export interface ConformanceMeta {
  march: string;
  qemuCpu: string;
  reference: "qemu" | "spec";
  cpu: string;
}

export function conformanceMeta(sourcePath: string): ConformanceMeta {
  const meta: ConformanceMeta = { march: "rv64gc", qemuCpu: "", reference: "qemu", cpu: "max" };
  for (const line of readFileSync(sourcePath, "utf8").split("\n")) {
    const m = /^\/\/! *([a-z-]+): *(.*?) *$/.exec(line);
    if (m === null) continue;
    const [, key, value] = m as unknown as [string, string, string];
    if (key === "march") meta.march = value;
    else if (key === "qemu-cpu") meta.qemuCpu = value;
    else if (key === "reference" && (value === "qemu" || value === "spec")) meta.reference = value;
    else if (key === "cpu") meta.cpu = value;
    else throw new Error(`${sourcePath}: unknown conformance directive //! ${key}: ${value}`);
  }
  return meta;
}

/**
 * Builds test/conformance/<name>.S with common.h. The "qemu" variant defines QEMU_QUIRKS,
 * which relaxes the few checks where QEMU 7.2 knowingly deviates (CHK_QUIRK in common.h).
 */
export function buildConformance(sourcePath: string, variant: "rvisor" | "qemu" = "rvisor"): string {
  const base = sourcePath.replace(/.*\//, "").replace(/\.S$/, "");
  return buildElf({
    name: `${base}${variant === "qemu" ? ".qemu" : ""}.elf`,
    sources: [{ path: sourcePath }],
    includeDirs: [conformanceDir()],
    flags: [`-march=${conformanceMeta(sourcePath).march}`, ...(variant === "qemu" ? ["-DQEMU_QUIRKS"] : [])],
  });
}
