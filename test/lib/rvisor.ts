// rvisor's bare-metal runner (src/system/baremetal.ts) as tests, benchmarks and the fuzzing
// script use it. Kept behind loadRunBareMetal() so callers can report a missing build plainly.
import { runBareMetal, type BareMetalOptions, type BareMetalResult } from "../../src/system/baremetal.js";

export type { BareMetalOptions, BareMetalResult };
export type RunBareMetal = (elf: Uint8Array, opts?: BareMetalOptions) => BareMetalResult;

/** The runner, or an explanation of why it is not available. */
export async function loadRunBareMetal(): Promise<{ run: RunBareMetal } | { error: string }> {
  return { run: runBareMetal };
}
