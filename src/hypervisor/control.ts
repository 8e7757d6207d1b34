// The control channel of a VM process: one JSON object per line over its Unix socket.
//   request  {"cmd": "status" | "pause" | "resume" | "stop" | "console"}
//   reply    {"ok": true, ...} or {"ok": false, "error": "..."}
// "console" turns the connection into the serial console: after the ok line, bytes the client
// sends are guest input and the guest's output streams back (many clients may attach at once).
// "stop" asks the VM process to end the run cleanly (see VmStopReply for what the guest is told).
// Kill is not a request: the CLI sends SIGKILL to the pid in vm.json.

export type ControlCmd = "status" | "pause" | "resume" | "stop" | "console";
export const CONTROL_CMDS: readonly ControlCmd[] = ["status", "pause", "resume", "stop", "console"];

export type RunState = "running" | "paused";
/** What list/info report: the two live states plus the two of a VM without a process. */
export type VmState = RunState | "shut off" | "crashed";

export interface VmStatus {
  state: RunState;
  pid: number;
  cpus: number;
  memoryMib: number;
  /** Instructions retired since start (all harts). */
  executed: number;
  /** Milliseconds the guest has run (paused time excluded). */
  guestMs: number;
}

export type ControlReply = ({ ok: true } & Partial<VmStatus> & { message?: string }) | { ok: false; error: string };

export function parseControlRequest(line: string): { cmd: ControlCmd } | { error: string } {
  let v: unknown;
  try { v = JSON.parse(line); } catch { return { error: "malformed JSON" }; }
  if (typeof v !== "object" || v === null || Array.isArray(v)) return { error: "a request is a JSON object" };
  const cmd = (v as Record<string, unknown>).cmd;
  if (typeof cmd !== "string" || !(CONTROL_CMDS as readonly string[]).includes(cmd)) {
    return { error: `unknown command ${JSON.stringify(cmd) ?? "(none)"} (valid: ${CONTROL_CMDS.join(", ")})` };
  }
  return { cmd: cmd as ControlCmd };
}
