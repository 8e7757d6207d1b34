// Host-native programs for the process VM (HostExec of src/user/host.ts, used by
// src/user/host_exec.ts): a child process with the descriptors the guest had at execve. Host
// files (NodeFs handles are host descriptors) and rvisor's own stdio are passed as they are;
// bridged descriptors are socket pairs (what Node makes for a "pipe" stdio entry), whose
// rvisor side is a stream the kernel copies to and from the guest's open file.
import { spawn, type ChildProcess, type StdioOptions } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import type { Readable, Writable } from "node:stream";
import { SIGNAL_NAMES, errnoOfCode } from "../../abi/linux.js";
import type { HostChild, HostChildEvents, HostExec, HostExecRequest } from "../../user/host.js";

type Stream = Readable & Writable;

/** The host's file offset of descriptor fd (Linux: the pos line of /proc/self/fdinfo/FD), or null. */
function fileOffset(fd: number): number | null {
  if (process.platform !== "linux") return null;
  try {
    const m = /^pos:\s*(\d+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "latin1"));
    return m !== null ? Number(m[1]) : null;
  } catch { return null; }
}

/** A wait status (wait4) from Node's exit report: exit code << 8, or the Linux number of the signal. */
function waitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (signal !== null) { const n = SIGNAL_NAMES.indexOf(signal); return n > 0 ? n : SIGNAL_NAMES.indexOf("SIGKILL"); }
  return ((code ?? 0) & 0xff) << 8;
}

function envObject(env: readonly string[]): Record<string, string> {
  const o: Record<string, string> = {};
  for (const e of env) { const i = e.indexOf("="); if (i > 0) o[e.slice(0, i)] = e.slice(i + 1); }
  return o;
}

class NodeChild implements HostChild {
  private readonly streams = new Map<number, Stream>();
  private pendingKills: number[] = [];
  private running = false;
  private done = false;
  constructor(private readonly cp: ChildProcess | null, bridged: readonly number[], private readonly ev: HostChildEvents, handles: Map<number, number>) {
    if (cp === null) return;
    for (const fd of bridged) {
      const s = cp.stdio[fd] as Stream | null;
      if (s === null) continue;
      this.streams.set(fd, s);
      // The program's side closed (or it died): its output has all been delivered.
      s.on("data", (b: Buffer) => { ev.data(fd, new Uint8Array(b.buffer, b.byteOffset, b.length)); });
      s.on("end", () => { ev.end(fd); });
      s.on("drain", () => { ev.drained(fd); });
      // EPIPE/ECONNRESET once the program no longer reads: input for it is dropped.
      s.on("error", () => { ev.end(fd); ev.drained(fd); });
      if (fd === 0) ev.end(fd); // Node's stream for fd 0 only writes (the program's input)
    }
    cp.once("spawn", () => {
      this.running = true;
      ev.started(0);
      for (const sig of this.pendingKills) this.kill(sig);
      this.pendingKills = [];
    });
    cp.once("error", (e: NodeJS.ErrnoException) => {
      if (this.running) return; // a failed kill of an exited program
      this.done = true;
      ev.started(-errnoOfCode(e.code));
    });
    cp.once("close", (code, signal) => {
      this.done = true;
      const offsets = new Map<number, number>();
      for (const [fd, h] of handles) { const off = fileOffset(h); if (off !== null) offsets.set(fd, off); }
      ev.exit(waitStatus(code, signal), offsets);
    });
  }
  write(fd: number, data: Uint8Array): boolean {
    const s = this.streams.get(fd);
    if (s === undefined || s.destroyed || s.writableEnded) return true;
    return s.write(data);
  }
  endInput(fd: number): void { const s = this.streams.get(fd); if (s !== undefined && !s.destroyed && !s.writableEnded) s.end(); }
  pause(fd: number): void { this.streams.get(fd)?.pause(); }
  resume(fd: number): void { this.streams.get(fd)?.resume(); }
  close(fd: number): void { this.streams.get(fd)?.destroy(); }
  kill(sig: number): void {
    if (this.cp === null || this.done) return;
    if (!this.running) { this.pendingKills.push(sig); return; }
    const name = SIGNAL_NAMES[sig];
    if (name === undefined || name === "") return;
    try { this.cp.kill(name as NodeJS.Signals); } catch { /* a signal this host does not have */ }
  }
}

export class NodeExec implements HostExec {
  spawn(req: HostExecRequest, ev: HostChildEvents): HostChild {
    const stdio: ("ignore" | "pipe" | number)[] = [];
    const bridged: number[] = [];
    const handles = new Map<number, number>();
    let devNull: number | null = null;
    // Node opens /dev/null for an "ignore" among fds 0-2 (it cannot leave them closed); above, nothing.
    for (let fd = 0; fd < Math.max(3, req.fds.length); fd++) {
      const d = req.fds[fd] ?? null;
      if (d === null) stdio.push("ignore");
      else if (d.kind === "bridge") { stdio.push("pipe"); bridged.push(fd); }
      else if (d.kind === "handle") { stdio.push(d.handle); handles.set(fd, d.handle); }
      else if (d.kind === "null") { devNull ??= openSync("/dev/null", "r+"); stdio.push(devNull); }
      else stdio.push(d.fd);
    }
    let cp: ChildProcess;
    try {
      cp = spawn(req.path, req.argv.slice(1), {
        argv0: req.argv[0] ?? req.path, cwd: req.cwd, env: envObject(req.env), stdio: stdio as StdioOptions,
      });
    } catch (e) {
      if (devNull !== null) closeSync(devNull);
      const code = (e as NodeJS.ErrnoException).code;
      queueMicrotask(() => ev.started(-errnoOfCode(code)));
      return new NodeChild(null, [], ev, handles);
    }
    if (devNull !== null) closeSync(devNull); // the child has its own
    return new NodeChild(cp, bridged, ev, handles);
  }
}
