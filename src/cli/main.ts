// The rvisor command line.
//   rvisor run [--bios FILE|none] --kernel FILE [--initrd FILE] [--append STR] [--mem 256M] [--smp N]
//              [--drive file=PATH[,format=raw|qcow2][,readonly=on][,snapshot=on]]... [--share DIR[,tag=NAME]]... [--dump-dtb FILE]
//              [--cpu rv64gc|rva22|max] [--net user[,mac=..][,hostfwd=..]|none]... [--snapshot-file FILE]
//   rvisor run --restore FILE [--drive ...]... [--share ...]... [--net ...]... [--snapshot-file FILE]
//   rvisor exec [options] PROGRAM [ARGS...]
//   rvisor img create|info ...            (src/cli/img.ts)
//   rvisor image pull|import|ls|inspect|rm (src/cli/image.ts)
//   rvisor container run|ps|stop|kill|rm|logs|exec|inspect (src/cli/container.ts)
//   rvisor serve [--socket PATH] [--listen HOST:PORT --token-file F]   (src/cli/serve.ts)
import { parseArgs } from "node:util";
import { writeFileSync } from "node:fs";
import { VirtMachine, type Firmware } from "../system/machine.js";
import { LoadError } from "../system/loader.js";
import { attachHtif } from "../system/baremetal.js";
import { isElf, parseElf, ElfError } from "../memory/elf.js";
import { hex64 } from "../memory/hex.js";
import { PRV_M } from "../cpu/csr_numbers.js";
import { DEFAULT_PROFILE, Isa, PROFILES, type CpuProfile } from "../cpu/isa.js";
import { setJitOptions } from "../cpu/jit/config.js";
import { DiskLockError } from "../host/node/disk_lock.js";
import { DiskOpenError, openDisk, type DiskFormat, type OpenDisk } from "../host/node/disk_image.js";
import type { NodeFs9p } from "../host/node/fs_9p_node.js";
import { StdoutBackend, attachStdin } from "../host/node/console.js";
import { RunLoop } from "../host/node/run_loop.js";
import { openShare, readHostFile, VmBuildError } from "../host/node/virt_build.js";
import { SnapshotError } from "../system/snapshot.js";
import { SnapshotTrigger, restoreMachine } from "./run_snapshot.js";
import { NodeNetHost } from "../host/node/net_host.js";
import { HostForwardError, UserNet } from "../net/user_net.js";
import { NetOptionError, parseNetOption, type SwitchNetOption, type UserNetOption } from "./net_option.js";
import { SwitchJoinFailed, SwitchPort } from "../host/node/switch_port.js";
import { defaultHome } from "../host/node/vm_store.js";
import { QEMU_MAC_PREFIX, formatMac } from "../system/devices/virtio_net.js";
import { randomBytes } from "node:crypto";
import type { NetBackend } from "../net/backend.js";

export class UsageError extends Error {}

/** Exit status when the guest reboots under --no-reboot. */
export const EXIT_REBOOT = 4;

/** What each `--cpu` profile is, for the usage texts of run and exec. */
const CPU_PROFILE_TEXT: Record<CpuProfile, string> = {
  rv64gc: "RV64GC only, for guests that predate the newer extensions",
  rva22: "the RVA22U64/RVA22S64 profile",
  max: "every extension rvisor implements",
};
export const CPU_PROFILES_HELP = Object.keys(PROFILES).join(", ");
/** The usage lines of `--cpu` (indented by `indent` spaces). */
export function cpuUsage(indent: number): string {
  return (Object.keys(CPU_PROFILE_TEXT) as CpuProfile[])
    .map((p) => `${" ".repeat(indent)}${p.padEnd(8)}${CPU_PROFILE_TEXT[p]}${p === DEFAULT_PROFILE ? " (default)" : ""}\n`).join("");
}

/**
 * `--cpu PROFILE` for run and exec alike: rv64gc (the base ISA, for old guests), rva22 (the
 * RVA22U64/S64 profile) or max (everything rvisor implements).
 */
/**
 * --jit=off|on: translate hot guest code to WebAssembly (src/cpu/jit/). The default is off
 * until the translator covers enough to be the faster choice everywhere; RVISOR_JIT=on|off
 * and RVISOR_JIT_THRESHOLD=N (testing) set it from the environment.
 */
export function applyJitOption(v: string | undefined, opt = "--jit"): void {
  if (v === undefined) return;
  if (v !== "on" && v !== "off") throw new UsageError(`${opt} must be on or off (got '${v}')`);
  setJitOptions({ enabled: v === "on" });
}

/** The --jit lines of the run and exec usage texts, indented to `col`. */
export function jitUsage(col: number): string {
  const pad = " ".repeat(col);
  return `${pad}translate hot guest code to WebAssembly (default on; RVISOR_JIT=on|off,\n${pad}RVISOR_JIT_THRESHOLD=1 translates every block, for testing)\n`;
}

export function parseCpu(name: string, opt = "--cpu"): Isa {
  if (!Object.hasOwn(PROFILES, name)) throw new UsageError(`${opt}: unknown CPU profile '${name}' (valid: ${CPU_PROFILES_HELP})`);
  return Isa.profile(name as CpuProfile);
}

const USAGE = `usage: rvisor <command> [options]

commands:
  run     boot a RISC-V virt machine (firmware, Linux kernel, or a bare-metal ELF)
  exec    run a riscv64 Linux program directly (process VM)
  img     create and inspect disk images (raw, qcow2), like qemu-img ('rvisor img --help')
  image   pull, import, list, inspect and remove OCI container images ('rvisor image --help')
  container  run OCI images as containers on the process VM, in Docker's shape ('rvisor container --help')
  create, start, console, stop, kill, pause, resume, list, info, logs, rm, snapshot, restore, clone
          manage persistent VMs, each running in its own process (below)
  serve   serve the REST API on a Unix socket (or TCP with a token) ('rvisor serve --help')

rvisor run options:
  --bios FILE|none      M-mode firmware (e.g. OpenSBI fw_jump.bin); default: built-in SBI;
                        none: run --kernel bare-metal in M-mode (HTIF tohost supported)
  --kernel FILE         Linux Image or ELF, loaded at 0x80200000 (0x80000000 with --bios none)
  --initrd FILE         initial ramdisk
  --append STRING       kernel command line
  --mem SIZE            RAM size, 16M to 2G, e.g. 256M, 512M, 2G; a bare number is MiB (default 256M)
  --smp N               number of harts, 1-8 (default 1)
  --cpu PROFILE         the harts' ISA, advertised in the device tree:
${cpuUsage(24)}  --drive SPEC          file=PATH[,format=raw|qcow2][,readonly=on][,snapshot=on] (repeatable): a
                        virtio-blk disk; the format is probed when not given; snapshot=on sends
                        writes to a temporary overlay discarded at exit (QEMU's -snapshot)
  --share SPEC          HOSTDIR[,tag=NAME][,readonly=on] (repeatable): a virtio-9p share (default tag: host0, host1, ...)
  --net SPEC            user[,mac=52:54:00:12:34:56][,net=10.0.2.0/24][,host=..][,dns=..][,dhcpstart=..]
                        [,restrict=on][,hostfwd=[tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport]...
                        [,guestfwd=[tcp]:server:port-tcp:hostaddr:hostport]... (repeatable):
                        a virtio-net card on user-mode networking (DHCP, DNS, TCP, UDP; 10.0.2.2 is the host's
                        loopback; hostfwd listens on 127.0.0.1 unless given an address);
                        switch=NAME[,mac=..][,name=HOST]: a card on the VM switch NAME (shared with the managed
                        VMs on it; DHCP, and DNS for HOST.internal); none: no card (the default)
  --dump-dtb FILE       write the device tree blob and exit
  --no-reboot           exit with status ${EXIT_REBOOT} when the guest reboots instead of restarting
  --max-instructions N  stop after N instructions, give or take one block (exit status 3)
  --jit off|on          ${jitUsage(24).trimStart()}  --snapshot-file FILE  where C-a s (or SIGUSR1) writes a snapshot of the running machine
                        (FILE.gz: gzip-compressed)
  --restore FILE        continue the machine of a snapshot instead of booting; give the same
                        --drive and --share options, with the disks as they were at the snapshot

console: C-a x quits, C-a h lists the keys.
`;

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case "run":
        try { return await cmdRun(rest); } finally { await closeDrives(); }
      case "img": {
        const mod = await import("./img.js");
        return await mod.imgMain(rest);
      }
      case "image": {
        const mod = await import("./image.js");
        return await mod.imageMain(rest);
      }
      case "container": {
        const mod = await import("./container.js");
        return await mod.containerMain(rest);
      }
      case "exec": {
        const mod = await import("../host/node/exec_main.js");
        return await mod.execMain(rest);
      }
      case "serve": return await (await import("./serve.js")).serveMain(rest);
      case "create": case "start": case "console": case "stop": case "kill": case "pause": case "resume":
      case "list": case "info": case "logs": case "rm": case "snapshot": case "snapshots": case "restore": case "clone": case "__vm":
        return await (await import("./vm_commands.js")).vmMain(cmd, rest);
      case "__switch": return await (await import("../host/node/switch_process.js")).switchProcessMain(rest[0]);
      case undefined: case "-h": case "--help": case "help":
        process.stdout.write(USAGE + (await import("./vm_commands.js")).VM_USAGE);
        return cmd === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command '${cmd}' (try 'rvisor --help')`);
    }
  } catch (e) {
    if (e instanceof UsageError || e instanceof LoadError || e instanceof ElfError || e instanceof DiskLockError || e instanceof DiskOpenError || e instanceof SnapshotError || e instanceof HostForwardError || e instanceof SwitchJoinFailed) {
      process.stderr.write(`rvisor: ${e.message}\n`);
      return e instanceof UsageError ? 2 : 1;
    }
    throw e;
  }
}

/** Parses 256M, 2G, 65536K, 4096B; a bare number is in `bareUnit` bytes (MiB for --mem, as QEMU's -m). */
export function parseSize(s: string, bareUnit = 1): number {
  const m = /^(\d+)(?:([KMG])i?B?|(B))?$/i.exec(s.trim());
  if (m === null) throw new UsageError(`bad size '${s}' (use e.g. 256M or 2G)`);
  const mult = m[2] !== undefined ? { K: 1024, M: 1 << 20, G: 1 << 30 }[m[2].toUpperCase() as "K" | "M" | "G"] : m[3] !== undefined ? 1 : bareUnit;
  return Number(m[1]) * mult;
}

export const MEM_MIN = 16 << 20, MEM_MAX = 2 * 2 ** 30;

/** `--mem SIZE` for run and exec alike: 16M to 2G in whole pages; a bare number is MiB. */
export function parseMem(s: string, opt = "--mem"): number {
  const bytes = parseSize(s, 1 << 20);
  if (bytes < MEM_MIN || bytes > MEM_MAX || bytes % 4096 !== 0) throw new UsageError(`${opt} must be between 16M and 2G (got ${s})`);
  return bytes;
}

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
async function closeDrives(): Promise<void> {
  const all = openDrives.splice(0);
  await Promise.all(all.map((d) => d.close().catch((e: unknown) => { process.stderr.write(`rvisor: closing a disk: ${String(e)}\n`); })));
}

async function cmdRun(argv: string[]): Promise<number> {
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
