// The synthetic /proc: enough of /proc/self (and /proc/PID) for what programs read.
import type { Kernel } from "./kernel.js";
import type { Isa } from "../cpu/isa.js";
import { DT_DIR, DT_LNK, DT_REG, ENOENT } from "../abi/linux.js";
import { MemDir, MemFile, OpenFile, type Dirent } from "./file.js";
import { cpuList, onlineCpus } from "./sched.js";
import type { Process, Thread } from "./task.js";

function pidOf(k: Kernel, s: string): Process | null {
  if (s === "self" || s === "thread-self") return k.current?.proc ?? null;
  const n = Number(s);
  if (!Number.isInteger(n)) return null;
  return k.procs.get(n) ?? k.threads.get(n)?.proc ?? null;
}

/** Symlink target for synthetic links, null for other synthetic entries, undefined outside /proc. */
export function procLookup(k: Kernel, g: string): string | null | undefined {
  // The directories above the synthetic /sys CPU files are looked through (on any root).
  if (isSysCpuFile(g) || (k.vfs.confined && (SYS_CPU + "/").startsWith(g + "/") && g.startsWith("/sys"))) return null;
  if (g !== "/proc" && !g.startsWith("/proc/")) return undefined;
  const parts = g.split("/").slice(2);
  if (parts.length === 0) return null;
  if (parts[0] === "self") return parts.length === 1 ? `/proc/${k.current?.proc.pid ?? 0}` : null;
  if (parts[0] === "thread-self") return parts.length === 1 ? `/proc/${k.current?.proc.pid ?? 0}/task/${k.current?.tid ?? 0}` : null;
  const p = pidOf(k, parts[0]);
  if (p === null || parts.length < 2) return null;
  if (parts.length === 2 && parts[1] === "exe") return p.exe;
  if (parts.length === 2 && parts[1] === "cwd") return p.cwd;
  if (parts.length === 2 && parts[1] === "root") return "/";
  if (parts.length === 3 && parts[1] === "fd") {
    const f = p.fds.get(Number(parts[2]));
    return f === undefined ? null : f.path;
  }
  return null;
}

/**
 * /proc/cpuinfo as Linux 6.12 prints it for one hart (arch/riscv/kernel/cpu.c c_show): the ISA
 * string the harts implement (the `--cpu` profile), the process VM's Sv39 address space, and
 * the ID registers, which read 0. No uarch line: the board's cpu node is compatible "riscv" only.
 */
export function cpuinfo(isa: Isa, cpus = 1): string {
  const s = isa.isaString();
  let out = "";
  for (let i = 0; i < cpus; i++) out += `processor\t: ${i}\nhart\t\t: ${i}\nisa\t\t: ${s}\nmmu\t\t: sv39\nmvendorid\t: 0x0\nmarchid\t\t: 0x0\nmimpid\t\t: 0x0\nhart isa\t: ${s}\n\n`;
  return out;
}

/** /sys/devices/system/cpu: the CPU lists glibc's get_nprocs and sysconf read (shown for every root). */
const SYS_CPU = "/sys/devices/system/cpu";
const SYS_CPU_FILES = ["online", "possible", "present"];

/** Whether guest path g is one of the synthetic /sys CPU files. */
export function isSysCpuFile(g: string): boolean {
  return g.startsWith(SYS_CPU + "/") && SYS_CPU_FILES.includes(g.slice(SYS_CPU.length + 1));
}

/** Opens a synthetic /sys CPU file. */
export function sysCpuOpen(k: Kernel, g: string): OpenFile {
  return new MemFile(enc(cpuList(onlineCpus(k))), g);
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** The Cpus_allowed mask in hex, 32-bit groups separated by commas (as bitmap_print_to_pagebuf). */
function cpusAllowed(n: number): string {
  const words: string[] = [];
  for (let base = 0; base < n; base += 32) {
    const bits = Math.min(32, n - base);
    words.unshift((bits === 32 ? 0xffffffff : (2 ** bits - 1)).toString(16).padStart(base + 32 < n ? 8 : 1, "0"));
  }
  return words.join(",");
}

export function procOpen(k: Kernel, t: Thread, g: string): OpenFile | number {
  const parts = g.split("/").slice(2);
  if (parts.length === 0) {
    return new MemDir(() => [
      { name: ".", ino: 1, type: DT_DIR }, { name: "..", ino: 1, type: DT_DIR }, { name: "self", ino: 2, type: DT_LNK },
      ...["cpuinfo", "meminfo", "uptime", "version", "loadavg", "stat"].map((n, i) => ({ name: n, ino: 10 + i, type: DT_REG })),
      ...[...k.procs.values()].filter((p) => p.alive).map((p) => ({ name: String(p.pid), ino: p.pid, type: DT_DIR })),
    ], g);
  }
  const file = (s: string): OpenFile => new MemFile(enc(s), g);
  switch (parts[0]) {
    case "cpuinfo": return file(cpuinfo(k.code.isa, onlineCpus(k)));
    case "meminfo": {
      const total = k.ram.size >> 10, free = total - ((k.frames.used * 4096) >> 10);
      return file(`MemTotal:       ${total} kB\nMemFree:        ${free} kB\nMemAvailable:   ${free} kB\nBuffers:               0 kB\nCached:                0 kB\nSwapTotal:             0 kB\nSwapFree:              0 kB\n`);
    }
    case "uptime": { const s = (k.host.clock.monotonic() - k.bootNs) / 1e9; return file(`${s.toFixed(2)} ${s.toFixed(2)}\n`); }
    case "version": return file("Linux version 6.1.0-rvisor (rvisor) #1 SMP\n");
    case "loadavg": return file("0.00 0.00 0.00 1/1 1\n");
    case "stat": {
      let cpus = "";
      for (let i = 0; i < onlineCpus(k); i++) cpus += `cpu${i} 0 0 0 0 0 0 0 0 0 0\n`;
      return file(`cpu  0 0 0 0 0 0 0 0 0 0\n${cpus}btime 0\n`);
    }
    case "sys": return -ENOENT;
  }
  const p = parts[0] === "self" || parts[0] === "thread-self" ? t.proc : pidOf(k, parts[0]);
  if (p === null) return -ENOENT;
  if (parts.length === 1) {
    return new MemDir(() => ["exe", "cwd", "root", "fd", "maps", "smaps_rollup", "cmdline", "stat", "status", "comm", "environ", "task"].map((name, i) => ({ name, ino: 100 + i, type: DT_REG })), g);
  }
  const main = [...p.threads][0];
  switch (parts[1]) {
    case "fd": {
      if (parts.length === 2) {
        return new MemDir(() => {
          const out: Dirent[] = [{ name: ".", ino: 1, type: DT_DIR }, { name: "..", ino: 1, type: DT_DIR }];
          p.fds.files.forEach((f, i) => { if (f !== undefined) out.push({ name: String(i), ino: 1000 + i, type: DT_LNK }); });
          return out;
        }, g);
      }
      let f = p.fds.get(Number(parts[2]));
      if (f === undefined) f = p.fds.files.find((x) => x !== undefined && x.path === parts.slice(2).join("/"));
      if (f === undefined) return -ENOENT;
      f.refs++;
      return f;
    }
    case "task":
      if (parts.length === 2) return new MemDir(() => [...p.threads].map((x) => ({ name: String(x.tid), ino: x.tid, type: DT_DIR })), g);
      return procOpen(k, t, `/proc/${p.pid}/${parts.slice(3).join("/")}`);
    case "maps": return file(p.as.mapsText());
    case "smaps_rollup": return file(smapsRollup(k, p));
    case "cmdline": return file(p.argv.map((a) => a + "\0").join(""));
    case "environ": return file("");
    case "comm": return file(p.comm + "\n");
    case "stat": {
      const ticks = Math.floor((k.host.clock.monotonic() - k.bootNs) / 1e7);
      const f = [p.pid, `(${p.comm})`, "R", p.parent?.pid ?? 0, p.pgid, p.sid, 0, -1, 0, 0, 0, 0, 0, ticks, 0, 0, 0, 20, 0, p.threads.size, 0,
        Math.floor((p.startNs - k.bootNs) / 1e7), p.as.pages.size * 4096, p.as.pages.size, "18446744073709551615",
        0, 0, 0, main?.hart.getX(2) ?? 0, 0, 0, 0, 0, 0, 0, 0, 0, 17, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
      return file(f.join(" ") + "\n");
    }
    case "status": {
      const sigq = (b: bigint): string => b.toString(16).padStart(16, "0");
      return file(`Name:\t${p.comm}\nUmask:\t${p.umask.toString(8).padStart(4, "0")}\nState:\tR (running)\nTgid:\t${p.pid}\nNgid:\t0\nPid:\t${p.pid}\nPPid:\t${p.parent?.pid ?? 0}\n` +
        `TracerPid:\t0\nUid:\t${k.uid}\t${k.uid}\t${k.uid}\t${k.uid}\nGid:\t${k.gid}\t${k.gid}\t${k.gid}\t${k.gid}\nFDSize:\t64\n` +
        `VmSize:\t${(p.as.vmas.reduce((s, a) => s + a.end - a.start, 0) >> 10)} kB\nVmRSS:\t${p.as.pages.size * 4} kB\nTHP_enabled:\t${p.thpDisable ? 0 : 1}\nThreads:\t${p.threads.size}\n` +
        `SigPnd:\t${sigq(main?.pending ?? 0n)}\nShdPnd:\t${sigq(p.pending)}\nSigBlk:\t${sigq(main?.sigmask ?? 0n)}\n` +
        `NoNewPrivs:\t${p.noNewPrivs ? 1 : 0}\nCpus_allowed:\t${cpusAllowed(onlineCpus(k))}\nCpus_allowed_list:\t${cpuList(onlineCpus(k)).trim()}\n`);
    }
    case "exe": case "cwd": case "root": return -ENOENT;
  }
  return -ENOENT;
}

/**
 * /proc/PID/smaps_rollup (fs/proc/task_mmu.c show_smaps_rollup): the process's resident pages,
 * split into frames it shares with other address spaces or page caches (after a copy-on-write
 * fork, until one side writes) and frames only it holds. rvisor keeps no dirty bits, so every
 * resident page counts as dirty, as a written anonymous page does on Linux.
 */
function smapsRollup(k: Kernel, p: Process): string {
  let shared = 0, priv = 0, pss = 0;
  for (const pa of p.as.pages.values()) {
    const n = k.frames.count(pa);
    if (n > 1) shared++; else priv++;
    pss += PAGE_KB / Math.max(1, n);
  }
  const lo = p.as.vmas.length > 0 ? p.as.vmas[0].start : 0, hi = p.as.vmas.length > 0 ? p.as.vmas[p.as.vmas.length - 1].end : 0;
  const kb = (name: string, v: number): string => `${(name + ":").padEnd(16)}${String(Math.floor(v)).padStart(8)} kB\n`;
  return `${lo.toString(16).padStart(8, "0")}-${hi.toString(16).padStart(8, "0")} ---p 00000000 00:00 0                          [rollup]\n` +
    kb("Rss", (shared + priv) * PAGE_KB) + kb("Pss", pss) + kb("Shared_Clean", 0) + kb("Shared_Dirty", shared * PAGE_KB) +
    kb("Private_Clean", 0) + kb("Private_Dirty", priv * PAGE_KB) + kb("Swap", 0);
}
const PAGE_KB = 4;
