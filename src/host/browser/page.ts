// The page of the in-tab VM: an xterm.js terminal wired to the machine in a Web Worker
// (worker.ts) by postMessage, a progress display while the guest image downloads, and a status
// line saying whether the page is cross-origin isolated (guest RAM then is a SharedArrayBuffer).
// Query parameters: mem=MiB (default 256), smp=N (default 1), disk=0 (boot without the root disk),
// append=CMDLINE (the kernel command line; default: the image's), persist=1 (keep the disk's
// writes in this browser's Origin Private File System across reloads).
import { Terminal } from "@xterm/xterm";
import type { BootRequest, DiskStore, FetchProgress, PageToWorker, WorkerToPage } from "./protocol.js";

const MIB = 1 << 20;
/** Where `npm run web` (src/host/node/web_server.ts) serves the guest image. */
const IMAGE_DIR = "image/";

interface GuestManifest { kernel: string; initrd: string; rootfs: string; cmdline: string }

/** What the page knows, for people (the status line) and for tests (window.rvisor). */
export interface PageState {
  phase: "loading" | "running" | "exited" | "error";
  crossOriginIsolated: boolean;
  ramShared: boolean | null;
  ramBuffer: string | null;
  diskStore: DiskStore | null;
  message: string;
}

declare global {
  interface Window {
    rvisor: { state: PageState; terminal: Terminal; screenText(): string };
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

const state: PageState = { phase: "loading", crossOriginIsolated: self.crossOriginIsolated, ramShared: null, ramBuffer: null, diskStore: null, message: "fetching the guest image" };
/** The terminal's whole buffer (scrollback included) as text, one line per row. */
function screenText(): string {
  const b = term.buffer.active;
  const lines: string[] = [];
  for (let i = 0; i < b.length; i++) lines.push(b.getLine(i)?.translateToString(true) ?? "");
  return lines.join("\n");
}
window.rvisor = { state, terminal: term, screenText };

const status = element("status");
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
      break;
    case "output": term.write(m.bytes); break;
    case "exit": Object.assign(state, { phase: "exited", message: `the machine ${m.reason}` }); break;
    case "error": Object.assign(state, { phase: "error", message: `error: ${m.message}` }); break;
  }
  if (m.type !== "output" && m.type !== "progress") showStatus();
};
worker.onerror = (e: ErrorEvent): void => { Object.assign(state, { phase: "error", message: `worker error: ${e.message}` }); showStatus(); };

async function start(): Promise<void> {
  const params = new URLSearchParams(location.search);
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
