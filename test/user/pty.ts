// Drives a program on a real pseudo-terminal (test/user/pty_run.py, Python's pty module): type
// bytes, wait for output, collect the exit status.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { repoRoot, which } from "../lib/toolchain.js";
import { scaled } from "../lib/time_scale.js";

// The system python first: a version manager's shim may need a PATH that the test replaces.
export const PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : which("python3");
const PTY_PY = join(repoRoot(), "test", "user", "pty_run.py");

export class PtySession {
  /** Everything the program wrote to the terminal so far. */
  out = "";
  private readonly p: ChildProcessWithoutNullStreams;
  private err = "";
  private waiters: (() => void)[] = [];
  private exitCode: number | null = null;
  readonly exited: Promise<number>;
  private readonly t0 = Date.now();

  constructor(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
    this.p = spawn(PYTHON ?? "python3", [PTY_PY, cmd, ...args], { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
    this.p.stdout.on("data", (d: Buffer) => { this.out += d.toString("latin1"); this.wake(); });
    this.p.stderr.on("data", (d: Buffer) => { this.err += d.toString(); });
    this.exited = new Promise((resolve) => {
      this.p.on("close", (code) => {
        const m = /pty-exit: (\d+)/.exec(this.err);
        this.exitCode = m !== null ? Number(m[1]) : code ?? -1;
        this.wake();
        resolve(this.exitCode);
      });
    });
  }

  private wake(): void { const w = this.waiters; this.waiters = []; for (const f of w) f(); }

  /** Milliseconds since the start. */
  get ms(): number { return Date.now() - this.t0; }

  /** Types bytes on the terminal. */
  send(s: string): void { this.p.stdin.write(Buffer.from(s, "latin1")); }

  /** Waits until the output after offset `from` matches; returns the offset just past the match. */
  async expect(re: RegExp, from: number, timeoutMs = 20_000): Promise<number> {
    const deadline = Date.now() + scaled(timeoutMs);
    for (;;) {
      const m = re.exec(this.out.slice(from));
      if (m !== null) return from + m.index + m[0].length;
      if (this.exitCode !== null) throw new Error(`exited (${this.exitCode}) before ${re} appeared; output:\n${JSON.stringify(this.out.slice(from))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${re}; output:\n${JSON.stringify(this.out.slice(from))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
  }

  /** Waits for the exit status (killing the session after timeoutMs). */
  async wait(timeoutMs = 20_000): Promise<number> {
    const timer = setTimeout(() => this.kill(), scaled(timeoutMs));
    try { return await this.exited; } finally { clearTimeout(timer); }
  }

  /** Kills the program on the terminal and the relay. */
  kill(): void {
    const m = /pty-pid: (\d+)/.exec(this.err);
    if (m !== null) { try { process.kill(Number(m[1]), "SIGKILL"); } catch { /* gone */ } }
    this.p.kill("SIGKILL");
  }
}
