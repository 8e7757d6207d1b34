// `rvisor run` and snapshots: --restore FILE builds the machine from a snapshot (with the
// --drive/--share backends given again, in the same order), --snapshot-file FILE names where
// C-a s on the console or SIGUSR1 writes one while the guest runs (pause, settle, capture,
// resume). The format is src/system/snapshot.ts's (docs/snapshot.md).
import { VirtMachine } from "../system/machine.js";
import { captureSnapshot, machineFromSnapshot, parseSnapshot, SnapshotError, type SnapshotBackends } from "../system/snapshot.js";
import { producer, readSnapshotFile, writeSnapshotFile } from "../host/node/snapshot_file.js";

export { producer };

/** The machine of snapshot `path`; a SnapshotError names what is wrong (nothing has run yet). */
export async function restoreMachine(path: string, backends: SnapshotBackends): Promise<VirtMachine> {
  let bytes: Uint8Array;
  try {
    bytes = await readSnapshotFile(path);
  } catch (e) {
    throw new SnapshotError(`cannot read snapshot '${path}': ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  try {
    return machineFromSnapshot(parseSnapshot(bytes), backends);
  } catch (e) {
    if (e instanceof SnapshotError) throw new SnapshotError(`${path}: ${e.message}`);
    throw e;
  }
}

/**
 * Snapshot requests (C-a s, SIGUSR1) for one run: `request()` marks one; the run loop's
 * `between` hook takes it between two slices, while no hart runs.
 */
export class SnapshotTrigger {
  private requested = false;
  private readonly onSignal = (): void => this.request();

  constructor(private readonly path: string, private readonly report: (line: string) => void, private readonly wake: () => void) {
    process.on("SIGUSR1", this.onSignal);
  }

  request(): void { this.requested = true; this.wake(); }

  /** For RunLoopOptions.between: the snapshot work when one was requested, else undefined. */
  take(m: VirtMachine): Promise<void> | undefined {
    if (!this.requested) return undefined;
    this.requested = false;
    return this.write(m);
  }

  private async write(m: VirtMachine): Promise<void> {
    const t0 = performance.now();
    await m.settle();
    const bytes = captureSnapshot(m, { producer: producer() });
    const captured = performance.now();
    try {
      const n = await writeSnapshotFile(this.path, bytes);
      this.report(`rvisor: snapshot written to ${this.path} (${(n / 2 ** 20).toFixed(1)} MiB; paused ${(captured - t0).toFixed(0)} ms, ` +
        `written in ${(performance.now() - captured).toFixed(0)} ms)`);
    } catch (e) {
      this.report(`rvisor: cannot write snapshot ${this.path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
  }

  dispose(): void { process.off("SIGUSR1", this.onSignal); }
}
