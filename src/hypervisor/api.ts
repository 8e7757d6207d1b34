// The vocabulary of the hypervisor's operations, shared by the Node API (src/host/node/hypervisor.ts),
// the CLI verbs (clients of it) and the REST API (src/api/): what list/info return, what stop
// did, and one error type whose kind tells a client what went wrong (the REST server maps a kind
// to its HTTP status, the CLI to its exit status). Platform-neutral: no Node APIs.
import type { DiskFormat, HostForwardConfig, VmConfig } from "./config.js";
import type { VmState, VmStatus } from "./control.js";

/**
 * Why an operation was refused or failed:
 *   not_found  no such VM (or no such drive of it)
 *   exists     a VM of that name is already defined
 *   state      the VM is in the wrong state (pausing a shut-off VM, changing a running one)
 *   limit      a host-wide limit (limits.instances, limits.cpu, limits.memory) would be exceeded
 *   failed     the operation was valid but did not succeed (the VM process failed to start, did not answer)
 * A bad definition or argument is a VmConfigError (src/hypervisor/config.ts), not one of these.
 */
export type HypervisorErrorKind = "not_found" | "exists" | "state" | "limit" | "failed";

export class HypervisorError extends Error {
  constructor(readonly kind: HypervisorErrorKind, message: string) { super(message); }
}

/** One row of `list`. */
export interface VmSummary {
  name: string;
  state: VmState;
  cpus: number;
  memoryMib: number;
  /** The VM process's pid while it runs (running or paused), else null. */
  pid: number | null;
  /** Why it crashed (state "crashed" only): the error its run ended with, or that its process vanished. */
  crash?: string;
}

/** How a VM's last run ended (vms/NAME/exit.json). */
export interface VmExitRecord {
  reason: "poweroff" | "stop" | "halted" | "error";
  code: number;
  /** ISO 8601 time. */
  at: string;
  message?: string;
}

/** Everything `info` reports about a VM. */
export interface VmInfo {
  name: string;
  state: VmState;
  pid: number | null;
  /** The VM process's own report while it runs, else null. */
  status: VmStatus | null;
  config: VmConfig;
  lastExit: VmExitRecord | null;
  /** Why it crashed (state "crashed" only), as in `list`. */
  crash?: string;
  /** Host path of the kept console output. */
  consoleLog: string;
  /** The names of its snapshots, oldest first. */
  snapshots: string[];
  /** The snapshot the next start continues from (after restore or clone --snapshot), else null. */
  restoreFrom: string | null;
}

/** What `stop` did. */
export interface StopResult {
  /** powered-off: the guest powered itself off; stopped: the host stopped it (vCPUs stopped, disks flushed); killed: SIGKILL. */
  outcome: "powered-off" | "stopped" | "killed";
  /** Why the host stepped in: forced, paused (a paused guest cannot see the button), timeout, no-answer; null when the guest powered off. */
  reason: "forced" | "paused" | "timeout" | "no-answer" | null;
  pid: number;
}

/**
 * A VM definition as a caller writes it: what parseVmConfig accepts, typed. Every field but the
 * name may be left out (defaults: 1 vCPU, 256 MiB, rvisor's guest image). Relative host paths
 * are resolved against the caller's working directory by the Node API.
 */
export interface VmConfigInput {
  name: string;
  cpus?: number;
  /** "512M", "2G", or a number of MiB. */
  memory?: string | number;
  memoryMib?: number;
  cpu?: { profile?: string; quotaPercent?: number | string };
  boot?: { firmware?: string | null; kernel?: string | null; initrd?: string | null; cmdline?: string | null };
  disks?: (string | { id?: string; path: string; format?: DiskFormat; readonly?: boolean })[];
  shares?: (string | { path: string; tag?: string; readonly?: boolean })[];
  /** Left out: one user-mode card; []: none. */
  network?: { id?: string; type?: "user" | "switch"; mac?: string; hostfwd?: Partial<HostForwardConfig>[]; restrict?: boolean; switch?: string | null }[];
}
