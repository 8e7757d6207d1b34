// The image store: content-addressed blobs, layers unpacked once (keyed by diff_id) with their
// side indexes, and image records (name:tag -> manifest). Layout (docs/images.md):
//   <home>/images/blobs/sha256/<hex>        manifests, configs and layers, as pulled or imported
//   <home>/images/layers/<hex>/root/        a layer's files and directories (hex of its diff_id)
//   <home>/images/layers/<hex>/index.json   its side index (src/oci/layer_index.ts)
//   <home>/images/images.json               records and tags (written by write + rename)
//   <home>/images/tmp/<txn>/                a pull or import in progress
// Everything a pull or import writes goes to its transaction directory first and is verified
// there; commit() renames it into place under the state directory's lock, so a failure leaves the
// store as it was.
import { createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { OciError, digestHex, shortDigest, type Digest } from "../../oci/digest.js";
import { parseLayerIndex, type LayerIndex } from "../../oci/layer_index.js";
import { parseImageConfig, parseJsonDocument, parseManifestDocument, type ImageConfig, type ImageManifest } from "../../oci/manifest.js";
import { familiarName, parseReference, type ImageReference } from "../../oci/reference.js";
import { defaultHome, pidAlive, VmStore, writeFileAtomic } from "./vm_store.js";
import { ContainerStore } from "./container_store.js";

export const IMAGES_FILE_VERSION = 1;

export interface LayerRecord { digest: Digest; diffId: Digest; mediaType: string; size: number }
export interface ImageRecord {
  /** The image's manifest (the record's key) and config; the config digest is Docker's IMAGE ID. */
  manifest: Digest;
  config: Digest;
  layers: LayerRecord[];
  /** Bytes of the unpacked files of all layers. */
  size: number;
  /** When the image was built (its config's `created`), and when it came into this store. */
  created: string | null;
  added: string;
  /** Where it came from: "pull REF" or "import PATH". */
  source: string;
  /** Repositories ("registry/repository") it was pulled from, kept when it has no tag (a pull by digest), as Docker's RepoDigests. */
  repositories?: string[];
}
interface ImagesFile { version: number; images: Record<string, ImageRecord>; tags: Record<string, Digest> }

/** A repository:tag as stored: "registry/repository:tag". */
export function tagKey(r: ImageReference): string {
  if (r.tag === null) throw new OciError("an image name needs a tag");
  return `${r.registry}/${r.repository}:${r.tag}`;
}
/** The familiar "name:tag" of a stored key. */
export function familiarTag(key: string): { repository: string; tag: string } {
  const r = parseReference(key);
  return { repository: familiarName(r), tag: r.tag ?? "" };
}

async function hashFile(file: string): Promise<{ digest: Digest; size: number }> {
  const h = createHash("sha256");
  let size = 0;
  for await (const c of createReadStream(file)) { h.update(c as Buffer); size += (c as Buffer).length; }
  return { digest: `sha256:${h.digest("hex")}`, size };
}

function checkExpected(what: string, got: { digest: Digest; size: number }, want?: { digest: Digest; size?: number }): void {
  if (want === undefined) return;
  if (want.size !== undefined && got.size !== want.size) {
    throw new OciError(`${what} ${want.digest}: ${got.size} bytes, expected ${want.size} (truncated or corrupt)`);
  }
  if (got.digest !== want.digest) throw new OciError(`${what} ${want.digest}: digest mismatch (content hashes to ${got.digest})`);
}

export class ImageStore {
  readonly dir: string;
  private readonly lockStore: VmStore;
  constructor(readonly home: string = defaultHome()) {
    this.dir = join(home, "images");
    this.lockStore = new VmStore(home);
  }

  blobPath(d: Digest): string { return join(this.dir, "blobs", "sha256", digestHex(d)); }
  layerDir(diffId: Digest): string { return join(this.dir, "layers", digestHex(diffId)); }
  /** Where a layer's files are (paths below are guest paths without the leading "/"). */
  layerRoot(diffId: Digest): string { return join(this.layerDir(diffId), "root"); }
  layerIndexPath(diffId: Digest): string { return join(this.layerDir(diffId), "index.json"); }
  hasBlob(d: Digest): boolean { return existsSync(this.blobPath(d)); }
  hasLayer(diffId: Digest): boolean { return existsSync(this.layerIndexPath(diffId)); }
  readBlob(d: Digest): Buffer { return readFileSync(this.blobPath(d)); }
  readLayerIndex(diffId: Digest): LayerIndex { return parseLayerIndex(readFileSync(this.layerIndexPath(diffId), "utf8")); }

  private readFile(): ImagesFile {
    const p = join(this.dir, "images.json");
    if (!existsSync(p)) return { version: IMAGES_FILE_VERSION, images: {}, tags: {} };
    const f = JSON.parse(readFileSync(p, "utf8")) as ImagesFile;
    if (f.version !== IMAGES_FILE_VERSION) throw new OciError(`${p}: version ${f.version} is not supported`);
    return f;
  }
  private writeFile(f: ImagesFile): void {
    mkdirSync(this.dir, { recursive: true });
    writeFileAtomic(join(this.dir, "images.json"), JSON.stringify(f, null, 1) + "\n");
  }

  /** Every image with its tags (an untagged image has none). */
  list(): { record: ImageRecord; tags: string[] }[] {
    const f = this.readFile();
    return Object.values(f.images).map((record) => ({ record, tags: Object.keys(f.tags).filter((t) => f.tags[t] === record.manifest).sort() }))
      .sort((a, b) => (a.record.added < b.record.added ? 1 : -1));
  }

  /**
   * The layers of an image, bottom first, as a container's overlay mounts them: each layer's
   * file tree (root/) and its side index (whiteouts to apply against the layers below it).
   */
  layers(r: ImageRecord): { diffId: Digest; root: string; index: LayerIndex }[] {
    return r.layers.map((l) => ({ diffId: l.diffId, root: this.layerRoot(l.diffId), index: this.readLayerIndex(l.diffId) }));
  }

  manifest(r: ImageRecord): ImageManifest {
    const m = parseManifestDocument(parseJsonDocument(this.readBlob(r.manifest), "manifest"), null);
    if (m.kind !== "manifest") throw new OciError(`stored manifest ${r.manifest} is an index`);
    return m;
  }
  config(r: ImageRecord): ImageConfig { return parseImageConfig(parseJsonDocument(this.readBlob(r.config), "image config")); }

  /**
   * The image NAME[:TAG] names, or whose IMAGE ID (config digest) or manifest digest starts with
   * the given hex (at least 4 digits, "sha256:" optional), as `docker image inspect` finds them.
   */
  find(name: string): { record: ImageRecord; tag: string | null } | null {
    const f = this.readFile();
    try {
      const ref = parseReference(name);
      if (ref.digest !== null) {
        const rec = f.images[ref.digest];
        if (rec !== undefined) return { record: rec, tag: null };
      } else {
        const key = tagKey(ref);
        const d = f.tags[key];
        if (d !== undefined && f.images[d] !== undefined) return { record: f.images[d], tag: key };
      }
    } catch (e) { if (!(e instanceof OciError)) throw e; }
    const hex = name.startsWith("sha256:") ? name.slice(7) : name;
    if (!/^[0-9a-f]{4,64}$/.test(hex)) return null;
    const hits = Object.values(f.images).filter((r) => digestHex(r.config).startsWith(hex) || digestHex(r.manifest).startsWith(hex));
    if (hits.length > 1) throw new OciError(`${name}: ambiguous (matches ${hits.length} images)`);
    return hits.length === 1 ? { record: hits[0], tag: null } : null;
  }

  /**
   * `docker rmi`: NAME:TAG untags (the image goes with its last tag); an ID removes the image,
   * which must have at most one tag unless `force`. Returns what was untagged and deleted.
   */
  async remove(name: string, force = false): Promise<{ untagged: string[]; deleted: Digest | null }> {
    return this.lockStore.withLock(() => {
      const f = this.readFile();
      const hit = this.find(name);
      if (hit === null) throw new OciError(`No such image: ${name}`);
      const tags = Object.keys(f.tags).filter((t) => f.tags[t] === hit.record.manifest);
      let untag: string[];
      if (hit.tag !== null) untag = [hit.tag];
      else if (tags.length > 1 && !force) {
        throw new OciError(`unable to delete ${name} (must be forced) - image is referenced in multiple repositories (${tags.map((t) => { const x = familiarTag(t); return `${x.repository}:${x.tag}`; }).join(", ")})`);
      } else untag = tags;
      // An image a container uses stays (its layers are the container's lower layers): refused,
      // or with -f untagged only, as Docker keeps it.
      const last = untag.length === tags.length;
      const users = last ? new ContainerStore(this.home).list().filter((c) => c.spec.manifest === hit.record.manifest) : [];
      if (users.length > 0 && !force) {
        throw new OciError(`conflict: unable to remove ${name} (must be forced) - container ${users[0].id.slice(0, 12)} (${users[0].name}) is using its referenced image ${shortDigest(hit.record.config)}`);
      }
      for (const t of untag) delete f.tags[t];
      let deleted: Digest | null = null;
      if (!Object.values(f.tags).includes(hit.record.manifest) && users.length === 0) { delete f.images[hit.record.manifest]; deleted = hit.record.config; }
      this.writeFile(f);
      this.collect(f);
      return { untagged: untag, deleted };
    });
  }

  /** Removes blobs and layers no image record refers to (held under the lock). */
  private collect(f: ImagesFile): void {
    const blobs = new Set<string>(), layers = new Set<string>();
    for (const r of Object.values(f.images)) {
      blobs.add(digestHex(r.manifest)); blobs.add(digestHex(r.config));
      for (const l of r.layers) { blobs.add(digestHex(l.digest)); layers.add(digestHex(l.diffId)); }
    }
    const sweep = (dir: string, keep: Set<string>): void => {
      if (!existsSync(dir)) return;
      for (const n of readdirSync(dir)) if (!keep.has(n)) rmSync(join(dir, n), { recursive: true, force: true });
    };
    sweep(join(this.dir, "blobs", "sha256"), blobs);
    sweep(join(this.dir, "layers"), layers);
  }

  /** Starts a pull or import: everything it writes is staged until commit(). */
  begin(): StoreTxn {
    const tmp = join(this.dir, "tmp");
    mkdirSync(tmp, { recursive: true });
    // Transactions of processes that died (a crash, SIGKILL) are swept: the pid is in the name.
    for (const n of readdirSync(tmp)) {
      const m = /^txn-(\d+)-/.exec(n);
      if (m !== null && Number(m[1]) !== process.pid && !pidAlive(Number(m[1]))) rmSync(join(tmp, n), { recursive: true, force: true });
    }
    return new StoreTxn(this, mkdtempSync(join(tmp, `txn-${process.pid}-`)));
  }

  /** Commits staged blobs and layers and the records (called by StoreTxn.commit). */
  async commitStaged(txn: StoreTxn, images: { record: Omit<ImageRecord, "added">; tags: string[] }[]): Promise<void> {
    await this.lockStore.withLock(() => {
      mkdirSync(join(this.dir, "blobs", "sha256"), { recursive: true });
      mkdirSync(join(this.dir, "layers"), { recursive: true });
      for (const d of txn.stagedBlobs()) if (!this.hasBlob(d)) renameSync(txn.blobFile(d), this.blobPath(d));
      for (const d of txn.stagedLayers()) if (!this.hasLayer(d)) {
        rmSync(this.layerDir(d), { recursive: true, force: true });
        renameSync(txn.layerDir(d), this.layerDir(d));
      }
      const f = this.readFile();
      const added = new Date().toISOString();
      for (const { record, tags } of images) {
        for (const l of record.layers) if (!this.hasLayer(l.diffId) || !this.hasBlob(l.digest)) throw new OciError(`layer ${l.diffId} is missing after commit`);
        const old = f.images[record.manifest];
        const repositories = [...new Set([...(old?.repositories ?? []), ...(record.repositories ?? [])])];
        f.images[record.manifest] = { ...record, added: old?.added ?? added, ...(repositories.length > 0 ? { repositories } : {}) };
        for (const t of tags) f.tags[t] = record.manifest;
      }
      this.writeFile(f);
      this.collect(f);
    });
  }
}

/** A pull or import in progress: a private directory under images/tmp/. */
export class StoreTxn {
  private readonly blobs = new Set<Digest>();
  private readonly layers = new Set<Digest>();
  constructor(readonly store: ImageStore, readonly dir: string) {
    mkdirSync(join(dir, "blobs"));
    mkdirSync(join(dir, "layers"));
  }

  stagedBlobs(): Digest[] { return [...this.blobs]; }
  stagedLayers(): Digest[] { return [...this.layers]; }
  /** A blob's file: staged in this transaction, else in the store. */
  blobFile(d: Digest): string { return this.blobs.has(d) ? join(this.dir, "blobs", digestHex(d)) : this.store.blobPath(d); }
  hasBlob(d: Digest): boolean { return this.blobs.has(d) || this.store.hasBlob(d); }
  layerDir(d: Digest): string { return join(this.dir, "layers", digestHex(d)); }
  hasLayer(d: Digest): boolean { return this.layers.has(d) || this.store.hasLayer(d); }
  /** A scratch path inside the transaction. */
  scratch(name: string): string { return join(this.dir, name); }

  /** Stages a blob from a stream, verifying its size and digest when `want` is given. */
  async putStream(src: Readable, what: string, want?: { digest: Digest; size?: number }, onBytes?: (n: number) => void): Promise<Digest> {
    const tmp = join(this.dir, `incoming-${Math.random().toString(36).slice(2, 10)}`);
    const h = createHash("sha256");
    let size = 0;
    src.on("data", (c: Buffer) => {
      h.update(c); size += c.length; onBytes?.(c.length);
      // A source sending more than the descriptor says is cut off rather than stored.
      if (want?.size !== undefined && size > want.size) src.destroy(new OciError(`more than the ${want.size} bytes its descriptor gives`));
    });
    try { await pipeline(src, createWriteStream(tmp, { flags: "wx" })); } catch (e) {
      rmSync(tmp, { force: true });
      throw new OciError(`${what}${want !== undefined ? ` ${want.digest}` : ""}: ${(e as Error).message}`);
    }
    const got = { digest: `sha256:${h.digest("hex")}` as Digest, size };
    try { checkExpected(what, got, want); } catch (e) { rmSync(tmp, { force: true }); throw e; }
    return this.adopt(tmp, got.digest);
  }

  putBytes(bytes: Uint8Array, what: string, want?: { digest: Digest; size?: number }): Digest {
    const got = { digest: `sha256:${createHash("sha256").update(bytes).digest("hex")}` as Digest, size: bytes.length };
    checkExpected(what, got, want);
    if (!this.hasBlob(got.digest)) {
      writeFileSync(join(this.dir, "blobs", digestHex(got.digest)), bytes);
      this.blobs.add(got.digest);
    }
    return got.digest;
  }

  /** Stages a file that is already inside the transaction (moved, not copied), after hashing it. */
  async putFile(file: string, what: string, want?: { digest: Digest; size?: number }): Promise<Digest> {
    const got = await hashFile(file);
    checkExpected(what, got, want);
    return this.adopt(file, got.digest);
  }

  private adopt(file: string, d: Digest): Digest {
    if (this.hasBlob(d)) { rmSync(file, { force: true }); return d; }
    renameSync(file, join(this.dir, "blobs", digestHex(d)));
    this.blobs.add(d);
    return d;
  }

  /**
   * Unpacks the layer blob `blob` unless the layer is stored already; checks its diff_id against
   * `wantDiffId` (from the image config) when given. Returns the diff_id and the files' size.
   */
  async unpack(blob: Digest, wantDiffId: Digest | null, onBytes?: (n: number) => void): Promise<{ diffId: Digest; size: number }> {
    if (wantDiffId !== null && this.hasLayer(wantDiffId)) {
      const dir = this.layers.has(wantDiffId) ? this.layerDir(wantDiffId) : this.store.layerDir(wantDiffId);
      const idx = parseLayerIndex(readFileSync(join(dir, "index.json"), "utf8"));
      return { diffId: wantDiffId, size: idx.entries.reduce((n, e) => n + (e.type === "file" ? e.size ?? 0 : 0), 0) };
    }
    const work = mkdtempSync(join(this.dir, "unpack-"));
    try {
      // Loaded here, not at start: a `container run` needs no tar, gzip or zstd.
      const { unpackLayer } = await import("./layer_unpack.js");
      const r = await unpackLayer(this.blobFile(blob), join(work, "root"), onBytes);
      if (wantDiffId !== null && r.diffId !== wantDiffId) {
        throw new OciError(`layer ${blob}: its content hashes to ${r.diffId}, but the image config says ${wantDiffId} (corrupt layer)`);
      }
      writeFileSync(join(work, "index.json"), JSON.stringify(r.index) + "\n");
      if (this.hasLayer(r.diffId)) { rmSync(work, { recursive: true, force: true }); return { diffId: r.diffId, size: r.size }; }
      renameSync(work, this.layerDir(r.diffId));
      this.layers.add(r.diffId);
      return { diffId: r.diffId, size: r.size };
    } catch (e) {
      rmSync(work, { recursive: true, force: true });
      throw e;
    }
  }

  async commit(images: { record: Omit<ImageRecord, "added">; tags: string[] }[]): Promise<void> {
    try { await this.store.commitStaged(this, images); } finally { this.abort(); }
  }

  /** Drops everything staged. */
  abort(): void { rmSync(this.dir, { recursive: true, force: true }); }
}
