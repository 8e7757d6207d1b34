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
  | { type: "input"; bytes: Uint8Array };

/** One file of the guest image being fetched: `total` is null while its length is unknown. */
export interface FetchProgress { file: string; loaded: number; total: number | null }

export type WorkerToPage =
  | { type: "progress"; progress: FetchProgress }
  /** The machine is built and runs; `ramBuffer` names the class of guest RAM's buffer. */
  | { type: "started"; ramShared: boolean; ramBuffer: "SharedArrayBuffer" | "ArrayBuffer"; diskBytes: number | null; diskStore: DiskStore | null }
  /** Guest output from the serial console. */
  | { type: "output"; bytes: Uint8Array }
  /** The machine stopped (poweroff, reboot, halted, stuck) or could not start (`error`). */
  | { type: "exit"; reason: string }
  | { type: "error"; message: string };
