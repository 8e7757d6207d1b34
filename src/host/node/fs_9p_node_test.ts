import { AT_REMOVEDIR, EACCES, ENOENT, ENOTDIR, EOPNOTSUPP, O_CREAT, O_DIRECTORY, O_RDONLY, O_RDWR } from "../../abi/linux.js";
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync, existsSync, lstatSync } from "node:fs";
import { createHash, randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NodeFs9p } from "./fs_9p_node.js";
import { P9, P9Reader, P9Writer, P9_NOFID, P9_QTDIR, P9_QTFILE, P9_QTSYMLINK, Qid, Virtio9p } from "../../system/devices/virtio_9p.js";
import { VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1, VIRTIO_MMIO_CONFIG, featureBit } from "../../system/devices/virtio_mmio.js";
import { TestDriver, type TestBuf } from "../../system/devices/virtio_testing.js";
import { viaJson } from "../../memory/device.js";

/** A 9P client that sends real messages through the virtqueue of a virtio-9p device in test RAM. */
class Client {
  readonly d: TestDriver;
  private tag = 1;
  constructor(readonly dev: Virtio9p) {
    this.d = new TestDriver(dev, 8 << 20);
    this.d.init(featureBit(VIRTIO_F_VERSION_1) | featureBit(0), [32]);
  }

  async rpc(type: number, body: (w: P9Writer) => void, replyRoom = 16384): Promise<{ type: number; r: P9Reader }> {
    const tag = this.tag++;
    const w = P9Writer.header(type, tag);
    body(w);
    const s = this.d.submit(0, [{ data: w.finish() }, { writeLen: replyRoom }]);
    await this.dev.idle();
    const used = this.d.takeUsed(0);
    assert.equal(used.length, 1);
    assert.equal(used[0].id, s.head);
    const reply = this.d.ram.read(s.bufs[1].addr, used[0].len);
    const r = new P9Reader(reply);
    assert.equal(r.u32(), used[0].len, "size field equals used length");
    const rtype = r.u8();
    assert.equal(r.u16(), tag);
    return { type: rtype, r };
  }

  async ok(type: number, body: (w: P9Writer) => void, replyRoom?: number): Promise<P9Reader> {
    const { type: t, r } = await this.rpc(type, body, replyRoom);
    if (t === P9.Rlerror) assert.fail(`T${type} failed with errno ${r.u32()}`);
    assert.equal(t, type + 1);
    return r;
  }

  async err(type: number, body: (w: P9Writer) => void): Promise<number> {
    const { type: t, r } = await this.rpc(type, body);
    assert.equal(t, P9.Rlerror, `expected Rlerror for T${type}`);
    return r.u32();
  }
}

function qid(r: P9Reader): Qid { return { type: r.u8(), version: r.u32(), path: BigInt(r.u64()) }; }

async function mount(root: string): Promise<Client> {
  const c = new Client(new Virtio9p(new NodeFs9p(root), "hostshare"));
  const v = await c.ok(P9.Tversion, (w) => w.u32(65536).str("9P2000.L"));
  assert.equal(v.u32(), 65536);
  assert.equal(v.str(), "9P2000.L");
  const a = await c.ok(P9.Tattach, (w) => w.u32(0).u32(0xffffffff).str("root").str("").u32(0));
  const q = qid(a);
  assert.equal(q.type, P9_QTDIR);
  assert.equal(q.path, BigInt(statSync(root).ino));
  return c;
}

function withDir(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = realpathSync(mkdtempSync(join(tmpdir(), "rvisor-9p-")));
    try { await fn(dir); } finally { rmSync(dir, { recursive: true, force: true }); }
  };
}

test("mount tag in config space", () => {
  const dev = new Virtio9p(new NodeFs9p(tmpdir()), "hostshare");
  const d = new TestDriver(dev);
  assert.notEqual(d.deviceFeatures() & 1n, 0n);
  assert.equal(d.mmio.read(VIRTIO_MMIO_CONFIG, 2), 9);
  const tag = [...Array(9).keys()].map((i) => d.mmio.read(VIRTIO_MMIO_CONFIG + 2 + i, 1));
  assert.equal(String.fromCharCode(...tag), "hostshare");
});

test("Tversion, Tattach, Twalk, Tlcreate, Twrite, Tread, Treaddir, Tgetattr against a temp dir", withDir(async (root) => {
  mkdirSync(join(root, "sub"));
  writeFileSync(join(root, "sub", "old.txt"), "old");
  const c = await mount(root);

  // Walk to sub, clone for creating.
  const wr = await c.ok(P9.Twalk, (w) => w.u32(0).u32(1).u16(1).str("sub"));
  assert.equal(wr.u16(), 1);
  const subQid = qid(wr);
  assert.equal(subQid.type, P9_QTDIR);
  assert.equal(subQid.path, BigInt(statSync(join(root, "sub")).ino));
  await c.ok(P9.Twalk, (w) => w.u32(1).u32(2).u16(0)); // clone

  const cr = await c.ok(P9.Tlcreate, (w) => w.u32(2).str("new.txt").u32(O_RDWR | O_CREAT).u32(0o644).u32(0));
  const newQid = qid(cr);
  assert.equal(newQid.type, P9_QTFILE);
  assert.equal(newQid.path, BigInt(statSync(join(root, "sub", "new.txt")).ino));

  const text = new TextEncoder().encode("hello from the guest");
  const ww = await c.ok(P9.Twrite, (w) => w.u32(2).u64(0).u32(text.length).bytes(text));
  assert.equal(ww.u32(), text.length);
  assert.equal(readFileSync(join(root, "sub", "new.txt"), "utf8"), "hello from the guest");

  const rd = await c.ok(P9.Tread, (w) => w.u32(2).u64(6).u32(1000));
  const n = rd.u32();
  assert.equal(new TextDecoder().decode(rd.bytes(n)), "from the guest");
  // A read is clipped to the room in the reply buffer.
  const small = await c.ok(P9.Tread, (w) => w.u32(2).u64(0).u32(1000), 11 + 5);
  assert.equal(small.u32(), 5);
  await c.ok(P9.Tclunk, (w) => w.u32(2));

  // Readdir on sub.
  await c.ok(P9.Twalk, (w) => w.u32(1).u32(3).u16(0));
  await c.ok(P9.Tlopen, (w) => w.u32(3).u32(O_RDONLY | 0o200000));
  const names: string[] = [];
  let offset = 0;
  for (;;) {
    const rr = await c.ok(P9.Treaddir, (w) => w.u32(3).u64(offset).u32(60)); // small count: forces several calls
    const count = rr.u32();
    if (count === 0) break;
    const body = new P9Reader(rr.bytes(count));
    let left = count;
    while (left > 0) {
      const q = qid(body); offset = body.u64(); const type = body.u8(); const name = body.str();
      names.push(name);
      if (name === "new.txt") { assert.equal(q.path, newQid.path); assert.equal(type, 8); }
      if (name === "..") assert.equal(type, 4);
      left -= 13 + 8 + 1 + 2 + new TextEncoder().encode(name).length;
    }
  }
  assert.deepEqual(names.sort(), [".", "..", "new.txt", "old.txt"]);

  // Getattr.
  await c.ok(P9.Twalk, (w) => w.u32(1).u32(4).u16(1).str("new.txt"));
  const ga = await c.ok(P9.Tgetattr, (w) => w.u32(4).u64(0x7ff));
  const valid = ga.u64();
  assert.equal(valid & 0x7ff, 0x7ff);
  const gq = qid(ga);
  const mode = ga.u32(); ga.u32(); ga.u32();
  const nlink = ga.u64(); ga.u64();
  const size = ga.u64();
  assert.equal(gq.path, newQid.path);
  assert.equal(mode & 0o170000, 0o100000);
  assert.equal(mode & 0o777, statSync(join(root, "sub", "new.txt")).mode & 0o777);
  assert.equal(nlink, 1);
  assert.equal(size, text.length);

  // Setattr truncate, mkdir, rename, unlink, symlink/readlink, statfs, xattr, lock.
  await c.ok(P9.Tsetattr, (w) => w.u32(4).u32(0x8).u32(0).u32(0).u32(0).u64(5).u64(0).u64(0).u64(0).u64(0));
  assert.equal(readFileSync(join(root, "sub", "new.txt"), "utf8"), "hello");
  const mk = await c.ok(P9.Tmkdir, (w) => w.u32(0).str("made").u32(0o755).u32(0));
  assert.equal(qid(mk).type, P9_QTDIR);
  await c.ok(P9.Trenameat, (w) => w.u32(1).str("new.txt").u32(0).str("moved.txt"));
  assert.equal(readFileSync(join(root, "moved.txt"), "utf8"), "hello");
  // fid 4 followed the rename.
  const ga2 = await c.ok(P9.Tgetattr, (w) => w.u32(4).u64(0x7ff));
  ga2.u64(); assert.equal(qid(ga2).path, newQid.path);
  const sl = await c.ok(P9.Tsymlink, (w) => w.u32(0).str("lnk").str("/etc/passwd").u32(0));
  assert.equal(qid(sl).type, P9_QTSYMLINK);
  await c.ok(P9.Twalk, (w) => w.u32(0).u32(5).u16(1).str("lnk"));
  assert.equal((await c.ok(P9.Treadlink, (w) => w.u32(5))).str(), "/etc/passwd");
  await c.ok(P9.Tunlinkat, (w) => w.u32(0).str("made").u32(AT_REMOVEDIR));
  assert.equal(existsSync(join(root, "made")), false);
  const sf = await c.ok(P9.Tstatfs, (w) => w.u32(0));
  assert.equal(sf.u32(), 0x01021997);
  assert.equal(await c.err(P9.Txattrwalk, (w) => w.u32(0).u32(9).str("security.selinux")), EOPNOTSUPP);
  const lk = await c.ok(P9.Tlock, (w) => w.u32(4).u8(1).u32(0).u64(0).u64(0).u32(1).str("guest"));
  assert.equal(lk.u8(), 0);
  await c.ok(P9.Tfsync, (w) => w.u32(4).u32(0));

  // Errors: missing file, walk through a non-directory, unknown fid.
  assert.equal(await c.err(P9.Twalk, (w) => w.u32(0).u32(6).u16(1).str("nope")), ENOENT);
  assert.equal(await c.err(P9.Twalk, (w) => w.u32(4).u32(6).u16(1).str("x")), ENOTDIR);
  const partial = await c.ok(P9.Twalk, (w) => w.u32(0).u32(6).u16(2).str("sub").str("nope"));
  assert.equal(partial.u16(), 1, "partial walk returns the qids that succeeded");
  assert.equal(await c.err(P9.Tclunk, (w) => w.u32(6)), 9, "partial walk does not create newfid");
}));

test("`..` and symlinks cannot leave the shared folder", withDir(async (base) => {
  const root = join(base, "share");
  mkdirSync(root);
  mkdirSync(join(base, "outside"));
  writeFileSync(join(base, "outside", "secret"), "top secret");
  writeFileSync(join(base, "sibling"), "sibling");
  symlinkSync(join(base, "outside"), join(root, "escape"));       // absolute symlink to outside
  symlinkSync("../outside/secret", join(root, "rel-escape"));     // relative symlink escaping
  symlinkSync(join(base, "outside", "secret"), join(root, "file-escape"));
  const c = await mount(root);
  const rootIno = BigInt(statSync(root).ino);

  // `..` at the root stays at the root.
  const up = await c.ok(P9.Twalk, (w) => w.u32(0).u32(1).u16(2).str("..").str(".."));
  assert.equal(up.u16(), 2);
  qid(up); assert.equal(qid(up).path, rootIno);
  const sib = await c.ok(P9.Twalk, (w) => w.u32(0).u32(2).u16(2).str("..").str("sibling"));
  assert.equal(sib.u16(), 1, "the host file next to the share is not found");
  assert.equal(await c.err(P9.Twalk, (w) => w.u32(0).u32(2).u16(1).str("sibling")), ENOENT);

  // Walking through a symlinked directory is refused (it is not a directory to 9P).
  const esc = await c.ok(P9.Twalk, (w) => w.u32(0).u32(3).u16(2).str("escape").str("secret"));
  assert.equal(esc.u16(), 1);
  assert.equal(qid(esc).type, P9_QTSYMLINK);
  // Opening a symlink never follows it.
  await c.ok(P9.Twalk, (w) => w.u32(0).u32(4).u16(1).str("file-escape"));
  const e1 = await c.err(P9.Tlopen, (w) => w.u32(4).u32(O_RDONLY));
  assert.ok(e1 === 40 || e1 === 6, `ELOOP (or ENXIO) expected, got ${e1}`);
  await c.ok(P9.Twalk, (w) => w.u32(0).u32(5).u16(1).str("rel-escape"));
  assert.notEqual((await c.rpc(P9.Tlopen, (w) => w.u32(5).u32(O_RDONLY))).type, P9.Rlopen);
  // Creating through a symlink into the outside is refused (walk cannot enter it) ...
  assert.equal(await c.err(P9.Tlcreate, (w) => w.u32(4).str("x").u32(O_CREAT | O_RDWR).u32(0o644).u32(0)), ENOTDIR);
  // ... and a name with a slash or `..` in a create/mkdir is refused outright.
  await c.err(P9.Tmkdir, (w) => w.u32(0).str("../evil").u32(0o755).u32(0));
  await c.err(P9.Tlcreate, (w) => w.u32(0).str("..").u32(O_CREAT | O_RDWR).u32(0o644).u32(0));
  assert.equal(existsSync(join(base, "evil")), false);
  // Setattr on a symlink does not touch its target.
  await c.ok(P9.Tsetattr, (w) => w.u32(4).u32(0x1).u32(0o600).u32(0).u32(0).u64(0).u64(0).u64(0).u64(0).u64(0));
  assert.notEqual(statSync(join(base, "outside", "secret")).mode & 0o777, 0o600);
  assert.equal(lstatSync(join(root, "file-escape")).isSymbolicLink(), true);
  assert.equal(readFileSync(join(base, "outside", "secret"), "utf8"), "top secret");

  // The backend refuses host paths that resolve outside even if the protocol layer were bypassed.
  const fs = new NodeFs9p(root);
  await assert.rejects(fs.resolve("escape/secret"), (e: unknown) => (e as { errno?: number }).errno === EACCES);
  await assert.rejects(fs.resolve("../outside"), /bad path/);
  await assert.rejects(fs.stat("escape/secret"));
}));

test("malformed 9P messages get Rlerror, never a crash", withDir(async (root) => {
  const c = await mount(root);
  // Truncated Twalk body.
  const { type } = await c.rpc(P9.Twalk, (w) => w.u32(0));
  assert.equal(type, P9.Rlerror);
  // Unknown message type.
  assert.equal(await c.err(200, () => undefined), EOPNOTSUPP);
  // Too short to have a tag: dropped with a zero-length reply.
  const s = c.d.submit(0, [{ data: Uint8Array.of(1, 0, 0) }, { writeLen: 64 }]);
  await c.dev.idle();
  assert.deepEqual(c.d.takeUsed(0), [{ id: s.head, len: 0 }]);
}));

test("9P server snapshot: fids survive and open files reopen lazily", withDir(async (root) => {
  writeFileSync(join(root, "f"), "persisted");
  const c = await mount(root);
  await c.ok(P9.Twalk, (w) => w.u32(0).u32(1).u16(1).str("f"));
  await c.ok(P9.Tlopen, (w) => w.u32(1).u32(O_RDONLY));
  const snap = viaJson(c.dev.saveState());
  const fs2 = new NodeFs9p(root);
  const dev2 = new Virtio9p(fs2, "hostshare");
  dev2.loadState(snap);
  assert.equal(dev2.server.fidCount, 2);
  const req = P9Writer.header(P9.Tread, 7).u32(1).u64(0).u32(100).finish();
  const reply = await dev2.server.handle(req, 4096);
  assert.ok(reply !== null);
  const r = new P9Reader(reply);
  r.u32(); assert.equal(r.u8(), P9.Rread); assert.equal(r.u16(), 7);
  assert.equal(new TextDecoder().decode(r.bytes(r.u32())), "persisted");
  await fs2.closeAll();
}));

/**
 * A 9P client that lays out its requests as Linux's trans_virtio does: small messages in one
 * buffer each way; reads and writes over 1024 bytes "zero-copy" (net/9p/client.c), i.e. the
 * request or reply header in its own buffer and the payload in page-sized pieces of the user
 * buffer, starting `pageOffset` bytes into its first page, all behind an indirect descriptor.
 */
class ZeroCopyClient {
  static readonly IOHDRSZ = 24; // P9_IOHDRSZ: what Linux keeps free of msize for read/write headers
  readonly d: TestDriver;
  private tag = 1;
  msize = 0;
  constructor(readonly dev: Virtio9p, readonly pageOffset: number) {
    this.d = new TestDriver(dev, 48 << 20);
    this.d.init(featureBit(VIRTIO_F_VERSION_1) | featureBit(VIRTIO_F_INDIRECT_DESC) | featureBit(0), [128]);
  }

  /** Page pieces of a `len`-byte user buffer that starts `pageOffset` into a page. */
  private pieces(len: number): number[] {
    const out: number[] = [];
    for (let left = len, first = true; left > 0; first = false) {
      const n = Math.min(left, first ? 4096 - this.pageOffset : 4096);
      out.push(n); left -= n;
    }
    return out;
  }

  private async exchange(bufs: TestBuf[]): Promise<{ type: number; body: Uint8Array }> {
    const mark = this.d.mark();
    const s = this.d.submit(0, bufs, { indirect: true });
    await this.dev.idle();
    const used = this.d.takeUsed(0);
    assert.equal(used.length, 1);
    assert.equal(used[0].id, s.head);
    // Gather the writable buffers back into one reply.
    const reply = new Uint8Array(used[0].len);
    let pos = 0;
    for (const b of s.bufs.filter((x) => x.write)) {
      const n = Math.min(b.len, reply.length - pos);
      if (n <= 0) break;
      reply.set(this.d.ram.read(b.addr, n), pos); pos += n;
    }
    this.d.release(mark);
    const r = new P9Reader(reply);
    assert.equal(r.u32(), used[0].len, "size field equals used length");
    const type = r.u8();
    r.u16();
    return { type, body: reply.subarray(7) };
  }

  async version(msize: number): Promise<void> {
    const w = P9Writer.header(P9.Tversion, this.tag++).u32(msize).str("9P2000.L");
    const { type, body } = await this.exchange([{ data: w.finish() }, { writeLen: 4096 }]);
    assert.equal(type, P9.Rversion);
    this.msize = new P9Reader(body).u32();
  }

  async small(type: number, build: (w: P9Writer) => void): Promise<P9Reader> {
    const w = P9Writer.header(type, this.tag++);
    build(w);
    const { type: t, body } = await this.exchange([{ data: w.finish() }, { writeLen: this.msize }]);
    if (t === P9.Rlerror) assert.fail(`T${type}: errno ${new P9Reader(body).u32()}`);
    assert.equal(t, type + 1);
    return new P9Reader(body);
  }

  /** One Tread of up to `count` bytes, as p9_client_read_once sends it. */
  async readOnce(fid: number, offset: number, count: number): Promise<Uint8Array> {
    const rsize = Math.min(count, this.msize - ZeroCopyClient.IOHDRSZ);
    const req = P9Writer.header(P9.Tread, this.tag++).u32(fid).u64(offset).u32(rsize).finish();
    const zc = rsize > 1024;
    const bufs: TestBuf[] = zc ? [{ data: req }, { writeLen: 11 }, ...this.pieces(rsize).map((n) => ({ writeLen: n }))]
      : [{ data: req }, { writeLen: this.msize }];
    const { type, body } = await this.exchange(bufs);
    if (type === P9.Rlerror) assert.fail(`Tread(${offset}, ${rsize}): errno ${new P9Reader(body).u32()}`);
    assert.equal(type, P9.Rread);
    const r = new P9Reader(body);
    const n = r.u32();
    assert.ok(n <= rsize, `Rread count ${n} > ${rsize}`);
    return r.bytes(n).slice();
  }

  /** One Twrite, as p9_client_write sends it; returns the count written. */
  async writeOnce(fid: number, offset: number, data: Uint8Array): Promise<number> {
    const rsize = Math.min(data.length, this.msize - ZeroCopyClient.IOHDRSZ);
    const payload = data.subarray(0, rsize);
    let bufs: TestBuf[];
    if (rsize > 1024) {
      const hdr = P9Writer.header(P9.Twrite, this.tag++).u32(fid).u64(offset).u32(rsize).finish();
      new DataView(hdr.buffer).setUint32(0, hdr.length + rsize, true); // size counts the payload too
      let pos = 0;
      const pages = this.pieces(rsize).map((n) => { const b = { data: payload.subarray(pos, pos + n) }; pos += n; return b; });
      bufs = [{ data: hdr }, ...pages, { writeLen: 11 }];
    } else {
      const msg = new Uint8Array(23 + rsize);
      msg.set(P9Writer.header(P9.Twrite, this.tag++).u32(fid).u64(offset).u32(rsize).finish());
      msg.set(payload, 23);
      new DataView(msg.buffer).setUint32(0, msg.length, true);
      bufs = [{ data: msg }, { writeLen: this.msize }];
    }
    const { type, body } = await this.exchange(bufs);
    if (type === P9.Rlerror) assert.fail(`Twrite(${offset}, ${rsize}): errno ${new P9Reader(body).u32()}`);
    assert.equal(type, P9.Rwrite);
    return new P9Reader(body).u32();
  }
}

function sha256(b: Uint8Array): string { return createHash("sha256").update(b).digest("hex"); }

test("reads and writes of every size across msize and page boundaries, in Linux's zero-copy layout", withDir(async (root) => {
  const KiB = 1024, MiB = 1 << 20;
  for (const [askMsize, pageOffset] of [[8192, 0], [65536, 0x123], [512 * KiB, 0xff8]] as const) {
    const c = new ZeroCopyClient(new Virtio9p(new NodeFs9p(root), "hostshare"), pageOffset);
    await c.version(askMsize);
    assert.equal(c.msize, askMsize);
    await c.small(P9.Tattach, (w) => w.u32(0).u32(P9_NOFID).str("root").str("").u32(0));
    const m = c.msize;
    const sizes = [0, 1, 511, 512, 1023, 1024, 1025, 4095, 4096, 4097, m - 25, m - 24, m - 23, m - 1, m, m + 1, MiB + 3];
    for (const size of sizes) {
      const data = randomBytes(size);
      const name = `r${size}`;
      writeFileSync(join(root, name), data);
      await c.small(P9.Twalk, (w) => w.u32(0).u32(1).u16(1).str(name));
      await c.small(P9.Tlopen, (w) => w.u32(1).u32(O_RDONLY));
      // Read it as cat does, with a 128 KiB user buffer, until a zero-length read.
      const parts: Uint8Array[] = [];
      for (let off = 0; ;) {
        const part = await c.readOnce(1, off, 128 * KiB);
        if (part.length === 0) break;
        parts.push(part); off += part.length;
      }
      const got = Buffer.concat(parts);
      assert.equal(got.length, size, `msize ${m}: read ${name}`);
      assert.equal(sha256(got), sha256(data), `msize ${m}: read ${name}`);
      await c.small(P9.Tclunk, (w) => w.u32(1));

      // The other direction: the guest creates a file and writes `size` bytes.
      const out = randomBytes(size);
      await c.small(P9.Twalk, (w) => w.u32(0).u32(2).u16(0));
      await c.small(P9.Tlcreate, (w) => w.u32(2).str(`w${size}`).u32(O_RDWR | O_CREAT).u32(0o644).u32(0));
      for (let off = 0; off < size;) off += await c.writeOnce(2, off, out.subarray(off));
      await c.small(P9.Tclunk, (w) => w.u32(2));
      const host = readFileSync(join(root, `w${size}`));
      assert.equal(host.length, size, `msize ${m}: write w${size}`);
      assert.equal(sha256(host), sha256(out), `msize ${m}: write w${size}`);
    }
    // A directory listing larger than one small reply buffer.
    await c.small(P9.Twalk, (w) => w.u32(0).u32(3).u16(0));
    await c.small(P9.Tlopen, (w) => w.u32(3).u32(O_RDONLY | O_DIRECTORY));
    const rd = await c.small(P9.Treaddir, (w) => w.u32(3).u64(0).u32(m - 24));
    assert.ok(rd.u32() > 512, "readdir of 36 entries fills more than 512 bytes");
    await c.small(P9.Tclunk, (w) => w.u32(3));
    await (c.dev.server.fs as NodeFs9p).closeAll();
    for (const f of readdirSync(root)) rmSync(join(root, f));
  }
}));

test("P9Writer grows past its first buffer without losing bytes", () => {
  const big = new Uint8Array(randomBytes(10_000));
  const w = P9Writer.header(P9.Rread, 3).u32(big.length).bytes(big).u64(2n ** 40n).str("tail".repeat(100));
  const m = w.finish();
  const r = new P9Reader(m);
  assert.equal(r.u32(), m.length);
  assert.equal(r.u8(), P9.Rread); assert.equal(r.u16(), 3);
  assert.equal(r.u32(), big.length);
  assert.deepEqual(r.bytes(big.length), big);
  assert.equal(r.u64(), 2 ** 40);
  assert.equal(r.str(), "tail".repeat(100));
});
