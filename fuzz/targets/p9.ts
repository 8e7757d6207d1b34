// 9P2000.L message fuzzing: random and mutated T-messages (valid-looking headers with bad sizes,
// fids, strings, offsets, counts, flags) straight into the 9p server over a temp-dir share that
// holds symlinks pointing out of it. Findings: the server throwing, a reply that is not a
// well-formed R-message for the request's tag, a request not answered within the bound, fids
// leaking past Tversion, or any change outside the share directory.
import { O_APPEND, O_CREAT, O_DIRECTORY, O_RDWR, O_TRUNC } from "../../src/abi/linux.js";
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FuzzFinding, FuzzTarget, Rng } from "../lib.js";
import { describe, within } from "../device_watch.js";
import { P9, P9Writer, P9Server, P9_NOFID } from "../../src/system/devices/virtio_9p.js";
import { NodeFs9p } from "../../src/host/node/fs_9p_node.js";

const MESSAGES_PER_BATCH = 300;
const HEADER = 7;
const base = mkdtempSync(join(tmpdir(), "rvisor-fuzz-9p-"));
const share = join(base, "share"), outside = join(base, "outside");

/** Recreates the share: files, a subdirectory, symlinks escaping it (relative and absolute). */
function resetShare(): void {
  rmSync(share, { recursive: true, force: true });
  mkdirSync(join(share, "sub"), { recursive: true });
  writeFileSync(join(share, "f"), "file in the share\n");
  writeFileSync(join(share, "sub", "g"), new Uint8Array(5000).fill(0x67));
  symlinkSync("../outside", join(share, "escape"));
  symlinkSync(join(outside, "secret"), join(share, "abs"));
  symlinkSync("../../outside/secret", join(share, "sub", "up"));
}

mkdirSync(outside, { recursive: true });
writeFileSync(join(outside, "secret"), "must not change\n");
resetShare();

/** Everything outside the share: names, types, sizes, modes, times, contents. */
function outsideState(): string {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const n of readdirSync(dir).sort()) {
      const p = join(dir, n);
      if (p === share) continue;
      const s = lstatSync(p);
      out.push(`${p} ${s.mode} ${s.size} ${s.mtimeMs} ${s.nlink}`);
      if (s.isDirectory()) walk(p);
      else if (s.isFile()) out.push(readFileSync(p, "latin1"));
    }
  };
  walk(base);
  return out.join("\n");
}
const pristine = outsideState();

const NAMES = ["f", "g", "sub", "new", "n2", "escape", "abs", "up", "..", ".", "", "a/b", "../outside", "x".repeat(300), "nul\0", "ü", "secret", "outside"];
const ALL_T = Object.values(P9).filter((t) => t % 2 === 0 && t !== P9.Tversion);
/** Weighted so sessions last (Tversion is rare: it drops every fid) and file I/O is common. */
const TYPES = [
  ...ALL_T, P9.Twalk, P9.Twalk, P9.Twalk, P9.Twalk, P9.Twalk, P9.Tlopen, P9.Tlopen, P9.Tlopen, P9.Tread, P9.Tread, P9.Tread,
  P9.Twrite, P9.Twrite, P9.Twrite, P9.Tlcreate, P9.Tlcreate, P9.Tclunk, P9.Tclunk, P9.Treaddir, P9.Tgetattr, P9.Tsetattr,
];
/** Walks that lead somewhere (or nearly). */
const PATHS = [["sub"], ["f"], ["sub", "g"], ["escape"], ["abs"], ["sub", "up"], [".."], ["sub", ".."], ["new"], ["sub", "new"], ["escape", "secret"], []];

function name(rng: Rng): string { return rng.chance(0.9) ? rng.pick(NAMES) : new TextDecoder().decode(rng.bytes(rng.below(12))); }
function fid(rng: Rng): number { return rng.chance(0.85) ? rng.below(6) : rng.pick([P9_NOFID, rng.u32(), 0x7fffffff]); }
function u64(rng: Rng): number | bigint {
  if (rng.chance(0.6)) return rng.pick([0, 1, 100, 4095, 4096, 5000, 1 << 20]);
  const [lo, hi] = rng.u64();
  return (BigInt(hi) << 32n) | BigInt(lo);
}
function count(rng: Rng): number { return rng.chance(0.7) ? rng.pick([0, 1, 11, 100, 4096, 8168, 65536]) : rng.u32(); }
function flags(rng: Rng): number {
  return rng.chance(0.6) ? rng.pick([0, 1, 2, O_RDWR | O_CREAT, O_RDWR | O_TRUNC, O_DIRECTORY, 1 | O_APPEND]) : rng.u32();
}

/** A well-formed message of a random type with random field values. */
function message(rng: Rng, tag: number): Uint8Array {
  const type = rng.chance(0.005) ? P9.Tversion : rng.chance(0.97) ? rng.pick(TYPES) : rng.below(256);
  const w = P9Writer.header(type, tag);
  switch (type) {
    case P9.Tversion: w.u32(rng.pick([0, 7, 4096, 8192, 1 << 19, rng.u32()])).str(rng.pick(["9P2000.L", "9P2000", "", "9P2000.L.x"])); break;
    case P9.Tattach: w.u32(fid(rng)).u32(fid(rng)).str(name(rng)).str(name(rng)).u32(rng.u32()); break;
    case P9.Tauth: w.u32(fid(rng)).str("u").str("").u32(0); break;
    case P9.Tflush: w.u16(rng.below(0x10000)); break;
    case P9.Twalk: {
      const from = rng.chance(0.6) ? 0 : fid(rng);
      if (rng.chance(0.7)) {
        const path = rng.pick(PATHS);
        w.u32(from).u32(fid(rng)).u16(path.length);
        for (const n of path) w.str(n);
      } else {
        const n = rng.chance(0.9) ? rng.below(5) : rng.below(40);
        w.u32(from).u32(fid(rng)).u16(n);
        for (let i = 0; i < n; i++) w.str(name(rng));
      }
      break;
    }
    case P9.Tlopen: w.u32(fid(rng)).u32(flags(rng)); break;
    case P9.Tlcreate: w.u32(fid(rng)).str(name(rng)).u32(flags(rng)).u32(rng.chance(0.8) ? 0o644 : rng.u32()).u32(0); break;
    case P9.Tread: case P9.Treaddir: w.u32(fid(rng)).u64(u64(rng)).u32(count(rng)); break;
    case P9.Twrite: {
      const data = rng.bytes(rng.below(200));
      w.u32(fid(rng)).u64(u64(rng)).u32(rng.chance(0.8) ? data.length : count(rng)).bytes(data);
      break;
    }
    case P9.Tclunk: case P9.Tremove: case P9.Tstatfs: case P9.Treadlink: w.u32(fid(rng)); break;
    case P9.Tgetattr: w.u32(fid(rng)).u64(0x7ff); break;
    case P9.Tsetattr: w.u32(fid(rng)).u32(rng.u32() & 0x1ff).u32(rng.u32()).u32(rng.below(3)).u32(rng.below(3)).u64(u64(rng))
      .u64(u64(rng)).u64(rng.below(2e9)).u64(u64(rng)).u64(rng.below(2e9)); break;
    case P9.Tmkdir: w.u32(fid(rng)).str(name(rng)).u32(rng.chance(0.8) ? 0o755 : rng.u32()).u32(0); break;
    case P9.Tunlinkat: w.u32(fid(rng)).str(name(rng)).u32(rng.pick([0, 0x200, rng.u32()])); break;
    case P9.Trenameat: w.u32(fid(rng)).str(name(rng)).u32(fid(rng)).str(name(rng)); break;
    case P9.Trename: w.u32(fid(rng)).u32(fid(rng)).str(name(rng)); break;
    case P9.Tsymlink: w.u32(fid(rng)).str(name(rng)).str(rng.pick(["/etc/passwd", "../outside/secret", "f", name(rng)])).u32(0); break;
    case P9.Tlink: w.u32(fid(rng)).u32(fid(rng)).str(name(rng)); break;
    case P9.Tmknod: w.u32(fid(rng)).str(name(rng)).u32(rng.pick([0o100644, 0o010644, 0o020644, 0o140644, rng.u32()])).u32(rng.below(300)).u32(rng.below(300)).u32(0); break;
    case P9.Tfsync: w.u32(fid(rng)); if (rng.chance(0.5)) w.u32(rng.below(2)); break;
    case P9.Tlock: w.u32(fid(rng)).u8(rng.below(3)).u32(rng.u32()).u64(u64(rng)).u64(u64(rng)).u32(rng.u32()).str(name(rng)); break;
    case P9.Tgetlock: w.u32(fid(rng)).u8(rng.below(3)).u64(u64(rng)).u64(u64(rng)).u32(rng.u32()).str(name(rng)); break;
    case P9.Txattrwalk: w.u32(fid(rng)).u32(fid(rng)).str("user.x"); break;
    case P9.Txattrcreate: w.u32(fid(rng)).str("user.x").u64(u64(rng)).u32(0); break;
    default: w.bytes(rng.bytes(rng.below(64)));
  }
  return w.finish();
}

/** Bad sizes, truncations, trailing junk, flipped bytes. */
function mutate(rng: Rng, m: Uint8Array): Uint8Array {
  const b = m.slice();
  const dv = new DataView(b.buffer);
  switch (rng.below(5)) {
    case 0: return b.subarray(0, rng.below(b.length + 1));
    case 1: { const x = new Uint8Array(b.length + 1 + rng.below(32)); x.set(b); x.set(rng.bytes(x.length - b.length), b.length); return x; }
    case 2: if (b.length >= 4) dv.setUint32(0, rng.pick([0, 6, 7, b.length - 1, b.length + 1, 0xffffffff, rng.u32()]), true); return b;
    case 3: for (let i = rng.below(4); i >= 0; i--) if (b.length > 0) b[rng.below(b.length)] = rng.u32() & 0xff; return b;
    default: if (b.length > HEADER + 4) dv.setUint32(HEADER, rng.pick([P9_NOFID, rng.u32()]), true); return b;
  }
}

export const target: FuzzTarget = {
  name: "p9",
  description: "random/mutated 9P2000.L messages into the 9p server over a temp share with escaping symlinks; finding = throw, bad reply, hang, fid leak, change outside the share",
  async batch(rng: Rng, report: (f: FuzzFinding) => void): Promise<number> {
    resetShare();
    const fs = new NodeFs9p(share);
    const server = new P9Server(fs);
    const log: string[] = [];
    const found = (error: string): void => report({ target: "p9", input: `seed ${rng.seed}: ${log.slice(-5).join("; ")}`, error });
    const send = async (msg: Uint8Array, maxReply: number): Promise<void> => {
      const tag = msg.length >= HEADER ? msg[5] | (msg[6] << 8) : -1;
      log.push(`${msg[4] ?? "-"}/${msg.length}B/room ${maxReply}`);
      let reply: Uint8Array | null;
      try { reply = await within(server.handle(msg, maxReply), 5000); } catch (e) { found(`handle: ${describe(e)}`); return; }
      if (reply === null) { if (msg.length >= HEADER) found("no reply to a message with a tag"); return; }
      const dv = new DataView(reply.buffer, reply.byteOffset, reply.byteLength);
      if (reply.length < HEADER || dv.getUint32(0, true) !== reply.length) { found(`reply size field ${reply.length >= 4 ? dv.getUint32(0, true) : "-"} vs ${reply.length}`); return; }
      if (dv.getUint16(5, true) !== tag) found(`reply tag ${dv.getUint16(5, true)} for request tag ${tag}`);
      const rtype = reply[4];
      if (rtype !== P9.Rlerror && rtype !== msg[4] + 1) found(`reply type ${rtype} to T${msg[4]}`);
      if (rtype === P9.Rlerror && reply.length !== HEADER + 4) found(`Rlerror of ${reply.length} bytes`);
      if (reply.length > Math.max(maxReply, HEADER + 4)) found(`reply of ${reply.length} bytes for ${maxReply} bytes of room`);
    };
    // Usually a proper session start, so later messages have fids to work on.
    if (rng.chance(0.9)) {
      await send(P9Writer.header(P9.Tversion, 0xffff).u32(rng.pick([8192, 65536, 1 << 19])).str("9P2000.L").finish(), 1 << 19);
      await send(P9Writer.header(P9.Tattach, 1).u32(0).u32(P9_NOFID).str("root").str("").u32(0).finish(), 4096);
    }
    for (let i = 0; i < MESSAGES_PER_BATCH; i++) {
      let msg = message(rng, rng.below(0x10000));
      if (rng.chance(0.3)) msg = mutate(rng, msg);
      await send(msg, rng.chance(0.8) ? server.msize : rng.pick([0, 7, 11, 12, 64, 4096, rng.u32()]));
    }
    // Tversion ends the session: every fid (and host file handle) is gone.
    await send(P9Writer.header(P9.Tversion, 0xffff).u32(8192).str("9P2000.L").finish(), 8192);
    if (server.fidCount !== 0) found(`${server.fidCount} fids survive Tversion`);
    await fs.closeAll();
    const now = outsideState();
    if (now !== pristine) found(`outside the share changed:\n${now}`);
    return MESSAGES_PER_BATCH + 1;
  },
};
