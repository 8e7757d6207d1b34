// A pool of warm VM processes: Node already started and the VM process's modules loaded, but no
// VM yet, so that starting a VM (a cold start, or the restore of a shut-off VM) costs only
// building or restoring its machine — not Node's start-up and module loading (0.2–0.35 s).
//
// Isolation is as without the pool: a warm process is handed one VM's name and becomes that
// VM's process for good (as `node vm_main.js NAME` would have been): it is never given back, nor
// reused for another VM; the pool starts a fresh one in the background to replace it.
//
// The handshake (the socket pair the starter passes as fd 3, READY_FD):
//   warm process → pool     WARM_LINE         modules loaded, waiting for a VM
//   pool → warm process     {"vm": NAME}\n    become VM NAME (its vm.err is already in place)
//   warm process → pool     READY_LINE        VM NAME serves its socket and is recorded (as a cold start)
// A warm process whose pool goes away (the manager exits or is killed: its end of the socket
// pair closes) before it was given a VM exits at once, so an idle pooled process never outlives
// its manager; once given a VM it runs detached like any VM process and survives the manager.
//
// The pool lives in a long-lived Hypervisor (`rvisor serve`, a Node program that passes
// `warmPool`); a one-shot CLI command has none and starts its VM process cold.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync, renameSync, rmSync, statSync } from "node:fs";
import type { Socket } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { READY_FD } from "../../hypervisor/control.js";
import { vmNodeOptions } from "../../hypervisor/memory.js";
import type { VmStore } from "./vm_store.js";

/** The VM process's entry (vm_main.ts) as tsc compiles it, spawned with node directly: it loads only what a VM runs. */
export const VM_MAIN = fileURLToPath(new URL("./vm_main.js", import.meta.url));
/** The same entry bundled into one script by scripts/vm-bundle.mjs (`npm run build`). */
export const VM_BUNDLE = fileURLToPath(new URL("../../../bundle/vm.cjs", import.meta.url));

function mtimeMs(file: string): number | null {
  try { return statSync(file).mtimeMs; } catch { return null; }
}

/**
 * The script a VM process runs: the bundle when there is one at least as new as the compiled
 * vm_main.js (as bin/rvisor.js chooses the CLI bundle), else vm_main.js itself, so that after a bare
 * `tsc -p .` VMs run the code just compiled. Asked at each start: a rebuild under a long-lived
 * manager (`rvisor serve`) takes effect with the next VM process.
 */
export function vmMainEntry(bundle = VM_BUNDLE, modules = VM_MAIN): string {
  const b = mtimeMs(bundle), m = mtimeMs(modules);
  return b !== null && (m === null || b >= m) ? bundle : modules;
}
/** vm_main.js's argument that makes it a warm process instead of VM NAME. */
export const WARM_ARG = "--warm";
/** What a warm process writes on fd 3 once its modules are loaded. */
export const WARM_LINE = "warm\n";
/** The environment variable that tells a warm process its own stderr file (it removes it when it exits unused). */
export const WARM_ERR_ENV = "RVISOR_VM_WARM_ERR";
/** How long a warm process may take to load its modules before the pool gives up on it. */
const WARM_START_MS = 30_000;

/** A warm process taken from the pool, to be given one VM (assign). */
export interface WarmProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** The pool's end of the socket pair (fd 3 in the child). */
  readonly ctl: Socket;
  /** The stderr file the process writes to; it becomes the VM's vm.err. */
  readonly errPath: string;
}

export class WarmPool {
  private readonly ready: WarmProcess[] = [];
  private starting = 0;
  private closed = false;
  private seq = 0;

  /** `size` warm processes are kept (0: none; the pool then does nothing). */
  constructor(private readonly store: VmStore, private readonly env: NodeJS.ProcessEnv, readonly size: number) {
    if (!Number.isInteger(size) || size < 0) throw new RangeError(`warm pool size must be a whole number (got ${size})`);
  }

  /** The pids of the warm processes that wait for a VM now. */
  pids(): number[] { return this.ready.map((w) => w.pid); }

  /** A warm process (removed from the pool for good), or null when none is ready. */
  take(): WarmProcess | null { return this.ready.shift() ?? null; }

  /** Starts warm processes in the background until `size` are ready or starting. */
  refill(): void {
    while (!this.closed && this.ready.length + this.starting < this.size) this.spawnOne();
  }

  /** Resolves once `size` processes are warm (or the pool is closed). */
  async whenFull(timeoutMs = WARM_START_MS): Promise<void> {
    this.refill();
    const deadline = performance.now() + timeoutMs;
    while (!this.closed && this.ready.length < this.size) {
      if (performance.now() > deadline) throw new Error(`the warm pool did not fill within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Ends every idle warm process (closing its socket pair is enough: it exits when the pool goes away). */
  close(): void {
    this.closed = true;
    for (const w of this.ready.splice(0)) { w.ctl.destroy(); try { w.child.kill("SIGTERM"); } catch { /* gone */ } }
  }

  private spawnOne(): void {
    const dir = join(this.store.root, "pool");
    mkdirSync(dir, { recursive: true });
    const errPath = join(dir, `warm-${process.pid}-${++this.seq}.err`);
    const err = openSync(errPath, "w");
    const stdio: ("ignore" | "pipe" | number)[] = ["ignore", "ignore", err];
    while (stdio.length < READY_FD) stdio.push("ignore");
    stdio.push("pipe");
    const child = spawn(process.execPath, [...vmNodeOptions(), vmMainEntry(), WARM_ARG], {
      detached: true, stdio, env: { ...this.env, RVISOR_HOME: this.store.root, [WARM_ERR_ENV]: errPath },
    });
    closeSync(err);
    const ctl = child.stdio[READY_FD] as Socket | null | undefined;
    const pid = child.pid;
    if (pid === undefined || ctl === null || ctl === undefined) { child.unref(); rmSync(errPath, { force: true }); return; }
    // Neither keeps the manager alive; its exit closes the pair and so ends the idle process.
    child.unref();
    ctl.unref();
    this.starting++;
    const w: WarmProcess = { child, pid, ctl, errPath };
    let got = "";
    let warm = false;
    const timer = setTimeout(() => { if (!warm) { ctl.destroy(); child.kill("SIGKILL"); } }, WARM_START_MS);
    timer.unref();
    const onData = (d: Buffer): void => {
      got += d.toString("latin1");
      if (warm || !got.includes(WARM_LINE)) return;
      warm = true;
      clearTimeout(timer);
      ctl.off("data", onData);
      this.starting--;
      if (this.closed) { ctl.destroy(); return; }
      this.ready.push(w);
    };
    ctl.on("data", onData);
    ctl.on("error", () => undefined);
    // A process that dies before or while it waits leaves the pool (it is not replaced at once,
    // so a process that cannot start does not respawn in a loop: the next take refills).
    child.once("exit", () => {
      clearTimeout(timer);
      if (!warm) { this.starting--; rmSync(errPath, { force: true }); }
      const i = this.ready.indexOf(w);
      if (i >= 0) this.ready.splice(i, 1);
    });
  }
}

/**
 * Gives warm process `w` VM `name`: its stderr file becomes the VM's vm.err, then it is told the
 * name. The caller waits for READY_LINE on `w.ctl` as for a cold start.
 */
export function assignWarm(store: VmStore, w: WarmProcess, name: string): void {
  try { renameSync(w.errPath, store.errPath(name)); } catch { /* vm.err stays where it was; the VM still runs */ }
  w.ctl.write(`${JSON.stringify({ vm: name })}\n`);
}
