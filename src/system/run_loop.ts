// Drives a VirtMachine from a host's event loop (Node's, or a browser worker's): runs guest
// slices, lets host I/O (console input, disk completions) in between, and sleeps while every
// hart waits for a timer. The host gives the way to yield to its event loop at once (Node:
// setImmediate; a worker: a MessageChannel message, as setTimeout(0) is clamped to 4 ms there).
import type { ExitReason, VirtMachine } from "./machine.js";

/**
 * Slices are sized by time, not by instruction count alone: host I/O (console input, a control
 * request such as `status`, a disk completion) waits for the slice that is running, and cold code
 * (early boot at ~10 MIPS, or every block being translated first with RVISOR_JIT_THRESHOLD=1)
 * made a fixed 3 M-instruction slice last from 5 ms to seconds. Each slice's budget is the last
 * one's rate times SLICE_TARGET_MS, within [MIN_SLICE, MAX_SLICE].
 */
export const SLICE_TARGET_MS = 10;
/** The largest slice (hot code at ~600 MIPS runs it in ~5 ms). */
export const MAX_SLICE = 3_000_000;
/** The smallest slice, so that a slow slice still makes progress worth its yield (~20 µs). */
export const MIN_SLICE = 20_000;

/** The budget for the next slice after one that ran `executed` instructions in `ms`. */
export function nextSliceBudget(executed: number, ms: number): number {
  if (executed <= 0) return MAX_SLICE;
  const rate = executed / Math.max(ms, 0.05);
  return Math.max(MIN_SLICE, Math.min(MAX_SLICE, Math.round(rate * SLICE_TARGET_MS)));
}

/** What the loop needs of a machine. */
export type RunnableMachine = Pick<VirtMachine, "step" | "exit" | "executed" | "harts" | "idleDeadline">;

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

export class RunLoop<M extends RunnableMachine = VirtMachine> {
  private wake: (() => void) | null = null;
  /** Instructions the next slice may run (nextSliceBudget). */
  budget = MIN_SLICE;
  constructor(readonly machine: M, private readonly yieldToHost: YieldToHost) {}

  /** Interrupts an idle sleep (call after host input arrives). */
  kick(): void { if (this.wake !== null) { const w = this.wake; this.wake = null; w(); } }

  async run(opts: RunLoopOptions = {}): Promise<ExitReason> {
    const m = this.machine;
    const max = opts.maxInstructions ?? Infinity;
    for (;;) {
      const t0 = performance.now();
      const n = m.step(Math.min(this.budget, max - m.executed));
      if (n > 0) this.budget = nextSliceBudget(n, performance.now() - t0);
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
