// The bare-metal runner: `rvisor run --bios none --kernel prog.elf`, as a library for tests and
// benchmarks. It is the virt board with no firmware: every hart starts at the ELF's entry in
// M-mode with a0 = hart id and a1 = the device tree; when the ELF defines `tohost`, HTIF ends
// the run and carries its console (as on Spike and QEMU's spike board).
import { elfSymbols, isElf, parseElf } from "../memory/elf.js";
import type { Hart } from "../cpu/hart.js";
import type { Isa } from "../cpu/isa.js";
import { VirtMachine } from "./machine.js";
import { Htif } from "./htif.js";
import { nullCharBackend } from "./devices/char_backend.js";

export interface BareMetalOptions {
  memBytes?: number;
  /** Stop after about this many instructions (exitCode null). */
  maxInstructions?: number;
  harts?: number;
  /** Console bytes as they are printed (HTIF console). */
  onOutput?: (bytes: Uint8Array) => void;
  /** Host milliseconds clock (tests may inject one). */
  clock?: () => number;
  /** The harts' ISA (default: the default profile). */
  isa?: Isa;
}

export interface BareMetalResult {
  exitCode: number | null;
  output: string;
  instret: number;
  harts: Hart[];
}

/**
 * Speaks HTIF for `elf` on `machine` when the ELF defines `tohost`: an exit command powers
 * the machine off with that status. Returns null for images without HTIF.
 */
export function attachHtif(machine: VirtMachine, elf: Uint8Array, onOutput?: (bytes: Uint8Array) => void): Htif | null {
  if (!isElf(elf)) return null;
  const syms = elfSymbols(parseElf(elf), ["tohost", "fromhost"]);
  const tohost = syms.get("tohost");
  if (tohost === undefined) return null;
  const htif: Htif = new Htif(machine.ram, tohost, syms.get("fromhost") ?? null, onOutput, () => {
    machine.exit = { kind: "poweroff", code: htif.exitCode ?? 0 };
    for (const h of machine.harts) h.stopped = true;
  });
  return htif;
}

/** Runs a bare-metal ELF to its HTIF exit (or the instruction budget), synchronously. */
export function runBareMetal(bytes: Uint8Array, opts: BareMetalOptions = {}): BareMetalResult {
  const machine = new VirtMachine({
    memBytes: opts.memBytes ?? 64 * 1024 * 1024, harts: opts.harts ?? 1, firmware: { kind: "none" }, kernel: bytes,
    console: nullCharBackend, clock: opts.clock, isa: opts.isa,
  });
  const htif = attachHtif(machine, bytes, opts.onOutput);
  const max = opts.maxInstructions ?? Infinity;
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  while (machine.exit === null && machine.executed < max) {
    if (machine.step(Math.min(1_000_000, max - machine.executed)) > 0) continue;
    if (machine.harts.every((h) => h.stopped)) break;
    const wait = machine.idleDeadline();
    if (!Number.isFinite(wait)) break; // every hart waits for an interrupt that can never come
    if (wait > 0) Atomics.wait(sleeper, 0, 0, Math.min(wait, 50));
  }
  return { exitCode: htif?.exitCode ?? null, output: htif?.output() ?? "", instret: machine.instret(), harts: machine.harts };
}
