import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import * as tar from "tar-stream";
import { ImageStore } from "./image_store.js";
import { importImage } from "./image_import.js";
import { Progress } from "./progress.js";
import { MEDIA_OCI_CONFIG, MEDIA_OCI_INDEX, MEDIA_OCI_LAYER, MEDIA_OCI_MANIFEST } from "../../oci/manifest.js";
import type { LayerEntry } from "../../oci/layer_index.js";

type E = tar.Headers & { body?: string; pax?: Record<string, string> };

async function makeTar(entries: E[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => { for await (const c of pack) chunks.push(c); })();
  for (const e of entries) {
    const { body, ...h } = e;
    await new Promise<void>((res, rej) => pack.entry({ mode: 0o644, mtime: new Date(1_700_000_000_000), ...h, size: body === undefined ? 0 : Buffer.byteLength(body) } as tar.Headers, body ?? "", (err) => (err ? rej(err) : res())));
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

const quiet = (): Progress => new Progress(process.stderr, false);
const sha = (b: Uint8Array): string => `sha256:${createHash("sha256").update(b).digest("hex")}`;

function tempDir(): string { return mkdtempSync(join(tmpdir(), "rvisor-oci-")); }

/** Every path in the store with its size (directories as -1): equal snapshots mean "unchanged". */
function snapshot(home: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    if (!existsSync(d)) return;
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n), st = lstatSync(p);
      out.push(`${p.slice(home.length)} ${st.isDirectory() ? -1 : st.size}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(home);
  // The directories a first transaction creates are not content.
  return out.filter((l) => l !== "/images -1" && l !== "/images/tmp -1");
}

const LAYER: E[] = [
  { name: "./", type: "directory", mode: 0o755 },
  { name: "bin/", type: "directory", mode: 0o755 },
  { name: "bin/busybox", mode: 0o4755, uid: 0, gid: 0, body: "#!busybox" },
  { name: "bin/sh", type: "link", linkname: "bin/busybox" },
  { name: "bin/ls", type: "symlink", linkname: "/bin/busybox", mode: 0o777 },
  { name: "dev/null", type: "character-device", devmajor: 1, devminor: 3, mode: 0o666 },
  { name: "dev/sda", type: "block-device", devmajor: 8, devminor: 0, mode: 0o660, gid: 6 },
  { name: "run/fifo", type: "fifo", mode: 0o600 },
  { name: "home/user/notes", uid: 100000, gid: 100000, mode: 0o600, body: "mine", pax: { uid: "100000", gid: "100000", "SCHILY.xattr.user.note": "hello" } },
  { name: "etc/.wh.motd" },
  { name: "var/cache/.wh..wh..opq" },
  { name: "tmp/", type: "directory", mode: 0o1777 },
];

test("image store: a layer's files are unpacked once; owners, modes, links, devices, xattrs and whiteouts are in its index", async () => {
  const home = tempDir();
  try {
    const src = join(home, "layer.tar");
    const bytes = await makeTar(LAYER);
    writeFileSync(src, bytes);
    const store = new ImageStore(join(home, "h"));
    const r = await importImage(store, src, "test/layer:1", quiet());
    assert.equal(r.kind, "rootfs");
    const rec = store.find("test/layer:1");
    assert.ok(rec !== null);
    const diffId = rec.record.layers[0].diffId;
    assert.equal(diffId, sha(bytes));
    const mounted = store.layers(rec.record);
    assert.deepEqual(mounted.map((l) => l.diffId), [diffId]);
    const idx = mounted[0].index;
    assert.equal(mounted[0].root, store.layerRoot(diffId));
    const by = new Map(idx.entries.map((e) => [e.path, e]));
    const pick = (p: string): Partial<LayerEntry> => { const e = by.get(p); assert.ok(e !== undefined, p); const { mtime: _m, ...rest } = e; return rest; };
    assert.deepEqual(pick("/bin/busybox"), { path: "/bin/busybox", type: "file", mode: 0o4755, uid: 0, gid: 0, size: 9 });
    assert.deepEqual(pick("/bin/sh"), { path: "/bin/sh", type: "hardlink", mode: 0o644, uid: 0, gid: 0, link: "/bin/busybox", size: 9 });
    assert.deepEqual(pick("/bin/ls"), { path: "/bin/ls", type: "symlink", mode: 0o777, uid: 0, gid: 0, link: "/bin/busybox" });
    assert.deepEqual(pick("/dev/null"), { path: "/dev/null", type: "char", mode: 0o666, uid: 0, gid: 0, devmajor: 1, devminor: 3 });
    assert.deepEqual(pick("/dev/sda"), { path: "/dev/sda", type: "block", mode: 0o660, uid: 0, gid: 6, devmajor: 8, devminor: 0 });
    assert.deepEqual(pick("/run/fifo"), { path: "/run/fifo", type: "fifo", mode: 0o600, uid: 0, gid: 0 });
    assert.deepEqual(pick("/home/user/notes"), { path: "/home/user/notes", type: "file", mode: 0o600, uid: 100000, gid: 100000, size: 4, xattrs: { "user.note": "hello" } });
    assert.equal(pick("/tmp").mode, 0o1777);
    assert.deepEqual(pick("/dev"), { path: "/dev", type: "dir", mode: 0o755, uid: 0, gid: 0, implied: true }, "implied directory");
    assert.equal(pick("/bin").implied, undefined);
    assert.deepEqual(idx.whiteouts, ["/etc/motd"]);
    assert.deepEqual(idx.opaques, ["/var/cache"]);
    assert.equal(by.has("/etc/.wh.motd"), false);
    assert.deepEqual(idx.entries.map((e) => e.path), [...idx.entries.map((e) => e.path)].sort());
    // On the host: regular files and directories only, readable by the store's owner.
    const root = store.layerRoot(diffId);
    assert.equal(readFileSync(join(root, "bin/busybox"), "utf8"), "#!busybox");
    assert.equal(statSync(join(root, "bin/sh")).ino, statSync(join(root, "bin/busybox")).ino);
    assert.equal(existsSync(join(root, "bin/ls")) || lstatSync(join(root, "bin"), { throwIfNoEntry: false }) === undefined, false);
    assert.equal(existsSync(join(root, "dev/null")), false);
    assert.equal(existsSync(join(root, "etc/.wh.motd")), false);
    assert.equal(statSync(join(root, "bin/busybox")).mode & 0o7777, 0o644);
    // Imported again (under another name): the layer is not unpacked a second time.
    const before = statSync(store.layerIndexPath(diffId)).mtimeMs;
    await importImage(store, src, "test/again:1", quiet());
    assert.equal(statSync(store.layerIndexPath(diffId)).mtimeMs, before);
    assert.equal(readdirSync(join(store.dir, "layers")).length, 1);
    assert.deepEqual(readdirSync(join(store.dir, "tmp")), []);
    // A transaction left by a process that died is swept by the next one; a live one is not.
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" }).stdout;
    mkdirSync(join(store.dir, "tmp", `txn-${dead}-abc`, "blobs"), { recursive: true });
    mkdirSync(join(store.dir, "tmp", `txn-${process.ppid}-abc`));
    store.begin().abort();
    assert.deepEqual(readdirSync(join(store.dir, "tmp")), [`txn-${process.ppid}-abc`]);
  } finally { rmSync(home, { recursive: true, force: true }); }
});

test("image store: tar, tar+gzip and tar+zstd layers have the same diff_id", async () => {
  const home = tempDir();
  try {
    const bytes = await makeTar(LAYER);
    writeFileSync(join(home, "l.tar"), bytes);
    writeFileSync(join(home, "l.tar.gz"), gzipSync(bytes));
    const z = spawnSync("zstd", ["-q", "-c", join(home, "l.tar")]);
    assert.equal(z.status, 0, "zstd is needed (Debian package zstd)");
    writeFileSync(join(home, "l.tar.zst"), z.stdout);
    const store = new ImageStore(join(home, "h"));
    const ids = [];
    for (const f of ["l.tar", "l.tar.gz", "l.tar.zst"]) {
      await importImage(store, join(home, f), `x/${f.replace(/\W/g, "")}:1`, quiet());
      const r = store.find(`x/${f.replace(/\W/g, "")}:1`);
      assert.ok(r !== null);
      ids.push(r.record.layers[0].diffId);
    }
    assert.deepEqual(ids, [sha(bytes), sha(bytes), sha(bytes)]);
    assert.deepEqual(store.find("x/ltargz:1")?.record.layers[0].mediaType, "application/vnd.oci.image.layer.v1.tar+gzip");
    assert.deepEqual(store.find("x/ltarzst:1")?.record.layers[0].mediaType, "application/vnd.oci.image.layer.v1.tar+zstd");
  } finally { rmSync(home, { recursive: true, force: true }); }
});

test("image store: path traversal, symlinked parents, bad links, corrupt and truncated archives are refused and leave the store unchanged", async () => {
  const home = tempDir();
  try {
    const store = new ImageStore(join(home, "h"));
    writeFileSync(join(home, "ok.tar"), await makeTar([{ name: "a", body: "a" }]));
    await importImage(store, join(home, "ok.tar"), "ok:1", quiet());
    const base = snapshot(join(home, "h"));
    const good = await makeTar(LAYER);
    const cases: [string, Buffer, RegExp][] = [
      ["dotdot", await makeTar([{ name: "a", body: "x" }, { name: "../escape", body: "x" }]), /'\.\.' refused \(path traversal\)/],
      ["absolute", await makeTar([{ name: "/etc/passwd", body: "x" }]), /absolute path refused/],
      ["symlinked parent", await makeTar([{ name: "lnk", type: "symlink", linkname: "/etc" }, { name: "lnk/passwd", body: "x" }]), /parent \/lnk is a symlink/],
      ["hard link outside", await makeTar([{ name: "h", type: "link", linkname: "../../etc/passwd" }]), /path traversal/],
      ["hard link to nothing", await makeTar([{ name: "h", type: "link", linkname: "nothing" }]), /not a regular file earlier in this layer/],
      ["truncated tar", good.subarray(0, 1200), /truncated archive/],
      ["truncated gzip", gzipSync(good).subarray(0, 300), /truncated archive/],
      ["corrupt gzip", (() => { const g = gzipSync(good); g[3] = 0xff; g[g.length - 20] ^= 0xff; return g; })(), /corrupt archive|truncated|invalid/i],
    ];
    for (const [name, bytes, re] of cases) {
      const f = join(home, `${name.replace(/ /g, "_")}.tar`);
      writeFileSync(f, bytes);
      await assert.rejects(importImage(store, f, "bad:1", quiet()), re, name);
      assert.deepEqual(snapshot(join(home, "h")), base, `${name}: the store is unchanged`);
    }
  } finally { rmSync(home, { recursive: true, force: true }); }
});

/** An OCI layout with one image of `layers` (each a tar). */
function writeLayout(dir: string, layers: Buffer[], arch = "riscv64"): { manifest: string } {
  mkdirSync(join(dir, "blobs", "sha256"), { recursive: true });
  const put = (b: Uint8Array): { digest: string; size: number } => {
    const d = sha(b);
    writeFileSync(join(dir, "blobs", "sha256", d.slice(7)), b);
    return { digest: d, size: b.length };
  };
  const ls = layers.map((l) => ({ mediaType: MEDIA_OCI_LAYER, ...put(l) }));
  const config = { mediaType: MEDIA_OCI_CONFIG, ...put(Buffer.from(JSON.stringify({ architecture: arch, os: "linux", config: { Cmd: ["/bin/sh"] }, rootfs: { type: "layers", diff_ids: layers.map(sha) } }))) };
  const m = put(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_OCI_MANIFEST, config, layers: ls })));
  writeFileSync(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  writeFileSync(join(dir, "index.json"), JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_OCI_INDEX, manifests: [{ mediaType: MEDIA_OCI_MANIFEST, ...m, annotations: { "org.opencontainers.image.ref.name": "v1" } }] }));
  return { manifest: m.digest };
}

test("image store: an OCI layout with a corrupt blob or a wrong diff_id is refused; rm untags and collects unshared layers", async () => {
  const home = tempDir();
  try {
    const store = new ImageStore(join(home, "h"));
    const l1 = await makeTar([{ name: "shared", body: "1" }]), l2 = await makeTar([{ name: "own", body: "2" }]);
    const lay = join(home, "layout");
    const { manifest } = writeLayout(lay, [l1, l2]);
    const base = snapshot(join(home, "h"));
    // A layer blob whose bytes do not match its digest.
    const blob = join(lay, "blobs", "sha256", sha(l2).slice(7));
    const bad = Buffer.from(l2); bad[600] ^= 1;
    writeFileSync(blob, bad);
    await assert.rejects(importImage(store, lay, "app:1", quiet()), /layer sha256:[0-9a-f]{64}: digest mismatch/);
    assert.deepEqual(snapshot(join(home, "h")), base);
    writeFileSync(blob, l2);
    const r = await importImage(store, lay, "app:1", quiet());
    assert.equal(r.images[0].manifest, manifest);
    // A second image sharing the first layer.
    const lay2 = join(home, "layout2");
    writeLayout(lay2, [l1]);
    await importImage(store, lay2, "other:1", quiet());
    assert.equal(readdirSync(join(store.dir, "layers")).length, 2);
    const tagged = await importImage(store, lay, "app:2", quiet());
    assert.equal(tagged.images[0].manifest, manifest);
    await assert.rejects(store.remove(r.images[0].config.slice(7, 19)), /referenced in multiple repositories \(app:1, app:2\)/);
    assert.deepEqual((await store.remove("app:1")).deleted, null);
    assert.deepEqual((await store.remove("app:2")).deleted, r.images[0].config);
    assert.deepEqual(readdirSync(join(store.dir, "layers")), [sha(l1).slice(7)]);
    assert.equal(store.hasBlob(r.images[0].manifest as `sha256:${string}`), false);
    await assert.rejects(store.remove("app:1"), /No such image: app:1/);
    // A config for another architecture is refused.
    const lay3 = join(home, "layout3");
    writeLayout(lay3, [l1], "amd64");
    await assert.rejects(importImage(store, lay3, "amd:1", quiet()), /is a linux\/amd64 image; rvisor runs linux\/riscv64 images/);
  } finally { rmSync(home, { recursive: true, force: true }); }
});

test("image store: a newer docker save (an OCI layout plus manifest.json) takes its names from RepoTags", async () => {
  const home = tempDir();
  try {
    const dir = join(home, "save");
    const l1 = await makeTar([{ name: "etc/", type: "directory" }, { name: "etc/os-release", body: "ID=test" }]);
    writeLayout(dir, [l1]);
    const idx = JSON.parse(readFileSync(join(dir, "index.json"), "utf8")) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
    delete idx.manifests[0].annotations;
    writeFileSync(join(dir, "index.json"), JSON.stringify(idx));
    const m = JSON.parse(readFileSync(join(dir, "blobs", "sha256", idx.manifests[0].digest.slice(7)), "utf8")) as { config: { digest: string }; layers: { digest: string }[] };
    writeFileSync(join(dir, "manifest.json"), JSON.stringify([{ Config: `blobs/sha256/${m.config.digest.slice(7)}`, RepoTags: ["saved/app:3"], Layers: m.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`) }]));
    const archive = join(home, "save.tar");
    assert.equal(spawnSync("tar", ["-C", dir, "-cf", archive, "."]).status, 0);
    const store = new ImageStore(join(home, "h"));
    const r = await importImage(store, archive, null, quiet());
    assert.equal(r.kind, "docker-archive");
    assert.deepEqual(r.images[0].tags, ["docker.io/saved/app:3"]);
    assert.equal(store.find("saved/app:3")?.record.config, m.config.digest);
  } finally { rmSync(home, { recursive: true, force: true }); }
});
