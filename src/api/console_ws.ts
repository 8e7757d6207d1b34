// The console WebSocket: one VM's serial console stream (Hypervisor.console) bridged to a
// WebSocket, in the simplest shape that consoles over WebSocket take:
//   binary frames   serial bytes, both ways
//   text frames     from the client, one JSON control message: {"type":"resize","cols":N,"rows":M}.
//                   The VM's console is a 16550 UART, which has no window size, so a valid resize
//                   is accepted and has no effect (a guest learns its size with `stty rows M cols N`
//                   or `resize`); an invalid one is answered with a text frame
//                   {"type":"error","fault_message":...} and the connection stays open.
// Closing the WebSocket detaches (the VM keeps running); when the VM stops, the server closes
// with 1000 "VM stopped".
import type { Duplex } from "node:stream";
import type { RawData, WebSocket } from "ws";

/** WebSocket close codes (RFC 6455 §7.4.1). */
const WS_NORMAL = 1000;
/** Console output buffered towards a slow client before the VM's stream is paused, and when it resumes. */
const HIGH_WATER = 1 << 20, LOW_WATER = 1 << 16;

function asBuffer(d: RawData): Buffer {
  return Buffer.isBuffer(d) ? d : Array.isArray(d) ? Buffer.concat(d) : Buffer.from(d);
}

/** `problem(value)`: why a parsed text frame is not a valid control message, or null. */
export function bridgeConsole(ws: WebSocket, stream: Duplex, problem: (v: unknown) => string | null): void {
  const fail = (msg: string): void => { ws.send(JSON.stringify({ type: "error", fault_message: msg })); };
  stream.on("data", (d: Buffer) => {
    ws.send(d, { binary: true }, () => { if (stream.isPaused() && ws.bufferedAmount < LOW_WATER) stream.resume(); });
    if (ws.bufferedAmount > HIGH_WATER) stream.pause();
  });
  stream.on("close", () => { if (ws.readyState === ws.OPEN) ws.close(WS_NORMAL, "VM stopped"); });
  stream.on("error", () => { ws.terminate(); });
  ws.on("message", (data: RawData, isBinary: boolean) => {
    const bytes = asBuffer(data);
    if (isBinary) { stream.write(bytes); return; }
    let msg: unknown;
    try { msg = JSON.parse(bytes.toString("utf8")) as unknown; } catch (e) { fail(`malformed JSON: ${(e as Error).message}`); return; }
    const why = problem(msg);
    if (why !== null) fail(why);
    // A valid resize: the serial console has no size to set (see above).
  });
  ws.on("close", () => { stream.destroy(); });
  ws.on("error", () => { stream.destroy(); });
}
