// The messages between the page (src/host/browser/page.ts) and the worker that runs the machine
// (worker.ts), sent with postMessage. Console bytes travel as Uint8Array both ways.

/** Where the page finds the guest image: URLs relative to the page, and the kernel command line. */
export interface GuestImageUrls {
  kernel: string;
  initrd: string;
  /** The ext4 root disk, read with HTTP range requests (absent: no disk). */
  disk?: string;
  cmdline: string;
}

export interface BootRequest {
  type: "boot";
  image: GuestImageUrls;
  memBytes: number;
  harts: number;
  /** Whether guest RAM is shared memory (only possible when the page is cross-origin isolated). */
  sharedRam: boolean;
  /** Save the disk's written chunks in the Origin Private File System at each guest flush. */
  persistDisk: boolean;
}

/** Where the guest's disk writes go: the tab's memory, or also a file in OPFS (with what it gave back). */
export type DiskStore = { kind: "memory"; why?: string } | { kind: "opfs"; file: string; restoredBytes: number };

export type PageToWorker =
  | BootRequest
  /** Keyboard input for the guest's serial console. */
  | { type: "input"; bytes: Uint8Array }
  /**
   * Replace the machine (running or not) with the one in a snapshot file (docs/snapshot.md; gzip
   * is recognised by its magic). Checked whole first: a file that cannot be restored here is
   * refused with `snapshot-error` and the current machine runs on.
   */
  | { type: "restore"; bytes: Uint8Array; name: string }
  /** Take a snapshot of the running machine between two slices: answered by `snapshot` or `snapshot-error`. */
  | { type: "snapshot" };

/** Where a restored machine came from. */
export interface RestoredFrom { name: string; producer: string; createdAt: string; history: Uint8Array }

/** One file of the guest image being fetched: `total` is null while its length is unknown. */
export interface FetchProgress { file: string; loaded: number; total: number | null }

export type WorkerToPage =
  | { type: "progress"; progress: FetchProgress }
  /**
   * The machine is built and runs; `ramBuffer` names the class of guest RAM's buffer. `restored`:
   * it came from a snapshot, whose console history the page shows before any new output.
   */
  | { type: "started"; ramShared: boolean; ramBuffer: "SharedArrayBuffer" | "ArrayBuffer"; diskBytes: number | null; diskStore: DiskStore | null;
      restored?: RestoredFrom }
  /** A snapshot file of the machine (the format of docs/snapshot.md), for the page to download. */
  | { type: "snapshot"; bytes: Uint8Array; createdAt: string }
  /** A snapshot could not be taken or restored; the machine that ran runs on. */
  | { type: "snapshot-error"; message: string }
  /** Guest output from the serial console. */
  | { type: "output"; bytes: Uint8Array }
  /** The machine stopped (poweroff, reboot, halted, stuck) or could not start (`error`). */
  | { type: "exit"; reason: string }
  | { type: "error"; message: string };
