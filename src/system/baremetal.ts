// The bare-metal runner: `rvisor run --bios none --kernel prog.elf`. Loads an ELF's segments
// at their physical addresses, starts every hart at the entry in M-mode with a0 = hart id and
// a1 = the device tree, maps a CLINT as QEMU's spike machine does, and speaks HTIF when the
// ELF defines `tohost`.
import { Bus } from "../memory/bus.js";
import { Ram } from "../memory/ram.js";
import { ElfError, PT_LOAD, elfSymbols, parseElf } from "../memory/elf.js";
import { CodeCache } from "../cpu/code_cache.js";
import { Hart } from "../cpu/hart.js";
import { MIP_MSIP, MIP_MTIP } from "../cpu/csr_numbers.js";
import { Clint, CLINT_BASE, CLINT_SIZE, clintFdt } from "./devices/clint.js";
import { FdtBuilder, regCells } from "./fdt.js";
import { Htif } from "./htif.js";

export const RAM_BASE = 0x8000_0000;

export interface BareMetalOptions {
  memBytes?: number;
  /** Stop after about this many instructions (exitCode null). */
  maxInstructions?: number;
  harts?: number;
  /** Console bytes as they are printed. */
  onOutput?: (bytes: Uint8Array) => void;
  /** Host milliseconds clock (tests may inject one). */
  clock?: () => number;
}

export interface BareMetalResult {
  exitCode: number | null;
  output: string;
  instret: number;
  harts: Hart[];
}

export class LoadError extends Error {}

/** Loads PT_LOAD segments at their physical addresses; returns the entry point. */
export function loadElfPhysical(ram: Ram, bytes: Uint8Array): number {
  let elf;
  try { elf = parseElf(bytes); } catch (e) { throw new LoadError(e instanceof ElfError ? e.message : String(e)); }
  for (const seg of elf.segments) {
    if (seg.type !== PT_LOAD || seg.memsz === 0) continue;
    if (!ram.contains(seg.paddr, seg.memsz)) {
      throw new LoadError(`ELF segment at 0x${seg.paddr.toString(16)} (+0x${seg.memsz.toString(16)} bytes) is outside RAM ` +
        `0x${ram.base.toString(16)}-0x${(ram.base + ram.size).toString(16)}`);
    }
    ram.write(seg.paddr, bytes.subarray(seg.offset, seg.offset + seg.filesz));
    ram.u8.fill(0, seg.paddr - ram.base + seg.filesz, seg.paddr - ram.base + seg.memsz);
  }
  return elf.entry;
}

/** A minimal device tree: cpus, memory and the CLINT. */
export function bareMetalFdt(nharts: number, memBytes: number): Uint8Array {
  const fdt = new FdtBuilder();
  const intc: number[] = [];
  fdt.beginNode("").propU32("#address-cells", 2).propU32("#size-cells", 2).propString("compatible", "riscv-virtio")
    .propString("model", "rvisor,bare");
  fdt.beginNode("cpus").propU32("#address-cells", 1).propU32("#size-cells", 0).propU32("timebase-frequency", 10_000_000);
  for (let i = 0; i < nharts; i++) {
    const ph = fdt.allocPhandle();
    intc.push(fdt.allocPhandle());
    fdt.beginNode(`cpu@${i}`).propString("device_type", "cpu").propU32("reg", i).propString("status", "okay")
      .propString("compatible", "riscv").propString("riscv,isa", "rv64imafdc_zicsr_zifencei_zicntr")
      .propString("mmu-type", "riscv,sv48").propU32("phandle", ph);
    fdt.beginNode("interrupt-controller").propU32("#interrupt-cells", 1).propEmpty("interrupt-controller")
      .propString("compatible", "riscv,cpu-intc").propU32("phandle", intc[i]).endNode();
    fdt.endNode();
  }
  fdt.endNode();
  fdt.beginNode(`memory@${RAM_BASE.toString(16)}`).propString("device_type", "memory").propCells("reg", regCells(RAM_BASE, memBytes)).endNode();
  fdt.beginNode("soc").propU32("#address-cells", 2).propU32("#size-cells", 2).propString("compatible", "simple-bus").propEmpty("ranges");
  clintFdt(fdt, CLINT_BASE, CLINT_SIZE, intc);
  fdt.endNode();
  fdt.endNode();
  return fdt.finish();
}

export function runBareMetal(bytes: Uint8Array, opts: BareMetalOptions = {}): BareMetalResult {
  const memBytes = opts.memBytes ?? 64 * 1024 * 1024;
  const nharts = opts.harts ?? 1;
  const ram = new Ram(RAM_BASE, memBytes);
  const bus = new Bus(ram);
  const code = new CodeCache(ram);
  const entry = loadElfPhysical(ram, bytes);
  const harts: Hart[] = [];
  for (let i = 0; i < nharts; i++) harts.push(new Hart(i, bus, code));
  const clock = opts.clock ?? (() => performance.now());
  const clint = new Clint(harts.map((h) => ({
    msip: { set: (l: boolean) => h.setIrq(MIP_MSIP, l) },
    mtip: { set: (l: boolean) => h.setIrq(MIP_MTIP, l) },
  })), clock);
  bus.map("clint", CLINT_BASE, CLINT_SIZE, clint);
  const dtb = bareMetalFdt(nharts, memBytes);
  const dtbAddr = RAM_BASE + memBytes - ((dtb.length + 0xfff) & ~0xfff);
  ram.write(dtbAddr, dtb);
  for (const h of harts) {
    h.pc = entry;
    h.setX(10, h.hartId);
    h.setX(11, dtbAddr);
    h.timeSource = () => clint.mtime();
  }
  const syms = elfSymbols(parseElf(bytes), ["tohost", "fromhost"]);
  const tohost = syms.get("tohost");
  const htif = tohost === undefined ? null : new Htif(ram, tohost, syms.get("fromhost") ?? null, opts.onOutput,
    () => { for (const h of harts) h.stopped = true; });
  const max = opts.maxInstructions ?? Infinity;
  let total = 0;
  const SLICE = 20000;
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  while (total < max && (htif === null || htif.exitCode === null)) {
    clint.tick();
    let ran = 0;
    for (const h of harts) {
      if (h.stopped) continue;
      if (h.wfi) { h.wfi = h.pendingInterrupt() < 0 && (h.mip & h.mie) === 0; if (h.wfi) continue; }
      h.reservation = -1; // another hart may have run since: LR/SC must not succeed across it
      ran += h.run(SLICE);
      if (htif !== null && htif.exitCode !== null) break;
    }
    total += ran;
    if (ran === 0) {
      if (harts.every((h) => h.stopped)) break;
      const wait = clint.nextDeadline();
      if (!Number.isFinite(wait)) break; // every hart waits for an interrupt that can never come
      if (wait > 0) Atomics.wait(sleeper, 0, 0, Math.min(wait, 50));
    }
  }
  return { exitCode: htif?.exitCode ?? null, output: htif?.output() ?? "", instret: harts.reduce((s, h) => s + h.retired, 0), harts };
}
