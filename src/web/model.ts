// The web console's data and rules, free of the DOM so they are unit-tested under Node
// (model_test.ts): the shapes of the REST API's answers it reads (src/api/openapi.ts is the
// contract), which actions each VM state allows, how the token travels in the URL fragment.

/** A VM state as the API reports it (virsh's words). */
export type VmState = "running" | "paused" | "shut off" | "crashed";

export interface VmSummary { name: string; state: VmState; cpus: number; memoryMib: number; pid: number | null }
export interface VmDisk { id: string; path: string; format: string; readonly: boolean }
export interface VmInfo {
  name: string; state: VmState; pid: number | null;
  config: { cpus: number; memoryMib: number; disks: VmDisk[] };
  snapshots: string[];
  lastExit: { reason: string; code: number; at: string; message?: string } | null;
}
export interface SnapshotInfo { name: string; createdAt: string; state: "running" | "paused"; machineBytes: number; ramPages: number }
export interface SnapshotEntry { name: string; snapshot: SnapshotInfo | null; error: string | null }
export interface ConsoleTicket { ticket: string; expires_in_s: number }

/** The buttons of a VM's row, in order. */
export const ACTIONS = ["start", "stop", "kill", "pause", "resume", "snapshot", "console"] as const;
export type Action = typeof ACTIONS[number];

/** Which actions the API would accept in `state` (the others are disabled, not hidden). */
export function actionsFor(state: VmState): ReadonlySet<Action> {
  switch (state) {
    case "running": return new Set<Action>(["stop", "kill", "pause", "snapshot", "console"]);
    case "paused": return new Set<Action>(["stop", "kill", "resume", "snapshot", "console"]);
    case "shut off": case "crashed": return new Set<Action>(["start", "console"]);
  }
}

/** The request an action makes: method, path below /v1/vms/{name}, body. "console" makes none. */
export function requestFor(action: Exclude<Action, "console">): { method: "PUT" | "PATCH"; path: string; body: unknown } {
  switch (action) {
    case "start": return { method: "PUT", path: "actions", body: { action_type: "InstanceStart" } };
    case "stop": return { method: "PUT", path: "actions", body: { action_type: "InstanceStop" } };
    case "kill": return { method: "PUT", path: "actions", body: { action_type: "InstanceKill" } };
    case "pause": return { method: "PATCH", path: "vm", body: { state: "Paused" } };
    case "resume": return { method: "PATCH", path: "vm", body: { state: "Resumed" } };
    case "snapshot": return { method: "PUT", path: "snapshot/create", body: {} };
  }
}

/**
 * The token from a URL fragment `#token=T` (other fragment parameters are kept in `rest`). The
 * fragment never leaves the browser (it is not sent in requests or as a referrer), and the page
 * removes it from the address bar once read.
 */
export function tokenFromFragment(hash: string): { token: string | null; rest: string } {
  const params = new URLSearchParams(hash.startsWith("#") ? hash.slice(1) : hash);
  const token = params.get("token");
  params.delete("token");
  const rest = params.toString();
  return { token: token === null || token.trim() === "" ? null : token.trim(), rest: rest === "" ? "" : `#${rest}` };
}

/** "256 MiB", "2 GiB". */
export function formatMib(mib: number): string {
  return mib >= 1024 && mib % 1024 === 0 ? `${mib / 1024} GiB` : `${mib} MiB`;
}

/** A VM's disks for the table: "root (qcow2), data (raw, ro)", or "none". */
export function formatDisks(disks: readonly VmDisk[]): string {
  if (disks.length === 0) return "none";
  return disks.map((d) => `${d.id} (${d.format}${d.readonly ? ", ro" : ""})`).join(", ");
}

/** Terminal columns and rows that fit a box of `width` × `height` pixels with cells of `cellW` × `cellH`. */
export function fitTerminal(width: number, height: number, cellW: number, cellH: number): { cols: number; rows: number } {
  const MIN_COLS = 20, MIN_ROWS = 5, MAX = 500;
  if (!(cellW > 0 && cellH > 0)) return { cols: 80, rows: 24 };
  const clamp = (n: number, lo: number): number => Math.min(Math.max(Math.floor(n), lo), MAX);
  return { cols: clamp(width / cellW, MIN_COLS), rows: clamp(height / cellH, MIN_ROWS) };
}
