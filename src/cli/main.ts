// The rvisor command line.
//   rvisor run [--bios FILE|none] --kernel FILE [--initrd FILE] [--append STR] [--mem 256M] [--smp N]
//              [--drive file=PATH,format=raw[,readonly=on]]... [--share DIR[,tag=NAME]]... [--dump-dtb FILE]
//   rvisor exec [options] PROGRAM [ARGS...]
import { parseArgs } from "node:util";
import { readFileSync, writeFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { VirtMachine, type Firmware } from "../system/machine.js";
import { LoadError } from "../system/loader.js";
import { attachHtif } from "../system/baremetal.js";
import { isElf, parseElf, ElfError } from "../memory/elf.js";
import { FileBlockBackend } from "../host/node/block_file.js";
import { DiskLockError } from "../host/node/disk_lock.js";
import { NodeFs9p } from "../host/node/fs_9p_node.js";
import { StdoutBackend, attachStdin } from "../host/node/console.js";
import { RunLoop } from "../host/node/run_loop.js";
import type { BlockBackend } from "../system/devices/virtio_blk.js";

export class UsageError extends Error {}

/** Exit status when the guest reboots under --no-reboot. */
export const EXIT_REBOOT = 4;

const USAGE = `usage: rvisor <command> [options]

commands:
  run     boot a RISC-V virt machine (firmware, Linux kernel, or a bare-metal ELF)
  exec    run a riscv64 Linux program directly (process VM)

rvisor run options:
  --bios FILE|none      M-mode firmware (e.g. OpenSBI fw_jump.bin); default: built-in SBI;
                        none: run --kernel bare-metal in M-mode (HTIF tohost supported)
  --kernel FILE         Linux Image or ELF, loaded at 0x80200000 (0x80000000 with --bios none)
  --initrd FILE         initial ramdisk
  --append STRING       kernel command line
  --mem SIZE            RAM size, 16M to 2G, e.g. 256M, 512M, 2G (default 256M)
  --smp N               number of harts, 1-8 (default 1)
  --drive SPEC          file=PATH,format=raw[,readonly=on] (repeatable): a virtio-blk disk
  --share SPEC          HOSTDIR[,tag=NAME][,readonly=on] (repeatable): a virtio-9p share (default tag: host0, host1, ...)
  --dump-dtb FILE       write the device tree blob and exit
  --no-reboot           exit with status ${EXIT_REBOOT} when the guest reboots instead of restarting
  --max-instructions N  stop after about N instructions (exit status 3)

console: C-a x quits, C-a h lists the keys.
`;

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case "run": return await cmdRun(rest);
      case "exec": {
        const mod = await import("../host/node/exec_main.js");
        return await mod.execMain(rest);
      }
      case undefined: case "-h": case "--help": case "help":
        process.stdout.write(USAGE);
        return cmd === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command '${cmd}' (try 'rvisor --help')`);
    }
  } catch (e) {
    if (e instanceof UsageError || e instanceof LoadError || e instanceof ElfError || e instanceof DiskLockError) {
      process.stderr.write(`rvisor: ${e.message}\n`);
      return e instanceof UsageError ? 2 : 1;
    }
    throw e;
  }
}

/** Parses 256M, 2G, 65536K, or plain bytes. */
export function parseSize(s: string): number {
  const m = /^(\d+)([KMG]?)i?B?$/i.exec(s.trim());
  if (m === null) throw new UsageError(`bad size '${s}' (use e.g. 256M or 2G)`);
  const mult = { "": 1, K: 1024, M: 1 << 20, G: 1 << 30 }[m[2].toUpperCase() as "" | "K" | "M" | "G"];
  return Number(m[1]) * mult;
}

/** key=value,key=value (a leading bare value is returned under `_`). */
export function parseSpec(spec: string): Map<string, string> {
  const out = new Map<string, string>();
  spec.split(",").forEach((part, i) => {
    const eq = part.indexOf("=");
    if (eq < 0) { if (i === 0) out.set("_", part); else out.set(part, "on"); }
    else out.set(part.slice(0, eq), part.slice(eq + 1));
  });
  return out;
}

function readInput(path: string, what: string): Uint8Array {
  try {
    if (statSync(path).isDirectory()) throw new UsageError(`${what} '${path}' is a directory`);
    return readFileSync(path);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`cannot read ${what} '${path}': ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

async function cmdRun(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        bios: { type: "string" }, kernel: { type: "string" }, initrd: { type: "string" }, append: { type: "string" },
        mem: { type: "string", short: "m" }, smp: { type: "string" }, drive: { type: "string", multiple: true },
        share: { type: "string", multiple: true }, "dump-dtb": { type: "string" }, "no-reboot": { type: "boolean" },
        "max-instructions": { type: "string" }, help: { type: "boolean", short: "h" },
      },
      strict: true, allowPositionals: false,
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const o = parsed.values;
  if (o.help === true) { process.stdout.write(USAGE); return 0; }
  const memBytes = parseSize(o.mem ?? "256M");
  if (memBytes < 16 << 20 || memBytes > 2 * 2 ** 30 || memBytes % 4096 !== 0) throw new UsageError(`--mem must be between 16M and 2G (got ${o.mem ?? ""})`);
  const harts = o.smp === undefined ? 1 : Number(o.smp);
  if (!Number.isInteger(harts) || harts < 1 || harts > 8) throw new UsageError(`--smp must be an integer from 1 to 8 (got ${o.smp ?? ""})`);
  let firmware: Firmware = { kind: "builtin" };
  if (o.bios === "none") firmware = { kind: "none" };
  else if (o.bios !== undefined && o.bios !== "default") firmware = { kind: "image", bytes: readInput(o.bios, "firmware") };
  const kernel = o.kernel === undefined ? undefined : readInput(o.kernel, "kernel");
  if (kernel === undefined && firmware.kind !== "image") throw new UsageError("--kernel FILE is required (see 'rvisor run --help')");
  if (kernel !== undefined && firmware.kind === "none") parseElfOrRaw(kernel);
  const initrd = o.initrd === undefined ? undefined : readInput(o.initrd, "initrd");
  const maxInsns = o["max-instructions"] === undefined ? Infinity : Number(o["max-instructions"]);
  if (Number.isNaN(maxInsns) || maxInsns <= 0) throw new UsageError("--max-instructions must be a positive number");

  const drives: FileBlockBackend[] = [];
  for (const spec of o.drive ?? []) {
    const kv = parseSpec(spec);
    const file = kv.get("file") ?? kv.get("_");
    if (file === undefined) throw new UsageError(`--drive '${spec}': file=PATH is required`);
    const format = kv.get("format") ?? "raw";
    if (format !== "raw") throw new UsageError(`--drive '${spec}': only format=raw is supported`);
    const ro = kv.get("readonly");
    try {
      drives.push(await FileBlockBackend.open(file, { readonly: ro === "on" || ro === "true" }));
    } catch (e) {
      if (e instanceof DiskLockError) throw new DiskLockError(`--drive '${spec}': ${e.message}`);
      throw new UsageError(`--drive '${spec}': cannot open ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
  }
  const shares: { fs: NodeFs9p; tag: string }[] = [];
  for (const [i, spec] of (o.share ?? []).entries()) {
    const kv = parseSpec(spec);
    const dir = kv.get("_") ?? kv.get("path");
    if (dir === undefined) throw new UsageError(`--share '${spec}': a host directory is required`);
    let isDir = false;
    try { isDir = statSync(dir).isDirectory(); } catch { /* reported below */ }
    if (!isDir) throw new UsageError(`--share '${spec}': ${dir} is not a directory`);
    const ro = kv.get("readonly");
    shares.push({ fs: new NodeFs9p(resolve(dir), { readonly: ro === "on" || ro === "true" }), tag: kv.get("tag") ?? `host${i}` });
  }

  const out = new StdoutBackend();
  // A closed stdout (e.g. `rvisor run ... | head`) ends the run quietly instead of crashing.
  let stdoutClosed = false;
  process.stdout.on("error", () => { stdoutClosed = true; });
  for (;;) {
    const machine = new VirtMachine({
      memBytes, harts, firmware, kernel, initrd, append: o.append ?? "console=ttyS0", drives: drives as BlockBackend[], shares, console: out,
    });
    if (o["dump-dtb"] !== undefined) {
      writeFileSync(o["dump-dtb"], machine.dtb);
      return 0;
    }
    if (firmware.kind === "none" && kernel !== undefined) attachHtif(machine, kernel, (b) => out.write(b));
    const loop = new RunLoop(machine);
    let quit = false;
    const detach = attachStdin({
      input: (b) => { machine.consoleInput(b); loop.kick(); },
      quit: () => { quit = true; loop.kick(); for (const h of machine.harts) h.stopped = true; },
    });
    let reason;
    try {
      reason = await loop.run({
        afterSlice: () => out.flush(),
        shouldStop: () => quit || stdoutClosed || machine.executed >= maxInsns,
      });
    } finally {
      detach();
      out.flush();
    }
    if (quit || stdoutClosed) return 0;
    if (reason.kind === "poweroff") { await Promise.all(drives.map((d) => d.flush())); return reason.code; }
    if (reason.kind === "reboot") {
      if (o["no-reboot"] === true) return EXIT_REBOOT;
      continue;
    }
    if (machine.executed >= maxInsns) { process.stderr.write(`rvisor: stopped after ${machine.executed} instructions\n`); return 3; }
    process.stderr.write("rvisor: every hart has stopped\n");
    return 1;
  }
}

/** With --bios none, an ELF is loaded by its segments (a raw image at 0x80000000); reject non-RISC-V ELF files early. */
function parseElfOrRaw(k: Uint8Array): void {
  if (isElf(k)) parseElf(k);
}
