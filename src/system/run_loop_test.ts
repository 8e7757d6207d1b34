// The run loop sizes slices by time: a slow stretch (cold code) gets short slices, so host I/O
// waits ~SLICE_TARGET_MS rather than a fixed 3 M instructions; fast code grows back to MAX_SLICE.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MAX_SLICE, MIN_SLICE, RunLoop, SLICE_TARGET_MS, nextSliceBudget, type RunnableMachine } from "./run_loop.js";
import type { ExitReason } from "./machine.js";

test("nextSliceBudget: the last slice's rate times the target, within bounds", () => {
  assert.equal(nextSliceBudget(100_000, 100), MIN_SLICE); // 1 MIPS → 10 k per 10 ms, raised to the minimum
  assert.equal(nextSliceBudget(1_000_000, 100), 100_000); // 10 MIPS
  assert.equal(nextSliceBudget(3_000_000, 1), MAX_SLICE); // 3000 MIPS: capped
  assert.equal(nextSliceBudget(0, 5), MAX_SLICE);
  assert.equal(nextSliceBudget(5, 0), nextSliceBudget(5, 0.05), "a zero duration is not a division by zero");
});

/** A machine whose speed (instructions per host ms) the test sets; step() spins for the time its budget takes. */
class FakeMachine implements RunnableMachine {
  executed = 0;
  exit: ExitReason | null = null;
  harts = [];
  mips = 1; // instructions per µs
  slices: { budget: number; ms: number }[] = [];
  idleDeadline(): number { return 0; }
  step(budget: number): number {
    const t0 = performance.now();
    const ms = budget / (this.mips * 1000);
    while (performance.now() - t0 < ms) { /* the guest runs */ }
    this.slices.push({ budget, ms: performance.now() - t0 });
    this.executed += budget;
    return budget;
  }
}

test("slices shrink while the guest is slow and grow back when it is fast", async () => {
  const m = new FakeMachine();
  const loop = new RunLoop(m, () => new Promise<void>((r) => setImmediate(r)));
  let phase = 0;
  await loop.run({
    shouldStop: () => {
      // Slow (2 MIPS) for 30 slices, then fast (500 MIPS) for 30.
      phase++;
      m.mips = phase < 30 ? 2 : 500;
      return phase >= 60;
    },
  });
  const slow = m.slices.slice(5, 29), fast = m.slices.slice(40);
  // A fixed MAX_SLICE would take 1.5 s a slice at 2 MIPS (bounds allow for a loaded host).
  const worstSlow = Math.max(...slow.map((s) => s.ms));
  assert.ok(worstSlow < SLICE_TARGET_MS * 10, `slow slices took up to ${worstSlow.toFixed(1)} ms`);
  assert.ok(slow.every((s) => s.budget <= 50_000), `slow budgets ${slow.map((s) => s.budget).join(",")}`);
  // (A slice the host preempted looks slow and shortens the next: the median grows back.)
  const median = fast.map((s) => s.budget).sort((a, b) => a - b)[fast.length >> 1];
  assert.ok(median >= MAX_SLICE / 2, `fast budgets ${fast.map((s) => s.budget).join(",")}`);
});
