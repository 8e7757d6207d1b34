// Runs bare-metal ELFs on `qemu-system-riscv64 -M spike`, the reference the conformance,
// differential and benchmark programs are checked against. HTIF (tohost/fromhost symbols)
// gives the console and the exit status, exactly as on rvisor's bare-metal runner.
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { which } from "./toolchain.js";

export function qemuSystem(): string | null {
  return which(process.env["RVISOR_QEMU"] ?? "qemu-system-riscv64");
}

export interface QemuOptions {
  timeoutMs?: number;
  /** -icount shift=0: exact, deterministic instret/cycle (1 per instruction) and virtual time. */
  icount?: boolean;
  extraArgs?: readonly string[];
  /** Extra `-cpu rv64,...` properties, e.g. "zba=true,zbb=true" (QEMU 7.2 names). */
  cpuProps?: string;
}

export interface QemuResult {
  /** HTIF exit status, or null when QEMU was killed (timeout) or died by signal. */
  exitCode: number | null;
  /** Everything the program printed through the HTIF console. */
  output: string;
  /** QEMU's own diagnostics. */
  stderr: string;
  timedOut: boolean;
  seconds: number;
}

/**
 * Arguments for QEMU's spike board. `h=false` so misa matches rvisor's RV64IMAFDCSU
 * (QEMU 7.x enables the hypervisor extension by default).
 */
export function qemuSpikeArgs(elfPath: string, opts: QemuOptions = {}): string[] {
  return [
    "-M", "spike",
    "-cpu", "rv64,h=false" + (opts.cpuProps !== undefined && opts.cpuProps !== "" ? "," + opts.cpuProps : ""),
    "-m", "256M",
    "-bios", "none",
    "-nographic",
    "-monitor", "none",
    "-serial", "stdio",
    ...(opts.icount === true ? ["-icount", "shift=0"] : []),
    ...(opts.extraArgs ?? []),
    "-kernel", elfPath,
  ];
}

let runCounter = 0;

export function runQemuSpike(elfPath: string, opts: QemuOptions = {}): Promise<QemuResult> {
  const qemu = qemuSystem();
  if (qemu === null) return Promise.reject(new Error("qemu-system-riscv64 not found"));
  const timeoutMs = opts.timeoutMs ?? 30_000;
  // The console goes to a file, not a pipe: QEMU writes the HTIF console without blocking
  // and silently drops characters when a pipe/socket is full, and exits right after the
  // program's last write.
  const outPath = join(tmpdir(), `rvisor-qemu-${process.pid}-${++runCounter}.out`);
  const outFd = openSync(outPath, "w");
  return new Promise((resolvePromise, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(qemu, qemuSpikeArgs(elfPath, opts), { stdio: ["ignore", outFd, "pipe"] });
    const err: Buffer[] = [];
    const finish = (): string => {
      closeSync(outFd);
      const text = readFileSync(outPath).toString("latin1");
      unlinkSync(outPath);
      return text;
    };
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.stderr?.on("data", (b: Buffer) => err.push(b));
    child.on("error", (e) => {
      clearTimeout(timer);
      finish();
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolvePromise({
        exitCode: timedOut ? null : code,
        output: finish(),
        stderr: Buffer.concat(err).toString("utf8"),
        timedOut,
        seconds: Number(process.hrtime.bigint() - t0) / 1e9,
      });
    });
  });
}

/** Runs `tasks` with at most `limit` in flight; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}
