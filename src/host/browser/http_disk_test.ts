// The HTTP range disk and the image fetch against `npm run web`'s server (node:http) on loopback:
// reads match the file, missing chunks come in one request per run, writes stay in memory (the
// served file never changes), the clean cache is bounded while written chunks are kept, and a
// chunk store gives flushed writes back on the same image only.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { mkdtempSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HttpDiskError, HttpRangeDisk } from "./http_disk.js";
import { fetchWithProgress } from "./image_fetch.js";
import { FileChunkStore, MemSyncFile, type DiskIdentity } from "./chunk_store.js";
import type { FetchProgress } from "./protocol.js";
import { parseRange, startWebServer } from "../node/web_server.js";

const CHUNK = 4096;
const SIZE = 16 * CHUNK + 1000; // a last chunk shorter than the others
const dir = mkdtempSync(join(tmpdir(), "rvisor-httpdisk-"));
const content = Uint8Array.from({ length: SIZE }, (_, i) => (i * 7 + (i >>> 12)) & 0xff);
for (const f of ["Image", "initramfs.cpio", "rootfs.ext4"]) writeFileSync(join(dir, f), content);
writeFileSync(join(dir, "manifest.json"), JSON.stringify({ cmdline: "console=ttyS0 test" }));
writeFileSync(join(dir, "index.html"), "<!doctype html>");
const web = await startWebServer({
  host: "127.0.0.1", port: 0, isolation: true, webRoot: dir,
  image: { kernel: join(dir, "Image"), initrd: join(dir, "initramfs.cpio"), rootfs: join(dir, "rootfs.ext4"), manifest: join(dir, "manifest.json") },
});
after(() => web.close());
const diskUrl = `${web.url}image/rootfs.ext4`;

test("the range disk learns its size and reads match the served file, across chunk boundaries and the short last chunk", async () => {
  const d = await HttpRangeDisk.open(diskUrl, { chunkBytes: CHUNK });
  assert.equal(d.size, SIZE);
  for (const [off, len] of [[0, 512], [CHUNK - 100, 300], [3 * CHUNK + 5, 2 * CHUNK + 17], [SIZE - 700, 700], [SIZE - 1, 1]]) {
    const dst = new Uint8Array(len);
    await d.read(off, dst);
    assert.deepEqual(dst, content.subarray(off, off + len), `bytes ${off}+${len}`);
  }
  await assert.rejects(d.read(SIZE - 10, new Uint8Array(20)), HttpDiskError);
});

test("missing consecutive chunks come in one range request; cached and in-flight chunks are not fetched again", async () => {
  const d = await HttpRangeDisk.open(diskUrl, { chunkBytes: CHUNK });
  await d.read(CHUNK, new Uint8Array(4 * CHUNK));
  assert.equal(d.requests, 1);
  assert.equal(d.fetchedBytes, 4 * CHUNK);
  await d.read(2 * CHUNK + 10, new Uint8Array(100));
  assert.equal(d.requests, 1, "a cached chunk needs no request");
  // Chunks 0 and 5..6 are missing, 1..4 cached: two requests, one per run.
  const dst = new Uint8Array(7 * CHUNK);
  await d.read(0, dst);
  assert.equal(d.requests, 3);
  assert.deepEqual(dst, content.subarray(0, 7 * CHUNK));
  // Two reads of one chunk at the same time share its request.
  const a = new Uint8Array(10), b = new Uint8Array(10);
  await Promise.all([d.read(10 * CHUNK, a), d.read(10 * CHUNK + 100, b)]);
  assert.equal(d.requests, 4);
  assert.deepEqual(b, content.subarray(10 * CHUNK + 100, 10 * CHUNK + 110));
});

test("writes stay in memory: read back as written, the served file unchanged, written chunks never evicted", async () => {
  const d = await HttpRangeDisk.open(diskUrl, { chunkBytes: CHUNK, cacheChunks: 2 });
  const patch = Uint8Array.from({ length: 600 }, (_, i) => 255 - (i & 0xff));
  const at = 2 * CHUNK - 300; // straddles chunks 1 and 2: both partly written
  await d.write(at, patch);
  const full = new Uint8Array(CHUNK);
  await d.write(5 * CHUNK, full.fill(0xab)); // a whole chunk: nothing fetched for it
  assert.equal(d.dirtyBytes, 3 * CHUNK);
  assert.equal(d.requests, 1, "only the partly written chunks were fetched (one run)");
  for (let c = 6; c < 16; c++) await d.read(c * CHUNK, new Uint8Array(8)); // churn the 2-chunk clean cache
  const back = new Uint8Array(4 * CHUNK);
  await d.read(CHUNK, back);
  const want = content.slice(CHUNK, 5 * CHUNK);
  want.set(patch, at - CHUNK);
  assert.deepEqual(back, want);
  const five = new Uint8Array(CHUNK);
  await d.read(5 * CHUNK, five);
  assert.ok(five.every((b) => b === 0xab));
  assert.deepEqual(new Uint8Array(readFileSync(join(dir, "rootfs.ext4"))), content, "the file on the server is untouched");
  // Clean chunks were evicted: chunk 6 is fetched again.
  const before = d.requests;
  await d.read(6 * CHUNK, new Uint8Array(8));
  assert.equal(d.requests, before + 1);
  const fresh = await HttpRangeDisk.open(diskUrl, { chunkBytes: CHUNK });
  const orig = new Uint8Array(600);
  await fresh.read(at, orig);
  assert.deepEqual(orig, content.subarray(at, at + 600), "another disk on the same URL starts from the image");
});

test("a read-only range disk refuses writes; a server that ignores Range is refused at open", async () => {
  const ro = await HttpRangeDisk.open(diskUrl, { readonly: true });
  assert.equal(ro.readonly, true);
  await assert.rejects(ro.write(0, new Uint8Array(512)), /read-only/);
  const plain = createServer((_req, res) => res.writeHead(200, { "Content-Length": 4 }).end("abcd"));
  await new Promise<void>((r) => plain.listen(0, "127.0.0.1", r));
  const addr = plain.address();
  const port = typeof addr === "object" && addr !== null ? addr.port : 0;
  try {
    await assert.rejects(HttpRangeDisk.open(`http://127.0.0.1:${port}/disk`), /answered 200 to a range request/);
  } finally {
    plain.close();
  }
});

test("the image fetch reports progress up to the file's length and returns its bytes", async () => {
  const seen: FetchProgress[] = [];
  const bytes = await fetchWithProgress(`${web.url}image/Image`, "kernel", (p) => seen.push({ ...p }));
  assert.deepEqual(bytes, content);
  assert.ok(seen.length >= 2);
  assert.deepEqual(seen[0], { file: "kernel", loaded: 0, total: SIZE });
  assert.deepEqual(seen[seen.length - 1], { file: "kernel", loaded: SIZE, total: SIZE });
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i].loaded >= seen[i - 1].loaded);
  await assert.rejects(fetchWithProgress(`${web.url}image/nothing`, "initrd", () => {}), /initrd: .* answered 404/);
});

test("the web server: COOP/COEP unless isolation is off, ranges (206, suffix, 416), the guest manifest, 404", async () => {
  let r = await fetch(web.url);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("Cross-Origin-Opener-Policy"), "same-origin");
  assert.equal(r.headers.get("Cross-Origin-Embedder-Policy"), "require-corp");
  assert.equal(await r.text(), "<!doctype html>");
  r = await fetch(`${web.url}image/manifest.json`);
  assert.deepEqual(await r.json(), { kernel: "Image", initrd: "initramfs.cpio", rootfs: "rootfs.ext4", cmdline: "console=ttyS0 test" });
  r = await fetch(diskUrl, { headers: { Range: "bytes=-10" } });
  assert.equal(r.status, 206);
  assert.equal(r.headers.get("Content-Range"), `bytes ${SIZE - 10}-${SIZE - 1}/${SIZE}`);
  assert.deepEqual(new Uint8Array(await r.arrayBuffer()), content.subarray(SIZE - 10));
  r = await fetch(diskUrl, { headers: { Range: `bytes=${SIZE}-` } });
  assert.equal(r.status, 416);
  assert.equal(r.headers.get("Content-Range"), `bytes */${SIZE}`);
  await r.arrayBuffer();
  assert.equal((await fetch(`${web.url}../../etc/passwd`)).status, 404);
  assert.deepEqual(parseRange("bytes=5-", 10), { start: 5, end: 9 });
  assert.deepEqual(parseRange("bytes=2-100", 10), { start: 2, end: 9 });
  assert.equal(parseRange("bytes=0-1,4-5", 10), null, "several ranges: the whole file");
  assert.equal(parseRange("bytes=7-3", 10), "unsatisfiable");
  const open = await startWebServer({ host: "127.0.0.1", port: 0, isolation: false, webRoot: dir,
    image: { kernel: join(dir, "Image"), initrd: join(dir, "initramfs.cpio"), rootfs: join(dir, "rootfs.ext4"), manifest: join(dir, "manifest.json") } });
  try {
    const o = await fetch(open.url);
    await o.text();
    assert.equal(o.headers.get("Cross-Origin-Opener-Policy"), null);
    assert.equal(o.headers.get("Cross-Origin-Embedder-Policy"), null);
  } finally {
    await open.close();
  }
});

test("with a chunk store, flushed writes come back when the same image is opened again, and not once the image changed", async () => {
  const file = new MemSyncFile();
  const store = (id: DiskIdentity): FileChunkStore => new FileChunkStore(file, id);
  const d = await HttpRangeDisk.open(diskUrl, { chunkBytes: CHUNK, store });
  assert.equal(d.restoredBytes, 0);
  const patch = new Uint8Array(700).fill(0x5c);
  await d.write(SIZE - 500, patch.subarray(0, 500)); // into the short last chunk
  await d.write(3 * CHUNK + 10, patch);
  const unflushed = await HttpRangeDisk.open(diskUrl, { chunkBytes: CHUNK, store });
  assert.equal(unflushed.restoredBytes, 0, "nothing is saved before the guest flushes");
  d.flush();
  assert.ok(file.flushes > 0);
  const again = await HttpRangeDisk.open(diskUrl, { chunkBytes: CHUNK, store });
  assert.equal(again.restoredBytes, CHUNK + (SIZE % CHUNK));
  const back = new Uint8Array(700), tail = new Uint8Array(500);
  await again.read(3 * CHUNK + 10, back);
  await again.read(SIZE - 500, tail);
  assert.deepEqual(back, patch);
  assert.ok(tail.every((b) => b === 0x5c));
  assert.equal(again.requests, 0, "the saved chunks need no request");
  // Another image at the same URL (a new version: its validator changes): the overlay is dropped.
  const later = new Date(Date.now() + 60_000);
  utimesSync(join(dir, "rootfs.ext4"), later, later);
  const changed = await HttpRangeDisk.open(diskUrl, { chunkBytes: CHUNK, store });
  assert.equal(changed.restoredBytes, 0);
  await changed.read(3 * CHUNK + 10, back);
  assert.deepEqual(back, content.subarray(3 * CHUNK + 10, 3 * CHUNK + 710));
  // The same image cut into other chunks does not take the overlay either.
  assert.equal(new FileChunkStore(file, { ...(await identityOf(diskUrl)), chunkBytes: 2 * CHUNK }).fresh, true);
});

/** The identity a disk at `url` presents to its store (size and validator from the server). */
async function identityOf(url: string): Promise<DiskIdentity> {
  let seen: DiskIdentity | null = null;
  await HttpRangeDisk.open(url, { chunkBytes: CHUNK, store: (id) => { seen = id; return new FileChunkStore(new MemSyncFile(), id); } });
  assert.ok(seen !== null);
  return seen;
}
