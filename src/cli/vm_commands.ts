// The VM lifecycle verbs, in the style of virsh and Multipass:
//   create start console stop kill pause resume list info logs rm   (and the internal __vm)
// Definitions live in the state directory (src/host/node/vm_store.ts); each running VM is its
// own process (src/host/node/vm_process.ts) that these commands reach over its control socket.
//
// Exit codes: 0 success; 1 the operation failed (unknown VM, wrong state, limit refused, VM
// process error); 2 usage error (bad option or value).
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync, statSync, watch } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { formatMib, parseVmConfig, validateName, VmConfigError, type VmConfig } from "../hypervisor/config.js";
import type { VmState } from "../hypervisor/control.js";
import { createRefusal, startRefusal } from "../hypervisor/limits.js";
import { controlRequest, ControlError, openConsole, vmState, type VmStateInfo } from "../host/node/vm_control.js";
import { pidAlive, VmExistsError, VmStore } from "../host/node/vm_store.js";

/** An error reported as `error: MESSAGE` with exit status `code`. */
export class VmCommandError extends Error {
  constructor(message: string, readonly code = EXIT_FAILED) { super(message); }
}
export const EXIT_FAILED = 1, EXIT_USAGE = 2;

export const VM_COMMANDS = ["create", "start", "console", "stop", "kill", "pause", "resume", "list", "info", "logs", "rm"] as const;
export type VmCommand = typeof VM_COMMANDS[number];

export const VM_USAGE = `VM commands (definitions kept in $RVISOR_HOME, default ~/.local/share/rvisor):
  create NAME [--cpus N] [--memory SIZE] [--disk PATH[,format=raw|qcow2][,readonly=on]]...
              [--share DIR[,tag=NAME][,readonly=on]]... [--kernel FILE] [--initrd FILE]
              [--append STR] [--bios FILE|none] [--cpu PROFILE] [--cpu-quota PERCENT]
                           define a VM (default: 1 vCPU, 256M, rvisor's guest image)
  start NAME [--attach]    start it in its own background process
  console NAME             attach to its serial console (Ctrl-] detaches; the VM keeps running)
  stop NAME [--timeout S]  stop it cleanly (disks flushed); killed after S seconds (default 30)
  kill NAME                kill its process at once (SIGKILL)
  pause NAME | resume NAME stop / continue its vCPUs (guest time stands still while paused)
  list [--json]            every VM: name, state (running|paused|shut off|crashed), cpus, memory, pid
  info NAME [--json]       its definition and state
  logs NAME [-f] [--tail N] its console output (kept across runs, rotated at 1 MiB)
  rm NAME [--force]        delete it (--force kills it first if running)
exit status: 0 ok, 1 the operation failed, 2 usage error
`;

/** Ctrl-], virsh's console escape. */
const CONSOLE_ESCAPE = 0x1d;
const START_WAIT_MS = 15_000;
const DEFAULT_STOP_TIMEOUT_S = 30;
const RVISOR_BIN = fileURLToPath(new URL("../../../bin/rvisor.js", import.meta.url));

type Options = Parameters<typeof parseArgs>[0] extends infer P ? P extends { options?: infer O } ? NonNullable<O> : never : never;

function parse<O extends Options>(argv: string[], options: O, positionals: number) {
  let r;
  try {
    r = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (e) {
    throw new VmCommandError((e as Error).message.split("\n")[0], EXIT_USAGE);
  }
  if (r.positionals.length !== positionals) {
    throw new VmCommandError(positionals === 0 ? `unexpected argument '${r.positionals[0]}'` : "expected a VM name", EXIT_USAGE);
  }
  return r;
}

/** key=value,... after a leading bare value. */
function specOf(spec: string, opt: string, keys: readonly string[]): { head: string; kv: Map<string, string> } {
  const [head, ...parts] = spec.split(",");
  const kv = new Map<string, string>();
  for (const p of parts) {
    const eq = p.indexOf("=");
    const k = eq < 0 ? p : p.slice(0, eq);
    if (!keys.includes(k)) throw new VmCommandError(`${opt} '${spec}': unknown key '${k}' (valid: ${keys.join(", ")})`, EXIT_USAGE);
    kv.set(k, eq < 0 ? "on" : p.slice(eq + 1));
  }
  return { head, kv };
}

function onOff(v: string | undefined, what: string): boolean {
  if (v === undefined || v === "off" || v === "false") return false;
  if (v === "on" || v === "true") return true;
  throw new VmCommandError(`${what} must be on or off (got '${v}')`, EXIT_USAGE);
}

function store(): VmStore { return new VmStore(); }

function requireVm(s: VmStore, name: string): VmConfig {
  try { validateName(name); } catch (e) { throw new VmCommandError((e as Error).message, EXIT_USAGE); }
  if (!s.exists(name)) throw new VmCommandError(`VM '${name}' does not exist`);
  return s.read(name);
}

function checkFile(p: string, field: string, kind: "file" | "dir"): void {
  let st;
  try { st = statSync(p); } catch (e) { throw new VmConfigError(field, `cannot use '${p}': ${(e as NodeJS.ErrnoException).code ?? String(e)}`); }
  if (kind === "file" && !st.isFile()) throw new VmConfigError(field, `'${p}' is not a regular file`);
  if (kind === "dir" && !st.isDirectory()) throw new VmConfigError(field, `'${p}' is not a directory`);
}

/** The host files a definition names must exist when it is created (paths are stored absolute). */
function checkHostPaths(c: VmConfig): void {
  if (c.boot.firmware !== "builtin" && c.boot.firmware !== "none") checkFile(c.boot.firmware, "boot.firmware", "file");
  if (c.boot.kernel !== null) checkFile(c.boot.kernel, "boot.kernel", "file");
  if (c.boot.initrd !== null) checkFile(c.boot.initrd, "boot.initrd", "file");
  c.disks.forEach((d, i) => checkFile(d.path, `disks[${i}].path`, "file"));
  c.shares.forEach((s, i) => checkFile(s.path, `shares[${i}].path`, "dir"));
}

async function cmdCreate(argv: string[]): Promise<number> {
  const { values: o, positionals } = parse(argv, {
    cpus: { type: "string" }, memory: { type: "string", short: "m" }, disk: { type: "string", multiple: true },
    share: { type: "string", multiple: true }, kernel: { type: "string" }, initrd: { type: "string" }, append: { type: "string" },
    bios: { type: "string" }, cpu: { type: "string" }, "cpu-quota": { type: "string" },
  }, 1);
  const abs = (p: string | undefined): string | undefined => p === undefined ? undefined : resolve(p);
  const disks = (o.disk ?? []).map((spec) => {
    const { head, kv } = specOf(spec, "--disk", ["format", "readonly"]);
    return { path: resolve(head), format: kv.get("format") ?? "raw", readonly: onOff(kv.get("readonly"), `--disk '${spec}': readonly`) };
  });
  const shares = (o.share ?? []).map((spec, i) => {
    const { head, kv } = specOf(spec, "--share", ["tag", "readonly"]);
    return { path: resolve(head), tag: kv.get("tag") ?? `host${i}`, readonly: onOff(kv.get("readonly"), `--share '${spec}': readonly`) };
  });
  const bios = o.bios === undefined || o.bios === "builtin" || o.bios === "none" ? o.bios : resolve(o.bios);
  const input = {
    name: positionals[0], cpus: o.cpus, memory: o.memory,
    cpu: { profile: o.cpu, quotaPercent: o["cpu-quota"] },
    boot: { firmware: bios, kernel: abs(o.kernel), initrd: abs(o.initrd), cmdline: o.append },
    disks, shares,
  };
  const cfg = parseVmConfig(JSON.parse(JSON.stringify(input)) as unknown);
  checkHostPaths(cfg);
  const s = store();
  await s.withLock(() => {
    const refusal = createRefusal(s.limits(), s.names().length, cfg);
    if (refusal !== null) throw new VmCommandError(refusal);
    try { s.create(cfg); } catch (e) { if (e instanceof VmExistsError) throw new VmCommandError(e.message); throw e; }
  });
  process.stdout.write(`VM '${cfg.name}' created (${cfg.cpus} vCPU${cfg.cpus > 1 ? "s" : ""}, ${formatMib(cfg.memoryMib)})\n`);
  return 0;
}

async function runningConfigs(s: VmStore, except: string): Promise<VmConfig[]> {
  const out: VmConfig[] = [];
  for (const n of s.names()) {
    if (n === except) continue;
    const st = await vmState(s, n);
    if (st.state === "running" || st.state === "paused") out.push(s.read(n));
  }
  return out;
}

async function cmdStart(argv: string[]): Promise<number> {
  const { values: o, positionals } = parse(argv, { attach: { type: "boolean" } }, 1);
  const s = store();
  const name = positionals[0];
  const cfg = requireVm(s, name);
  const pid = await s.withLock(async () => {
    const st = await vmState(s, name);
    if (st.state === "running" || st.state === "paused") throw new VmCommandError(`VM '${name}' is already ${st.state}`);
    const refusal = startRefusal(s.limits(), await runningConfigs(s, name), cfg);
    if (refusal !== null) throw new VmCommandError(refusal);
    s.clearRuntime(name);
    return spawnVmProcess(s, name);
  });
  process.stdout.write(`VM '${name}' started (pid ${pid})\n`);
  if (o.attach === true) return attach(s, name);
  return 0;
}

/** Spawns `rvisor __vm NAME` detached and waits until it records itself (or dies trying). */
async function spawnVmProcess(s: VmStore, name: string): Promise<number> {
  const err = openSync(s.errPath(name), "w");
  const child = spawn(process.execPath, [RVISOR_BIN, "__vm", name], {
    detached: true, stdio: ["ignore", "ignore", err], env: { ...process.env, RVISOR_HOME: s.root },
  });
  closeSync(err);
  let exited: number | null = null;
  child.once("exit", (code, sig) => { exited = code ?? (sig === null ? 1 : 128); });
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new VmCommandError(`cannot start VM '${name}': spawn failed`);
  const deadline = Date.now() + START_WAIT_MS;
  for (;;) {
    const rt = s.runtime(name);
    if (rt !== null && rt.pid === pid) return pid;
    if (exited !== null || !pidAlive(pid)) {
      const why = readFileSync(s.errPath(name), "utf8").trim().split("\n").filter((l) => l !== "").slice(-3).join("\n").replace(/^rvisor: /, "");
      throw new VmCommandError(`VM '${name}' failed to start${why === "" ? "" : `: ${why}`}`);
    }
    if (Date.now() > deadline) throw new VmCommandError(`VM '${name}' did not come up within ${START_WAIT_MS / 1000} s (pid ${pid})`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function live(s: VmStore, name: string): Promise<VmStateInfo & { socket: string; pid: number }> {
  requireVm(s, name);
  const st = await vmState(s, name);
  if (st.runtime === null || (st.state !== "running" && st.state !== "paused")) {
    throw new VmCommandError(st.state === "crashed" ? `VM '${name}' has crashed (its process is gone)` : `VM '${name}' is not running`);
  }
  return { ...st, socket: st.runtime.socket, pid: st.runtime.pid };
}

async function attach(s: VmStore, name: string): Promise<number> {
  const v = await live(s, name);
  const { sock, initial } = await openConsole(v.socket);
  const stdin = process.stdin;
  const tty = stdin.isTTY === true;
  process.stderr.write(`Connected to VM '${name}'\r\nEscape character is ^] (Ctrl + ])\r\n`);
  if (initial.length > 0) process.stdout.write(initial);
  sock.on("data", (d: Buffer) => { process.stdout.write(d); });
  if (tty) stdin.setRawMode(true);
  return new Promise<number>((resolveExit) => {
    let done = false;
    const finish = (code: number, msg: string): void => {
      if (done) return;
      done = true;
      stdin.off("data", onKey);
      if (tty) stdin.setRawMode(false);
      // A paused pipe still holds the event loop open; the console is done with stdin.
      stdin.destroy();
      sock.destroy();
      process.stderr.write(msg);
      resolveExit(code);
    };
    const onKey = (d: Buffer): void => {
      const i = d.indexOf(CONSOLE_ESCAPE);
      if (i < 0) { sock.write(d); return; }
      if (i > 0) sock.write(d.subarray(0, i));
      finish(0, `\r\nDetached from VM '${name}' (it keeps running)\r\n`);
    };
    stdin.on("data", onKey);
    stdin.resume();
    sock.on("close", () => finish(0, `\r\nVM '${name}' has stopped\r\n`));
  });
}

async function simple(argv: string[], cmd: "pause" | "resume"): Promise<number> {
  const { positionals } = parse(argv, {}, 1);
  const s = store();
  const name = positionals[0];
  const v = await live(s, name);
  const r = await controlRequest(v.socket, cmd);
  if (!r.ok) throw new VmCommandError(r.error);
  process.stdout.write(`VM '${name}' ${cmd === "pause" ? "paused" : "resumed"}\n`);
  return 0;
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (pidAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
  return true;
}

async function cmdStop(argv: string[]): Promise<number> {
  const { values: o, positionals } = parse(argv, { timeout: { type: "string", short: "t" } }, 1);
  const timeout = o.timeout === undefined ? DEFAULT_STOP_TIMEOUT_S : Number(o.timeout);
  if (!Number.isFinite(timeout) || timeout < 0) throw new VmCommandError(`--timeout must be a number of seconds (got '${o.timeout ?? ""}')`, EXIT_USAGE);
  const s = store();
  const name = positionals[0];
  const v = await live(s, name);
  let asked = false;
  try { asked = (await controlRequest(v.socket, "stop")).ok; } catch { /* unresponsive: killed below */ }
  if (asked && await waitGone(v.pid, timeout * 1000)) {
    // The guest kernel has no power-button path (see vm_process.ts), so the host ends the run.
    process.stdout.write(`VM '${name}' shut off (stopped by the host: its guest has no power-off request channel; ` +
      "vCPUs stopped, disks flushed)\n");
    return 0;
  }
  try { process.kill(v.pid, "SIGKILL"); } catch { /* already gone */ }
  await waitGone(v.pid, 5000);
  s.clearRuntime(name);
  process.stdout.write(`VM '${name}' did not stop within ${timeout} s: killed (pid ${v.pid})\n`);
  return 0;
}

async function cmdKill(argv: string[]): Promise<number> {
  const { positionals } = parse(argv, {}, 1);
  const s = store();
  const name = positionals[0];
  const v = await live(s, name);
  process.kill(v.pid, "SIGKILL");
  await waitGone(v.pid, 5000);
  s.clearRuntime(name);
  process.stdout.write(`VM '${name}' killed (pid ${v.pid})\n`);
  return 0;
}

interface VmRow { name: string; state: VmState; cpus: number; memory: string; memoryMib: number; pid: number | null }

async function row(s: VmStore, name: string): Promise<VmRow & { info: VmStateInfo; cfg: VmConfig }> {
  const cfg = s.read(name);
  const info = await vmState(s, name);
  const pid = info.state === "running" || info.state === "paused" ? info.runtime?.pid ?? null : null;
  return { name, state: info.state, cpus: cfg.cpus, memory: formatMib(cfg.memoryMib), memoryMib: cfg.memoryMib, pid, info, cfg };
}

async function cmdList(argv: string[]): Promise<number> {
  const { values: o } = parse(argv, { json: { type: "boolean" }, all: { type: "boolean", short: "a" } }, 0);
  const s = store();
  const rows = await Promise.all(s.names().map((n) => row(s, n)));
  if (o.json === true) {
    process.stdout.write(`${JSON.stringify(rows.map((r) => ({ name: r.name, state: r.state, cpus: r.cpus, memoryMib: r.memoryMib, pid: r.pid })), null, 2)}\n`);
    return 0;
  }
  const table = [["NAME", "STATE", "CPUS", "MEMORY", "PID"], ...rows.map((r) => [r.name, r.state, String(r.cpus), r.memory, r.pid === null ? "-" : String(r.pid)])];
  const widths = table[0].map((_, c) => Math.max(...table.map((t) => t[c].length)));
  for (const t of table) process.stdout.write(`${t.map((cell, c) => cell.padEnd(widths[c])).join("   ").trimEnd()}\n`);
  return 0;
}

async function cmdInfo(argv: string[]): Promise<number> {
  const { values: o, positionals } = parse(argv, { json: { type: "boolean" } }, 1);
  const s = store();
  const name = positionals[0];
  requireVm(s, name);
  const r = await row(s, name);
  const last = s.lastExit(name);
  if (o.json === true) {
    process.stdout.write(`${JSON.stringify({ name, state: r.state, pid: r.pid, status: r.info.status, config: r.cfg, lastExit: last }, null, 2)}\n`);
    return 0;
  }
  const c = r.cfg;
  const lines: [string, string][] = [
    ["Name", name], ["State", r.state], ["PID", r.pid === null ? "-" : String(r.pid)],
    ["CPUs", `${c.cpus} (${c.cpu.profile}${c.cpu.quotaPercent < 100 ? `, quota ${c.cpu.quotaPercent}%` : ""})`],
    ["Memory", formatMib(c.memoryMib)],
    ["Kernel", c.boot.kernel ?? "(rvisor guest image)"], ["Initrd", c.boot.initrd ?? (c.boot.kernel === null ? "(rvisor guest image)" : "-")],
    ["Cmdline", c.boot.cmdline], ["Firmware", c.boot.firmware],
    ...c.disks.map((d, i): [string, string] => [`Disk ${i}`, `${d.path} (${d.format}${d.readonly ? ", read-only" : ""})`]),
    ...c.shares.map((sh, i): [string, string] => [`Share ${i}`, `${sh.path} tag=${sh.tag}${sh.readonly ? " (read-only)" : ""}`]),
    ["Console log", s.logPath(name)],
  ];
  if (r.info.status !== null) lines.push(["Guest time", `${(r.info.status.guestMs / 1000).toFixed(1)} s`], ["Instructions", String(r.info.status.executed)]);
  if (last !== null && r.pid === null) lines.push(["Last exit", `${last.reason} (code ${last.code}) at ${last.at}${last.message !== undefined ? `: ${last.message.split("\n")[0]}` : ""}`]);
  for (const [k, v] of lines) process.stdout.write(`${(k + ":").padEnd(14)}${v}\n`);
  return 0;
}

/** The last `n` lines of a text. */
function tail(text: string, n: number): string {
  const lines = text.split("\n");
  const last = lines[lines.length - 1] === "" ? lines.slice(0, -1) : lines;
  return last.slice(Math.max(0, last.length - n)).map((l) => `${l}\n`).join("");
}

async function cmdLogs(argv: string[]): Promise<number> {
  const { values: o, positionals } = parse(argv, { follow: { type: "boolean", short: "f" }, tail: { type: "string", short: "n" } }, 1);
  const n = o.tail === undefined ? Infinity : Number(o.tail);
  if (!(n === Infinity || (Number.isInteger(n) && n >= 0))) throw new VmCommandError(`--tail must be a whole number (got '${o.tail ?? ""}')`, EXIT_USAGE);
  const s = store();
  const name = positionals[0];
  requireVm(s, name);
  const log = s.logPath(name);
  const read = (file: string): Buffer => { try { return readFileSync(file); } catch { return Buffer.alloc(0); } };
  // The rotated generation first, then the current log.
  const text = Buffer.concat([read(`${log}.1`), read(log)]);
  process.stdout.write(n === Infinity ? text : tail(text.toString("utf8"), n));
  if (o.follow !== true) return 0;
  let pos = read(log).length;
  return new Promise<number>((resolveExit) => {
    const poll = (): void => {
      const b = read(log);
      if (b.length < pos) pos = 0; // rotated underneath us
      if (b.length > pos) { process.stdout.write(b.subarray(pos)); pos = b.length; }
    };
    const w = watch(s.dir(name), () => poll());
    const t = setInterval(poll, 500);
    process.once("SIGINT", () => { w.close(); clearInterval(t); resolveExit(0); });
  });
}

async function cmdRm(argv: string[]): Promise<number> {
  const { values: o, positionals } = parse(argv, { force: { type: "boolean", short: "f" } }, 1);
  const s = store();
  const name = positionals[0];
  requireVm(s, name);
  await s.withLock(async () => {
    const st = await vmState(s, name);
    if (st.state === "running" || st.state === "paused") {
      if (o.force !== true) throw new VmCommandError(`VM '${name}' is ${st.state} (stop it first, or rm --force)`);
      const pid = st.runtime?.pid;
      if (pid !== undefined) { process.kill(pid, "SIGKILL"); await waitGone(pid, 5000); }
    }
    s.clearRuntime(name);
    s.remove(name);
  });
  process.stdout.write(`VM '${name}' removed\n`);
  return 0;
}

export async function vmMain(cmd: string, argv: string[]): Promise<number> {
  try {
    if (argv.includes("--help") || argv.includes("-h")) { process.stdout.write(VM_USAGE); return 0; }
    switch (cmd as VmCommand | "__vm") {
      case "__vm": {
        const { vmProcessMain } = await import("../host/node/vm_process.js");
        return await vmProcessMain(argv[0]);
      }
      case "create": return await cmdCreate(argv);
      case "start": return await cmdStart(argv);
      case "console": { const { positionals } = parse(argv, {}, 1); return await attach(store(), positionals[0]); }
      case "stop": return await cmdStop(argv);
      case "kill": return await cmdKill(argv);
      case "pause": case "resume": return await simple(argv, cmd as "pause" | "resume");
      case "list": return await cmdList(argv);
      case "info": return await cmdInfo(argv);
      case "logs": return await cmdLogs(argv);
      case "rm": return await cmdRm(argv);
      default: throw new VmCommandError(`unknown command '${cmd}'`, EXIT_USAGE);
    }
  } catch (e) {
    if (e instanceof VmCommandError) { process.stderr.write(`error: ${e.message}\n`); return e.code; }
    if (e instanceof VmConfigError) { process.stderr.write(`error: ${e.message}\n`); return EXIT_USAGE; }
    if (e instanceof ControlError) { process.stderr.write(`error: ${e.message}\n`); return EXIT_FAILED; }
    throw e;
  }
}
