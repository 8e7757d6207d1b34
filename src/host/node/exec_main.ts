// `rvisor exec`: runs a riscv64 Linux program in the process VM (src/user/).
//   rvisor exec [--cpu PROFILE] [--jit off|on] [--root DIR | --layer DIR... [--upper DIR] [-v HOST:GUEST[:ro]]...] [--ro] [-L DIR]
//               [--strace] [--verbose] [--orphans wait|kill] [-E VAR=VAL]... [-U VAR]... PROGRAM [ARGS...]
//   rvisor exec --syscalls   (the system-call table: every call, its status and why)
import { posix, resolve } from "node:path";
import { statSync, readFileSync } from "node:fs";
import { OverlayFs, type OverlayLower, type OverlayVolume } from "../../user/overlay.js";
import { UsageError, applyJitOption, cpuUsage, jitUsage, parseCpu, parseMem } from "../../cli/main.js";
import { DEFAULT_PROFILE, type Isa } from "../../cpu/isa.js";
import { GUEST_GID, GUEST_UID, Kernel } from "../../user/kernel.js";
import { syscallTable } from "../../user/syscalls.js";
import { ExecError } from "../../user/loader.js";
import { nodeUserHost } from "./user_host.js";

export const EXEC_USAGE = `usage: rvisor exec [options] PROGRAM [ARGS...]
       rvisor exec --syscalls

options:
  --root DIR     DIR is the guest's / (nothing outside it is reachable)
  --layer DIR    a read-only layer of a layered root (repeatable, lowest first: the base
                 image's layer first, as Docker lists them); lookups go top-down, a
                 directory merges with the ones below, OCI whiteouts (.wh.NAME,
                 .wh..wh..opq) hide lower entries, DIR/.wh..wh.rvisor-index gives owners,
                 modes and device numbers the host files cannot have
  --upper DIR    the writable layer over the --layer ones: writes copy files up into it,
                 deletions leave whiteouts there; without it the layers are read-only
  -v, --volume HOST:GUEST[:ro]
                 mount host directory HOST at GUEST in a layered root (repeatable)
  --ro           make the root read-only
  -L DIR         look paths up under DIR first, then on the host (like qemu-riscv64 -L)
  --strace       print each system call with its arguments and result (stderr)
  --verbose      warn (once per call) when the program makes a system call rvisor does
                 not implement; quiet by default, as qemu-riscv64 (--strace implies it)
  --syscalls     list every system call rvisor knows: number, name, status (supported,
                 partial, unsupported) and why, then the counts; runs nothing
  -E VAR=VALUE   set an environment variable (repeatable)
  -U VAR         unset an environment variable (repeatable)
  --mem SIZE     guest memory, 16M to 2G, e.g. 512M or 2G; a bare number is MiB (default 1G)
  --cpu PROFILE  the ISA the program may use (riscv_hwprobe and /proc/cpuinfo report it):
${cpuUsage(17)}  --orphans MODE what becomes of the other processes when the first one exits:
                 wait (default) runs them until they exit, as they would run on under
                 qemu-riscv64; kill ends them at once
  --jit off|on   ${jitUsage(17).trimStart()}
The exit status is the first process's (128+N when signal N killed it). Processes left
running after it exits keep their output on the terminal; Ctrl-C, SIGTERM or SIGHUP to
rvisor then ends them. On a terminal, rvisor is the guest's tty: Ctrl-C, Ctrl-\\ and
Ctrl-Z signal the guest's foreground process group, never rvisor itself.
`;

export interface ExecOptions {
  root: string; readonly: boolean; prefix: string | null; strace: boolean; verbose: boolean; env: string[]; argv: string[]; memBytes: number;
  orphans: "wait" | "kill"; isa: Isa;
  /** A layered root: lower layers (lowest first), the upper (or null), volumes. Empty layers and no upper: not layered. */
  layers: string[]; upper: string | null; volumes: OverlayVolume[];
  /** --jit: on or off, undefined when not given. */
  jit?: string;
}

function isDir(p: string): boolean {
  try { return statSync(p).isDirectory(); } catch { return false; }
}

/** HOST:GUEST[:ro|:rw] (Docker's -v for a bind mount). */
function parseVolume(v: string): OverlayVolume {
  const parts = v.split(":");
  let readonly = false;
  if (parts.length === 3 && (parts[2] === "ro" || parts[2] === "rw")) { readonly = parts[2] === "ro"; parts.pop(); }
  if (parts.length !== 2 || parts[0] === "" || !parts[1].startsWith("/")) throw new UsageError(`exec: --volume wants HOST:GUEST[:ro] with an absolute GUEST, got '${v}'`);
  const guest = posix.normalize(parts[1]).replace(/\/+$/, "");
  if (guest === "" || guest === "/") throw new UsageError(`exec: --volume cannot mount over /`);
  if (!isDir(parts[0])) throw new UsageError(`exec: --volume ${parts[0]} is not a directory`);
  return { host: resolve(parts[0]), guest, readonly };
}

export function parseExecArgs(argv: string[]): ExecOptions {
  let root = "/", ro = false, strace = false, verbose = false, prefix: string | null = null, memBytes = 1 << 30;
  let orphans: "wait" | "kill" = "wait";
  let isa = parseCpu(DEFAULT_PROFILE);
  const layers: string[] = [], volumes: OverlayVolume[] = [];
  let upper: string | null = null, rootGiven = false;
  let jit: string | undefined;
  const orphanMode = (v: string): "wait" | "kill" => {
    if (v !== "wait" && v !== "kill") throw new UsageError(`exec: --orphans wants wait or kill, got '${v}'`);
    return v;
  };
  const env = new Map<string, string>(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined));
  let i = 0;
  const need = (o: string): string => { const v = argv[++i]; if (v === undefined) throw new UsageError(`exec: ${o} needs a value`); return v; };
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") { i++; break; }
    if (!a.startsWith("-")) break;
    if (a === "--root") { root = need(a); rootGiven = true; }
    else if (a.startsWith("--root=")) { root = a.slice(7); rootGiven = true; }
    else if (a === "--layer") layers.push(need(a));
    else if (a.startsWith("--layer=")) layers.push(a.slice(8));
    else if (a === "--upper") upper = need(a);
    else if (a.startsWith("--upper=")) upper = a.slice(8);
    else if (a === "-v" || a === "--volume") volumes.push(parseVolume(need(a)));
    else if (a.startsWith("--volume=")) volumes.push(parseVolume(a.slice(9)));
    else if (a === "--ro") ro = true;
    else if (a === "-L") prefix = need(a);
    else if (a === "--strace" || a === "-strace") strace = true;
    else if (a === "--verbose") verbose = true;
    else if (a === "-E") { const kv = need(a); const eq = kv.indexOf("="); if (eq < 0) throw new UsageError(`exec: -E wants VAR=VALUE, got '${kv}'`); env.set(kv.slice(0, eq), kv.slice(eq + 1)); }
    else if (a === "-U") env.delete(need(a));
    else if (a === "--mem") memBytes = parseMem(need(a), "exec: --mem");
    else if (a.startsWith("--mem=")) memBytes = parseMem(a.slice(6), "exec: --mem");
    else if (a === "--cpu") isa = parseCpu(need(a), "exec: --cpu");
    else if (a.startsWith("--cpu=")) isa = parseCpu(a.slice(6), "exec: --cpu");
    else if (a === "--jit") jit = need(a);
    else if (a.startsWith("--jit=")) jit = a.slice(6);
    else if (a === "--orphans") orphans = orphanMode(need(a));
    else if (a.startsWith("--orphans=")) orphans = orphanMode(a.slice(10));
    else if (a === "-h" || a === "--help") throw new UsageError(EXEC_USAGE.trimEnd());
    else throw new UsageError(`exec: unknown option '${a}' (try 'rvisor exec --help')`);
  }
  if (jit !== undefined && jit !== "on" && jit !== "off") throw new UsageError(`exec: --jit must be on or off (got '${jit}')`);
  const rest = argv.slice(i);
  if (rest.length === 0) throw new UsageError("exec: a PROGRAM is required (try 'rvisor exec --help')");
  const layered = layers.length > 0 || upper !== null;
  if (layered && rootGiven) throw new UsageError("exec: --root and --layer/--upper are two ways to give the root: use one");
  if (layered && prefix !== null) throw new UsageError("exec: -L does not go with a layered root");
  if (layered && ro && upper !== null) throw new UsageError("exec: --ro and --upper: a read-only root has no writable layer");
  if (volumes.length > 0 && !layered) throw new UsageError("exec: --volume needs a layered root (--layer DIR [--upper DIR])");
  for (let j = 0; j < layers.length; j++) {
    if (!isDir(layers[j])) throw new UsageError(`exec: --layer ${layers[j]} is not a directory`);
    layers[j] = resolve(layers[j]);
  }
  if (upper !== null) {
    if (!isDir(upper)) throw new UsageError(`exec: --upper ${upper} is not a directory`);
    upper = resolve(upper);
    if (layers.includes(upper)) throw new UsageError(`exec: --upper ${upper} is also a --layer`);
  }
  if (root !== "/") {
    let ok = false;
    try { ok = statSync(root).isDirectory(); } catch { /* reported below */ }
    if (!ok) throw new UsageError(`exec: --root ${root} is not a directory`);
    root = resolve(root);
  }
  if (prefix !== null) {
    let ok = false;
    try { ok = statSync(prefix).isDirectory(); } catch { /* reported below */ }
    if (!ok) throw new UsageError(`exec: -L ${prefix} is not a directory`);
    prefix = resolve(prefix);
  }
  return { root, readonly: ro || (layered && upper === null), prefix, strace, verbose, env: [...env].map(([k, v]) => `${k}=${v}`), argv: rest, memBytes, orphans, isa, layers, upper, volumes, ...(jit !== undefined ? { jit } : {}) };
}

export async function execMain(argv: string[]): Promise<number> {
  if (argv[0] === "-h" || argv[0] === "--help") { process.stdout.write(EXEC_USAGE); return 0; }
  if (argv[0] === "--syscalls") {
    if (argv.length > 1) throw new UsageError("exec: --syscalls takes no program (it lists the system-call table)");
    process.stdout.write(syscallTable());
    return 0;
  }
  const o = parseExecArgs(argv);
  applyJitOption(o.jit, "exec: --jit");
  const host = nodeUserHost();
  const layered = o.layers.length > 0 || o.upper !== null;
  let overlay: OverlayFs | undefined;
  if (layered) {
    const lowers: OverlayLower[] = [];
    for (const d of o.layers) {
      const l = OverlayFs.lower(host.fs, d);
      if (typeof l === "string") { process.stderr.write(`rvisor: ${l}\n`); return 125; }
      lowers.push(l);
    }
    // The guest user owns what the host user owns (as a rootless container's user namespace maps it).
    const hostIds = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
    try {
      overlay = new OverlayFs(host.fs, { lowers, upper: o.upper, volumes: o.volumes, hostIds, owner: { uid: GUEST_UID, gid: GUEST_GID } });
    } catch (e) {
      process.stderr.write(`rvisor: ${(e as Error).message}\n`);
      return 125;
    }
  }
  const k = new Kernel(host, {
    root: o.root, readonly: o.readonly, strace: o.strace, verbose: o.verbose, prefix: o.prefix, memBytes: o.memBytes, orphans: o.orphans, isa: o.isa,
    log: (line) => process.stderr.write(line + "\n"), fs: overlay,
  });
  if (overlay !== undefined) overlay.creds = { uid: k.uid, gid: k.gid };
  const prog = o.argv[0];
  // The program named on the command line may live outside --root (as with qemu -L): read it from the host then.
  let hostBytes: Uint8Array | undefined;
  let path = prog;
  const inRoot = k.vfs.resolve("/", prog, true);
  if (k.vfs.confined && (typeof inRoot === "number" || typeof k.vfs.host.stat(k.vfs.toHost(inRoot)) === "number")) {
    try { hostBytes = readFileSync(prog); path = "/" + prog.split("/").pop(); } catch { /* reported by the loader */ }
  }
  const cwd = k.vfs.confined ? "/" : process.cwd();
  try {
    k.start(path, [prog, ...o.argv.slice(1)], o.env, cwd, hostBytes);
  } catch (e) {
    host.term.stop();
    if (e instanceof ExecError) { process.stderr.write(`rvisor: ${e.message}\n`); return 127; }
    throw e;
  }
  // When every guest thread is blocked and no host event can wake one, Node would exit silently.
  // Once the first process has exited, what is left can never run again: end it.
  const onIdle = (): void => {
    if (k.init !== null && !k.init.alive) { k.terminate(); process.once("beforeExit", onIdle); return; }
    host.term.stop();
    process.stderr.write("rvisor: every guest thread is blocked and nothing can wake them (deadlock)\n");
    process.exit(1);
  };
  process.once("beforeExit", onIdle);
  try {
    return await k.run();
  } finally {
    process.off("beforeExit", onIdle);
    host.term.stop();
    await host.net.closeAll();
    overlay?.shutdown();
  }
}
