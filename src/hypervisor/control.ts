// The control channel of a VM process: one JSON object per line over its Unix socket.
//   request  {"cmd": "status" | "pause" | "resume" | "stop" | "powerdown" | "console"}
//            {"cmd": "snapshot", "snapshot": NAME}
//   reply    {"ok": true, ...} or {"ok": false, "error": "..."}
// "console" turns the connection into the serial console: after the ok line, bytes the client
// sends are guest input and the guest's output streams back (many clients may attach at once).
// "stop" asks the VM process to end the run from the host side (harts stopped between
// instructions, disks flushed); "powerdown" presses the board's power button and leaves the
// rest to the guest (QMP's system_powerdown: rvisor's image powers off, see power_button.ts).
// "snapshot" pauses the guest, captures the machine and moves every writable disk onto a new
// qcow2 overlay in the same pause (src/host/node/vm_snapshot.ts), then resumes it unless it
// was paused; the reply carries the snapshot's record.
// Kill is not a request: the CLI sends SIGKILL to the pid in vm.json.
import { validateSnapshotName, type SnapshotRecord } from "./snapshots.js";

export type ControlCmd = "status" | "pause" | "resume" | "stop" | "powerdown" | "snapshot" | "console";
export const CONTROL_CMDS: readonly ControlCmd[] = ["status", "pause", "resume", "stop", "powerdown", "snapshot", "console"];

export type ControlRequest = { cmd: Exclude<ControlCmd, "snapshot"> } | { cmd: "snapshot"; snapshot: string };

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

export type ControlReply = ({ ok: true } & Partial<VmStatus> & { message?: string; snapshot?: SnapshotRecord }) | { ok: false; error: string };

export function parseControlRequest(line: string): ControlRequest | { error: string } {
  let v: unknown;
  try { v = JSON.parse(line); } catch { return { error: "malformed JSON" }; }
  if (typeof v !== "object" || v === null || Array.isArray(v)) return { error: "a request is a JSON object" };
  const o = v as Record<string, unknown>;
  const cmd = o.cmd;
  if (typeof cmd !== "string" || !(CONTROL_CMDS as readonly string[]).includes(cmd)) {
    return { error: `unknown command ${JSON.stringify(cmd) ?? "(none)"} (valid: ${CONTROL_CMDS.join(", ")})` };
  }
  if (cmd === "snapshot") {
    try { return { cmd, snapshot: validateSnapshotName(o.snapshot) }; } catch (e) { return { error: (e as Error).message }; }
  }
  return { cmd: cmd as Exclude<ControlCmd, "snapshot"> };
}
