// Test time limits, scaled for slow configurations. `RVISOR_TEST_TIME_SCALE=K` multiplies every
// limit a test sets (node:test timeouts, waits for guest output, child-process kill timers) by K.
// `npm run test:jit1` runs the suite with every block translated before it first runs
// (RVISOR_JIT_THRESHOLD=1), where compiling costs more than running: it sets K (JIT1_TIME_SCALE).
// Only limits scale: a test that checks that something happened quickly still checks it.

/** The factor `npm run test:jit1` sets (scripts/test-jit1.mjs): a threshold-1 run is ~3-5× slower on this machine's 2 cores. */
export const JIT1_TIME_SCALE = 6;

function scaleFromEnv(): number {
  const v = process.env["RVISOR_TEST_TIME_SCALE"];
  if (v === undefined || v === "") return 1;
  const k = Number(v);
  if (!Number.isFinite(k) || k < 1) throw new Error(`RVISOR_TEST_TIME_SCALE must be a number >= 1, got '${v}'`);
  return k;
}

/** The factor every test time limit is multiplied by (1 unless RVISOR_TEST_TIME_SCALE says otherwise). */
export const TIME_SCALE = scaleFromEnv();

/** `ms`, a test's time limit, scaled by TIME_SCALE. */
export function scaled(ms: number): number { return ms * TIME_SCALE; }

/**
 * Kernel command-line words for a guest under scaled time: none normally; with a scale, the
 * soft-lockup detector off. A kernel that runs its initcalls several times slower than usual
 * (every block translated first) goes 20 s of guest time without scheduling and reports
 * "BUG: soft lockup", which says the host is slow, not that the guest is wrong.
 */
export function scaledKernelArgs(): string { return TIME_SCALE > 1 ? " nosoftlockup" : ""; }
