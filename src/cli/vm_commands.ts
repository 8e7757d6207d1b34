// The VM lifecycle verbs, in the style of virsh and Multipass:
//   create start console stop kill pause resume list info logs rm   (and the internal __vm)
//   snapshot create|list|rm, restore, clone                         (src/host/node/vm_snapshot.ts)
// Each verb is a client of the Node API (src/host/node/hypervisor.ts), as the REST server is:
// it parses argv into the Hypervisor's typed arguments and prints what the call returns.
//
// Exit codes: 0 success; 1 the operation failed (unknown VM, wrong state, limit refused, VM
// process error); 2 usage error (bad option or value).
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { formatMib, nicSummary, VmConfigError, type DiskFormat, type NicSummary } from "../hypervisor/config.js";
import { HypervisorError, type VmConfigInput } from "../hypervisor/api.js";
import type { RunState } from "../hypervisor/control.js";
import { parseDiskSize, SnapshotRecordError, type SnapshotRecord } from "../hypervisor/snapshots.js";
import { ControlError } from "../host/node/vm_control.js";
import { NetOptionError, parseNetOption } from "./net_option.js";
import { ip4String } from "../net/packet.js";
import { USER_NET_DEFAULTS } from "../net/user_net.js";
import { formatMac } from "../system/devices/virtio_net.js";
import { Hypervisor, type NewDisk } from "../host/node/hypervisor.js";

/** An error reported as `error: MESSAGE` with exit status `code`. */
export class VmCommandError extends Error {
  constructor(message: string, readonly code = EXIT_FAILED) { super(message); }
}
export const EXIT_FAILED = 1, EXIT_USAGE = 2;

export const VM_COMMANDS = ["create", "start", "console", "stop", "kill", "pause", "resume", "list", "info", "logs", "rm",
  "snapshot", "snapshots", "restore", "clone"] as const;
export type VmCommand = typeof VM_COMMANDS[number];

export const VM_USAGE = `VM commands (definitions kept in $RVISOR_HOME, default ~/.local/share/rvisor):
  create NAME [--cpus N] [--memory SIZE] [--disk PATH[,id=ID][,format=raw|qcow2][,readonly=on] | SIZE[,id=ID][,format=qcow2|raw]]...
              [--share DIR[,tag=NAME][,readonly=on]]... [--kernel FILE] [--initrd FILE]
              [--append STR] [--bios FILE|none] [--cpu PROFILE] [--cpu-quota PERCENT]
              [--net user[,mac=M][,hostfwd=[tcp|udp]:[ADDR]:PORT-[GADDR]:GPORT][,restrict=on] | switch=NAME[,mac=M] | none]...
                           define a VM (default: 1 vCPU, 256M, rvisor's guest image); --disk 10G makes
                           a new, empty qcow2 disk of that size in the VM's directory
  start NAME [--attach]    start it in its own background process
  console NAME             attach to its serial console (Ctrl-] detaches; the VM keeps running)
  stop NAME [--timeout S] [--force]
                           press its power button and wait S seconds (default 30) for the guest to
                           power off, then stop it from the host (vCPUs stopped, disks flushed);
                           --force: from the host at once
  kill NAME                kill its process at once (SIGKILL)
  pause NAME | resume NAME stop / continue its vCPUs (guest time stands still while paused)
  list [--json]            every VM: name, state (running|paused|shut off|crashed), cpus, memory, pid
  info NAME [--json]       its definition and state
  logs NAME [-f] [--tail N] its console output (kept across runs, rotated at 1 MiB)
  rm NAME [--force]        delete it (--force kills it first if running)
  snapshot create NAME [SNAP]
                           capture the running or paused VM: machine state and, in the same pause,
                           every writable disk (its image becomes a read-only base under a new overlay)
  snapshot list NAME [--json]   (also: snapshots NAME)
  snapshot rm NAME SNAP    delete a snapshot (its images go once nothing refers to them)
  restore NAME SNAP [--paused|--running]
                           return the VM to the snapshot: machine and disks (it is restarted)
  clone SRC NEW [--snapshot SNAP]
                           a new VM with copy-on-write overlays on SRC's disks (SRC shut off), or on a
                           snapshot's disks, starting from the snapshot's machine state
exit status: 0 ok, 1 the operation failed, 2 usage error
`;

/** Ctrl-], virsh's console escape. */
const CONSOLE_ESCAPE = 0x1d;
const DEFAULT_STOP_TIMEOUT_S = 30;
const BYTES_PER_GIB = 2 ** 30, BYTES_PER_MIB = 2 ** 20;
const MS_PER_S = 1000;

type Options = Parameters<typeof parseArgs>[0] extends infer P ? P extends { options?: infer O } ? NonNullable<O> : never : never;

function parse<O extends Options>(argv: string[], options: O, positionals: number) {
  let r;
  try {
    r = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (e) {
    throw new VmCommandError((e as Error).message.split("\n")[0], EXIT_USAGE);
  }
  if (positionals >= 0 && r.positionals.length !== positionals) {
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

function hypervisor(): Hypervisor { return new Hypervisor(); }

/**
 * `create --net` (as `run --net`: user[,mac=,hostfwd=,restrict=] | switch=NAME[,mac=] | none) as
 * VmConfig.network entries. A managed VM's user network is QEMU's default 10.0.2.0/24; a switch
 * port is named after the VM (NAME.internal).
 */
function netInputs(specs: string[]): unknown[] {
  const out: unknown[] = [];
  for (const spec of specs) {
    let n;
    try { n = parseNetOption(spec); } catch (e) {
      if (e instanceof NetOptionError) throw new VmCommandError(e.message, EXIT_USAGE);
      throw e;
    }
    if (n.kind === "none") {
      if (specs.length > 1) throw new VmCommandError(`--net '${spec}': none cannot be combined with other --net options`, EXIT_USAGE);
      continue;
    }
    const mac = n.mac === undefined ? undefined : formatMac(n.mac);
    if (n.kind === "switch") {
      if (n.name !== "") throw new VmCommandError(`--net '${spec}': a managed VM's name on the switch is its own name (name= is for rvisor run)`, EXIT_USAGE);
      out.push({ type: "switch", switch: n.switchName, mac });
      continue;
    }
    const c = n.config, d = USER_NET_DEFAULTS;
    if (c.net !== d.net || c.prefix !== d.prefix || c.host !== d.host || c.dns !== d.dns || c.dhcpStart !== d.dhcpStart || c.guestfwd.length > 0) {
      throw new VmCommandError(`--net '${spec}': a managed VM's user network is 10.0.2.0/24 with its defaults (net=, host=, dns=, dhcpstart=, guestfwd= are for rvisor run)`, EXIT_USAGE);
    }
    out.push({
      type: "user", mac, restrict: c.restrict,
      hostfwd: c.hostfwd.map((f) => ({ proto: f.proto, hostAddr: f.hostAddr, hostPort: f.hostPort, guestAddr: f.guestAddr === null ? null : ip4String(f.guestAddr), guestPort: f.guestPort })),
    });
  }
  return out;
}

async function cmdCreate(argv: string[]): Promise<number> {
  const { values: o, positionals } = parse(argv, {
    cpus: { type: "string" }, memory: { type: "string", short: "m" }, disk: { type: "string", multiple: true },
    share: { type: "string", multiple: true }, kernel: { type: "string" }, initrd: { type: "string" }, append: { type: "string" },
    bios: { type: "string" }, cpu: { type: "string" }, "cpu-quota": { type: "string" }, net: { type: "string", multiple: true },
  }, 1);
  const network = o.net === undefined ? undefined : netInputs(o.net);
  const hv = hypervisor();
  const name = positionals[0];
  // --disk SIZE (a size with a unit, naming no existing file): a new image in the VM's directory.
  const fresh: NewDisk[] = [];
  const disks = (o.disk ?? []).map((spec, i) => {
    const { head, kv } = specOf(spec, "--disk", ["id", "format", "readonly"]);
    const id = kv.get("id") ?? `disk${i}`;
    const size = existsSync(head) ? null : parseDiskSize(head, `disks[${i}]`);
    if (size !== null) {
      const format = kv.get("format") ?? "qcow2";
      if (format !== "qcow2" && format !== "raw") throw new VmConfigError(`disks[${i}].format`, `unknown disk format '${format}' (valid: raw, qcow2)`);
      if (kv.has("readonly")) throw new VmCommandError(`--disk '${spec}': a new, empty disk cannot be read-only`, EXIT_USAGE);
      const path = hv.newDiskPath(typeof name === "string" ? name : "_", i);
      fresh.push({ path, size, format });
      return { id, path, format, readonly: false };
    }
    return { id, path: resolve(head), format: (kv.get("format") ?? "raw") as DiskFormat, readonly: onOff(kv.get("readonly"), `--disk '${spec}': readonly`) };
  });
  const shares = (o.share ?? []).map((spec, i) => {
    const { head, kv } = specOf(spec, "--share", ["tag", "readonly"]);
    return { path: resolve(head), tag: kv.get("tag") ?? `host${i}`, readonly: onOff(kv.get("readonly"), `--share '${spec}': readonly`) };
  });
  // parseVmConfig takes the option strings as they are ("2", "512M", "50%") and names the bad field.
  const input = {
    name, cpus: o.cpus, memory: o.memory,
    cpu: { profile: o.cpu, quotaPercent: o["cpu-quota"] },
    boot: { firmware: o.bios, kernel: o.kernel, initrd: o.initrd, cmdline: o.append },
    disks, shares, network,
  };
  const cfg = await hv.create(JSON.parse(JSON.stringify(input)) as VmConfigInput, { newDisks: fresh });
  const made = fresh.map((f) => `, ${(f.size / BYTES_PER_GIB).toFixed(f.size % BYTES_PER_GIB === 0 ? 0 : 1)}G ${f.format} disk`).join("");
  process.stdout.write(`VM '${cfg.name}' created (${cfg.cpus} vCPU${cfg.cpus > 1 ? "s" : ""}, ${formatMib(cfg.memoryMib)}${made})\n`);
  return 0;
}

async function cmdStart(argv: string[]): Promise<number> {
  const { values: o, positionals } = parse(argv, { attach: { type: "boolean" } }, 1);
  const hv = hypervisor();
  const name = positionals[0];
  const from = (await hv.info(name)).restoreFrom;
  const pid = await hv.start(name);
  process.stdout.write(`VM '${name}' started (pid ${pid})${from === null ? "" : ` from snapshot ${from}`}\n`);
  if (o.attach === true) return attach(hv, name);
  return 0;
}

async function attach(hv: Hypervisor, name: string): Promise<number> {
  const sock = await hv.console(name);
  const stdin = process.stdin;
  const tty = stdin.isTTY === true;
  process.stderr.write(`Connected to VM '${name}'\r\nEscape character is ^] (Ctrl + ])\r\n`);
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
  const name = positionals[0];
  const hv = hypervisor();
  await (cmd === "pause" ? hv.pause(name) : hv.resume(name));
  process.stdout.write(`VM '${name}' ${cmd === "pause" ? "paused" : "resumed"}\n`);
  return 0;
}

async function cmdStop(argv: string[]): Promise<number> {
  const { values: o, positionals } = parse(argv, { timeout: { type: "string", short: "t" }, force: { type: "boolean", short: "f" } }, 1);
  const timeout = o.timeout === undefined ? DEFAULT_STOP_TIMEOUT_S : Number(o.timeout);
  if (!Number.isFinite(timeout) || timeout < 0) throw new VmCommandError(`--timeout must be a number of seconds (got '${o.timeout ?? ""}')`, EXIT_USAGE);
  const name = positionals[0];
  const r = await hypervisor().stop(name, { timeoutMs: timeout * MS_PER_S, force: o.force === true });
  const why = r.reason === "forced" ? "--force" : r.reason === "paused" ? "it is paused"
    : r.reason === "no-answer" ? "its process did not answer" : `the guest did not power off within ${timeout} s`;
  if (r.outcome === "powered-off") process.stdout.write(`VM '${name}' shut off (the guest powered off)\n`);
  else if (r.outcome === "stopped") process.stdout.write(`VM '${name}' shut off (stopped by the host: ${why}; vCPUs stopped, disks flushed)\n`);
  else process.stdout.write(`VM '${name}' killed (pid ${r.pid}): ${why}, and it did not stop from the host side either\n`);
  return 0;
}

async function cmdKill(argv: string[]): Promise<number> {
  const { positionals } = parse(argv, {}, 1);
  const name = positionals[0];
  const pid = await hypervisor().kill(name);
  process.stdout.write(`VM '${name}' killed (pid ${pid})\n`);
  return 0;
}

/** One card in a line: `user 52:54:00:..:..:.. hostfwd=tcp:127.0.0.1:8080-:80` or `switch=lan 52:54:00:..`. */
function nicLine(n: NicSummary): string {
  const mode = n.mode === "switch" ? `switch=${n.switch ?? ""}` : `user${n.restrict === true ? ",restrict=on" : ""}`;
  return [n.model, n.id, mode, n.mac, ...(n.hostfwd ?? []).map((f) => `hostfwd=${f}`)].join(" ");
}

async function cmdList(argv: string[]): Promise<number> {
  const { values: o } = parse(argv, { json: { type: "boolean" }, all: { type: "boolean", short: "a" } }, 0);
  const hv = hypervisor();
  const rows = (await hv.list()).map((r) => ({ ...r, network: hv.config(r.name).network.map(nicSummary) }));
  if (o.json === true) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return 0;
  }
  const net = (ns: NicSummary[]): string => ns.map((n) => (n.mode === "switch" ? `switch=${n.switch ?? ""}` : n.hostfwd !== undefined && n.hostfwd.length > 0 ? `user(${n.hostfwd.length} fwd)` : "user")).join(",") || "-";
  const table = [["NAME", "STATE", "CPUS", "MEMORY", "PID", "NETWORK"], ...rows.map((r) => [r.name, r.state, String(r.cpus), formatMib(r.memoryMib), r.pid === null ? "-" : String(r.pid), net(r.network)])];
  printTable(table);
  for (const r of rows) if (r.crash !== undefined) process.stdout.write(`${r.name}: crashed: ${r.crash}\n`);
  return 0;
}

async function cmdInfo(argv: string[]): Promise<number> {
  const { values: o, positionals } = parse(argv, { json: { type: "boolean" } }, 1);
  const info = await hypervisor().info(positionals[0]);
  const r = { ...info, network: info.config.network.map(nicSummary) };
  if (o.json === true) {
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    return 0;
  }
  const c = r.config, last = r.lastExit;
  const lines: [string, string][] = [
    ["Name", r.name], ["State", r.state], ["PID", r.pid === null ? "-" : String(r.pid)],
    ["CPUs", `${c.cpus} (${c.cpu.profile}${c.cpu.quotaPercent < 100 ? `, quota ${c.cpu.quotaPercent}%` : ""})`],
    ["Memory", formatMib(c.memoryMib)],
    ["Kernel", c.boot.kernel ?? "(rvisor guest image)"], ["Initrd", c.boot.initrd ?? (c.boot.kernel === null ? "(rvisor guest image)" : "-")],
    ["Cmdline", c.boot.cmdline], ["Firmware", c.boot.firmware],
    ...c.disks.map((d, i): [string, string] => [`Disk ${i}`, `${d.path} (${d.id}, ${d.format}${d.readonly ? ", read-only" : ""})`]),
    ...c.shares.map((sh, i): [string, string] => [`Share ${i}`, `${sh.path} tag=${sh.tag}${sh.readonly ? " (read-only)" : ""}`]),
    ...(r.network.length === 0 ? [["Network", "none"] as [string, string]] : r.network.map((n, i): [string, string] => [`Network ${i}`, nicLine(n)])),
    ["Console log", r.consoleLog],
    ["Snapshots", r.snapshots.join(", ") || "-"],
  ];
  if (r.restoreFrom !== null) lines.push(["Next start", `continues from snapshot ${r.restoreFrom}`]);
  if (r.status !== null) lines.push(["Guest time", `${(r.status.guestMs / MS_PER_S).toFixed(1)} s`], ["Instructions", String(r.status.executed)]);
  if (r.crash !== undefined) lines.push(["Crashed", r.crash]);
  if (last !== null && r.pid === null) lines.push(["Last exit", `${last.reason} (code ${last.code}) at ${last.at}${last.message !== undefined ? `: ${last.message.split("\n")[0]}` : ""}`]);
  for (const [k, v] of lines) process.stdout.write(`${(k + ":").padEnd(14)}${v}\n`);
  return 0;
}

async function cmdLogs(argv: string[]): Promise<number> {
  const { values: o, positionals } = parse(argv, { follow: { type: "boolean", short: "f" }, tail: { type: "string", short: "n" } }, 1);
  const n = o.tail === undefined ? undefined : Number(o.tail);
  if (!(n === undefined || (Number.isInteger(n) && n >= 0))) throw new VmCommandError(`--tail must be a whole number (got '${o.tail ?? ""}')`, EXIT_USAGE);
  const hv = hypervisor();
  const name = positionals[0];
  if (o.follow !== true) { process.stdout.write(hv.logs(name, { tail: n })); return 0; }
  return new Promise<number>((resolveExit) => {
    const stop = hv.followLogs(name, (b) => { process.stdout.write(b); }, { tail: n, kept: true });
    process.once("SIGINT", () => { stop(); resolveExit(0); });
  });
}

async function cmdRm(argv: string[]): Promise<number> {
  const { values: o, positionals } = parse(argv, { force: { type: "boolean", short: "f" } }, 1);
  const name = positionals[0];
  await hypervisor().rm(name, { force: o.force === true });
  process.stdout.write(`VM '${name}' removed\n`);
  return 0;
}

function snapshotRows(recs: readonly ({ name: string; record: SnapshotRecord | null; error: string | null })[]): string[][] {
  const mib = (n: number): string => `${(n / BYTES_PER_MIB).toFixed(1)}M`;
  return [["NAME", "CREATED", "STATE", "SIZE", "PAUSE", "DISKS"], ...recs.map((e) => e.record === null
    ? [e.name, "-", "corrupt", "-", "-", e.error ?? ""]
    : [e.name, e.record.createdAt.replace("T", " ").replace(/\.\d+Z$/, "Z"), e.record.state, mib(e.record.machineBytes), `${e.record.pauseMs} ms`,
      e.record.disks.map((d) => `${d.index}:${d.chain.map((p) => p.split("/").pop() ?? p).join("<")}${d.readonly ? "(ro)" : ""}`).join(" ") || "-"])];
}

function printTable(table: string[][]): void {
  const widths = table[0].map((_, c) => Math.max(...table.map((t) => t[c].length)));
  for (const t of table) process.stdout.write(`${t.map((cell, c) => cell.padEnd(widths[c])).join("   ").trimEnd()}\n`);
}

async function cmdSnapshot(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const hv = hypervisor();
  switch (sub) {
    case "create": {
      const { positionals } = parse(rest, {}, -1);
      if (positionals.length < 1 || positionals.length > 2) throw new VmCommandError("usage: snapshot create NAME [SNAP]", EXIT_USAGE);
      const r = await hv.snapshot(positionals[0], positionals[1]);
      process.stdout.write(`snapshot '${r.name}' of VM '${r.vm}' taken (${(r.machineBytes / BYTES_PER_MIB).toFixed(1)} MiB, guest paused ${r.pauseMs} ms, ` +
        `${r.disks.filter((d) => !d.readonly).length} disk(s) frozen)\n`);
      return 0;
    }
    case "list": return cmdSnapshotList(rest);
    case "rm": case "delete": {
      const { positionals } = parse(rest, {}, 2);
      const freed = await hv.removeSnapshot(positionals[0], positionals[1]);
      process.stdout.write(`snapshot '${positionals[1]}' of VM '${positionals[0]}' removed${freed.length > 0 ? ` (${freed.length} image(s) freed)` : ""}\n`);
      return 0;
    }
    default:
      throw new VmCommandError(sub === undefined ? "snapshot needs a subcommand: create, list or rm" : `unknown snapshot subcommand '${sub}' (valid: create, list, rm)`, EXIT_USAGE);
  }
}

async function cmdSnapshotList(argv: string[]): Promise<number> {
  const { values: o, positionals } = parse(argv, { json: { type: "boolean" } }, 1);
  const hv = hypervisor();
  const list = hv.snapshots(positionals[0]);
  if (o.json === true) {
    process.stdout.write(`${JSON.stringify(list.map((e) => e.record ?? { name: e.name, error: e.error }), null, 2)}\n`);
    return 0;
  }
  printTable(snapshotRows(list));
  return 0;
}

async function cmdRestore(argv: string[]): Promise<number> {
  const { values: o, positionals } = parse(argv, { paused: { type: "boolean" }, running: { type: "boolean" } }, 2);
  if (o.paused === true && o.running === true) throw new VmCommandError("give --paused or --running, not both", EXIT_USAGE);
  const hv = hypervisor();
  const [name, snap] = positionals;
  const state: RunState | undefined = o.paused === true ? "paused" : o.running === true ? "running" : undefined;
  const { pid, record } = await hv.restore(name, snap, { state });
  process.stdout.write(`VM '${name}' restored to snapshot '${snap}' of ${record.createdAt} (pid ${pid}, ${state ?? record.state})\n`);
  return 0;
}

async function cmdClone(argv: string[]): Promise<number> {
  const { values: o, positionals } = parse(argv, { snapshot: { type: "string" }, from: { type: "string" } }, 2);
  if (o.snapshot !== undefined && o.from !== undefined) throw new VmCommandError("give --snapshot or --from, not both", EXIT_USAGE);
  const hv = hypervisor();
  const [src, dst] = positionals;
  const snapshot = o.snapshot ?? o.from;
  const cfg = await hv.clone(src, dst, { snapshot });
  process.stdout.write(`VM '${cfg.name}' cloned from '${src}'${snapshot === undefined ? "" : ` snapshot '${snapshot}' (its first start continues from it)`}\n`);
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
      case "console": { const { positionals } = parse(argv, {}, 1); return await attach(hypervisor(), positionals[0]); }
      case "stop": return await cmdStop(argv);
      case "kill": return await cmdKill(argv);
      case "pause": case "resume": return await simple(argv, cmd as "pause" | "resume");
      case "list": return await cmdList(argv);
      case "info": return await cmdInfo(argv);
      case "logs": return await cmdLogs(argv);
      case "rm": return await cmdRm(argv);
      case "snapshot": return await cmdSnapshot(argv);
      case "snapshots": return await cmdSnapshotList(argv);
      case "restore": return await cmdRestore(argv);
      case "clone": return await cmdClone(argv);
      default: throw new VmCommandError(`unknown command '${cmd}'`, EXIT_USAGE);
    }
  } catch (e) {
    if (e instanceof VmCommandError) { process.stderr.write(`error: ${e.message}\n`); return e.code; }
    if (e instanceof HypervisorError) { process.stderr.write(`error: ${e.message}\n`); return EXIT_FAILED; }
    if (e instanceof VmConfigError) { process.stderr.write(`error: ${e.message}\n`); return EXIT_USAGE; }
    if (e instanceof ControlError || e instanceof SnapshotRecordError) { process.stderr.write(`error: ${e.message}\n`); return EXIT_FAILED; }
    throw e;
  }
}
