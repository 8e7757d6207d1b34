// `rvisor exec`: runs a riscv64 Linux program in the process VM (src/user/).
//   rvisor exec [--cpu PROFILE] [--jit off|on] [--root DIR] [--ro] [-L DIR] [--strace] [--orphans wait|kill] [-E VAR=VAL]... [-U VAR]... PROGRAM [ARGS...]
import { resolve } from "node:path";
import { statSync, readFileSync } from "node:fs";
import { UsageError, applyJitOption, cpuUsage, jitUsage, parseCpu, parseMem } from "../../cli/main.js";
import { DEFAULT_PROFILE, type Isa } from "../../cpu/isa.js";
import { Kernel } from "../../user/kernel.js";
import { ExecError } from "../../user/loader.js";
import { nodeUserHost } from "./user_host.js";

export const EXEC_USAGE = `usage: rvisor exec [options] PROGRAM [ARGS...]

options:
  --root DIR     DIR is the guest's / (nothing outside it is reachable)
  --ro           make the root read-only
  -L DIR         look paths up under DIR first, then on the host (like qemu-riscv64 -L)
  --strace       print each system call with its arguments and result (stderr)
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
  root: string; readonly: boolean; prefix: string | null; strace: boolean; env: string[]; argv: string[]; memBytes: number;
  orphans: "wait" | "kill"; isa: Isa;
  /** --jit: on or off, undefined when not given. */
  jit?: string;
}

export function parseExecArgs(argv: string[]): ExecOptions {
  let root = "/", ro = false, strace = false, prefix: string | null = null, memBytes = 1 << 30;
  let orphans: "wait" | "kill" = "wait";
  let isa = parseCpu(DEFAULT_PROFILE);
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
    if (a === "--root") root = need(a);
    else if (a.startsWith("--root=")) root = a.slice(7);
    else if (a === "--ro") ro = true;
    else if (a === "-L") prefix = need(a);
    else if (a === "--strace" || a === "-strace") strace = true;
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
  return { root, readonly: ro, prefix, strace, env: [...env].map(([k, v]) => `${k}=${v}`), argv: rest, memBytes, orphans, isa, ...(jit !== undefined ? { jit } : {}) };
}

export async function execMain(argv: string[]): Promise<number> {
  if (argv[0] === "-h" || argv[0] === "--help") { process.stdout.write(EXEC_USAGE); return 0; }
  const o = parseExecArgs(argv);
  applyJitOption(o.jit, "exec: --jit");
  const host = nodeUserHost();
  const k = new Kernel(host, {
    root: o.root, readonly: o.readonly, strace: o.strace, prefix: o.prefix, memBytes: o.memBytes, orphans: o.orphans, isa: o.isa,
    log: (line) => process.stderr.write(line + "\n"),
  });
  const prog = o.argv[0];
  // The program named on the command line may live outside --root (as with qemu -L): read it from the host then.
  let hostBytes: Uint8Array | undefined;
  let path = prog;
  const inRoot = k.vfs.resolve("/", prog, true);
  if (o.root !== "/" && (typeof inRoot === "number" || typeof host.fs.stat(k.vfs.toHost(inRoot)) === "number")) {
    try { hostBytes = readFileSync(prog); path = "/" + prog.split("/").pop(); } catch { /* reported by the loader */ }
  }
  const cwd = o.root === "/" ? process.cwd() : "/";
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
  }
}
