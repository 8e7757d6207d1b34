import { test } from "node:test";
import assert from "node:assert/strict";
import { deflateRawSync, inflateRawSync } from "node:zlib";
import { MemImageFile } from "./image_file.js";
import { Qcow2, Qcow2Error, createQcow2, parseQcow2Header, QCOW2_INCOMPAT_DIRTY, QCOW2_INCOMPAT_CORRUPT, type Inflate } from "./qcow2.js";
import { MemBlockBackend } from "../devices/virtio_blk.js";

const inflate: Inflate = (src, n) => new Uint8Array(inflateRawSync(src, { finishFlush: 2 /* Z_SYNC_FLUSH */, maxOutputLength: n }));

/** A deterministic PRNG (xorshift32) so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 2 ** 32; };
}

const be64 = (dv: DataView, o: number): number => dv.getUint32(o) * 2 ** 32 + dv.getUint32(o + 4);

/**
 * An independent consistency check of an image, as `qemu-img check` does it: every cluster's
 * refcount equals the number of references to it (header, L1, L2, refcount table and blocks,
 * data) and QCOW_OFLAG_COPIED is set exactly where the refcount is 1. Returns the problems.
 */
function check(bytes: Uint8Array, allowLeaks = false): string[] {
  const h = parseQcow2Header(bytes, bytes.length);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const cs = 2 ** h.clusterBits;
  const nclusters = Math.ceil(bytes.length / cs) + 1;
  const refs = new Map<number, number>();
  const ref = (off: number, n = 1): void => {
    for (let c = Math.floor(off / cs); c < Math.ceil((off + n) / cs); c++) refs.set(c, (refs.get(c) ?? 0) + 1);
  };
  ref(0);
  ref(h.l1TableOffset, h.l1Size * 8);
  ref(h.refcountTableOffset, h.refcountTableClusters * cs);
  const refBits = 2 ** h.refcountOrder, perBlock = (cs * 8) / refBits;
  const blocks: number[] = [];
  for (let i = 0; i < (h.refcountTableClusters * cs) / 8; i++) {
    const off = be64(dv, h.refcountTableOffset + i * 8);
    blocks.push(off);
    if (off !== 0) ref(off);
  }
  const refcount = (c: number): number => {
    const off = blocks[Math.floor(c / perBlock)] ?? 0;
    if (off === 0) return 0;
    const i = c % perBlock;
    if (refBits < 8) return (bytes[off + ((i * refBits) >> 3)] >> ((i * refBits) & 7)) & ((1 << refBits) - 1);
    if (refBits === 8) return bytes[off + i];
    if (refBits === 16) return dv.getUint16(off + i * 2);
    if (refBits === 32) return dv.getUint32(off + i * 4);
    return be64(dv, off + i * 8);
  };
  const problems: string[] = [];
  const copiedChecks: [number, boolean, string][] = [];
  for (let i = 0; i < h.l1Size; i++) {
    const hi = dv.getUint32(h.l1TableOffset + i * 8);
    const l2 = (hi & 0xffffff) * 2 ** 32 + (dv.getUint32(h.l1TableOffset + i * 8 + 4) & 0xfffffe00 >>> 0);
    if (l2 === 0) continue;
    ref(l2);
    copiedChecks.push([l2, (hi & 0x80000000) !== 0, `L1[${i}]`]);
    for (let j = 0; j < cs / 8; j++) {
      const ehi = dv.getUint32(l2 + j * 8), elo = dv.getUint32(l2 + j * 8 + 4);
      if ((ehi & 0x40000000) !== 0) { problems.push(`compressed entry L2[${i}][${j}] (not expected)`); continue; }
      const host = (ehi & 0xffffff) * 2 ** 32 + ((elo & 0xfffffe00) >>> 0);
      if (host === 0) continue;
      ref(host);
      copiedChecks.push([host, (ehi & 0x80000000) !== 0, `L2[${i}][${j}]`]);
    }
  }
  for (let c = 0; c < Math.max(nclusters, blocks.length * perBlock > 1e6 ? nclusters : blocks.length * perBlock); c++) {
    const want = refs.get(c) ?? 0, have = refcount(c);
    if (want !== have && !(allowLeaks && have > want)) problems.push(`cluster ${c}: refcount ${have}, referenced ${want}`);
  }
  for (const [host, copied, where] of copiedChecks) {
    if (copied !== (refcount(host / cs) === 1) && !(allowLeaks && !copied)) problems.push(`${where}: COPIED=${copied} but refcount ${refcount(host / cs)}`);
  }
  return problems;
}

async function fresh(size: number, clusterBits: number, refcountBits = 16, backing?: string): Promise<MemImageFile> {
  const f = new MemImageFile();
  await createQcow2(f, { size, clusterBits, refcountBits, backingFile: backing, backingFormat: backing === undefined ? undefined : "raw" });
  return f;
}

test("qcow2: a new image reads as zeros and passes the consistency check", async () => {
  const f = await fresh(1 << 20, 16);
  assert.deepEqual(check(f.bytes()), []);
  const q = await Qcow2.open(f);
  assert.equal(q.size, 1 << 20);
  const buf = new Uint8Array(4096).fill(7);
  await q.read(12345 - 1, buf);
  assert.ok(buf.every((b) => b === 0));
});

for (const [clusterBits, refBits] of [[9, 16], [9, 1], [12, 64], [16, 16], [10, 4]] as const) {
  test(`qcow2: random writes and reads match a reference model (cluster ${2 ** clusterBits}, ${refBits}-bit refcounts, raw backing)`, async () => {
    const size = 3 << 20;
    const backingData = new Uint8Array(size - 100_000); // shorter than the overlay: the rest reads as zeros
    const r0 = rng(clusterBits * 100 + refBits);
    for (let i = 0; i < backingData.length; i += 997) backingData[i] = (r0() * 256) | 0;
    const model = new Uint8Array(size);
    model.set(backingData);
    const f = await fresh(size, clusterBits, refBits, "base.raw");
    const backing = new MemBlockBackend(backingData, true);
    let q = await Qcow2.open(f, { backing });
    const r = rng(clusterBits * 7 + refBits);
    for (let op = 0; op < 400; op++) {
      const len = 1 + Math.floor(r() * (r() < 0.2 ? 200_000 : 5000));
      const off = Math.floor(r() * (size - len));
      if (r() < 0.6) {
        const src = new Uint8Array(len);
        for (let i = 0; i < len; i += 61) src[i] = (r() * 256) | 0;
        src[len - 1] = 0xa5;
        await q.write(off, src);
        model.set(src, off);
      } else {
        const dst = new Uint8Array(len);
        await q.read(off, dst);
        assert.deepEqual(dst, model.subarray(off, off + len), `read ${off}+${len} after op ${op}`);
      }
      if (op % 97 === 96) {
        await q.flush();
        assert.deepEqual(check(f.bytes()), [], `after op ${op}`);
        // Reopen from what is on "disk": nothing lives only in the cache.
        q = await Qcow2.open(new MemImageFile(f.bytes()), { backing });
        const all = new Uint8Array(size);
        await q.read(0, all);
        assert.ok(Buffer.from(all).equals(Buffer.from(model)), `whole disk after reopen at op ${op}`);
        q = await Qcow2.open(f, { backing });
      }
    }
    await q.flush();
    assert.deepEqual(check(f.bytes()), []);
  });
}

test("qcow2: the refcount table grows when the file outgrows it", async () => {
  // 512-byte clusters, 16-bit refcounts: one refcount block covers 256 clusters, one table
  // cluster 64 blocks = 8 MiB of file. Fill 12 MiB.
  const size = 12 << 20;
  const f = await fresh(size, 9);
  const before = parseQcow2Header(f.bytes(), f.size()).refcountTableOffset;
  const q = await Qcow2.open(f);
  const chunk = new Uint8Array(1 << 20);
  for (let m = 0; m < 12; m++) { chunk.fill(m + 1); await q.write(m << 20, chunk); }
  await q.flush();
  const h = parseQcow2Header(f.bytes(), f.size());
  assert.notEqual(h.refcountTableOffset, before);
  assert.ok(h.refcountTableClusters > 1);
  assert.deepEqual(check(f.bytes()), []);
  const q2 = await Qcow2.open(new MemImageFile(f.bytes()));
  const b = new Uint8Array(1);
  for (let m = 0; m < 12; m++) { await q2.read((m << 20) + 777, b); assert.equal(b[0], m + 1); }
});

test("qcow2: metadata is written in order (data, then L2, then L1) with a flush between stages", async () => {
  const f = await fresh(1 << 20, 16);
  const q = await Qcow2.open(f);
  await q.write(70_000, new Uint8Array(10).fill(9));
  const mid = f.bytes();
  // Before flush: the L1 table on disk still says "unallocated" and the image is consistent.
  const h = parseQcow2Header(mid, mid.length);
  assert.equal(new DataView(mid.buffer).getUint32(h.l1TableOffset + 4), 0);
  assert.deepEqual(check(mid), []);
  const n = f.flushes;
  await q.flush();
  assert.ok(f.flushes - n >= 3, `refcount, L2 and L1 stages each end with a flush (${f.flushes - n})`);
  assert.deepEqual(check(f.bytes()), []);
});

test("qcow2: partial writes to unallocated clusters copy the rest from the backing file", async () => {
  const base = new Uint8Array(256 << 10).map((_, i) => (i * 7) & 0xff);
  const f = await fresh(base.length, 16, 16, "b");
  const q = await Qcow2.open(f, { backing: new MemBlockBackend(base, true) });
  await q.write(65536 + 100, Uint8Array.of(1, 2, 3));
  await q.flush();
  const q2 = await Qcow2.open(new MemImageFile(f.bytes()), { backing: new MemBlockBackend(new Uint8Array(base.length), true) });
  // Reopened over an all-zero "backing": cluster 1 was copied whole, cluster 0 reads from the backing.
  const c1 = new Uint8Array(65536);
  await q2.read(65536, c1);
  const want = base.slice(65536, 131072);
  want.set([1, 2, 3], 100);
  assert.deepEqual(c1, want);
  const c0 = new Uint8Array(16);
  await q2.read(0, c0);
  assert.ok(c0.every((b) => b === 0));
});

/** Sets L2 entry `vc` of a one-L2-table image by hand (tests of entries rvisor does not write itself). */
async function pokeL2(f: MemImageFile, vc: number, hi: number, lo: number): Promise<void> {
  const bytes = f.bytes();
  const h = parseQcow2Header(bytes, bytes.length);
  const dv = new DataView(bytes.buffer);
  const l2 = (dv.getUint32(h.l1TableOffset) & 0xffffff) * 2 ** 32 + (dv.getUint32(h.l1TableOffset + 4) & 0xfffffe00 >>> 0);
  assert.notEqual(l2, 0, "the image needs an L2 table");
  const e = new Uint8Array(8);
  new DataView(e.buffer).setUint32(0, hi);
  new DataView(e.buffer).setUint32(4, lo);
  await f.write(l2 + vc * 8, e);
}

test("qcow2: QCOW_OFLAG_ZERO clusters read as zeros over backing data, and partial writes keep the rest zero", async () => {
  const base = new Uint8Array(4 << 16).fill(0xee);
  const f = await fresh(base.length, 16, 16, "b");
  let q = await Qcow2.open(f, { backing: new MemBlockBackend(base, true) });
  await q.write(0, new Uint8Array(1).fill(1)); // creates the L2 table
  await q.flush();
  await pokeL2(f, 2, 0, 1); // cluster 2: zero, no host cluster
  q = await Qcow2.open(f, { backing: new MemBlockBackend(base, true) });
  const c = new Uint8Array(65536);
  await q.read(2 * 65536, c);
  assert.ok(c.every((b) => b === 0));
  await q.read(3 * 65536, c);
  assert.ok(c.every((b) => b === 0xee), "an unallocated cluster reads the backing file");
  await q.write(2 * 65536 + 10, Uint8Array.of(5));
  await q.flush();
  await q.read(2 * 65536, c);
  assert.equal(c[10], 5);
  c[10] = 0;
  assert.ok(c.every((b) => b === 0));
  assert.deepEqual(check(f.bytes()), []);
});

test("qcow2: compressed clusters read through inflate and are copied on write (refcount dropped)", async () => {
  const f = await fresh(4 << 16, 16);
  let q = await Qcow2.open(f);
  await q.write(0, new Uint8Array(1).fill(1));
  await q.flush();
  const content = new Uint8Array(65536).map((_, i) => (i >> 8) & 0xff);
  const comp = deflateRawSync(content);
  // Place the compressed bytes in a new cluster at the end of the file, refcount it by hand.
  const host = Math.ceil(f.size() / 65536) * 65536;
  await f.write(host, comp);
  const sectors = Math.ceil(comp.length / 512);
  const x = 62 - (16 - 8);
  const v = (1n << 62n) | (BigInt(sectors - 1) << BigInt(x)) | BigInt(host);
  await pokeL2(f, 1, Number(v >> 32n), Number(v & 0xffffffffn));
  const bytes = f.bytes();
  const h = parseQcow2Header(bytes, bytes.length);
  const rb = be64(new DataView(bytes.buffer), h.refcountTableOffset);
  const rc = new Uint8Array(2);
  new DataView(rc.buffer).setUint16(0, 1);
  await f.write(rb + (host / 65536) * 2, rc);

  await assert.rejects(async () => (await Qcow2.open(new MemImageFile(f.bytes()))).read(65536, new Uint8Array(1)), /decompressor/);
  q = await Qcow2.open(f, { inflate });
  const got = new Uint8Array(65536);
  await q.read(65536, got);
  assert.deepEqual(got, content);
  await q.write(65536 + 3, Uint8Array.of(0xff));
  await q.flush();
  await q.read(65536, got);
  content[3] = 0xff;
  assert.deepEqual(got, content);
  assert.deepEqual(check(f.bytes()), [], "the compressed cluster's refcount fell to 0 and the new one is referenced");
});

test("qcow2: corrupt, truncated and unsupported images are refused with a reason", async () => {
  const good = (await fresh(1 << 20, 16)).bytes();
  const mutate = (fn: (dv: DataView, b: Uint8Array) => void): MemImageFile => {
    const b = good.slice();
    fn(new DataView(b.buffer), b);
    return new MemImageFile(b);
  };
  await assert.rejects(Qcow2.open(mutate((dv) => dv.setUint32(0, 0x12345678))), /bad magic/);
  await assert.rejects(Qcow2.open(mutate((dv) => dv.setUint32(4, 4))), /version 4/);
  await assert.rejects(Qcow2.open(mutate((dv) => dv.setUint32(20, 30))), /cluster_bits/);
  await assert.rejects(Qcow2.open(mutate((dv) => dv.setUint32(32, 1))), /encrypted/);
  await assert.rejects(Qcow2.open(mutate((dv) => dv.setUint32(76, 1 << 2))), /unsupported incompatible features: external data file/);
  await assert.rejects(Qcow2.open(mutate((dv) => dv.setUint32(76, 1 << 4))), /extended L2 entries/);
  await assert.rejects(Qcow2.open(mutate((dv) => dv.setUint32(76, 1 << 9))), /bit 9/);
  await assert.rejects(Qcow2.open(mutate((dv) => dv.setUint32(76, QCOW2_INCOMPAT_DIRTY))), /dirty bit/);
  await assert.rejects(Qcow2.open(mutate((dv) => dv.setUint32(76, QCOW2_INCOMPAT_CORRUPT))), /marked corrupt/);
  await Qcow2.open(mutate((dv) => dv.setUint32(76, QCOW2_INCOMPAT_CORRUPT)), { readonly: true }); // read-only is allowed
  await assert.rejects(Qcow2.open(mutate((dv) => dv.setUint32(36, 0))), /L1 table has 0 entries/);
  await assert.rejects(Qcow2.open(mutate((dv) => dv.setUint32(60, 1))), /internal snapshot/);
  await assert.rejects(Qcow2.open(mutate((dv) => dv.setUint32(96, 7))), /refcount_order/);
  const cut = new MemImageFile(good);
  cut.truncate(3 * 65536);
  await assert.rejects(Qcow2.open(cut), /truncated/);
  await assert.rejects(Qcow2.open(new MemImageFile(good.subarray(0, 40))), /too short/);
  // A data cluster pointing past the end of the file.
  const f = new MemImageFile(good);
  const q = await Qcow2.open(f);
  await q.write(0, Uint8Array.of(1));
  await q.flush();
  await pokeL2(f, 0, 0x80000000, 0x40000000);
  await assert.rejects((await Qcow2.open(f)).read(0, new Uint8Array(1)), /beyond the end/);
  // A backing file named in the header but not supplied.
  await assert.rejects(Qcow2.open(await fresh(1 << 20, 16, 16, "base.raw")), /backing file \(base\.raw\)/);
  // The errors are Qcow2Error, which the CLI reports as one line.
  await assert.rejects(Qcow2.open(mutate((dv) => dv.setUint32(0, 0))), Qcow2Error);
});

test("qcow2: version 2 images read and write (no zero flag, 16-bit refcounts)", async () => {
  const f = new MemImageFile();
  await createQcow2(f, { size: 1 << 20, version: 2 });
  assert.equal(parseQcow2Header(f.bytes(), f.size()).version, 2);
  const q = await Qcow2.open(f);
  await q.write(5000, new Uint8Array(100000).fill(3));
  await q.flush();
  assert.deepEqual(check(f.bytes()), []);
  const q2 = await Qcow2.open(new MemImageFile(f.bytes()), { readonly: true });
  const b = new Uint8Array(100002);
  await q2.read(4999, b);
  assert.equal(b[0], 0); assert.equal(b[1], 3); assert.equal(b[100000], 3); assert.equal(b[100001], 0);
  await assert.rejects(q2.write(0, b.subarray(0, 1)), /read-only/);
});

test("qcow2: a chain of qcow2 overlays reads through every layer", async () => {
  const size = 1 << 20;
  const raw = new MemBlockBackend(new Uint8Array(size).fill(1), true);
  const mid = await fresh(size, 12, 16, "raw");
  const qm = await Qcow2.open(mid, { backing: raw });
  await qm.write(4096, new Uint8Array(4096).fill(2));
  await qm.flush();
  const top = await fresh(size, 16, 16, "mid");
  const qt = await Qcow2.open(top, { backing: await Qcow2.open(mid, { readonly: true, backing: raw }) });
  await qt.write(8192 + 5, Uint8Array.of(3));
  const b = new Uint8Array(3 * 4096);
  await qt.read(0, b);
  assert.equal(b[0], 1); assert.equal(b[4096], 2); assert.equal(b[8192], 1); assert.equal(b[8197], 3);
});

/** Checks the file after every `every`-th write: each is a point where a crash (with ordered writes) may stop. */
class CrashPoints extends MemImageFile {
  writes = 0;
  checked = 0;
  problems: string[] = [];
  /** Check every this many writes (0: not yet). */
  every = 0;
  override write(offset: number, src: Uint8Array): void {
    super.write(offset, src);
    if (this.every === 0 || ++this.writes % this.every !== 0 || this.problems.length > 0) return;
    this.checked++;
    this.problems = check(this.bytes(), true).map((p) => `crash after write ${this.writes}: ${p}`);
  }
}

test("qcow2: a crash after any write leaves an image with no corruption (at worst leaks), even while the refcount table grows", async () => {
  const f = new CrashPoints();
  await createQcow2(f, { size: 10 << 20, clusterBits: 9 });
  const q = await Qcow2.open(f);
  f.every = 150;
  const r = rng(99);
  for (let op = 0; op < 40; op++) {
    // Mostly ascending (so the file outgrows the first refcount table), partly overlapping.
    const len = 256_000 + Math.floor(r() * 50_000), off = Math.min((10 << 20) - len, Math.floor(op * 256_000 + r() * 50_000));
    await q.write(off, new Uint8Array(len).fill(op + 1));
    if (op % 5 === 4) await q.flush();
  }
  await q.flush();
  assert.ok(parseQcow2Header(f.bytes(), f.size()).refcountTableClusters > 1, "the table grew during the run");
  assert.deepEqual(f.problems, []);
  assert.ok(f.checked > 100, `${f.checked} crash points`);
  assert.deepEqual(check(f.bytes()), [], "and no leaks once flushed");
});
