// `rvisor run`: boots a virt machine in this process (kept apart from main.ts so that the other
// commands, containers above all, start without loading the system VM's modules).
import { parseArgs } from "node:util";
import { writeFileSync } from "node:fs";
import { VirtMachine, type Firmware } from "../system/machine.js";
import { attachHtif } from "../system/baremetal.js";
import { isElf, parseElf } from "../memory/elf.js";
import { hex64 } from "../memory/hex.js";
import { PRV_M } from "../cpu/csr_numbers.js";
import { DEFAULT_PROFILE } from "../cpu/isa.js";
import { DiskLockError } from "../host/node/disk_lock.js";
import { DiskOpenError, openDisk, type DiskFormat, type OpenDisk } from "../host/node/disk_image.js";
import type { NodeFs9p } from "../host/node/fs_9p_node.js";
import { StdoutBackend, attachStdin } from "../host/node/console.js";
import { RunLoop } from "../host/node/run_loop.js";
import { openShare, readHostFile, VmBuildError } from "../host/node/virt_build.js";
import { SnapshotTrigger, restoreMachine } from "./run_snapshot.js";
import { NodeNetHost } from "../host/node/net_host.js";
import { HostForwardError, UserNet } from "../net/user_net.js";
import { NetOptionError, parseNetOption, type SwitchNetOption, type UserNetOption } from "./net_option.js";
import { SwitchJoinFailed, SwitchPort } from "../host/node/switch_port.js";
import { defaultHome } from "../host/node/vm_store.js";
import { QEMU_MAC_PREFIX, formatMac } from "../system/devices/virtio_net.js";
import { randomBytes } from "node:crypto";
import type { NetBackend } from "../net/backend.js";
import { USAGE, UsageError, EXIT_REBOOT, applyJitOption, parseCpu, parseMem } from "./main.js";

/**
 * getopt's rule for options that take a value: the next argument is the value even when it
 * starts with '-' (`--mem -5M` is then a bad size, not parseArgs' three-line "ambiguous"
 * complaint). Rewrites `--name value` to `--name=value` (and `-x value` to `-xvalue`).
 */
function joinValues(argv: string[], valued: ReadonlySet<string>, short: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") { out.push(...argv.slice(i)); break; }
    const long = a.startsWith("--") ? a.slice(2) : short.get(a);
    if (long !== undefined && valued.has(long) && i + 1 < argv.length) { out.push(`--${long}=${argv[++i]}`); continue; }
    out.push(a);
  }
  return out;
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
  try { return readHostFile(path, what); } catch (e) { throw e instanceof VmBuildError ? new UsageError(e.message) : e; }
}

/** The disks `rvisor run` opened: flushed (qcow2 metadata written back) and unlocked when it ends, however it ends. */
const openDrives: OpenDisk[] = [];
export async function closeDrives(): Promise<void> {
  const all = openDrives.splice(0);
  await Promise.all(all.map((d) => d.close().catch((e: unknown) => { process.stderr.write(`rvisor: closing a disk: ${String(e)}\n`); })));
}

export async function cmdRun(argv: string[]): Promise<number> {
  const options = {
    bios: { type: "string" }, kernel: { type: "string" }, initrd: { type: "string" }, append: { type: "string" },
    mem: { type: "string", short: "m" }, smp: { type: "string" }, cpu: { type: "string" }, drive: { type: "string", multiple: true },
    share: { type: "string", multiple: true }, net: { type: "string", multiple: true }, "dump-dtb": { type: "string" }, "no-reboot": { type: "boolean" },
    "max-instructions": { type: "string" }, help: { type: "boolean", short: "h" },
    "snapshot-file": { type: "string" }, restore: { type: "string" }, jit: { type: "string" },
  } as const;
  const valued = new Set(Object.entries(options).filter(([, d]) => d.type === "string").map(([k]) => k));
  const shorts = new Map(Object.entries(options).flatMap(([k, d]) => ("short" in d ? [[`-${d.short}`, k] as [string, string]] : [])));
  let parsed;
  try {
    parsed = parseArgs({ args: joinValues(argv, valued, shorts), options, strict: true, allowPositionals: false });
  } catch (e) {
    throw new UsageError((e as Error).message.split("\n")[0]);
  }
  const o = parsed.values;
  if (o.help === true) { process.stdout.write(USAGE); return 0; }
  applyJitOption(o.jit);
  const memBytes = parseMem(o.mem ?? "256M");
  const isa = parseCpu(o.cpu ?? DEFAULT_PROFILE);
  const harts = o.smp === undefined ? 1 : Number(o.smp);
  if (!Number.isInteger(harts) || harts < 1 || harts > 8) throw new UsageError(`--smp must be an integer from 1 to 8 (got ${o.smp ?? ""})`);
  let firmware: Firmware = { kind: "builtin" };
  if (o.bios === "none") firmware = { kind: "none" };
  else if (o.bios !== undefined && o.bios !== "default") firmware = { kind: "image", bytes: readInput(o.bios, "firmware") };
  if (o.restore !== undefined) {
    // The snapshot is the machine: options that would describe another one are refused.
    const clash = (["bios", "kernel", "initrd", "append", "mem", "smp", "cpu", "dump-dtb"] as const).filter((k) => o[k] !== undefined);
    if (clash.length > 0) throw new UsageError(`--restore: the snapshot defines the machine; drop --${clash.join(", --")}`);
  }
  const kernel = o.kernel === undefined ? undefined : readInput(o.kernel, "kernel");
  if (kernel === undefined && firmware.kind !== "image" && o.restore === undefined) throw new UsageError("--kernel FILE is required (see 'rvisor run --help')");
  if (kernel !== undefined && firmware.kind === "none") parseElfOrRaw(kernel);
  const initrd = o.initrd === undefined ? undefined : readInput(o.initrd, "initrd");
  const maxInsns = o["max-instructions"] === undefined ? Infinity : Number(o["max-instructions"]);
  if ((!Number.isSafeInteger(maxInsns) && maxInsns !== Infinity) || maxInsns <= 0) throw new UsageError("--max-instructions must be a positive integer");

  const drives = openDrives;
  for (const spec of o.drive ?? []) {
    const kv = parseSpec(spec);
    const file = kv.get("file") ?? kv.get("_");
    if (file === undefined) throw new UsageError(`--drive '${spec}': file=PATH is required`);
    const format = kv.get("format");
    if (format !== undefined && format !== "raw" && format !== "qcow2") throw new UsageError(`--drive '${spec}': format must be raw or qcow2`);
    const onOff = (key: string): boolean => {
      const v = kv.get(key);
      if (v === undefined || v === "off" || v === "false") return false;
      if (v === "on" || v === "true") return true;
      throw new UsageError(`--drive '${spec}': ${key}= must be on or off`);
    };
    try {
      const d = await openDisk(file, { format: format as DiskFormat | undefined, readonly: onOff("readonly"), snapshot: onOff("snapshot") });
      drives.push(d);
      if (d.probedRaw) {
        process.stderr.write(`rvisor: warning: image format was not specified for '${file}' and probing guessed raw; add format=raw to --drive to say so\n`);
      }
    } catch (e) {
      if (e instanceof DiskLockError) throw new DiskLockError(`--drive '${spec}': ${e.message}`);
      if (e instanceof DiskOpenError) throw new DiskOpenError(`--drive '${spec}': ${e.message}`);
      throw e;
    }
  }
  const shares: { fs: NodeFs9p; tag: string }[] = [];
  for (const [i, spec] of (o.share ?? []).entries()) {
    const kv = parseSpec(spec);
    const dir = kv.get("_") ?? kv.get("path");
    if (dir === undefined) throw new UsageError(`--share '${spec}': a host directory is required`);
    const ro = kv.get("readonly");
    const tag = kv.get("tag") ?? `host${i}`;
    // The virtio-9p config space holds the tag as tag_len (le16) + bytes: 1 to 65535 bytes.
    const tagBytes = new TextEncoder().encode(tag).length;
    if (tagBytes === 0 || tagBytes > 0xffff) throw new UsageError(`--share '${spec}': tag= must be 1 to 65535 bytes`);
    try { shares.push(openShare(dir, tag, ro === "on" || ro === "true", `--share '${spec}'`)); }
    catch (e) { throw e instanceof VmBuildError ? new UsageError(e.message) : e; }
  }

  let nets: { spec: string; opt: UserNetOption | SwitchNetOption }[];
  try {
    nets = (o.net ?? []).map((spec) => ({ spec, opt: parseNetOption(spec) }))
      .flatMap((n) => (n.opt.kind !== "none" ? [{ spec: n.spec, opt: n.opt }] : []));
  } catch (e) {
    if (e instanceof NetOptionError) throw new UsageError(e.message);
    throw e;
  }
  const netHost = new NodeNetHost();
  // One backend per NIC for the whole run (as QEMU's slirp): forwards and switch ports stay across reboots.
  let wake = (): void => undefined;
  const backends: (UserNet | SwitchPort)[] = [];
  try {
    for (const [i, n] of nets.entries()) {
      if (n.opt.kind === "user") {
        const u = new UserNet(netHost, { config: n.opt.config, onAsyncFrame: () => wake() });
        backends.push(u);
        try { await u.startForwards(); } catch (e) {
          if (e instanceof HostForwardError) throw new HostForwardError(`--net '${nets[i].spec}': ${e.message}`);
          throw e;
        }
      } else {
        // Two runs on one switch must not share QEMU's fixed default MAC: without mac= a random one (52:54:00 prefix).
        n.opt.mac ??= Uint8Array.of(...QEMU_MAC_PREFIX, ...randomBytes(3));
        const mac = formatMac(n.opt.mac);
        try {
          backends.push(await SwitchPort.open({ root: defaultHome(), switchName: n.opt.switchName, vmName: n.opt.name, mac, onAsyncFrame: () => wake() }));
        } catch (e) {
          if (e instanceof SwitchJoinFailed) throw new SwitchJoinFailed(`--net '${nets[i].spec}': ${e.message}`);
          throw e;
        }
      }
    }
  } catch (e) {
    for (const n of backends) n.close();
    throw e;
  }

  const out = new StdoutBackend();
  // A closed stdout (e.g. `rvisor run ... | head`) ends the run quietly instead of crashing.
  let stdoutClosed = false;
  process.stdout.on("error", () => { stdoutClosed = true; });
  // The stacks close when the run ends, however it ends (the loop below only returns or throws).
  try {
  for (;;) {
    const nics: { backend: NetBackend; mac?: Uint8Array }[] = nets.map((n, i) => ({ backend: backends[i], mac: n.opt.mac }));
    const machine = o.restore !== undefined
      ? await restoreMachine(o.restore, { drives: drives.map((d) => d.backend), shares, nics, console: out })
      : new VirtMachine({
        memBytes, harts, firmware, kernel, initrd, append: o.append ?? "console=ttyS0", drives: drives.map((d) => d.backend), shares, console: out, isa,
        nics,
      });
    if (o["dump-dtb"] !== undefined) {
      writeFileSync(o["dump-dtb"], machine.dtb);
      return 0;
    }
    if (firmware.kind === "none" && kernel !== undefined) attachHtif(machine, kernel, (b) => out.write(b));
    const loop = new RunLoop(machine);
    wake = () => loop.kick();
    let quit = false;
    const snapshots = o["snapshot-file"] === undefined ? null
      : new SnapshotTrigger(o["snapshot-file"], (line) => { out.flush(); process.stderr.write(`\r\n${line}\r\n`); }, () => loop.kick());
    const detach = attachStdin({
      input: (b) => { machine.consoleInput(b); loop.kick(); },
      quit: () => { quit = true; loop.kick(); for (const h of machine.harts) h.stopped = true; },
      snapshot: () => snapshots?.request(),
    });
    let reason;
    try {
      reason = await loop.run({
        afterSlice: () => out.flush(),
        shouldStop: () => quit || stdoutClosed,
        maxInstructions: maxInsns,
        between: () => snapshots?.take(machine),
      });
    } finally {
      snapshots?.dispose();
      detach();
      out.flush();
    }
    if (quit || stdoutClosed) return 0;
    if (reason.kind === "poweroff") { await Promise.all(drives.map((d) => d.backend.flush())); return reason.code; }
    if (reason.kind === "reboot") {
      // A restored machine has no kernel to boot again: it ends as with --no-reboot.
      if (o["no-reboot"] === true || o.restore !== undefined) return EXIT_REBOOT;
      continue;
    }
    if (reason.kind === "stuck") {
      // M-mode code is the firmware's (or, with --bios none, the kernel's); S/U-mode code the kernel's.
      const fw = firmware.kind === "image" && reason.priv === PRV_M;
      const what = fw ? `firmware '${o.bios ?? ""}'` : `kernel '${o.kernel ?? ""}'`;
      process.stderr.write(`rvisor: hart ${reason.hart} makes no progress: it keeps trapping (${causeName(reason.cause)} at ` +
        `${hex64(reason.epc)} in ${"USHM"[reason.priv]}-mode); is ${what} ${fw ? "RISC-V firmware" : "RISC-V code for this machine"}?\n`);
      return 1;
    }
    if (machine.executed >= maxInsns) { process.stderr.write(`rvisor: stopped after ${machine.executed} instructions\n`); return 3; }
    process.stderr.write("rvisor: every hart has stopped\n");
    return 1;
  }
  } finally {
    for (const n of backends) n.close();
    netHost.closeAll();
  }
}

/** mcause exception codes (privileged spec table 3.6) as a user reads them. */
function causeName(cause: number): string {
  const names = ["instruction address misaligned", "instruction access fault", "illegal instruction", "breakpoint",
    "load address misaligned", "load access fault", "store address misaligned", "store access fault",
    "ecall from U-mode", "ecall from S-mode", "", "ecall from M-mode", "instruction page fault", "load page fault", "", "store page fault"];
  return names[cause] || `trap cause ${cause}`;
}

/** With --bios none, an ELF is loaded by its segments (a raw image at 0x80000000); reject non-RISC-V ELF files early. */
function parseElfOrRaw(k: Uint8Array): void {
  if (isElf(k)) parseElf(k);
}
