// Whole-machine snapshots of the virt board: the file format of docs/snapshot.md, written and
// read here, in the core (no Node, no compression: the host adapter may compress the stream).
//
//   offset  size  field
//   0       8     magic "RVSNAP\r\n" (the CR LF catches text-mode mangling, as PNG's does)
//   8       4     format version (SNAPSHOT_FORMAT_VERSION), u32 little-endian
//   12      4     header length H in bytes (UTF-8 JSON), u32
//   16      4     RAM page count N, u32
//   20      4     RAM page size (4096), u32
//   24      H'    header JSON (SnapshotHeader), zero-padded to H' = H rounded up to 8
//   24+H'   4N    page numbers (u32, from the RAM base, strictly ascending)
//   ...     4096N the pages' bytes, in that order
//   end-8   8     checksum of every byte before it (snapshotChecksum: two u32 lanes)
//
// Only pages that are not all zeros are stored, so an idle 256 MiB guest's file holds what
// Linux actually touched. A restore validates everything (magic, version, lengths, checksum,
// the board it was taken on) before it touches the machine.
import { EXTENSIONS, Isa, type ExtName } from "../cpu/isa.js";
import { VirtMachine, type BoardConfig, type Firmware, type VirtConfig, type VirtMachineState } from "./machine.js";
import { bytesToLatin1, latin1ToBytes } from "./console_history.js";

export const SNAPSHOT_MAGIC = Uint8Array.of(0x52, 0x56, 0x53, 0x4e, 0x41, 0x50, 0x0d, 0x0a); // "RVSNAP\r\n"
export const SNAPSHOT_FORMAT_VERSION = 1;
export const SNAPSHOT_PAGE_SIZE = 4096;
const FIXED_HEADER = 24;
const CHECKSUM_BYTES = 8;
const PAGE_WORDS = SNAPSHOT_PAGE_SIZE / 4;

/** The JSON header: who wrote the file, the board it needs, and the machine's state. */
export interface SnapshotHeader {
  /** The rvisor version that wrote it (informational; compatibility is the format version). */
  producer: string;
  /** ISO 8601 time the snapshot was taken (informational). */
  createdAt: string;
  board: BoardConfig;
  state: VirtMachineState;
  /**
   * The machine's recent console output (VirtMachine.consoleHistory), one char per byte. Optional:
   * files written before it existed lack it, and readers that do not know it ignore it, so the
   * format version stays 1.
   */
  console?: { history: string };
}

/** A snapshot file read and checked: nothing is wrong with it except, maybe, the board. */
export interface Snapshot {
  header: SnapshotHeader;
  /** Page numbers (from the RAM base) of the stored pages, ascending. */
  pages: Uint32Array;
  /** The stored pages' bytes, back to back (a view into the file). */
  data: Uint8Array;
}

/** Why a snapshot cannot be restored; the machine has not been touched. */
export class SnapshotError extends Error {}

/**
 * A 64-bit checksum over little-endian u32 words (length a multiple of 4), as two 32-bit lanes:
 * FNV-1a over words and a multiply-add polynomial (h = h * 31 + w). Not cryptographic: it
 * catches truncation, bit rot and editing mistakes at several GB/s in plain JavaScript.
 */
export function snapshotChecksum(bytes: Uint8Array): [number, number] {
  if (bytes.length % 4 !== 0) throw new RangeError("checksum input must be whole 32-bit words");
  const words = bytes.byteOffset % 4 === 0
    ? new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2)
    : new Int32Array(bytes.slice().buffer);
  let a = 0x811c9dc5 | 0, b = 0;
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    a = Math.imul(a ^ w, 0x01000193);
    b = (Math.imul(b, 31) + w) | 0;
  }
  return [a >>> 0, b >>> 0];
}

/** True when the 4 KiB page at word index `w0` of `words` is all zeros. */
function zeroPage(words: Int32Array, w0: number): boolean {
  for (let i = w0, end = w0 + PAGE_WORDS; i < end; i++) if (words[i] !== 0) return false;
  return true;
}

export interface CaptureOptions {
  /** Written as `producer` (e.g. "rvisor 0.1.0"). */
  producer: string;
  /** Default: now. */
  createdAt?: Date;
}

/**
 * Encodes the machine as a snapshot file. The machine must not run meanwhile (call it between
 * steps, after `await machine.settle()` so no request is halfway through host I/O).
 */
export function captureSnapshot(m: VirtMachine, opts: CaptureOptions): Uint8Array {
  const header: SnapshotHeader = {
    producer: opts.producer, createdAt: (opts.createdAt ?? new Date()).toISOString(), board: m.board(), state: m.saveState(),
    console: { history: bytesToLatin1(m.consoleHistory.bytes()) },
  };
  const words = m.ram.i32;
  const npages = m.ram.size / SNAPSHOT_PAGE_SIZE;
  const list: number[] = [];
  const written = m.ram.written;
  for (let p = 0; p < npages; p++) if (written[p] !== 0 && !zeroPage(words, p * PAGE_WORDS)) list.push(p);
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = (json.length + 7) & ~7;
  const indexAt = FIXED_HEADER + padded, dataAt = indexAt + 4 * list.length;
  const total = dataAt + SNAPSHOT_PAGE_SIZE * list.length + CHECKSUM_BYTES;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  out.set(SNAPSHOT_MAGIC, 0);
  dv.setUint32(8, SNAPSHOT_FORMAT_VERSION, true);
  dv.setUint32(12, json.length, true);
  dv.setUint32(16, list.length, true);
  dv.setUint32(20, SNAPSHOT_PAGE_SIZE, true);
  out.set(json, FIXED_HEADER);
  const u8 = m.ram.u8;
  list.forEach((p, i) => {
    dv.setUint32(indexAt + 4 * i, p, true);
    out.set(u8.subarray(p * SNAPSHOT_PAGE_SIZE, (p + 1) * SNAPSHOT_PAGE_SIZE), dataAt + SNAPSHOT_PAGE_SIZE * i);
  });
  const [a, b] = snapshotChecksum(out.subarray(0, total - CHECKSUM_BYTES));
  dv.setUint32(total - 8, a, true);
  dv.setUint32(total - 4, b, true);
  return out;
}

/** Reads and checks a snapshot file (magic, version, lengths, checksum, header shape). */
export function parseSnapshot(file: Uint8Array): Snapshot {
  if (file.length < FIXED_HEADER + CHECKSUM_BYTES) throw new SnapshotError(`not an rvisor snapshot (${file.length} bytes is too short)`);
  for (let i = 0; i < SNAPSHOT_MAGIC.length; i++) {
    if (file[i] !== SNAPSHOT_MAGIC[i]) throw new SnapshotError("not an rvisor snapshot (bad magic)");
  }
  const bytes = file.byteOffset % 4 === 0 ? file : file.slice();
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint32(8, true);
  if (version !== SNAPSHOT_FORMAT_VERSION) {
    throw new SnapshotError(`snapshot format version ${version} is not supported (this rvisor reads version ${SNAPSHOT_FORMAT_VERSION})`);
  }
  const jsonLen = dv.getUint32(12, true), npages = dv.getUint32(16, true), pageSize = dv.getUint32(20, true);
  if (pageSize !== SNAPSHOT_PAGE_SIZE) throw new SnapshotError(`snapshot page size ${pageSize} is not ${SNAPSHOT_PAGE_SIZE}`);
  const indexAt = FIXED_HEADER + ((jsonLen + 7) & ~7), dataAt = indexAt + 4 * npages;
  const expected = dataAt + SNAPSHOT_PAGE_SIZE * npages + CHECKSUM_BYTES;
  if (bytes.length !== expected) {
    throw new SnapshotError(`snapshot is ${bytes.length < expected ? "truncated" : "longer than its header says"} (${bytes.length} bytes, expected ${expected})`);
  }
  const [a, b] = snapshotChecksum(bytes.subarray(0, expected - CHECKSUM_BYTES));
  if (dv.getUint32(expected - 8, true) !== a || dv.getUint32(expected - 4, true) !== b) throw new SnapshotError("snapshot checksum mismatch: the file is corrupt");
  let header: SnapshotHeader;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(FIXED_HEADER, FIXED_HEADER + jsonLen))) as SnapshotHeader;
  } catch (e) {
    throw new SnapshotError(`snapshot header is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (header === null || typeof header !== "object" || typeof header.board !== "object" || header.board === null ||
      typeof header.state !== "object" || header.state === null) throw new SnapshotError("snapshot header lacks board or state");
  if (header.console !== undefined && (typeof header.console !== "object" || header.console === null || typeof header.console.history !== "string" ||
      latin1ToBytes(header.console.history) === null)) throw new SnapshotError("snapshot header's console history is not a string of bytes");
  const pages = new Uint32Array(npages);
  for (let i = 0; i < npages; i++) {
    pages[i] = dv.getUint32(indexAt + 4 * i, true);
    if (i > 0 && pages[i] <= pages[i - 1]) throw new SnapshotError("snapshot page list is not ascending");
  }
  const ramPages = header.board.memBytes / SNAPSHOT_PAGE_SIZE;
  if (npages > 0 && pages[npages - 1] >= ramPages) throw new SnapshotError("snapshot holds a page beyond its RAM size");
  return { header, pages, data: bytes.subarray(dataAt, dataAt + SNAPSHOT_PAGE_SIZE * npages) };
}

/** The differences between the board a snapshot needs and `have`, as user-readable lines. */
export function boardMismatches(want: BoardConfig, have: BoardConfig): string[] {
  const out: string[] = [];
  const mib = (n: number): string => `${n / (1 << 20)} MiB`;
  if (want.memBytes !== have.memBytes) out.push(`memory: the snapshot has ${mib(want.memBytes)}, this machine ${mib(have.memBytes)}`);
  if (want.ramBase !== have.ramBase) out.push(`RAM base 0x${want.ramBase.toString(16)} vs 0x${have.ramBase.toString(16)}`);
  if (want.harts !== have.harts) out.push(`harts: the snapshot has ${want.harts}, this machine ${have.harts}`);
  if (want.firmware !== have.firmware) out.push(`firmware: the snapshot ran with ${want.firmware}, this machine with ${have.firmware}`);
  if (want.isa !== have.isa || JSON.stringify(want.extensions) !== JSON.stringify(have.extensions)) {
    out.push(`ISA: the snapshot's harts are ${want.isa}, this machine's ${have.isa} (use the same --cpu)`);
  }
  const wv = want.virtio ?? [], hv = have.virtio;
  if (wv.length !== hv.length) out.push(`virtio devices: the snapshot has ${wv.length}, this machine ${hv.length} (give the same --drive and --share)`);
  else {
    wv.forEach((w, i) => {
      const h = hv[i];
      if (w.deviceId !== h.deviceId) out.push(`virtio${i}: device id ${w.deviceId} in the snapshot, ${h.deviceId} here`);
      else if (JSON.stringify(w.disk) !== JSON.stringify(h.disk)) {
        out.push(`virtio${i}: the snapshot's disk has ${w.disk?.capacitySectors ?? 0} sectors${w.disk?.readonly === true ? " (read-only)" : ""}, ` +
          `this one ${h.disk?.capacitySectors ?? 0}${h.disk?.readonly === true ? " (read-only)" : ""}`);
      } else if (w.tag !== h.tag) out.push(`virtio${i}: the snapshot's share has tag '${w.tag ?? ""}', this one '${h.tag ?? ""}'`);
    });
  }
  return out;
}

/**
 * Restores a checked snapshot into `m` (a board built with `boot: false`, or a running one
 * that is paused and settled). Refuses, unchanged, a snapshot of another board configuration.
 */
export function restoreSnapshot(m: VirtMachine, snap: Snapshot): void {
  const bad = boardMismatches(snap.header.board, m.board());
  if (bad.length > 0) throw new SnapshotError(`snapshot does not fit this machine: ${bad.join("; ")}`);
  const u8 = m.ram.u8, written = m.ram.written;
  // Only pages ever written can be non-zero: zeroing the others would only commit host memory.
  for (let p = 0; p < written.length; p++) if (written[p] !== 0) u8.fill(0, p * SNAPSHOT_PAGE_SIZE, (p + 1) * SNAPSHOT_PAGE_SIZE);
  const { pages, data } = snap;
  for (const p of pages) written[p] = 1;
  // Runs of consecutive pages are copied at once.
  for (let i = 0; i < pages.length;) {
    let j = i + 1;
    while (j < pages.length && pages[j] === pages[j - 1] + 1) j++;
    u8.set(data.subarray(i * SNAPSHOT_PAGE_SIZE, j * SNAPSHOT_PAGE_SIZE), pages[i] * SNAPSHOT_PAGE_SIZE);
    i = j;
  }
  m.loadState(snap.header.state);
  m.consoleHistory.set(snapshotConsoleHistory(snap));
}

/** The console output a snapshot carries (empty for a file written before it carried any). */
export function snapshotConsoleHistory(snap: Snapshot): Uint8Array {
  const h = snap.header.console?.history;
  return h === undefined ? new Uint8Array(0) : latin1ToBytes(h) ?? new Uint8Array(0);
}

/** The host side a restored machine gets: what VirtConfig holds besides the board itself. */
export type SnapshotBackends = Pick<VirtConfig, "drives" | "shares" | "nics" | "console" | "clock" | "wallClock" | "randomBytes">;

/** The Isa a snapshot's harts had (refused if it names an extension this rvisor lacks). */
export function snapshotIsa(board: BoardConfig): Isa {
  const names = Array.isArray(board.extensions) ? board.extensions : [];
  const unknown = names.filter((e) => !Object.hasOwn(EXTENSIONS, e));
  if (unknown.length > 0 || names.length === 0) throw new SnapshotError(`snapshot harts use extensions this rvisor does not implement: ${unknown.join(", ") || "(none listed)"}`);
  return new Isa(names as ExtName[]);
}

/**
 * A new machine running from `snap`: the board it describes (memory, harts, firmware, ISA),
 * with the caller's host backends (the same disks and shares, in the same order, as when the
 * snapshot was taken).
 */
export function machineFromSnapshot(snap: Snapshot, backends: SnapshotBackends): VirtMachine {
  const b = snap.header.board;
  if (!Number.isInteger(b.memBytes) || b.memBytes <= 0 || b.memBytes % SNAPSHOT_PAGE_SIZE !== 0 || !Number.isInteger(b.harts) || b.harts < 1 || b.harts > 8) {
    throw new SnapshotError("snapshot board has an impossible memory size or hart count");
  }
  // Firmware code (an image's) is in the snapshot's RAM: the config only says which kind ran.
  const firmware: Firmware = b.firmware === "image" ? { kind: "image", bytes: new Uint8Array(0) }
    : b.firmware === "builtin" || b.firmware === "none" ? { kind: b.firmware } : { kind: "none" };
  if (firmware.kind !== b.firmware) throw new SnapshotError(`snapshot firmware kind '${String(b.firmware)}' is unknown`);
  const m = new VirtMachine({ ...backends, memBytes: b.memBytes, harts: b.harts, firmware, isa: snapshotIsa(b), boot: false });
  restoreSnapshot(m, snap);
  return m;
}
