// Drives a VirtMachine from a host's event loop (Node's, or a browser worker's): runs guest
// slices, lets host I/O (console input, disk completions) in between, and sleeps while every
// hart waits for a timer. The host gives the way to yield to its event loop at once (Node:
// setImmediate; a worker: a MessageChannel message, as setTimeout(0) is clamped to 4 ms there).
import type { ExitReason, VirtMachine } from "./machine.js";

/** Resolves after the host has run the I/O callbacks that are ready (a macrotask turn). */
export type YieldToHost = () => Promise<void>;

export interface RunLoopOptions {
  /** Called after every slice (flush console output). */
  afterSlice?: () => void;
  /** Stop when this returns true (e.g. user pressed Ctrl-A X). */
  shouldStop?: () => boolean;
  /** Stop once the machine has executed this many instructions (it may overshoot by one block). */
  maxInstructions?: number;
  /**
   * Work to do between slices while the machine is paused (a snapshot): return a promise and
   * the loop waits for it before the next slice; undefined when there is nothing to do.
   */
  between?: () => Promise<void> | undefined;
}

export class RunLoop {
  private wake: (() => void) | null = null;
  constructor(readonly machine: VirtMachine, private readonly yieldToHost: YieldToHost) {}

  /** Interrupts an idle sleep (call after host input arrives). */
  kick(): void { if (this.wake !== null) { const w = this.wake; this.wake = null; w(); } }

  async run(opts: RunLoopOptions = {}): Promise<ExitReason> {
    const m = this.machine;
    const max = opts.maxInstructions ?? Infinity;
    for (;;) {
      const n = m.step(Math.min(3_000_000, max - m.executed));
      opts.afterSlice?.();
      const work = opts.between?.();
      if (work !== undefined) await work;
      if (m.exit !== null) return m.exit;
      if (opts.shouldStop?.() === true || m.executed >= max) return { kind: "halted" };
      if (n === 0) {
        if (m.harts.every((h) => h.stopped)) return { kind: "halted" };
        const wait = Math.min(m.idleDeadline(), 50);
        await new Promise<void>((resolve) => {
          const t = setTimeout(() => { this.wake = null; resolve(); }, Math.max(wait, 0));
          this.wake = () => { clearTimeout(t); resolve(); };
        });
      } else {
        await this.yieldToHost();
      }
    }
  }
}
