// The machine's side of the in-tab VM: a dedicated Web Worker that fetches the guest image
// (reporting progress), opens the root disk over HTTP range requests, builds the virt board and
// runs it, trading console bytes with the page by postMessage (protocol.ts). Time
// (performance.now, Date.now) and randomness (crypto.getRandomValues) are the browser's: the
// board's defaults are those Web APIs. Guest RAM is shared memory when the page is cross-origin
// isolated, else an unshared ArrayBuffer (src/memory/ram.ts). With `persistDisk` the disk's
// written chunks are saved in the Origin Private File System (chunk_store.ts) at each guest flush.
//
// Snapshots (docs/snapshot.md's format, the same file the Node side reads and writes): `restore`
// replaces the machine with a snapshot's (its console history goes to the page first), checked
// before the running one stops; `snapshot` captures the machine between two slices and posts
// the file to the page. What fits is tab_snapshot.ts's to say.
import { VirtMachine, type ExitReason } from "../../system/machine.js";
import { captureSnapshot, machineFromSnapshot, parseSnapshot, snapshotConsoleHistory, snapshotIsa, SnapshotError } from "../../system/snapshot.js";
import { tabNicCount, tabRestoreProblem, tabSnapshotProblem, UnpluggedNet } from "./tab_snapshot.js";
import { RunLoop, type YieldToHost } from "../../system/run_loop.js";
import type { CharBackend } from "../../system/devices/char_backend.js";
import { HttpRangeDisk } from "./http_disk.js";
import { FileChunkStore, type DiskIdentity, type SyncFile } from "./chunk_store.js";
import { fetchWithProgress } from "./image_fetch.js";
import type { BootRequest, DiskStore, FetchProgress, PageToWorker, RestoredFrom, WorkerToPage } from "./protocol.js";

/** rvisor's version, put in by scripts/web-build.mjs (esbuild's define). */
declare const RVISOR_VERSION: string;
const PRODUCER = `rvisor ${typeof RVISOR_VERSION === "string" ? RVISOR_VERSION : "unknown"} (browser tab)`;
const GZIP_MAGIC0 = 0x1f, GZIP_MAGIC1 = 0x8b;

/** The parts of DedicatedWorkerGlobalScope used here (the project's lib is DOM, not WebWorker). */
interface WorkerScope {
  postMessage(message: WorkerToPage, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent<PageToWorker>) => void) | null;
}
const scope = self as unknown as WorkerScope;

function post(m: WorkerToPage, transfer: Transferable[] = []): void { scope.postMessage(m, transfer); }

/** Guest console output, collected during a run slice and posted once after it. */
class PostedConsole implements CharBackend {
  private chunks: Uint8Array[] = [];
  write(bytes: Uint8Array): void { this.chunks.push(bytes.slice()); }
  flush(): void {
    if (this.chunks.length === 0) return;
    const out = new Uint8Array(this.chunks.reduce((n, c) => n + c.length, 0));
    let o = 0;
    for (const c of this.chunks) { out.set(c, o); o += c.length; }
    this.chunks = [];
    post({ type: "output", bytes: out }, [out.buffer]);
  }
}

/** One macrotask turn: a MessageChannel message, which (unlike setTimeout(0)) is not clamped to 4 ms. */
function messageChannelYield(): YieldToHost {
  const ch = new MessageChannel();
  const waiting: (() => void)[] = [];
  ch.port1.onmessage = (): void => { waiting.shift()?.(); };
  return () => new Promise<void>((resolve) => { waiting.push(resolve); ch.port2.postMessage(null); });
}

/** FileSystemFileHandle.createSyncAccessHandle, which TypeScript declares only in the WebWorker lib. */
interface SyncAccessFileHandle { createSyncAccessHandle(): Promise<SyncFile> }

/** The OPFS file that keeps a disk's writes: one per image URL. */
function overlayName(url: string): string {
  return `rvisor-disk-${new URL(url, location.href).pathname.replace(/[^A-Za-z0-9._-]/g, "_")}.overlay`;
}

/** Opens the range disk, its writes saved in OPFS when asked and possible (else kept in memory, saying why). */
async function openDisk(url: string, persist: boolean): Promise<{ disk: HttpRangeDisk; store: DiskStore }> {
  if (!persist) return { disk: await HttpRangeDisk.open(url, { id: "rootfs" }), store: { kind: "memory" } };
  const file = overlayName(url);
  let handle: SyncFile;
  try {
    const dir = await navigator.storage.getDirectory();
    const fh = (await dir.getFileHandle(file, { create: true })) as unknown as SyncAccessFileHandle;
    handle = await fh.createSyncAccessHandle();
  } catch (e) {
    const why = `no Origin Private File System here (${e instanceof Error ? e.message : String(e)})`;
    return { disk: await HttpRangeDisk.open(url, { id: "rootfs" }), store: { kind: "memory", why } };
  }
  const disk = await HttpRangeDisk.open(url, { id: "rootfs", store: (id: DiskIdentity) => new FileChunkStore(handle, id) });
  return { disk, store: { kind: "opfs", file, restoredBytes: disk.restoredBytes } };
}

let booted = false;
/** Bumped when a snapshot replaces the machine: a boot still fetching its image then gives up. */
let generation = 0;
/** Keys typed before the machine exists. */
const early: Uint8Array[] = [];
const console = new PostedConsole();
const yieldToHost = messageChannelYield();

/** The machine that runs (or ran) and its loop; `done` settles when its run ends. */
interface Running {
  machine: VirtMachine;
  loop: RunLoop;
  disk: HttpRangeDisk | null;
  stop: boolean;
  exited: boolean;
  snapshotWanted: boolean;
  done: Promise<void>;
}
let running: Running | null = null;

function describe(e: ExitReason): string {
  switch (e.kind) {
    case "poweroff": return `powered off (status ${e.code})`;
    case "reboot": return "rebooted";
    case "halted": return "halted";
    case "stuck": return `stuck: hart ${e.hart} keeps trapping (cause ${e.cause}, epc 0x${e.epc.toString(16)})`;
  }
}

function announce(m: VirtMachine, disk: HttpRangeDisk | null, store: DiskStore | null, restored?: RestoredFrom): void {
  const ram = m.ram;
  const history = restored?.history;
  post({
    type: "started", ramShared: ram.shared, ramBuffer: ram.buffer instanceof ArrayBuffer ? "ArrayBuffer" : "SharedArrayBuffer",
    diskBytes: disk === null ? null : disk.size, diskStore: store, ...(restored === undefined ? {} : { restored }),
  }, history === undefined ? [] : [history.buffer]);
  for (const b of early.splice(0)) m.consoleInput(b);
}

/** The snapshot the page asked for, taken between two slices (the run loop's `between`). */
function takeSnapshot(r: Running): Promise<void> | undefined {
  if (!r.snapshotWanted) return undefined;
  r.snapshotWanted = false;
  return (async () => {
    try {
      const why = tabSnapshotProblem(r.disk === null ? null : r.disk.dirtyBytes);
      if (why !== null) throw new SnapshotError(why);
      await r.machine.settle();
      const createdAt = new Date();
      const bytes = captureSnapshot(r.machine, { producer: PRODUCER, createdAt });
      post({ type: "snapshot", bytes, createdAt: createdAt.toISOString() }, [bytes.buffer]);
    } catch (e) {
      post({ type: "snapshot-error", message: e instanceof Error ? e.message : String(e) });
    }
  })();
}

/**
 * Runs `m` until it stops or is replaced. `rebuild`: a guest reboot builds the board again from
 * the same files and disk, as `rvisor run` does; without it (a restored machine: no kernel to
 * boot again) a reboot ends the run.
 */
function run(m: VirtMachine, disk: HttpRangeDisk | null, store: DiskStore | null, rebuild: (() => VirtMachine) | null, restored?: RestoredFrom): void {
  const r: Running = { machine: m, loop: new RunLoop(m, yieldToHost), disk, stop: false, exited: false, snapshotWanted: false, done: Promise.resolve() };
  running = r;
  announce(m, disk, store, restored);
  r.done = (async () => {
    for (;;) {
      const exit = await r.loop.run({ afterSlice: () => console.flush(), shouldStop: () => r.stop, between: () => takeSnapshot(r) });
      console.flush();
      if (r.stop) return;
      if (exit.kind === "reboot" && rebuild !== null) {
        r.machine = rebuild();
        r.loop = new RunLoop(r.machine, yieldToHost);
        announce(r.machine, disk, store);
        continue;
      }
      r.exited = true;
      post({ type: "exit", reason: exit.kind === "reboot" ? "rebooted: a machine restored from a snapshot has no kernel to boot again (reload the page)" : describe(exit) });
      return;
    }
  })();
}

async function boot(req: BootRequest): Promise<void> {
  const gen = generation;
  const progress = (p: FetchProgress): void => post({ type: "progress", progress: p });
  const [kernel, initrd] = await Promise.all([
    fetchWithProgress(req.image.kernel, "kernel", progress),
    fetchWithProgress(req.image.initrd, "initrd", progress),
  ]);
  const opened = req.image.disk === undefined ? null : await openDisk(req.image.disk, req.persistDisk);
  if (gen !== generation) return; // a snapshot was restored meanwhile
  const disk = opened === null ? null : opened.disk;
  const build = (): VirtMachine => new VirtMachine({
    memBytes: req.memBytes, harts: req.harts, firmware: { kind: "builtin" }, kernel, initrd, append: req.image.cmdline,
    drives: disk === null ? [] : [disk], console, ram: { shared: req.sharedRam },
  });
  run(build(), disk, opened === null ? null : opened.store, build);
}

async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Replaces the machine with snapshot `name`'s; everything is checked before the running one stops. */
async function restore(bytes: Uint8Array, name: string): Promise<void> {
  let file = bytes;
  if (file.length >= 2 && file[0] === GZIP_MAGIC0 && file[1] === GZIP_MAGIC1) {
    try { file = await gunzip(file); } catch (e) { throw new SnapshotError(`${name}: not a readable gzip file (${e instanceof Error ? e.message : String(e)})`); }
  }
  const snap = parseSnapshot(file);
  const why = tabRestoreProblem(snap.header.board);
  if (why !== null) throw new SnapshotError(why);
  snapshotIsa(snap.header.board); // an extension this rvisor lacks: refused here, before the stop
  generation++;
  const old = running;
  if (old !== null) {
    old.stop = true;
    old.loop.kick();
    await old.done;
  }
  const nics = Array.from({ length: tabNicCount(snap.header.board) }, () => ({ backend: new UnpluggedNet() }));
  const m = machineFromSnapshot(snap, { console, nics });
  run(m, null, null, null, { name, producer: snap.header.producer, createdAt: snap.header.createdAt, history: snapshotConsoleHistory(snap) });
}

/** Restores and snapshots one at a time, in the order asked. */
let snapshotWork: Promise<void> = Promise.resolve();

scope.onmessage = (e: MessageEvent<PageToWorker>): void => {
  const m = e.data;
  switch (m.type) {
    case "boot":
      if (booted) return;
      booted = true;
      boot(m).catch((err: unknown) => post({ type: "error", message: err instanceof Error ? err.message : String(err) }));
      break;
    case "restore":
      snapshotWork = snapshotWork.then(() => restore(m.bytes, m.name)).catch((err: unknown) => {
        post({ type: "snapshot-error", message: err instanceof Error ? err.message : String(err) });
      });
      break;
    case "snapshot": {
      const r = running;
      if (r === null || r.exited) { post({ type: "snapshot-error", message: "no machine is running" }); break; }
      r.snapshotWanted = true;
      r.loop.kick();
      break;
    }
    case "input":
      if (running === null) early.push(m.bytes);
      else { running.machine.consoleInput(m.bytes); running.loop.kick(); }
      break;
  }
};
