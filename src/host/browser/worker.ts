// The machine's side of the in-tab VM: a dedicated Web Worker that fetches the guest image
// (reporting progress), opens the root disk over HTTP range requests, builds the virt board and
// runs it, trading console bytes with the page by postMessage (protocol.ts). Time
// (performance.now, Date.now) and randomness (crypto.getRandomValues) are the browser's: the
// board's defaults are those Web APIs. Guest RAM is shared memory when the page is cross-origin
// isolated, else an unshared ArrayBuffer (src/memory/ram.ts). With `persistDisk` the disk's
// written chunks are saved in the Origin Private File System (chunk_store.ts) at each guest flush.
import { VirtMachine, type ExitReason } from "../../system/machine.js";
import { RunLoop, type YieldToHost } from "../../system/run_loop.js";
import type { CharBackend } from "../../system/devices/char_backend.js";
import { HttpRangeDisk } from "./http_disk.js";
import { FileChunkStore, type DiskIdentity, type SyncFile } from "./chunk_store.js";
import { fetchWithProgress } from "./image_fetch.js";
import type { BootRequest, DiskStore, FetchProgress, PageToWorker, WorkerToPage } from "./protocol.js";

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
let machine: VirtMachine | null = null;
let loop: RunLoop | null = null;
/** Keys typed before the machine exists. */
const early: Uint8Array[] = [];

function describe(e: ExitReason): string {
  switch (e.kind) {
    case "poweroff": return `powered off (status ${e.code})`;
    case "reboot": return "rebooted";
    case "halted": return "halted";
    case "stuck": return `stuck: hart ${e.hart} keeps trapping (cause ${e.cause}, epc 0x${e.epc.toString(16)})`;
  }
}

async function boot(req: BootRequest): Promise<void> {
  const progress = (p: FetchProgress): void => post({ type: "progress", progress: p });
  const [kernel, initrd] = await Promise.all([
    fetchWithProgress(req.image.kernel, "kernel", progress),
    fetchWithProgress(req.image.initrd, "initrd", progress),
  ]);
  const opened = req.image.disk === undefined ? null : await openDisk(req.image.disk, req.persistDisk);
  const disk = opened === null ? null : opened.disk;
  const console = new PostedConsole();
  const yieldToHost = messageChannelYield();
  // A guest reboot builds the board again from the same files and disk, as `rvisor run` does.
  for (;;) {
    machine = new VirtMachine({
      memBytes: req.memBytes, harts: req.harts, firmware: { kind: "builtin" }, kernel, initrd, append: req.image.cmdline,
      drives: disk === null ? [] : [disk], console, ram: { shared: req.sharedRam },
    });
    const ram = machine.ram;
    post({ type: "started", ramShared: ram.shared, ramBuffer: ram.buffer instanceof ArrayBuffer ? "ArrayBuffer" : "SharedArrayBuffer", diskBytes: disk === null ? null : disk.size, diskStore: opened === null ? null : opened.store });
    for (const b of early.splice(0)) machine.consoleInput(b);
    loop = new RunLoop(machine, yieldToHost);
    const exit = await loop.run({ afterSlice: () => console.flush() });
    console.flush();
    if (exit.kind !== "reboot") { post({ type: "exit", reason: describe(exit) }); return; }
  }
}

scope.onmessage = (e: MessageEvent<PageToWorker>): void => {
  const m = e.data;
  if (m.type === "boot") {
    if (booted) return;
    booted = true;
    boot(m).catch((err: unknown) => post({ type: "error", message: err instanceof Error ? err.message : String(err) }));
  } else if (machine === null) {
    early.push(m.bytes);
  } else {
    machine.consoleInput(m.bytes);
    loop?.kick();
  }
};
