// The process of one virtual switch (`rvisor __switch NAME`), as vde_switch: started detached
// by the first VM that joins (src/host/node/switch_port.ts), it listens on a Unix socket in the
// state directory and gives every connection a port of a VirtualSwitch (src/net/switch.ts),
// speaking the length-prefixed wire of src/net/switch_wire.ts. It exits once the last VM has
// left (after SWITCH_IDLE_EXIT_MS, so a rebooting VM finds it still there).
//
//   $RVISOR_HOME/switches/NAME.sock   the socket (or a hashed name under the temp dir when too long)
//   $RVISOR_HOME/switches/NAME.pid    the running switch's pid (created O_EXCL: one switch per name)
//   $RVISOR_HOME/switches/NAME.err    its stderr
//
// A peer that breaks the framing, sends no valid hello in time, or is refused by the switch
// (bad name/MAC, a name already on it) is disconnected; one that does not read its frames has
// them dropped once SWITCH_PEER_BUFFER_MAX bytes wait for it. The other ports never notice.
import { mkdirSync, rmSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { SWITCH_NAME_PATTERN, SwitchJoinError, VirtualSwitch } from "../../net/switch.js";
import { MessageDecoder, SWITCH_PROTOCOL_VERSION, SwitchWireError, encodeJson, encodeMessage, parseHello } from "../../net/switch_wire.js";
import { ip4String } from "../../net/packet.js";
import { defaultHome, takePidFile } from "./vm_store.js";
import { switchPaths } from "./switch_port.js";

/** With no VM on it for this long, the switch exits. */
export const SWITCH_IDLE_EXIT_MS = 3_000;
/** Just started, the switch waits this long for its first VM (which is still connecting). */
export const SWITCH_START_IDLE_MS = 30_000;
/** A connection must say hello within this. */
export const SWITCH_HELLO_TIMEOUT_MS = 10_000;
/** Bytes queued toward one peer beyond which its frames are dropped (it is not reading). */
export const SWITCH_PEER_BUFFER_MAX = 1 << 20;

export async function switchProcessMain(name: string, root = defaultHome()): Promise<number> {
  if (name === undefined || !SWITCH_NAME_PATTERN.test(name)) {
    process.stderr.write(`rvisor: invalid switch name '${String(name)}'\n`);
    return 2;
  }
  const paths = switchPaths(root, name);
  mkdirSync(paths.dir, { recursive: true });
  if (takePidFile(paths.pid) !== null) return 0; // another switch of this name runs: the VM connects to it
  const sw = new VirtualSwitch(name, () => performance.now());
  const peers = new Set<Socket>();
  let idle: NodeJS.Timeout | null = null;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((r) => { done = r; });
  const checkIdle = (ms = SWITCH_IDLE_EXIT_MS): void => {
    if (idle !== null) { clearTimeout(idle); idle = null; }
    if (sw.portCount === 0) idle = setTimeout(() => { if (sw.portCount === 0) done(); }, ms);
  };

  const server = createServer((sock) => {
    peers.add(sock);
    const dec = new MessageDecoder();
    let port: number | null = null;
    const hello = setTimeout(() => sock.destroy(), SWITCH_HELLO_TIMEOUT_MS);
    const send = (frame: Uint8Array): void => {
      if (sock.destroyed || sock.writableLength > SWITCH_PEER_BUFFER_MAX) return; // a peer that does not read loses frames
      sock.write(encodeMessage(frame));
    };
    sock.on("data", (chunk: Buffer) => {
      let msgs: Uint8Array[];
      try { msgs = dec.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length)); } catch { sock.destroy(); return; }
      for (const m of msgs) {
        if (sock.destroyed) return;
        if (port !== null) { sw.input(port, m); continue; }
        try {
          const h = parseHello(m);
          port = sw.join(h.name, h.mac, send);
          clearTimeout(hello);
          if (idle !== null) { clearTimeout(idle); idle = null; }
          sock.write(encodeJson({ rvisorSwitch: SWITCH_PROTOCOL_VERSION, subnet: sw.subnetString, server: ip4String(sw.hostIp) }));
        } catch (e) {
          if (!(e instanceof SwitchWireError || e instanceof SwitchJoinError)) throw e;
          sock.end(encodeJson({ rvisorSwitch: SWITCH_PROTOCOL_VERSION, error: e.message }));
          sock.destroySoon();
          return;
        }
      }
    });
    sock.on("error", () => undefined);
    sock.on("close", () => {
      clearTimeout(hello);
      peers.delete(sock);
      if (port !== null) sw.leave(port);
      checkIdle();
    });
  });
  rmSync(paths.socket, { force: true });
  const listening = await new Promise<string | null>((resolve) => {
    server.once("error", (e) => resolve((e as NodeJS.ErrnoException).code ?? String(e)));
    server.listen(paths.socket, () => resolve(null));
  });
  const cleanup = (): void => {
    rmSync(paths.socket, { force: true });
    rmSync(paths.pid, { force: true });
  };
  if (listening !== null) {
    cleanup();
    process.stderr.write(`rvisor: switch '${name}': cannot listen on ${paths.socket}: ${listening}\n`);
    return 1;
  }
  server.on("error", () => undefined);
  process.on("SIGTERM", () => done());
  process.on("SIGINT", () => done());
  checkIdle(SWITCH_START_IDLE_MS); // nobody may come (the VM that started us failed): do not linger
  await finished;
  server.close();
  for (const p of peers) p.destroy();
  cleanup();
  return 0;
}
