// Operations on managed VMs that several front ends share (the CLI verbs, and the Node/REST API
// over them): starting a VM's process, finding a live one, and stopping it gracefully.
//
// Graceful stop (virsh shutdown, docker stop -t): the board's power button is pressed
// (src/system/devices/power_button.ts: a gpio-keys KEY_POWER, as QEMU's virt boards have);
// rvisor's guest image runs busybox acpid, which powers the guest off through init (shutdown
// actions: sync, unmount), and the VM process ends when the guest's SBI reset call arrives.
// A guest that does not power off within the timeout (no acpid, a hung guest, a kernel without
// gpio-keys) is stopped by the host: the harts stop between instructions, the disks are flushed
// and closed (the "stop" control request); a VM process that does not even answer that is
// killed. A paused guest cannot react to the button, so it is stopped by the host at once.
import { spawn, type ChildProcess } from "node:child_process";
import type { Readable } from "node:stream";
import { closeSync, openSync, readFileSync } from "node:fs";
import type { VmConfig } from "../../hypervisor/config.js";
import { startRefusal } from "../../hypervisor/limits.js";
import { vmNodeOptions } from "../../hypervisor/memory.js";
import { HypervisorError, type HypervisorErrorKind } from "../../hypervisor/api.js";
import { READY_ENV, READY_FD, READY_LINE } from "../../hypervisor/control.js";
import { controlRequest, vmState, type VmStateInfo } from "./vm_control.js";
import { pidAlive, type VmExit, type VmStore } from "./vm_store.js";
import { assignWarm, vmMainEntry, type WarmPool } from "./vm_pool.js";

/**
 * An operation refused or failed for a reason the user can act on (exit status 1 in the CLI; a
 * 4xx/5xx by its kind in the REST API).
 */
export class VmOpError extends HypervisorError {
  constructor(message: string, kind: HypervisorErrorKind = "failed") { super(kind, message); }
}

const START_WAIT_MS = 15_000;
/** How long the host-side stop may take (flushing the disks) before the process is killed. */
const HOST_STOP_WAIT_MS = 10_000;
const KILL_WAIT_MS = 5000;

function readOrEmpty(file: string): string { try { return readFileSync(file, "utf8"); } catch { return ""; } }

export async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (pidAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
  return true;
}

export type LiveVm = VmStateInfo & { socket: string; pid: number };

/** The VM's live process (running or paused), or a VmOpError saying why there is none. */
export async function liveVm(store: VmStore, name: string): Promise<LiveVm> {
  const st = await vmState(store, name);
  if (st.runtime === null || (st.state !== "running" && st.state !== "paused")) {
    throw new VmOpError(st.state === "crashed" ? `VM '${name}' has crashed (its process is gone)` : `VM '${name}' is not running`, "state");
  }
  return { ...st, socket: st.runtime.socket, pid: st.runtime.pid };
}

/** The configs of the VMs that run now (live processes), except `except`. */
export async function runningConfigs(store: VmStore, except: string): Promise<VmConfig[]> {
  const out: VmConfig[] = [];
  for (const n of store.names()) {
    if (n === except) continue;
    const st = await vmState(store, n);
    if (st.state === "running" || st.state === "paused") out.push(store.read(n));
  }
  return out;
}

/**
 * Starts VM `name` in its own process; the caller holds the host lock (store.withLock).
 * Refused when it runs already or the host-wide limits would be exceeded.
 */
export async function startVmLocked(store: VmStore, name: string, env: NodeJS.ProcessEnv = process.env, pool: WarmPool | null = null): Promise<number> {
  const cfg = store.read(name);
  const st = await vmState(store, name);
  if (st.state === "running" || st.state === "paused") throw new VmOpError(`VM '${name}' is already ${st.state}`, "state");
  const limits = store.limits(env);
  // Asking every running VM for its state costs a round trip each: only when a limit needs it.
  if (limits.cpu !== null || limits.memoryMib !== null) {
    const refusal = startRefusal(limits, await runningConfigs(store, name), cfg);
    if (refusal !== null) throw new VmOpError(refusal, "limit");
  }
  store.clearRuntime(name);
  const warm = pool?.take() ?? null;
  if (warm === null) return spawnVmProcess(store, name, env);
  try {
    assignWarm(store, warm, name);
    return await awaitReady(store, name, warm.child, warm.pid, warm.ctl);
  } finally { pool?.refill(); }
}

/**
 * Spawns the VM process (vm_main.js NAME) detached and waits until it says it is up on the
 * start-up pipe (fd 3, see vm_process.ts), or dies trying.
 */
async function spawnVmProcess(s: VmStore, name: string, env: NodeJS.ProcessEnv): Promise<number> {
  const err = openSync(s.errPath(name), "w");
  const stdio: ("ignore" | "pipe" | number)[] = ["ignore", "ignore", err];
  while (stdio.length < READY_FD) stdio.push("ignore");
  stdio.push("pipe");
  const child = spawn(process.execPath, [...vmNodeOptions(), vmMainEntry(), name], {
    detached: true, stdio, env: { ...env, RVISOR_HOME: s.root, [READY_ENV]: String(READY_FD) },
  });
  closeSync(err);
  const pid = child.pid;
  const ready = child.stdio[READY_FD];
  if (pid === undefined || ready === null || ready === undefined) { child.unref(); throw new VmOpError(`cannot start VM '${name}': spawn failed`); }
  return awaitReady(s, name, child, pid, ready as Readable);
}

/** Waits until VM process `pid` (a fresh or a warm one) writes READY_LINE on `ready`, or dies trying. */
async function awaitReady(s: VmStore, name: string, child: ChildProcess, pid: number, ready: Readable): Promise<number> {
  if (child.exitCode !== null || child.signalCode !== null) throw new VmOpError(`VM '${name}' failed to start: its process is gone`);
  const outcome = await new Promise<"ready" | "exited" | "timeout">((resolve) => {
    let got = "";
    const timer = setTimeout(() => resolve("timeout"), START_WAIT_MS);
    const done = (v: "ready" | "exited"): void => { clearTimeout(timer); resolve(v); };
    ready.on("data", (d: Buffer) => { got += d.toString("latin1"); if (got.includes(READY_LINE)) done("ready"); });
    ready.on("error", () => undefined);
    child.once("exit", () => done("exited"));
    child.once("error", () => done("exited"));
  });
  ready.destroy();
  child.unref();
  if (outcome === "ready") {
    // The process recorded itself before it wrote the line.
    const rt = s.runtime(name);
    if (rt !== null && rt.pid === pid) return pid;
  }
  if (outcome === "timeout") throw new VmOpError(`VM '${name}' did not come up within ${START_WAIT_MS / 1000} s (pid ${pid})`);
  const why = readOrEmpty(s.errPath(name)).trim().split("\n").filter((l) => l !== "" && !l.startsWith("vm timing:")).slice(-3).join("\n").replace(/^rvisor: /, "");
  throw new VmOpError(`VM '${name}' failed to start${why === "" ? "" : `: ${why}`}`);
}

export interface ShutdownOptions {
  /** How long the guest has to power off after the button press (default 30 s). */
  timeoutMs?: number;
  /** Skip the guest: stop from the host side at once. */
  force?: boolean;
}

export interface ShutdownResult {
  /** guest: it powered itself off; host: the host stopped it (harts stopped, disks flushed); killed: SIGKILL. */
  how: "guest" | "host" | "killed";
  /** Why the host stepped in (null when the guest powered off). */
  why: "forced" | "paused" | "timeout" | "no-answer" | null;
  pid: number;
  /** How the run ended, as the VM process recorded it (null when killed). */
  exit: VmExit | null;
}

export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000;

/** Asks VM `name`'s guest to power off; stops it from the host when it does not (see the top of this file). */
export async function shutdownVm(store: VmStore, name: string, opts: ShutdownOptions = {}): Promise<ShutdownResult> {
  const v = await liveVm(store, name);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
  let why: ShutdownResult["why"] = opts.force === true ? "forced" : v.state === "paused" ? "paused" : "timeout";
  if (why === "timeout") {
    let pressed = false;
    try { pressed = (await controlRequest(v.socket, "powerdown")).ok; } catch { why = "no-answer"; }
    if (pressed && await waitGone(v.pid, timeoutMs)) {
      const exit = store.lastExit(name);
      return { how: exit?.reason === "poweroff" ? "guest" : "host", why: exit?.reason === "poweroff" ? null : "timeout", pid: v.pid, exit };
    }
  }
  let asked = false;
  try { asked = (await controlRequest(v.socket, "stop")).ok; } catch { /* unresponsive: killed below */ }
  if (asked && await waitGone(v.pid, HOST_STOP_WAIT_MS)) return { how: "host", why, pid: v.pid, exit: store.lastExit(name) };
  try { process.kill(v.pid, "SIGKILL"); } catch { /* already gone */ }
  await waitGone(v.pid, KILL_WAIT_MS);
  store.clearRuntime(name);
  return { how: "killed", why: asked ? why : "no-answer", pid: v.pid, exit: null };
}

/** Kills VM `name`'s process (SIGKILL) and clears what it left behind. */
export async function killVm(store: VmStore, name: string): Promise<number> {
  const v = await liveVm(store, name);
  try { process.kill(v.pid, "SIGKILL"); } catch { /* already gone */ }
  await waitGone(v.pid, KILL_WAIT_MS);
  store.clearRuntime(name);
  return v.pid;
}
