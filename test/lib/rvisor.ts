// Access to rvisor's bare-metal runner (src/system/baremetal.ts) for tests and benchmarks.
//
// The runner is loaded with a dynamic import so that the test tree compiles even before the
// runner exists; the signature below is the contract the lead's module implements. Once
// src/system/baremetal.ts has landed, a static
//   import { runBareMetal } from "../../src/system/baremetal.js";
// may replace loadRunBareMetal() to get compile-time checking of the contract.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

export interface BareMetalOptions {
  memBytes?: number;
  maxInstructions?: number;
  harts?: number;
}

export interface BareMetalResult {
  /** HTIF exit status; null when the instruction budget ran out. */
  exitCode: number | null;
  output: string;
  instret: number;
}

export type RunBareMetal = (elf: Uint8Array, opts?: BareMetalOptions) => BareMetalResult;

const MODULE_URL = new URL("../../src/system/baremetal.js", import.meta.url);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null;
}

/** The runner, or an explanation of why it is not available. */
export async function loadRunBareMetal(): Promise<{ run: RunBareMetal } | { error: string }> {
  const path = fileURLToPath(MODULE_URL);
  if (!existsSync(path)) {
    return { error: `rvisor bare-metal runner not built: ${path} is missing (src/system/baremetal.ts has not landed yet)` };
  }
  const mod: unknown = await import(MODULE_URL.href);
  if (!isRecord(mod) || typeof mod["runBareMetal"] !== "function") {
    return { error: `${path} does not export a function runBareMetal` };
  }
  const fn = mod["runBareMetal"];
  const run: RunBareMetal = (elf, opts) => {
    const r: unknown = Reflect.apply(fn, undefined, [elf, opts]);
    if (!isRecord(r) || typeof r["output"] !== "string" || typeof r["instret"] !== "number") {
      throw new Error("runBareMetal returned an unexpected value");
    }
    const code = r["exitCode"];
    if (code !== null && typeof code !== "number") throw new Error("runBareMetal: exitCode must be number|null");
    return { exitCode: code, output: r["output"], instret: r["instret"] };
  };
  return { run };
}
