// JIT settings of this process: what `rvisor run/exec --jit=off|on` choose, with environment
// overrides for testing. The core imports nothing from Node: the environment is read through
// `globalThis.process` when a host provides one (Node does; a browser worker has none).
export interface JitOptions {
  /** Translate hot blocks to WebAssembly at all. */
  enabled: boolean;
  /** Executions of a block before it is queued for translation (1: every block is translated before its first execution, for testing). */
  threshold: number;
  /** Hot blocks compiled together in one WebAssembly.Module (its fixed cost is ~0.4 ms). */
  batch: number;
  /** Retired instructions after which a partly filled batch is compiled anyway. */
  flushAfter: number;
  /** Live modules kept; the oldest is dropped (its blocks interpreted again) beyond this. */
  maxModules: number;
  /** Most blocks of one page translated together into one region function (1: single blocks). */
  regionBlocks: number;
}

/**
 * From bench/jit.ts a module costs ~0.4 ms fixed plus ~1.1 µs per guest instruction, and a
 * translated instruction saves ~10-15 ns over the interpreter: on paper it pays after ~100
 * executions. Whole workloads say otherwise (V8 also tiers each module up on a background
 * thread, and a block queued early is often cold by the time it runs translated). Host CPU
 * seconds, median of 3, 2-core machine:
 *
 *   threshold             off    1000   10000  20000  30000
 *   Linux boot to init    3.58   5.83   4.03   2.92   2.89
 *   exec python3 -c pass  2.98   7.08   4.55   4.07   3.89
 *
 * while cpubench stayed at 1.6-1.8x QEMU's time at each of 1000, 10000 and 30000.
 */
export const JIT_DEFAULTS: Readonly<JitOptions> = { enabled: true, threshold: 20_000, batch: 16, flushAfter: 200_000, maxModules: 512, regionBlocks: 32 };

type Env = Record<string, string | undefined>;

function hostEnv(): Env {
  const p = (globalThis as { process?: { env?: Env } }).process;
  return p?.env ?? {};
}

/**
 * The defaults with the environment applied: RVISOR_JIT=on|off, and RVISOR_JIT_THRESHOLD=N
 * (which also turns the JIT on unless RVISOR_JIT=off): with 1 every block is translated before
 * its first execution (one module each), so tests and the fuzzers exercise translated code.
 */
export function jitOptionsFromEnv(base: Readonly<JitOptions> = JIT_DEFAULTS, env: Env = hostEnv()): JitOptions {
  const o: JitOptions = { ...base };
  const t = env["RVISOR_JIT_THRESHOLD"];
  if (t !== undefined && t !== "") {
    const n = Number(t);
    if (!Number.isInteger(n) || n < 1) throw new Error(`RVISOR_JIT_THRESHOLD must be a positive integer, got '${t}'`);
    o.threshold = n;
    o.enabled = true;
  }
  const e = env["RVISOR_JIT"];
  if (e === "on" || e === "1") o.enabled = true;
  else if (e === "off" || e === "0") o.enabled = false;
  else if (e !== undefined && e !== "") throw new Error(`RVISOR_JIT must be on or off, got '${e}'`);
  return o;
}

let current: JitOptions | null = null;

/** The options new machines take (the environment's unless `setJitOptions` chose). */
export function jitOptions(): JitOptions {
  current ??= jitOptionsFromEnv();
  return current;
}

/** Sets the options for machines created from now on (the CLI's --jit). */
export function setJitOptions(o: Partial<JitOptions>): void {
  current = { ...jitOptions(), ...o };
}
