// Builds the C test programs of the process VM with the Debian cross gcc into a
// content-addressed cache outside the repository (os.tmpdir()/rvisor-test-cache/<hash>/).
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn, spawnSync } from "node:child_process";
import { repoRoot, which } from "../lib/toolchain.js";
import { scaled } from "../lib/time_scale.js";

export const GCC = "riscv64-linux-gnu-gcc";
export const SYSROOT = "/usr/riscv64-linux-gnu";

export function toolsMissing(): string | false {
  if (which(GCC) === null) return `${GCC} not found`;
  if (which("qemu-riscv64") === null) return "qemu-riscv64 not found (it is the reference)";
  return false;
}

export function programSource(name: string): string {
  return join(repoRoot(), "test", "user", "programs", `${name}.c`);
}

/**
 * Compiles test/user/programs/NAME.c (static or dynamic); returns the cached binary's path.
 * `extraFlags` come last (e.g. `-O2 -march=rv64gc_zba_zbb`).
 */
export function buildProgram(name: string, linking: "static" | "dynamic", extraFlags: readonly string[] = []): string {
  const src = readFileSync(programSource(name));
  const flags = ["-O1", "-pthread", ...(linking === "static" ? ["-static"] : []), ...extraFlags];
  const hash = createHash("sha256").update(src).update(flags.join(" ")).digest("hex").slice(0, 16);
  const dir = join(tmpdir(), "rvisor-test-cache", hash);
  const out = join(dir, `${name}-${linking}`);
  if (existsSync(out)) return out;
  mkdirSync(dir, { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  const r = spawnSync(GCC, [...flags, "-o", tmp, programSource(name)], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${GCC} ${name}.c failed:\n${r.stderr}`);
  renameSync(tmp, out);
  return out;
}

export interface RunResult { code: number | null; stdout: string; stderr: string; ms: number }

export function run(cmd: string, args: string[], timeoutMs = 60_000, input?: string): Promise<RunResult> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const p = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "", stderr = "";
    p.stdout.on("data", (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on("data", (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => p.kill("SIGKILL"), scaled(timeoutMs));
    p.on("close", (code, sig) => { clearTimeout(timer); resolve({ code: code ?? (sig !== null ? -1 : null), stdout, stderr, ms: Date.now() - t0 }); });
    if (input !== undefined) p.stdin.end(input); else p.stdin.end();
  });
}

/**
 * Runs cmd in directory `cwd` with a small fixed environment (PATH `path`, LC_ALL=C, HOME=cwd,
 * TZ=UTC), `input` on stdin; killed after a minute.
 */
export function runIn(cmd: string, args: string[], cwd: string, path: string, input = ""): Promise<RunResult> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const p = spawn(cmd, args, { cwd, env: { PATH: path, LC_ALL: "C", HOME: cwd, TZ: "UTC" }, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "", stderr = "";
    p.stdout.on("data", (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on("data", (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => p.kill("SIGKILL"), 60_000);
    p.on("close", (code) => { clearTimeout(timer); resolve({ code, stdout, stderr, ms: Date.now() - t0 }); });
    p.stdin.end(input);
  });
}

export const RVISOR = join(repoRoot(), "bin", "rvisor.js");

export function rvisor(args: string[], timeoutMs?: number, input?: string): Promise<RunResult> {
  return run(process.execPath, [RVISOR, "exec", ...args], timeoutMs, input);
}

export function qemu(args: string[], timeoutMs?: number): Promise<RunResult> {
  return run("qemu-riscv64", args, timeoutMs);
}
