// The wire between a VM's NIC and its switch (src/net/switch.ts): a byte stream (a Unix socket
// on Node) carrying messages as QEMU's `-netdev stream` carries frames, each a 4-byte big-endian
// length and that many bytes. The first message each way is a JSON handshake:
//
//   VM → switch   {"rvisorSwitch": 1, "name": "web", "mac": "52:54:00:12:34:56"}
//   switch → VM   {"rvisorSwitch": 1, "subnet": "10.0.3.0/24", "server": "10.0.3.1"}
//                 or {"rvisorSwitch": 1, "error": "..."} and the switch closes the stream
//
// after which every message is one Ethernet frame (no FCS, no virtio-net header).
import { readU32, writeU32 } from "./packet.js";

export const SWITCH_PROTOCOL_VERSION = 1;
/** The length prefix. */
export const SWITCH_LENGTH_BYTES = 4;
/**
 * Largest message: the handshake, or a frame (the switch itself forwards frames of at most
 * ETH_FRAME_MAX_VLAN bytes and drops longer ones; a longer prefix than this is a broken peer).
 */
export const SWITCH_MESSAGE_MAX = 0x10000;

export interface SwitchHello { rvisorSwitch: number; name: string; mac: string }
export interface SwitchWelcome { rvisorSwitch: number; subnet?: string; server?: string; error?: string }

/** One message with its length prefix. */
export function encodeMessage(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(SWITCH_LENGTH_BYTES + payload.length);
  writeU32(out, 0, payload.length);
  out.set(payload, SWITCH_LENGTH_BYTES);
  return out;
}

export function encodeJson(v: SwitchHello | SwitchWelcome): Uint8Array { return encodeMessage(new TextEncoder().encode(JSON.stringify(v))); }

/** Thrown by MessageDecoder for a stream that breaks the framing (the peer is disconnected). */
export class SwitchWireError extends Error {}

/** Splits a byte stream into messages; any chunking of the stream gives the same messages. */
export class MessageDecoder {
  private buf = new Uint8Array(0);
  private len = 0;

  /** Appends `chunk` and returns the complete messages in it; throws SwitchWireError on a bad length. */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.len + chunk.length > this.buf.length) {
      const grown = new Uint8Array(Math.max(this.buf.length * 2, this.len + chunk.length, 4096));
      grown.set(this.buf.subarray(0, this.len));
      this.buf = grown;
    }
    this.buf.set(chunk, this.len);
    this.len += chunk.length;
    const out: Uint8Array[] = [];
    let off = 0;
    while (this.len - off >= SWITCH_LENGTH_BYTES) {
      const n = readU32(this.buf, off);
      if (n === 0 || n > SWITCH_MESSAGE_MAX) throw new SwitchWireError(`bad message length ${n} (1 to ${SWITCH_MESSAGE_MAX})`);
      if (this.len - off - SWITCH_LENGTH_BYTES < n) break;
      out.push(this.buf.slice(off + SWITCH_LENGTH_BYTES, off + SWITCH_LENGTH_BYTES + n));
      off += SWITCH_LENGTH_BYTES + n;
    }
    if (off > 0) { this.buf.copyWithin(0, off, this.len); this.len -= off; }
    return out;
  }

  /** Bytes of an incomplete message held. */
  get pending(): number { return this.len; }
}

function isRecord(v: unknown): v is Record<string, unknown> { return typeof v === "object" && v !== null && !Array.isArray(v); }

function json(m: Uint8Array): Record<string, unknown> {
  let v: unknown;
  try { v = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(m)); } catch { throw new SwitchWireError("the handshake is not JSON"); }
  if (!isRecord(v)) throw new SwitchWireError("the handshake is not a JSON object");
  if (v.rvisorSwitch !== SWITCH_PROTOCOL_VERSION) throw new SwitchWireError(`unsupported switch protocol ${JSON.stringify(v.rvisorSwitch)} (this rvisor speaks ${SWITCH_PROTOCOL_VERSION})`);
  return v;
}

/** The VM's hello; throws SwitchWireError when it is not one. Name and MAC are checked by the switch. */
export function parseHello(m: Uint8Array): SwitchHello {
  const v = json(m);
  if (typeof v.name !== "string" || typeof v.mac !== "string") throw new SwitchWireError("the hello needs a name and a mac");
  return { rvisorSwitch: SWITCH_PROTOCOL_VERSION, name: v.name, mac: v.mac };
}

export function parseWelcome(m: Uint8Array): SwitchWelcome {
  const v = json(m);
  const w: SwitchWelcome = { rvisorSwitch: SWITCH_PROTOCOL_VERSION };
  if (typeof v.error === "string") w.error = v.error;
  if (typeof v.subnet === "string") w.subnet = v.subnet;
  if (typeof v.server === "string") w.server = v.server;
  if (w.error === undefined && (w.subnet === undefined || w.server === undefined)) throw new SwitchWireError("the welcome needs a subnet and a server");
  return w;
}
