// A NIC's port on a virtual switch (`--net switch=NAME`): the NetBackend of a VM whose frames go
// over a Unix socket to the switch process (src/host/node/switch_process.ts), which it starts
// (detached, `rvisor __switch NAME`) when none answers. Toward the guest, frames wait in a
// bounded queue for receive buffers; while it is full the socket is not read (backpressure to
// the switch, which then drops frames for this port only). If the switch goes away the port
// keeps trying to rejoin (starting a new switch) every SWITCH_RECONNECT_MS.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, mkdirSync, openSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { NetBackend, NetFrontend } from "../../net/backend.js";
import { SWITCH_NAME_PATTERN } from "../../net/switch.js";
import { MessageDecoder, SWITCH_PROTOCOL_VERSION, SwitchWireError, encodeJson, encodeMessage, parseWelcome } from "../../net/switch_wire.js";

const RVISOR_BIN = fileURLToPath(new URL("../../../../bin/rvisor.js", import.meta.url));
/** sun_path is 108 bytes on Linux, NUL included. */
const SUN_PATH_MAX = 107;
/** How long a join waits for a switch it started to listen, and for its welcome. */
export const SWITCH_JOIN_TIMEOUT_MS = 30_000;
const CONNECT_RETRY_MS = 50;
export const SWITCH_RECONNECT_MS = 1_000;
/** Frames waiting for the guest's receive buffers; beyond this the socket is paused. */
export const SWITCH_RX_QUEUE_MAX = 256;
/** Bytes queued toward the switch beyond which the guest's frames are dropped. */
export const SWITCH_TX_BUFFER_MAX = 1 << 20;

export interface SwitchPaths { dir: string; socket: string; pid: string; err: string }

export function switchPaths(root: string, name: string): SwitchPaths {
  const dir = join(root, "switches");
  let socket = join(dir, `${name}.sock`);
  if (Buffer.byteLength(socket) > SUN_PATH_MAX) {
    const h = createHash("sha256").update(socket).digest("hex").slice(0, 24);
    const d = join(tmpdir(), `rvisor-${process.getuid?.() ?? "u"}`);
    mkdirSync(d, { recursive: true, mode: 0o700 });
    socket = join(d, `sw-${h}.sock`);
  }
  return { dir, socket, pid: join(dir, `${name}.pid`), err: join(dir, `${name}.err`) };
}

/** The switch could not be reached or refused the VM (its message says why). */
export class SwitchJoinFailed extends Error {}

function tryConnect(path: string): Promise<Socket | string> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once("connect", () => { s.removeAllListeners("error"); resolve(s); });
    s.once("error", (e) => resolve((e as NodeJS.ErrnoException).code ?? "EIO"));
  });
}

function startSwitch(root: string, name: string, paths: SwitchPaths): void {
  mkdirSync(paths.dir, { recursive: true });
  const err = openSync(paths.err, "a");
  const child = spawn(process.execPath, [RVISOR_BIN, "__switch", name], {
    detached: true, stdio: ["ignore", "ignore", err], env: { ...process.env, RVISOR_HOME: root },
  });
  closeSync(err);
  child.on("error", () => undefined);
  child.unref();
}

/** Connects to switch `name`, starting it when nobody listens; resolves with the socket. */
async function reachSwitch(root: string, name: string): Promise<Socket> {
  const paths = switchPaths(root, name);
  const deadline = performance.now() + SWITCH_JOIN_TIMEOUT_MS;
  let started = false;
  for (;;) {
    const r = await tryConnect(paths.socket);
    if (typeof r !== "string") return r;
    if (!started && (r === "ENOENT" || r === "ECONNREFUSED")) { startSwitch(root, name, paths); started = true; }
    if (performance.now() > deadline) throw new SwitchJoinFailed(`switch '${name}' did not come up within ${SWITCH_JOIN_TIMEOUT_MS / 1000} s (${r}; see ${paths.err})`);
    await new Promise((res) => setTimeout(res, CONNECT_RETRY_MS));
  }
}

export interface SwitchPortOptions {
  /** The state directory (RVISOR_HOME). */
  root: string;
  switchName: string;
  /** The VM's name: `NAME.internal` on the switch ("" for none). */
  vmName: string;
  mac: string;
  /** A frame for the guest arrived from the socket: wake the run loop. */
  onAsyncFrame?: () => void;
}

export class SwitchPort implements NetBackend {
  private frontend: NetFrontend | null = null;
  private sock: Socket | null = null;
  private readonly queue: Uint8Array[] = [];
  private closed = false;
  private paused = false;
  private reconnect: NodeJS.Timeout | null = null;
  /** The switch's subnet and server address from its welcome. */
  subnet = "";
  server = "";
  readonly stats = { toSwitch: 0, fromSwitch: 0, txDropped: 0, rxDropped: 0, reconnects: 0 };

  private constructor(private readonly opts: SwitchPortOptions) {}

  /** Joins the switch (starting it if needed); throws SwitchJoinFailed with the switch's reason. */
  static async open(opts: SwitchPortOptions): Promise<SwitchPort> {
    if (!SWITCH_NAME_PATTERN.test(opts.switchName)) throw new SwitchJoinFailed(`invalid switch name '${opts.switchName}'`);
    const p = new SwitchPort(opts);
    await p.join();
    return p;
  }

  private async join(): Promise<void> {
    const { root, switchName, vmName, mac } = this.opts;
    const sock = await reachSwitch(root, switchName);
    const dec = new MessageDecoder();
    const welcome = await new Promise<Uint8Array[]>((resolve, reject) => {
      const timer = setTimeout(() => { sock.destroy(); reject(new SwitchJoinFailed(`switch '${switchName}' sent no welcome within ${SWITCH_JOIN_TIMEOUT_MS / 1000} s`)); }, SWITCH_JOIN_TIMEOUT_MS);
      const onData = (chunk: Buffer): void => {
        let msgs: Uint8Array[];
        try { msgs = dec.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length)); } catch (e) { fail((e as Error).message); return; }
        if (msgs.length === 0) return;
        clearTimeout(timer);
        sock.off("data", onData); sock.off("close", onClose);
        sock.pause();
        resolve(msgs);
      };
      const fail = (why: string): void => { clearTimeout(timer); sock.destroy(); reject(new SwitchJoinFailed(`switch '${switchName}': ${why}`)); };
      const onClose = (): void => fail("closed the connection before its welcome");
      sock.on("data", onData);
      sock.once("close", onClose);
      sock.on("error", () => undefined);
      sock.write(encodeJson({ rvisorSwitch: SWITCH_PROTOCOL_VERSION, name: vmName, mac }));
    });
    let w;
    try { w = parseWelcome(welcome[0]); } catch (e) { sock.destroy(); throw new SwitchJoinFailed(`switch '${switchName}': ${(e as SwitchWireError).message}`); }
    if (w.error !== undefined) { sock.destroy(); throw new SwitchJoinFailed(`switch '${switchName}' refused VM '${vmName}': ${w.error}`); }
    this.subnet = w.subnet ?? "";
    this.server = w.server ?? "";
    if (this.closed) { sock.destroy(); return; }
    this.sock = sock;
    for (const m of welcome.slice(1)) this.receive(m);
    sock.on("data", (chunk: Buffer) => {
      let msgs: Uint8Array[];
      try { msgs = dec.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length)); } catch { sock.destroy(); return; }
      for (const m of msgs) this.receive(m);
      this.opts.onAsyncFrame?.();
    });
    sock.on("close", () => {
      if (this.sock === sock) this.sock = null;
      this.scheduleRejoin();
    });
    if (!this.paused) sock.resume();
  }

  private scheduleRejoin(): void {
    if (this.closed || this.reconnect !== null) return;
    this.reconnect = setTimeout(() => {
      this.reconnect = null;
      if (this.closed) return;
      this.stats.reconnects++;
      this.join().catch((e: unknown) => {
        process.stderr.write(`rvisor: ${(e as Error).message}; retrying\n`);
        this.scheduleRejoin();
      });
    }, SWITCH_RECONNECT_MS);
    this.reconnect.unref();
  }

  private receive(frame: Uint8Array): void {
    this.stats.fromSwitch++;
    if (this.queue.length >= SWITCH_RX_QUEUE_MAX) { this.stats.rxDropped++; return; }
    this.queue.push(frame);
    this.flush();
    if (this.queue.length >= SWITCH_RX_QUEUE_MAX && !this.paused) { this.paused = true; this.sock?.pause(); }
  }

  private flush(): void {
    const fe = this.frontend;
    if (fe === null) return;
    while (this.queue.length > 0 && fe.canReceive(this.queue[0].length)) fe.deliver(this.queue.shift()!);
  }

  attach(frontend: NetFrontend): void { this.frontend = frontend; }

  rxReady(): void {
    this.flush();
    if (this.paused && this.queue.length < SWITCH_RX_QUEUE_MAX / 2) { this.paused = false; this.sock?.resume(); }
  }

  transmit(frame: Uint8Array): void {
    const s = this.sock;
    if (s === null || s.destroyed || s.writableLength > SWITCH_TX_BUFFER_MAX) { this.stats.txDropped++; return; }
    this.stats.toSwitch++;
    s.write(encodeMessage(frame));
  }

  /** Leaves the switch (it exits when this was its last VM). */
  close(): void {
    this.closed = true;
    if (this.reconnect !== null) { clearTimeout(this.reconnect); this.reconnect = null; }
    this.sock?.end();
    this.sock = null;
  }
}
