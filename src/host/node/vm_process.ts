// The process of one running VM (`rvisor __vm NAME`, spawned detached by `rvisor start`): as
// each KVM guest is a QEMU process and each Firecracker microVM its own process, a guest that
// crashes, hangs or exhausts its memory takes only this process down.
//
// It builds the machine from vms/NAME/config.json, serves the control socket (JSON lines, see
// src/hypervisor/control.ts), writes the console output to console.log (rotated), records itself
// in vm.json, and on a clean end writes exit.json and removes vm.json and the socket. A VM whose
// vm.json names a dead process therefore died without a clean exit: `list` reports it crashed.
//
// Pause stops stepping the harts and freezes the guest's clock (the CLINT's mtime is read from
// a GuestClock that does not advance while paused), so on resume no timer has jumped, as with
// QEMU's `stop`/`cont`. The goldfish RTC keeps host wall time, as QEMU's default rtc clock=host.
//
// Power: "powerdown" presses the board's power button (a gpio-keys KEY_POWER, see
// src/system/devices/power_button.ts; rvisor's guest image answers it with a clean poweroff), and
// the run ends when the guest powers off (exit reason "poweroff"). "stop" ends the run from the
// host side: the harts stop between instructions, the disks are flushed (fsync) and closed, the
// log is closed, and the process exits 0 (exit reason "stop"). `rvisor stop` does the first and
// falls back to the second after its timeout (src/host/node/vm_ops.ts).
//
// Snapshots ("snapshot") run between two run slices with the guest's clock stopped
// (src/host/node/vm_snapshot.ts). A VM whose directory holds a pending restore (restore.json,
// written by `rvisor restore` of a shut-off VM and `rvisor clone --snapshot`) starts from that
// machine state instead of booting; it reads no kernel or initrd (they are read if the guest
// reboots). `rvisor restore` of a live VM is the "restore" request: the same process drops its
// machine for the snapshot's (see restoreInPlace), which costs no process start.
//
// Start-up handshake: the starter passes a pipe as fd 3 (READY_FD) and says so in the
// environment (RVISOR_VM_READY_FD=3); the process writes one line to it once it serves its
// socket and has recorded itself in vm.json, then closes it, so the starter waits for an event
// rather than polling. Started by hand (no such variable), nothing is written.
//
// Memory: guest RAM is one fixed WebAssembly.Memory of the VM's size (the guest cannot grow it);
// the JavaScript heap is capped by the starter (--max-old-space-size, vm_ops.ts); and the process
// checks its own resident size every MEMORY_CHECK_MS against memoryCapBytes(): past it, the run
// ends with an error exit instead of pressing on the host (README, "Persistent VMs", has the figures).
import { closeSync, mkdtempSync, openSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { setFlagsFromString } from "node:v8";
import { join } from "node:path";
import { createServer, type Server, type Socket } from "node:net";
import type { VmConfig } from "../../hypervisor/config.js";
import { parseControlRequest, READY_ENV, READY_FD, READY_LINE, type ControlReply, type RestoreRequest, type RunState } from "../../hypervisor/control.js";
import { memoryCapBytes, TEST_HOST_GROW_ENV, TEST_HOST_GROW_MS } from "../../hypervisor/memory.js";
import { captureSnapshot, machineFromSnapshot, parseSnapshot, SnapshotError, type Snapshot } from "../../system/snapshot.js";
import type { CharBackend } from "../../system/devices/char_backend.js";
import { VirtMachine, type ExitReason } from "../../system/machine.js";
import { RunLoop } from "./run_loop.js";
import { openVmNics, type VmNics } from "./vm_net.js";
import { buildVmMachine, loadBootFiles, openVmResources, VmBuildError, type VmResources } from "./virt_build.js";
import { DiskOpenError, openDisk, type OpenDisk } from "./disk_image.js";
import { LOG_MAX_BYTES, VmStore, writeFileAtomic, type VmExit } from "./vm_store.js";
import { readSnapshotFile } from "./snapshot_file.js";
import { clearPendingRestore, createDiskImage, pendingRestore, takeSnapshot } from "./vm_snapshot.js";

/** Host milliseconds that stand still while the VM is paused: the guest's monotonic time base. */
export class GuestClock {
  private pausedAt: number | null = null;
  private pausedTotal = 0;
  constructor(private readonly host: () => number = () => performance.now()) {}
  now(): number { return (this.pausedAt ?? this.host()) - this.pausedTotal; }
  pause(): void { if (this.pausedAt === null) this.pausedAt = this.host(); }
  resume(): void {
    if (this.pausedAt === null) return;
    this.pausedTotal += this.host() - this.pausedAt;
    this.pausedAt = null;
  }
  get paused(): boolean { return this.pausedAt !== null; }
}

/** console.log, rotated to console.log.1 once it passes `max` bytes (so at most 2 × max on disk). */
export class RotatingLog {
  private fd: number;
  private size: number;
  constructor(private readonly path: string, private readonly max = LOG_MAX_BYTES) {
    this.fd = openSync(path, "a", 0o644);
    this.size = statSync(path).size;
  }
  write(b: Uint8Array): void {
    if (this.size + b.length > this.max && this.size > 0) this.rotate();
    writeSync(this.fd, b);
    this.size += b.length;
  }
  private rotate(): void {
    closeSync(this.fd);
    renameSync(this.path, `${this.path}.1`);
    this.fd = openSync(this.path, "a", 0o644);
    this.size = 0;
  }
  close(): void { closeSync(this.fd); }
}

/** Guest console output: batched per run slice, then to the log and every attached client. */
class ConsoleFanout implements CharBackend {
  private chunks: Uint8Array[] = [];
  readonly clients = new Set<Socket>();
  constructor(private readonly log: RotatingLog) {}
  write(bytes: Uint8Array): void { this.chunks.push(bytes.slice()); }
  flush(): void {
    if (this.chunks.length === 0) return;
    const out = Buffer.concat(this.chunks);
    this.chunks = [];
    this.log.write(out);
    for (const c of this.clients) c.write(out);
  }
}

/** The share of one host core the run loop may use is enforced over windows this long. */
const QUOTA_WINDOW_MS = 1000;
/** How often the process compares its resident size with its cap. */
const MEMORY_CHECK_MS = 500;
/**
 * How long a VM past its memory cap has to end its run cleanly (stop the harts, flush the disks)
 * before it records the exit and kills itself with SIGKILL.
 */
const MEMORY_STOP_GRACE_MS = 5000;
/**
 * An idle VM drops its decoded code: the guest retiring fewer than IDLE_INSNS_PER_S instructions
 * a second over IDLE_TRIM_MS (a Linux guest waiting in WFI between timer ticks) has its decoded
 * blocks and their WebAssembly translations dropped and the heap collected (compacting), and again
 * after each further idle IDLE_TRIM_MS: an idle Linux guest's timer, scheduler and daemons decode
 * some 3 MiB of blocks anew within a window, which would otherwise stay. The first work after a
 * trim decodes its code afresh (as after a code write). Measured on 4 idle 64 MiB clones
 * (README, "Persistent VMs"): trimming once, 16.4-16.6 MiB private above guest RAM and 0.6 % of a
 * core each; trimming every idle window, 13.1-15.0 MiB and 1.1 % of a core.
 */
export const IDLE_TRIM_MS = 10_000;
const IDLE_INSNS_PER_S = 5_000_000;

/** Where the time of a start went (RVISOR_VM_TIMING=1 writes it to stderr, i.e. vm.err), from process start. */
const marks: [string, number][] = [];
function mark(what: string): void { marks.push([what, performance.now()]); }
/** Records a step of the start in the RVISOR_VM_TIMING line (vm_main.ts: a warm process's assignment). */
export function markVm(what: string): void { mark(what); }

/**
 * Runs VM `name` in this process. `onReady` is told once it serves its socket and is recorded
 * (a warm process answers its pool with it); without it, the start-up pipe of fd 3 is used.
 */
export async function vmProcessMain(name: string, onReady: () => void = signalReady): Promise<number> {
  // Built in a function of its own: the snapshot file's bytes (as large as the guest RAM it
  // held) are garbage once the machine is restored, not kept alive by this frame for the run.
  const vm = await loadVm(name);
  return vm.run(onReady);
}

async function loadVm(name: string): Promise<VmProcess> {
  mark("modules loaded");
  const store = new VmStore();
  const cfg = store.read(name);
  const pending = pendingRestore(store, name);
  // The disks open (I/O) while the snapshot file is read and checked (mostly CPU). From a
  // snapshot the kernel and initrd are not needed unless the guest reboots.
  const resP = openVmResources(cfg, { bootFiles: pending === null });
  const snapP = pending === null ? Promise.resolve(null) : readSnapshotFile(pending.machine).then((b) => {
    const snap = parseSnapshot(b);
    mark("snapshot read and checked");
    return { snap, state: pending.state };
  });
  const [resR, snapR] = await Promise.allSettled([resP, snapP]);
  if (snapR.status === "rejected") {
    if (resR.status === "fulfilled") await Promise.all(resR.value.drives.map((d) => d.close().catch(() => undefined)));
    throw snapR.reason;
  }
  if (resR.status === "rejected") throw resR.reason;
  const [res, from] = [resR.value, snapR.value];
  mark("disks opened");
  // The cards' backends (forwards listening, switch ports joined): a taken host port fails the start.
  let kick = (): void => undefined;
  let nics: VmNics;
  try { nics = await openVmNics(cfg, store.root, () => kick()); } catch (e) {
    await Promise.all(res.drives.map((d) => d.close().catch(() => undefined)));
    throw e;
  }
  const vm = new VmProcess(store, cfg, res, nics, from);
  kick = () => vm.kick();
  mark(from === null ? "machine built" : "machine restored");
  // Loaded: a later start boots (the run goes on from the snapshot's state, not back to it).
  if (pending !== null) clearPendingRestore(store, name);
  return vm;
}

/** RAM of the throw-away machine primeRestore builds (the board's smallest sensible size). */
const PRIME_MEM_BYTES = 16 << 20;
/** How often primeRestore runs the restore path (V8 optimizes what runs repeatedly). */
const PRIME_ROUNDS = 3;
/** The throw-away machine's one instruction: `j .` (jal x0, 0). */
const PRIME_PROGRAM = Uint8Array.of(0x6f, 0x00, 0x00, 0x00);

/**
 * Runs what a restore runs once on throw-away objects, so that a warm process
 * (src/host/node/vm_pool.ts) meets its real VM with that code compiled rather than cold (a first
 * qcow2 open and a first snapshot load cost several times their later runs): a qcow2 image
 * made, opened and closed in a temporary directory, and a small bare machine captured, checked
 * and restored. Nothing of it is kept.
 */
export async function primeRestore(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "rvisor-prime-"));
  try {
    const img = join(dir, "prime.qcow2");
    await createDiskImage(img, 1 << 20, "qcow2");
    for (let i = 0; i < PRIME_ROUNDS; i++) await (await openDisk(img, { format: "qcow2", lock: false })).close();
  } finally { rmSync(dir, { recursive: true, force: true }); }
  const sink: CharBackend = { write: () => undefined };
  const m = new VirtMachine({ memBytes: PRIME_MEM_BYTES, harts: 1, firmware: { kind: "none" }, kernel: PRIME_PROGRAM, console: sink, clock: () => 0 });
  m.step(1000);
  const file = captureSnapshot(m, { producer: "rvisor prime" });
  for (let i = 0; i < PRIME_ROUNDS; i++) machineFromSnapshot(parseSnapshot(file), { drives: [], console: sink, clock: () => 0 });
  collectGarbage();
}

/** V8's gc() when the process was started with --expose-gc. */
function exposedGc(): (() => void) | undefined { return (globalThis as { gc?: () => void }).gc; }

/**
 * A full, compacting collection soon (when started with --expose-gc): what loading a snapshot or
 * a burst of guest work left behind goes, and the heap's pages with it. V8 compacts only the
 * pages its heuristics pick, so a heap that once held a snapshot's bytes or tens of thousands of
 * decoded instructions would keep most of its pages, each partly used; compacting on this one
 * collection (the flag is set around it, not for the process's other collections, whose pauses
 * the guest would feel) moves the live objects together and gives the emptied pages back.
 */
function collectGarbage(): void {
  const gc = exposedGc();
  if (gc === undefined) return;
  setImmediate(() => {
    setFlagsFromString("--compact-on-every-full-gc");
    try { gc(); } finally { setFlagsFromString("--no-compact-on-every-full-gc"); }
  });
}

/** Tells the starter (fd 3, if it gave one) that the VM is up. */
function signalReady(): void {
  if (process.env[READY_ENV] !== String(READY_FD)) return;
  delete process.env[READY_ENV];
  try { writeSync(READY_FD, READY_LINE); } catch { /* the starter went away */ }
  try { closeSync(READY_FD); } catch { /* already closed */ }
}

class VmProcess {
  private readonly clock = new GuestClock();
  private readonly log: RotatingLog;
  private readonly console: ConsoleFanout;
  private machine: VirtMachine;
  private loop: RunLoop;
  private state: RunState = "running";
  private stopRequested = false;
  private wakeResume: (() => void) | null = null;
  /** Work that needs the harts still (snapshots): run by runGuest between slices, in order. */
  private readonly jobs: (() => Promise<void>)[] = [];
  private server: Server | null = null;
  /** The resident size that passed the memory cap (the run then ends with an error), or null. */
  private memoryExceeded: number | null = null;
  private readonly socket: string;
  // CPU quota accounting (process CPU time against wall time in the current window).
  private windowWall = performance.now();
  private windowCpu = process.cpuUsage();

  constructor(private readonly store: VmStore, private cfg: VmConfig, private readonly res: VmResources,
    private readonly nics: VmNics, from: { snap: Snapshot; state: RunState } | null) {
    this.log = new RotatingLog(store.logPath(cfg.name));
    this.console = new ConsoleFanout(this.log);
    this.machine = from === null ? this.build() : this.fromSnapshot(from.snap, res.drives);
    this.loop = new RunLoop(this.machine);
    if (from?.state === "paused") this.setState("paused");
    this.socket = store.socketPath(cfg.name);
  }

  private build(): VirtMachine { return buildVmMachine(this.cfg, this.res, this.nics.nics, this.console, () => this.clock.now()); }

  /** A frame for the guest arrived from a network backend: wake the run loop. */
  kick(): void { this.loop.kick(); }

  /** The snapshot's machine on `drives` and this VM's shares and console (throws SnapshotError, untouched, when it does not fit). */
  private fromSnapshot(snap: Snapshot, drives: readonly OpenDisk[]): VirtMachine {
    return machineFromSnapshot(snap, {
      drives: drives.map((d) => d.backend), shares: this.res.shares, nics: this.nics.nics, console: this.console, clock: () => this.clock.now(),
    });
  }

  async run(onReady: () => void): Promise<number> {
    await this.listen();
    rmSync(this.store.exitPath(this.cfg.name), { force: true });
    writeFileAtomic(this.store.runtimePath(this.cfg.name),
      `${JSON.stringify({ pid: process.pid, socket: this.socket, startedAt: new Date().toISOString() })}\n`);
    process.on("SIGTERM", () => this.requestStop());
    process.on("SIGINT", () => this.requestStop());
    mark("recorded");
    if (process.env.RVISOR_VM_TIMING === "1") {
      process.stderr.write(`vm timing: ${marks.map(([w, t]) => `${w} ${t.toFixed(0)} ms`).join(", ")}\n`);
    }
    onReady();
    collectGarbage();
    const cap = memoryCapBytes(this.cfg.memoryMib);
    const memCheck = setInterval(() => {
      let rss = process.memoryUsage.rss();
      if (rss <= cap || this.memoryExceeded !== null) return;
      // Garbage (a snapshot's buffers, say) is not memory the VM holds: collect it, then judge.
      const gc = exposedGc();
      if (gc !== undefined) { gc(); rss = process.memoryUsage.rss(); if (rss <= cap) return; }
      this.memoryExceeded = rss;
      this.requestStop();
      // A run that cannot end cleanly in time still ends: the exit is recorded, then SIGKILL.
      setTimeout(() => {
        writeFileAtomic(this.store.exitPath(this.cfg.name), `${JSON.stringify(this.memoryExit())}\n`);
        process.kill(process.pid, "SIGKILL");
      }, MEMORY_STOP_GRACE_MS).unref();
    }, MEMORY_CHECK_MS);
    memCheck.unref();
    let lastExecuted = this.machine.executed;
    setInterval(() => {
      const ran = this.machine.executed - lastExecuted;
      lastExecuted = this.machine.executed;
      if (ran >= IDLE_INSNS_PER_S * IDLE_TRIM_MS / 1000 || this.state === "paused") return;
      void this.exclusive(async () => { this.machine.code.invalidateAll(); collectGarbage(); })
        .then(() => { lastExecuted = this.machine.executed; }, () => undefined);
    }, IDLE_TRIM_MS).unref();
    const grow = Number(process.env[TEST_HOST_GROW_ENV] ?? "0");
    if (Number.isInteger(grow) && grow > 0) {
      const held: Buffer[] = [];
      setInterval(() => { held.push(Buffer.alloc(grow * (1 << 20), 1)); }, TEST_HOST_GROW_MS).unref();
    }
    let exit: VmExit;
    try {
      exit = await this.runGuest();
    } catch (e) {
      exit = { reason: "error", code: 1, at: new Date().toISOString(), message: (e as Error).stack ?? String(e) };
    }
    await this.shutdown(exit);
    return exit.reason === "error" ? 1 : 0;
  }

  private async runGuest(): Promise<VmExit> {
    const at = (): string => new Date().toISOString();
    for (;;) {
      const job = this.jobs.shift();
      if (job !== undefined) { await job(); continue; }
      if (this.memoryExceeded !== null) return this.memoryExit();
      if (this.stopRequested) return { reason: "stop", code: 0, at: at() };
      if (this.state === "paused") { await new Promise<void>((r) => { this.wakeResume = r; }); continue; }
      const throttle = this.quotaSleepMs();
      if (throttle > 0) { await new Promise((r) => setTimeout(r, throttle)); continue; }
      const reason: ExitReason = await this.loop.run({
        afterSlice: () => this.console.flush(),
        shouldStop: () => this.stopRequested || this.state === "paused" || this.jobs.length > 0 || this.quotaSleepMs() > 0,
      });
      if (reason.kind === "poweroff") return { reason: "poweroff", code: reason.code, at: at() };
      if (reason.kind === "reboot") {
        if (!this.res.bootFilesLoaded) Object.assign(this.res, await loadBootFiles(this.cfg), { bootFilesLoaded: true });
        this.machine = this.build();
        this.loop = new RunLoop(this.machine);
        continue;
      }
      if (reason.kind === "stuck") {
        return { reason: "error", code: 1, at: at(), message: `hart ${reason.hart} makes no progress (trap cause ${reason.cause} at pc 0x${reason.epc.toString(16)})` };
      }
      if (this.machine.harts.every((h) => h.stopped)) return { reason: "halted", code: 0, at: at() };
    }
  }

  /** The exit of a run stopped by the memory cap. */
  private memoryExit(): VmExit {
    const mib = (n: number): string => `${(n / (1 << 20)).toFixed(0)} MiB`;
    return {
      reason: "error", code: 1, at: new Date().toISOString(),
      message: `memory cap exceeded: the VM process used ${mib(this.memoryExceeded ?? 0)}, more than its cap of ${mib(memoryCapBytes(this.cfg.memoryMib))} (guest RAM plus host overhead)`,
    };
  }

  /** How long to sleep to keep the process within its CPU quota (0 when under it or unlimited). */
  private quotaSleepMs(): number {
    const q = this.cfg.cpu.quotaPercent;
    if (q >= 100) return 0;
    const now = performance.now();
    const wall = now - this.windowWall;
    const u = process.cpuUsage(this.windowCpu);
    const cpuMs = (u.user + u.system) / 1000;
    const allowedWall = cpuMs * 100 / q;
    if (wall >= QUOTA_WINDOW_MS && allowedWall <= wall) { this.windowWall = now; this.windowCpu = process.cpuUsage(); return 0; }
    return Math.max(0, allowedWall - wall);
  }

  /**
   * Runs `fn` while no hart runs and the guest's clock stands still (between two slices, or
   * while paused); the VM's state (running or paused) is `fn`'s to restore through `resume`.
   */
  private exclusive<T>(fn: (wasPaused: boolean, resume: () => void) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.jobs.push(async () => {
        const wasPaused = this.clock.paused;
        this.clock.pause();
        let resumed = false;
        // A job that left the VM paused (a restore to a paused snapshot) keeps the clock stopped.
        const resume = (): void => { if (!resumed && !wasPaused && this.state !== "paused") this.clock.resume(); resumed = true; };
        try { resolve(await fn(wasPaused, resume)); } catch (e) { reject(e instanceof Error ? e : new Error(String(e))); } finally { resume(); }
      });
      this.loop.kick();
      const w = this.wakeResume;
      this.wakeResume = null;
      w?.();
    });
  }

  private snapshot(snap: string): Promise<ControlReply> {
    return this.exclusive(async (wasPaused, resume) => {
      const host = {
        store: this.store, cfg: this.cfg, machine: this.machine, drives: this.res.drives, state: wasPaused ? "paused" as const : "running" as const, resume,
      };
      try {
        const record = await takeSnapshot(host, snap);
        const r: ControlReply = { ok: true, message: `snapshot '${snap}' taken`, snapshot: record };
        return r;
      } finally { this.cfg = host.cfg; }
    }).catch((e: unknown): ControlReply => ({ ok: false, error: (e as Error).message }));
  }

  /**
   * Returns this process's VM to a snapshot (the "restore" request): reads and checks the file,
   * opens the new disks and builds the snapshot's machine on them; only then are the current
   * machine and writable disks dropped. Any failure before that leaves the VM as it was.
   */
  private restoreInPlace(req: RestoreRequest): Promise<ControlReply> {
    const refuse = (code: "corrupt" | "unfit", error: string): ControlReply => ({ ok: false, code, error });
    return this.exclusive(async (): Promise<ControlReply> => {
      const t0 = performance.now();
      if (req.disks.length !== this.cfg.disks.length) return refuse("unfit", `${req.disks.length} disks given, the VM has ${this.cfg.disks.length}`);
      let snap: Snapshot;
      try { snap = parseSnapshot(await readSnapshotFile(req.machine)); } catch (e) {
        if (e instanceof SnapshotError) return refuse("corrupt", e.message);
        return refuse("corrupt", `cannot read its machine file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
      }
      const b = snap.header.board, bad: string[] = [];
      if (b.memBytes !== this.cfg.memoryMib * (1 << 20)) bad.push(`memory ${b.memBytes / (1 << 20)}M, the VM has ${this.cfg.memoryMib}M`);
      if (b.harts !== this.cfg.cpus) bad.push(`${b.harts} vCPUs, the VM has ${this.cfg.cpus}`);
      if (bad.length > 0) return refuse("unfit", bad.join("; "));
      const opened: OpenDisk[] = [];
      const drives: OpenDisk[] = [];
      let machine: VirtMachine;
      try {
        for (const [i, p] of req.disks.entries()) {
          if (p === null) {
            if (!this.cfg.disks[i].readonly) throw new VmBuildError(`disk ${i} is writable: it needs a new overlay`);
            drives.push(this.res.drives[i]);
            continue;
          }
          let d: OpenDisk;
          try { d = await openDisk(p, { format: "qcow2" }); } catch (e) {
            throw new VmBuildError(`disks[${i}]: cannot open ${p}: ${e instanceof DiskOpenError ? e.message : (e as Error).message}`);
          }
          opened.push(d);
          drives.push(d);
        }
        machine = this.fromSnapshot(snap, drives);
      } catch (e) {
        await Promise.all(opened.map((d) => d.close().catch(() => undefined)));
        return e instanceof SnapshotError ? refuse("unfit", e.message) : { ok: false, error: (e as Error).message };
      }
      // Checked and built: from here on the VM changes.
      this.console.flush();
      const errors: string[] = [];
      for (const [i, p] of req.disks.entries()) {
        if (p === null) continue;
        const old = this.res.drives[i];
        try { await old.backend.flush(); await old.close(); } catch (e) { errors.push(`disk ${i}: ${(e as Error).message}`); }
        this.res.drives[i] = drives[i];
      }
      this.machine = machine;
      this.loop = new RunLoop(machine);
      this.cfg = { ...this.cfg, disks: this.cfg.disks.map((d, i) => { const p = req.disks[i]; return p === null ? d : { ...d, path: p, format: "qcow2" as const }; }) };
      this.store.writeConfig(this.cfg);
      if (req.state !== this.state) this.setState(req.state);
      const restoreMs = performance.now() - t0;
      const tail = errors.length > 0 ? ` (closing the old disks: ${errors.join("; ")})` : "";
      return { ...this.status(), message: `restored in ${restoreMs.toFixed(0)} ms${tail}`, restoreMs };
    }).catch((e: unknown): ControlReply => ({ ok: false, error: (e as Error).message }));
  }

  private requestStop(): void {
    this.stopRequested = true;
    this.loop.kick();
    this.wakeResume?.();
  }

  private setState(s: RunState): void {
    if (s === this.state) return;
    this.state = s;
    if (s === "paused") { this.clock.pause(); this.loop.kick(); }
    else { this.clock.resume(); const w = this.wakeResume; this.wakeResume = null; w?.(); }
  }

  private status(): Extract<ControlReply, { ok: true }> {
    return {
      ok: true, state: this.state, pid: process.pid, cpus: this.cfg.cpus, memoryMib: this.cfg.memoryMib,
      executed: this.machine.executed, guestMs: Math.round(this.clock.now()),
    };
  }

  private listen(): Promise<void> {
    rmSync(this.socket, { force: true });
    const server = createServer((sock) => this.serve(sock));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.socket, () => { server.off("error", reject); resolve(); });
    });
  }

  private serve(sock: Socket): void {
    let buf = "";
    let consoleMode = false;
    sock.on("error", () => { this.console.clients.delete(sock); });
    sock.on("close", () => { this.console.clients.delete(sock); });
    const reply = (r: ControlReply): void => { sock.write(`${JSON.stringify(r)}\n`); };
    sock.on("data", (data: Buffer) => {
      if (consoleMode) { this.machine.consoleInput(data); this.loop.kick(); return; }
      buf += data.toString("latin1");
      for (let nl = buf.indexOf("\n"); nl >= 0 && !consoleMode; nl = buf.indexOf("\n")) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const req = parseControlRequest(line);
        if ("error" in req) { reply({ ok: false, error: req.error }); continue; }
        switch (req.cmd) {
          case "status": reply(this.status()); break;
          case "pause":
            if (this.state === "paused") reply({ ok: false, error: `VM '${this.cfg.name}' is already paused` });
            else { this.setState("paused"); reply(this.status()); }
            break;
          case "resume":
            if (this.state === "running") reply({ ok: false, error: `VM '${this.cfg.name}' is not paused` });
            else { this.setState("running"); reply(this.status()); }
            break;
          case "stop":
            reply({ ok: true, message: "stopping: harts stopped between instructions, disks flushed" });
            this.requestStop();
            break;
          case "powerdown":
            if (this.state === "paused") { reply({ ok: false, error: `VM '${this.cfg.name}' is paused: its guest cannot answer the power button` }); break; }
            this.machine.pressPowerButton();
            this.loop.kick();
            reply({ ok: true, message: "power button pressed" });
            break;
          case "snapshot":
            void this.snapshot(req.snapshot).then(reply);
            break;
          case "restore":
            void this.restoreInPlace(req).then((r) => { reply(r); collectGarbage(); });
            break;
          case "console": {
            reply({ ok: true });
            consoleMode = true;
            this.console.clients.add(sock);
            // Bytes after the request line in the same packet are already console input.
            if (buf.length > 0) { this.machine.consoleInput(Buffer.from(buf, "latin1")); this.loop.kick(); buf = ""; }
            break;
          }
        }
      }
    });
  }

  private async shutdown(exit: VmExit): Promise<void> {
    this.console.flush();
    const errors: string[] = [];
    for (const d of this.res.drives) {
      try { await d.backend.flush(); await d.close(); } catch (e) { errors.push((e as Error).message); }
    }
    if (errors.length > 0 && exit.reason !== "error") exit = { ...exit, reason: "error", code: 1, message: `disk flush failed: ${errors.join("; ")}` };
    this.nics.close();
    for (const c of this.console.clients) c.end();
    this.log.close();
    writeFileAtomic(this.store.exitPath(this.cfg.name), `${JSON.stringify(exit)}\n`);
    this.server?.close();
    rmSync(this.socket, { force: true });
    rmSync(this.store.runtimePath(this.cfg.name), { force: true });
  }
}
