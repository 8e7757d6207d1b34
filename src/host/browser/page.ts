// The page of the in-tab VM: an xterm.js terminal wired to the machine in a Web Worker
// (worker.ts) by postMessage, a progress display while the guest image downloads, and a status
// line saying whether the page is cross-origin isolated (guest RAM then is a SharedArrayBuffer).
// Query parameters: mem=MiB (default 256), smp=N (default 1), disk=0 (boot without the root disk),
// append=CMDLINE (the kernel command line; default: the image's), persist=1 (keep the disk's
// writes in this browser's Origin Private File System across reloads), boot=0 (boot nothing:
// wait for a snapshot), snapshot=URL (fetch that snapshot file and continue its machine).
//
// Snapshots: "Load a snapshot" takes a file of docs/snapshot.md's format (from `rvisor run
// --snapshot-file`, `rvisor snapshot create`'s machine.rvsnap, or this page; .gz too), shows the
// console history it carries and continues the machine; "Save a snapshot" downloads the running
// machine's (a Blob download) for `rvisor run --restore FILE`. worker.ts and tab_snapshot.ts say
// which machines fit.
import { Terminal } from "@xterm/xterm";
import type { BootRequest, DiskStore, FetchProgress, PageToWorker, WorkerToPage } from "./protocol.js";

const MIB = 1 << 20;
/** Where `npm run web` (src/host/node/web_server.ts) serves the guest image. */
const IMAGE_DIR = "image/";

interface GuestManifest { kernel: string; initrd: string; rootfs: string; cmdline: string }

/** What the page knows, for people (the status line) and for tests (window.rvisor). */
export interface PageState {
  phase: "loading" | "waiting" | "running" | "exited" | "error";
  crossOriginIsolated: boolean;
  ramShared: boolean | null;
  ramBuffer: string | null;
  diskStore: DiskStore | null;
  message: string;
  /** The snapshot the machine was restored from (file name, who wrote it, when), or null. */
  restoredFrom: { name: string; producer: string; createdAt: string } | null;
  /** The last snapshot saved from this page, or null. */
  savedSnapshot: { file: string; bytes: number } | null;
  /** What the last snapshot save or load said, when it failed (the machine ran on), or null. */
  snapshotError: string | null;
}

declare global {
  interface Window {
    rvisor: { state: PageState; terminal: Terminal; screenText(): string; saveSnapshot(): void; loadSnapshot(bytes: Uint8Array, name: string): void };
  }
}

function element(id: string): HTMLElement {
  const e = document.getElementById(id);
  if (e === null) throw new Error(`page: no #${id}`);
  return e;
}

// 80 columns: what the guest's tty assumes on a serial line, which carries no window size, so
// the shell's line editing wraps where the terminal does.
const term = new Terminal({ cols: 80, rows: 32, scrollback: 10_000, fontFamily: "DejaVu Sans Mono, Menlo, Consolas, monospace", fontSize: 14 });
term.open(element("terminal"));
term.focus();

const state: PageState = {
  phase: "loading", crossOriginIsolated: self.crossOriginIsolated, ramShared: null, ramBuffer: null, diskStore: null, message: "fetching the guest image",
  restoredFrom: null, savedSnapshot: null, snapshotError: null,
};
/** The terminal's whole buffer (scrollback included) as text, one line per row. */
function screenText(): string {
  const b = term.buffer.active;
  const lines: string[] = [];
  for (let i = 0; i < b.length; i++) lines.push(b.getLine(i)?.translateToString(true) ?? "");
  return lines.join("\n");
}
window.rvisor = { state, terminal: term, screenText, saveSnapshot, loadSnapshot };

const status = element("status");
const notice = element("snapshot-notice");
function showNotice(text: string, error: boolean): void {
  notice.textContent = text;
  notice.dataset["kind"] = error ? "error" : "info";
}
function showStatus(): void {
  const iso = state.crossOriginIsolated ? "cross-origin isolated" : "not cross-origin isolated";
  const ram = state.ramBuffer === null ? "" : `, guest RAM: ${state.ramBuffer}`;
  const d = state.diskStore;
  const disk = d === null ? "" : d.kind === "opfs" ? `, disk writes saved in this browser (${(d.restoredBytes / 1024).toFixed(0)} KiB restored)`
    : `, disk writes kept in this tab${d.why === undefined ? "" : `: ${d.why}`}`;
  status.textContent = `${state.message} (${iso}${ram}${disk})`;
  status.dataset["phase"] = state.phase;
}
showStatus();

const progressBox = element("progress");
const bars = new Map<string, { bar: HTMLProgressElement; label: HTMLElement }>();
function showProgress(p: FetchProgress): void {
  let row = bars.get(p.file);
  if (row === undefined) {
    const line = document.createElement("div");
    const label = document.createElement("span");
    const bar = document.createElement("progress");
    line.append(label, bar);
    progressBox.append(line);
    row = { bar, label };
    bars.set(p.file, row);
  }
  if (p.total !== null) { row.bar.max = p.total; row.bar.value = p.loaded; } else row.bar.removeAttribute("value");
  const mib = (n: number): string => (n / MIB).toFixed(1);
  row.label.textContent = `${p.file}: ${mib(p.loaded)}${p.total === null ? "" : ` / ${mib(p.total)}`} MiB `;
}

const worker = new Worker("worker.js");
/** Where a snapshot download's object URL is kept until the next one. */
let downloadUrl: string | null = null;

function saveSnapshot(): void {
  showNotice("taking a snapshot…", false);
  send({ type: "snapshot" });
}

function loadSnapshot(bytes: Uint8Array, name: string): void {
  showNotice(`loading snapshot ${name}…`, false);
  send({ type: "restore", bytes, name }, [bytes.buffer]);
}

/** A file name for a snapshot taken at `iso`: rvisor-tab-2026-12-02T07-30-00Z.rvsnap. */
function snapshotFileName(iso: string): string {
  return `rvisor-tab-${iso.replace(/\.\d+Z$/, "Z").replace(/:/g, "-")}.rvsnap`;
}

function download(bytes: Uint8Array, createdAt: string): void {
  if (downloadUrl !== null) URL.revokeObjectURL(downloadUrl);
  downloadUrl = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: "application/octet-stream" }));
  const file = snapshotFileName(createdAt);
  const a = document.createElement("a");
  a.href = downloadUrl;
  a.download = file;
  a.click();
  state.savedSnapshot = { file, bytes: bytes.length };
  state.snapshotError = null;
  showNotice(`snapshot saved as ${file} (${(bytes.length / MIB).toFixed(1)} MiB): continue it with rvisor run --restore ${file}` +
    `${state.diskStore === null ? "" : " --drive file=rootfs.ext4,format=raw (a copy of the guest image's disk)"}`, false);
}

const snapshotInput = element("snapshot-file") as HTMLInputElement;
snapshotInput.addEventListener("change", () => {
  const f = snapshotInput.files?.[0];
  if (f === undefined) return;
  void f.arrayBuffer().then((b) => { loadSnapshot(new Uint8Array(b), f.name); snapshotInput.value = ""; });
});
element("snapshot-save").addEventListener("click", () => saveSnapshot());
const send = (m: PageToWorker, transfer: Transferable[] = []): void => worker.postMessage(m, transfer);
const encoder = new TextEncoder();
term.onData((s) => { const bytes = encoder.encode(s); send({ type: "input", bytes }, [bytes.buffer]); });
// onBinary: bytes above 0x7f that xterm reports as a binary string (e.g. mouse reports).
term.onBinary((s) => { const bytes = Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff); send({ type: "input", bytes }, [bytes.buffer]); });

worker.onmessage = (e: MessageEvent<WorkerToPage>): void => {
  const m = e.data;
  switch (m.type) {
    case "progress": showProgress(m.progress); break;
    case "started":
      Object.assign(state, { phase: "running", ramShared: m.ramShared, ramBuffer: m.ramBuffer, diskStore: m.diskStore, message: "running" });
      progressBox.hidden = true;
      if (m.restored !== undefined) {
        // The restored machine's console: what it had printed, then what it prints from now on.
        term.reset();
        term.write(m.restored.history);
        const { name, producer, createdAt } = m.restored;
        state.restoredFrom = { name, producer, createdAt };
        state.snapshotError = null;
        state.message = `running from snapshot ${name} (taken ${createdAt} by ${producer})`;
        showNotice(`restored ${name}`, false);
        term.focus();
      }
      break;
    case "snapshot": download(m.bytes, m.createdAt); break;
    case "snapshot-error":
      state.snapshotError = m.message;
      showNotice(`snapshot: ${m.message}`, true);
      break;
    case "output": term.write(m.bytes); break;
    case "exit": Object.assign(state, { phase: "exited", message: `the machine ${m.reason}` }); break;
    case "error": Object.assign(state, { phase: "error", message: `error: ${m.message}` }); break;
  }
  if (m.type !== "output" && m.type !== "progress" && m.type !== "snapshot" && m.type !== "snapshot-error") showStatus();
};
worker.onerror = (e: ErrorEvent): void => { Object.assign(state, { phase: "error", message: `worker error: ${e.message}` }); showStatus(); };

async function start(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const snapUrl = params.get("snapshot");
  if (snapUrl !== null) {
    state.message = `fetching snapshot ${snapUrl}`;
    showStatus();
    const r = await fetch(snapUrl);
    if (!r.ok) throw new Error(`snapshot ${snapUrl}: ${r.status} ${r.statusText}`);
    loadSnapshot(new Uint8Array(await r.arrayBuffer()), snapUrl.split("/").pop() ?? snapUrl);
    return;
  }
  if (params.get("boot") === "0") {
    Object.assign(state, { phase: "waiting", message: "no machine yet: load a snapshot" });
    progressBox.hidden = true;
    showStatus();
    return;
  }
  const r = await fetch(`${IMAGE_DIR}manifest.json`);
  if (!r.ok) throw new Error(`guest image manifest: ${r.status} ${r.statusText}`);
  const man = (await r.json()) as GuestManifest;
  const boot: BootRequest = {
    type: "boot",
    image: {
      kernel: IMAGE_DIR + man.kernel, initrd: IMAGE_DIR + man.initrd, cmdline: params.get("append") ?? man.cmdline,
      ...(params.get("disk") === "0" ? {} : { disk: IMAGE_DIR + man.rootfs }),
    },
    memBytes: Number(params.get("mem") ?? 256) * MIB,
    harts: Number(params.get("smp") ?? 1),
    sharedRam: self.crossOriginIsolated,
    persistDisk: params.get("persist") === "1",
  };
  send(boot);
}
start().catch((err: unknown) => { Object.assign(state, { phase: "error", message: `error: ${err instanceof Error ? err.message : String(err)}` }); showStatus(); });
