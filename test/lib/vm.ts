// Drives managed VMs through the CLI with RVISOR_HOME in a temporary directory: run a verb,
// read `list --json`, wait for a VM's guest to boot, attach its console.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { GuestConsole, RVISOR_BIN } from "./guest.js";
import { scaled } from "./time_scale.js";

export const BOOT_TIMEOUT = 180_000;

export interface Run { code: number; stdout: string; stderr: string }

export function rvisor(env: NodeJS.ProcessEnv, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [RVISOR_BIN, ...args], { env, timeout: scaled(300_000) }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs a verb that must succeed; returns its stdout. */
export async function ok(env: NodeJS.ProcessEnv, ...args: string[]): Promise<string> {
  const r = await rvisor(env, ...args);
  assert.equal(r.code, 0, `rvisor ${args.join(" ")}: exit ${r.code}\n${r.stderr}`);
  return r.stdout;
}

export interface ListRow {
  name: string; state: string; cpus: number; memoryMib: number; pid: number | null;
  network: { id: string; model: string; mode: string; mac: string; switch?: string; hostfwd?: string[]; restrict?: boolean }[];
}
export async function list(env: NodeJS.ProcessEnv): Promise<Map<string, ListRow>> {
  const rows = JSON.parse(await ok(env, "list", "--json")) as ListRow[];
  return new Map(rows.map((r) => [r.name, r]));
}

/** Waits until the VM's console log (from byte `from`) matches `pattern` (default: the guest's banner). */
export async function waitLog(home: string, name: string, pattern: string | RegExp = "rvisor guest ready", from = 0, timeoutMs = BOOT_TIMEOUT): Promise<string> {
  const log = join(home, "vms", name, "console.log");
  const deadline = performance.now() + scaled(timeoutMs);
  for (;;) {
    const text = existsSync(log) ? readFileSync(log, "latin1").slice(from) : "";
    if (typeof pattern === "string" ? text.includes(pattern) : pattern.test(text)) return text;
    if (performance.now() > deadline) throw new Error(`VM '${name}': no ${String(pattern)} in its log; log:\n${text.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until the VM's console log shows the guest's banner. */
export async function waitReady(home: string, name: string): Promise<void> { await waitLog(home, name); }

/** The console log's length now (to wait for output after this point). */
export function logSize(home: string, name: string): number {
  const log = join(home, "vms", name, "console.log");
  return existsSync(log) ? readFileSync(log, "latin1").length : 0;
}

/**
 * Attaches `rvisor console NAME` and waits for a shell prompt (with `prompt: false` only for the
 * connection: a guest printing all the time hides its prompt, and GuestConsole.run needs none).
 */
export async function attach(env: NodeJS.ProcessEnv, name: string, opts: { prompt?: boolean } = {}): Promise<GuestConsole> {
  const g = new GuestConsole([name], "console", env);
  await g.waitFor("Escape character is ^]", 20_000);
  if (opts.prompt === false) return g;
  g.send("\n");
  await g.waitFor(/# $/m, 30_000);
  return g;
}

export function ticks(s: string): number[] { return [...s.matchAll(/TICK(\d+)/g)].map((m) => Number(m[1])); }
