// Client side of a VM process's control socket, and the state of a VM as list/info report it.
import { connect, type Socket } from "node:net";
import type { ControlCmd, ControlReply, ControlRequest, VmState, VmStatus } from "../../hypervisor/control.js";
import { pidAlive, type VmRuntime, type VmStore } from "./vm_store.js";

export class ControlError extends Error {
  constructor(message: string, readonly code?: string) { super(message); }
}

const STATUS_TIMEOUT_MS = 3000;

/** Connects to a control socket; resolves once connected. */
function open(socket: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(socket);
    s.once("connect", () => { s.off("error", reject); resolve(s); });
    s.once("error", (e: NodeJS.ErrnoException) => reject(new ControlError(e.message, e.code)));
  });
}

/**
 * Reads the first line the server sends, in paused mode ('readable' and read()), and puts any
 * bytes after it back at the head of the stream: a 'data' listener attached afterwards sees them
 * first, and nothing the server sends in between is lost.
 */
function firstLine(s: Socket, timeoutMs: number): Promise<ControlReply> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const t = setTimeout(() => { cleanup(); reject(new ControlError("the VM process did not answer", "ETIMEDOUT")); }, timeoutMs);
    const onReadable = (): void => {
      for (let d = s.read() as Buffer | null; d !== null; d = s.read() as Buffer | null) {
        buf = Buffer.concat([buf, d]);
        const nl = buf.indexOf(0x0a);
        if (nl < 0) continue;
        cleanup();
        const rest = buf.subarray(nl + 1);
        if (rest.length > 0) s.unshift(rest);
        try { resolve(JSON.parse(buf.subarray(0, nl).toString("utf8")) as ControlReply); }
        catch { reject(new ControlError("the VM process sent a malformed reply")); }
        return;
      }
    };
    const onEnd = (): void => { cleanup(); reject(new ControlError("the VM process closed the connection", "ECONNRESET")); };
    const onErr = (e: NodeJS.ErrnoException): void => { cleanup(); reject(new ControlError(e.message, e.code)); };
    const cleanup = (): void => { clearTimeout(t); s.off("readable", onReadable); s.off("end", onEnd); s.off("error", onErr); };
    s.on("readable", onReadable);
    s.once("end", onEnd);
    s.once("error", onErr);
  });
}

/** Sends one request (a bare command or a request with arguments) and returns the reply. */
export async function controlRequest(socket: string, req: Exclude<ControlCmd, "console" | "snapshot"> | ControlRequest, timeoutMs = STATUS_TIMEOUT_MS): Promise<ControlReply> {
  const s = await open(socket);
  try {
    s.write(`${JSON.stringify(typeof req === "string" ? { cmd: req } : req)}
`);
    return await firstLine(s, timeoutMs);
  } finally { s.destroy(); }
}

/** Opens the console stream: the returned socket carries serial bytes both ways. */
export async function openConsole(socket: string): Promise<Socket> {
  const s = await open(socket);
  s.write(`${JSON.stringify({ cmd: "console" })}\n`);
  let reply: ControlReply;
  try { reply = await firstLine(s, STATUS_TIMEOUT_MS); } catch (e) { s.destroy(); throw e; }
  if (!reply.ok) { s.destroy(); throw new ControlError(reply.error); }
  return s;
}

export interface VmStateInfo {
  state: VmState;
  runtime: VmRuntime | null;
  status: VmStatus | null;
}

/**
 * A VM's state from the traces in its directory: no vm.json → shut off (crashed if its last run
 * ended in an error); vm.json naming a live process that answers → its running/paused state;
 * a dead process or a socket nobody listens on → crashed. No daemon is involved.
 */
export async function vmState(store: VmStore, name: string): Promise<VmStateInfo> {
  const runtime = store.runtime(name);
  if (runtime === null) {
    const last = store.lastExit(name);
    return { state: last !== null && last.reason === "error" ? "crashed" : "shut off", runtime: null, status: null };
  }
  if (!pidAlive(runtime.pid)) return { state: "crashed", runtime, status: null };
  try {
    const r = await controlRequest(runtime.socket, "status");
    if (r.ok && (r.state === "running" || r.state === "paused")) {
      const status: VmStatus = {
        state: r.state, pid: r.pid ?? runtime.pid, cpus: r.cpus ?? 0, memoryMib: r.memoryMib ?? 0, executed: r.executed ?? 0, guestMs: r.guestMs ?? 0,
      };
      return { state: r.state, runtime, status };
    }
    return { state: "running", runtime, status: null };
  } catch (e) {
    const code = e instanceof ControlError ? e.code : undefined;
    // A live pid with no listener: the process that wrote vm.json is gone and its pid reused.
    if (code === "ECONNREFUSED" || code === "ENOENT") return { state: "crashed", runtime, status: null };
    return { state: "running", runtime, status: null };
  }
}
