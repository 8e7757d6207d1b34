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
import { DEFAULT_PROFILE, Isa, PROFILES, type CpuProfile } from "../cpu/isa.js";
import { setJitOptions } from "../cpu/jit/config.js";

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

export const USAGE = `usage: rvisor <command> [options]

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
      case "run": {
        const mod = await import("./run_vm.js");
        try { return await mod.cmdRun(rest); } finally { await mod.closeDrives(); }
      }
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
    if (e instanceof UsageError || (e instanceof Error && (await import("./cli_errors.js")).isUserError(e))) {
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
