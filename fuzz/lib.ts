// The fuzzing harness: seeded inputs, a time/input budget, and findings (host crashes: an
// exception escaping the emulator, a hang past its bound, a host process that died). Each
// target is one file in fuzz/targets/ exporting `target`; `npm run fuzz` runs them
// (scripts/fuzz.mjs), test/fuzz.test.ts runs a bounded slice of each in CI.

/** xoshiro128** — small, fast, reproducible from a 32-bit seed. */
export class Rng {
  private s0: number; private s1: number; private s2: number; private s3: number;
  constructor(readonly seed: number) {
    // splitmix32 expands the seed into the state.
    let z = seed >>> 0;
    const next = (): number => {
      z = (z + 0x9e3779b9) | 0;
      let t = z ^ (z >>> 16); t = Math.imul(t, 0x21f0aaad);
      t ^= t >>> 15; t = Math.imul(t, 0x735a2d97);
      return (t ^ (t >>> 15)) >>> 0;
    };
    this.s0 = next(); this.s1 = next(); this.s2 = next(); this.s3 = next();
  }
  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const r = Math.imul(this.rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0; this.s3 ^= this.s1; this.s1 ^= this.s2; this.s0 ^= this.s3;
    this.s2 ^= t; this.s3 = this.rotl(this.s3, 11);
    return r;
  }
  private rotl(x: number, k: number): number { return (x << k) | (x >>> (32 - k)); }
  /** A uniform integer in [0, n) for n ≤ 2^32. */
  below(n: number): number { return Math.floor((this.u32() / 4294967296) * n); }
  chance(p: number): boolean { return this.u32() / 4294967296 < p; }
  pick<T>(xs: readonly T[]): T { return xs[this.below(xs.length)]; }
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
  /**
   * A 64-bit value as [lo, hi] 32-bit halves, biased toward boundaries: 0, ±1, powers of two
   * and their neighbours, 2^31, 2^32, 2^63, all ones, small numbers, or uniform bits.
   */
  u64(): [number, number] {
    switch (this.below(8)) {
      case 0: return [this.below(16), 0];
      case 1: return [0xffffffff - this.below(4), 0xffffffff];
      case 2: { const k = this.below(64); const d = this.below(3) - 1; return add64(k < 32 ? [2 ** k, 0] : [0, 2 ** (k - 32)], d); }
      case 3: return [this.below(1 << 16), 0];
      case 4: return [0, 0x80000000];
      case 5: return [this.u32(), 0];
      default: return [this.u32(), this.u32()];
    }
  }
}

function add64([lo, hi]: [number, number], d: number): [number, number] {
  const l = lo + d;
  if (l < 0) return [l + 4294967296, (hi - 1) >>> 0];
  if (l > 0xffffffff) return [l - 4294967296, (hi + 1) >>> 0];
  return [l, hi];
}

export interface FuzzFinding {
  /** The target that found it. */
  target: string;
  /** Enough to reproduce: the seed and a description of the input. */
  input: string;
  /** What went wrong (the escaped exception's message, "hang", the dead process's status). */
  error: string;
}

export interface FuzzTarget {
  name: string;
  /** One line: what is fuzzed and what counts as a finding. */
  description: string;
  /**
   * Tries a batch of inputs drawn from `rng` and returns how many it tried. Findings go to
   * `report`; a target never throws for a finding (a throw out of batch is itself reported).
   */
  batch(rng: Rng, report: (f: FuzzFinding) => void): number | Promise<number>;
}

export interface FuzzResult { target: string; inputs: number; ms: number; findings: FuzzFinding[] }

/** Runs `t` until `maxInputs` inputs or `maxMs` milliseconds, whichever comes first. */
export async function runTarget(t: FuzzTarget, seed: number, maxInputs: number, maxMs: number): Promise<FuzzResult> {
  const findings: FuzzFinding[] = [];
  const t0 = Date.now();
  let inputs = 0, batch = 0;
  while (inputs < maxInputs && Date.now() - t0 < maxMs) {
    const rng = new Rng((seed + Math.imul(batch++, 0x9e3779b1)) >>> 0);
    try {
      inputs += await t.batch(rng, (f) => findings.push(f));
    } catch (e) {
      inputs++;
      findings.push({ target: t.name, input: `seed ${rng.seed}`, error: e instanceof Error ? e.stack ?? e.message : String(e) });
    }
  }
  return { target: t.name, inputs, ms: Date.now() - t0, findings };
}
