// The control channel of a VM process: one JSON object per line over its Unix socket.
//   request  {"cmd": "status" | "pause" | "resume" | "stop" | "powerdown" | "console"}
//            {"cmd": "snapshot", "snapshot": NAME}
//            {"cmd": "restore", "machine": FILE, "disks": [PATH | null, ...], "state": "running" | "paused"}
//   reply    {"ok": true, ...} or {"ok": false, "error": "...", "code"?: "corrupt" | "unfit"}
// "console" turns the connection into the serial console: after the ok line, bytes the client
// sends are guest input and the guest's output streams back (many clients may attach at once).
// "stop" asks the VM process to end the run from the host side (harts stopped between
// instructions, disks flushed); "powerdown" presses the board's power button and leaves the
// rest to the guest (QMP's system_powerdown: rvisor's image powers off, see power_button.ts).
// "snapshot" pauses the guest, captures the machine and moves every writable disk onto a new
// qcow2 overlay in the same pause (src/host/node/vm_snapshot.ts), then resumes it unless it
// was paused; the reply carries the snapshot's record.
// "restore" returns the running process to a snapshot in place (no new process): it reads and
// checks the machine file, builds the snapshot's machine on the disks it is given (one new
// overlay path per writable disk, null for a read-only disk, which stays as it is), and only
// when all of that worked drops the current machine and disks for them; a refusal ("corrupt":
// the file fails its checks, "unfit": it does not fit this VM) leaves the VM as it was.
// Kill is not a request: the CLI sends SIGKILL to the pid in vm.json.
import { validateSnapshotName, type SnapshotRecord } from "./snapshots.js";

export type ControlCmd = "status" | "pause" | "resume" | "stop" | "powerdown" | "snapshot" | "restore" | "console";
export const CONTROL_CMDS: readonly ControlCmd[] = ["status", "pause", "resume", "stop", "powerdown", "snapshot", "restore", "console"];

export type RunState = "running" | "paused";

/**
 * The start-up handshake of a VM process: its starter passes a pipe as this file descriptor,
 * and the process writes READY_LINE to it once it serves its socket and has recorded itself.
 */
export const READY_FD = 3;
export const READY_LINE = "ready\n";
/** The environment variable that tells a VM process its starter waits on READY_FD. */
export const READY_ENV = "RVISOR_VM_READY_FD";

/** An in-place restore: the machine file, the disk for each slot (null: keep the read-only disk), the state to come back in. */
export interface RestoreRequest { cmd: "restore"; machine: string; disks: (string | null)[]; state: RunState }

export type ControlRequest = { cmd: Exclude<ControlCmd, "snapshot" | "restore"> } | { cmd: "snapshot"; snapshot: string } | RestoreRequest;

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

/** Why a restore was refused: the machine file fails its checks, or it does not fit this VM. */
export type RestoreRefusal = "corrupt" | "unfit";

export type ControlReply = ({ ok: true } & Partial<VmStatus> & { message?: string; snapshot?: SnapshotRecord; restoreMs?: number })
  | { ok: false; error: string; code?: RestoreRefusal };

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
  if (cmd === "restore") {
    const { machine, disks, state } = o;
    if (typeof machine !== "string" || machine === "") return { error: "restore: machine must be a file path" };
    if (!Array.isArray(disks) || !disks.every((d) => d === null || (typeof d === "string" && d !== ""))) {
      return { error: "restore: disks must be an array of paths (or null for a read-only disk)" };
    }
    if (state !== "running" && state !== "paused") return { error: "restore: state must be \"running\" or \"paused\"" };
    return { cmd, machine, disks: disks as (string | null)[], state };
  }
  return { cmd: cmd as Exclude<ControlCmd, "snapshot" | "restore"> };
}
