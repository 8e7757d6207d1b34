// `rvisor image import PATH [NAME:TAG]`: an OCI image layout directory, an OCI archive (a tar of
// one), a docker-save archive (legacy manifest.json [{Config, RepoTags, Layers}], or the OCI
// layout newer engines write beside it), or a plain rootfs tarball (`docker import`'s input),
// each compressed or not. Archives are unpacked into the transaction first (regular files and
// in-archive symlinks only, no path leaving it); every blob is verified by digest.
import { createReadStream, createWriteStream, existsSync, linkSync, mkdirSync, readFileSync, statSync, copyFileSync } from "node:fs";
import { join, resolve as resolvePath, basename } from "node:path";
import { pipeline } from "node:stream/promises";
import { once } from "node:events";
import * as tar from "tar-stream";
import { OciError, type Digest } from "../../oci/digest.js";
import { normaliseEntryName, parentPath } from "../../oci/layer_index.js";
import {
  ANNOTATION_REF_NAME, MEDIA_OCI_CONFIG, MEDIA_OCI_LAYER, MEDIA_OCI_LAYER_GZIP, MEDIA_OCI_LAYER_ZSTD, RISCV64_LINUX,
  makeManifest, parseJsonDocument, parseManifestDocument, selectPlatform, type Descriptor, type ImageManifest,
} from "../../oci/manifest.js";
import { parseReference, type ImageReference } from "../../oci/reference.js";
import { tagKey, type ImageRecord, type ImageStore, type StoreTxn } from "./image_store.js";
import { assembleImage, RISCV64 } from "./image_assemble.js";
import { describeArchiveError, openTar, sniffCompression, type Compression } from "./layer_unpack.js";
import { Progress } from "./progress.js";

const CONTAINERD_IMAGE_NAME = "io.containerd.image.name";
const LAYER_MEDIA: Record<Compression, string> = { none: MEDIA_OCI_LAYER, gzip: MEDIA_OCI_LAYER_GZIP, zstd: MEDIA_OCI_LAYER_ZSTD };

export type ImportKind = "oci-layout" | "oci-archive" | "docker-archive" | "rootfs";
export interface ImportResult { kind: ImportKind; images: { manifest: Digest; config: Digest; tags: string[] }[] }
type Staged = { record: Omit<ImageRecord, "added">; tags: string[] };
/** What messages call the source (the PATH given), and what the record says ("import /abs/path"). */
interface Origin { what: string; source: string }

/** Top-level names in a tar (a first pass that reads no file contents into memory). */
async function tarNames(file: string): Promise<Set<string>> {
  const { streams } = openTar(file);
  const extract = tar.extract();
  const names = new Set<string>();
  const piping = pipeline([...streams, extract]);
  piping.catch(() => {});
  try {
    for await (const e of extract) {
      names.add(normaliseEntryName(e.header.name));
      e.resume();
    }
    await piping;
  } catch (err) { for (const s of streams) s.destroy(); throw describeArchiveError(err, file); }
  return names;
}

/** Unpacks an image archive into `dir`: directories, regular files, and symlinks resolved inside it. */
async function unpackArchive(file: string, dir: string, progress: Progress): Promise<void> {
  const { streams } = openTar(file, (n) => progress.add(n));
  const extract = tar.extract();
  const links: [string, string][] = [];
  const piping = pipeline([...streams, extract]);
  piping.catch(() => {});
  mkdirSync(dir, { recursive: true });
  try {
    for await (const e of extract) {
      const p = normaliseEntryName(e.header.name);
      const host = join(dir, p);
      if (e.header.type === "directory") { mkdirSync(host, { recursive: true }); e.resume(); await once(e, "end"); continue; }
      mkdirSync(join(dir, parentPath(p)), { recursive: true });
      if (e.header.type === "file" || e.header.type === "contiguous-file") { await pipeline(e, createWriteStream(host, { flags: "wx" })); continue; }
      if (e.header.type === "symlink" || e.header.type === "link") {
        const t = e.header.linkname ?? "";
        // docker save links repeated layers: "../<id>/layer.tar". Resolve relative to the entry, inside the archive.
        const target = e.header.type === "link" ? normaliseEntryName(t) : normaliseEntryName(join(parentPath(p), t).replace(/^\//, ""));
        links.push([host, join(dir, target)]);
        e.resume(); await once(e, "end"); continue;
      }
      throw new OciError(`${e.header.name}: unexpected ${String(e.header.type)} entry in an image archive`);
    }
    await piping;
  } catch (err) {
    for (const s of streams) s.destroy();
    throw describeArchiveError(err, file);
  }
  for (const [at, target] of links) {
    const name = at.slice(dir.length);
    if (!existsSync(target) || !statSync(target).isFile()) throw new OciError(`${file}: link ${name} does not point to a regular file of the archive`);
    if (existsSync(at)) throw new OciError(`${file}: link ${name} is also an entry of its own`);
    try { linkSync(target, at); } catch { copyFileSync(target, at); }
  }
}

/** The tags an import gives: NAME:TAG when given (for the one image), else the names the source carries. */
function tagsFor(given: ImageReference | null, carried: string[], count: number): string[] {
  if (given !== null) {
    if (count > 1) throw new OciError(`the source has ${count} images; a NAME:TAG names one (import them without a name)`);
    return [tagKey(given)];
  }
  const out: string[] = [];
  for (const c of carried) {
    try { const r = parseReference(c); if (r.tag !== null) out.push(tagKey(r)); } catch (e) { if (!(e instanceof OciError)) throw e; }
  }
  return out;
}

/** Resolves an OCI layout descriptor to a linux/riscv64 image manifest, staging the documents on the way. */
async function layoutManifest(txn: StoreTxn, blobs: string, d: Descriptor, what: string): Promise<{ digest: Digest; m: ImageManifest }> {
  for (let depth = 0; depth < 4; depth++) {
    const file = join(blobs, "sha256", d.digest.slice(7));
    if (!existsSync(file)) throw new OciError(`${what}: blob ${d.digest} is missing`);
    const bytes = readFileSync(file);
    txn.putBytes(bytes, "manifest", { digest: d.digest, size: d.size });
    const doc = parseManifestDocument(parseJsonDocument(bytes, `${what}: manifest ${d.digest}`), d.mediaType, `${what}: manifest ${d.digest}`);
    if (doc.kind === "manifest") return { digest: d.digest, m: doc };
    d = selectPlatform(doc, RISCV64_LINUX, what);
  }
  throw new OciError(`${what}: indexes nested too deeply`);
}

async function stageLayoutBlob(txn: StoreTxn, blobs: string, d: Descriptor, what: string, inTxn: boolean): Promise<void> {
  if (txn.hasBlob(d.digest)) return;
  const file = join(blobs, "sha256", d.digest.slice(7));
  if (!existsSync(file)) throw new OciError(`${what}: blob ${d.digest} is missing`);
  if (inTxn) { await txn.putFile(file, what, d); return; }
  await txn.putStream(createReadStream(file), what, d);
}

/** An OCI image layout at `dir` (inTxn: it is a scratch copy inside the transaction, whose blobs may be moved). */
async function importLayout(txn: StoreTxn, dir: string, given: ImageReference | null, { what, source }: Origin, progress: Progress, inTxn: boolean): Promise<Staged[]> {
  const layoutFile = join(dir, "oci-layout");
  if (!existsSync(layoutFile)) throw new OciError(`${what}: no oci-layout file (not an OCI image layout)`);
  const layout = parseJsonDocument(readFileSync(layoutFile), `${what}: oci-layout`) as { imageLayoutVersion?: unknown };
  if (typeof layout.imageLayoutVersion !== "string" || !layout.imageLayoutVersion.startsWith("1.")) throw new OciError(`${what}: imageLayoutVersion ${String(layout.imageLayoutVersion)} is not supported`);
  const index = parseManifestDocument(parseJsonDocument(readFileSync(join(dir, "index.json")), `${what}: index.json`), null, `${what}: index.json`);
  if (index.kind !== "index") throw new OciError(`${what}: index.json is not an image index`);
  let entries = index.manifests;
  if (given !== null && entries.length > 1) {
    const named = entries.filter((e) => e.annotations?.[ANNOTATION_REF_NAME] === given.tag);
    if (named.length !== 1) {
      const names = entries.map((e) => e.annotations?.[ANNOTATION_REF_NAME] ?? e.digest);
      throw new OciError(`${what} holds ${entries.length} images (${names.join(", ")}); name one by its ref.name as the tag`);
    }
    entries = named;
  }
  const blobs = join(dir, "blobs");
  const out: Staged[] = [];
  for (const e of entries) {
    const { digest, m } = await layoutManifest(txn, blobs, e, what);
    await stageLayoutBlob(txn, blobs, m.config, `${what}: image config`, inTxn);
    for (const l of m.layers) {
      progress.phase(`${what}: copying layer ${l.digest.slice(7, 19)}`);
      await stageLayoutBlob(txn, blobs, l, `${what}: layer`, inTxn);
    }
    const carried = [e.annotations?.[CONTAINERD_IMAGE_NAME], e.annotations?.[ANNOTATION_REF_NAME]].filter((x): x is string => x !== undefined);
    // A bare ref.name ("latest") is a tag without a repository: it names nothing by itself.
    const full = carried.filter((c) => c.includes("/") || c.includes(":"));
    out.push({ record: await assembleImage(txn, digest, m, source, what, progress), tags: tagsFor(given, full.slice(0, 1), 1) });
  }
  return out;
}

/** A docker-save archive's legacy manifest.json, unpacked at `dir`. */
async function importDockerSave(txn: StoreTxn, dir: string, given: ImageReference | null, origin: Origin, progress: Progress): Promise<Staged[]> {
  const source = origin.what;
  const list = parseJsonDocument(readFileSync(join(dir, "manifest.json")), `${source}: manifest.json`);
  if (!Array.isArray(list) || list.length === 0) throw new OciError(`${source}: manifest.json lists no images`);
  if (given !== null && list.length > 1) throw new OciError(`${source} holds ${list.length} images; import it without NAME:TAG`);
  const out: Staged[] = [];
  const seen = new Map<string, Descriptor>();
  for (const [i, item] of (list as unknown[]).entries()) {
    const it = item as { Config?: unknown; RepoTags?: unknown; Layers?: unknown };
    const what = `${source}: manifest.json[${i}]`;
    if (typeof it.Config !== "string" || !Array.isArray(it.Layers) || it.Layers.some((l) => typeof l !== "string")) throw new OciError(`${what}: needs Config and Layers`);
    const file = (p: string): string => { const f = join(dir, normaliseEntryName(p)); if (!existsSync(f) && !seen.has(f)) throw new OciError(`${what}: ${p} is missing`); return f; };
    const configBytes = readFileSync(file(it.Config));
    const config = txn.putBytes(configBytes, "image config");
    const layers: Descriptor[] = [];
    for (const l of it.Layers as string[]) {
      const f = file(l);
      let done = seen.get(f);
      if (done === undefined) {
        const size = statSync(f).size, compression = sniffCompression(f);
        progress.phase(`${source}: hashing ${l}`);
        done = { mediaType: LAYER_MEDIA[compression], digest: await txn.putFile(f, `${what}: layer ${l}`), size };
        seen.set(f, done);
      }
      layers.push(done);
    }
    const manifestBytes = makeManifest({ mediaType: MEDIA_OCI_CONFIG, digest: config, size: configBytes.length }, layers);
    const manifest = txn.putBytes(manifestBytes, "manifest");
    const m = parseManifestDocument(parseJsonDocument(manifestBytes, "manifest"), null) as ImageManifest;
    const tags = Array.isArray(it.RepoTags) ? (it.RepoTags as unknown[]).filter((t): t is string => typeof t === "string") : [];
    out.push({ record: await assembleImage(txn, manifest, m, origin.source, what, progress), tags: tagsFor(given, tags, 1) });
  }
  return out;
}

/**
 * Tags from a newer docker save's manifest.json ([{Config: "blobs/sha256/<hex>", RepoTags}])
 * for the images its OCI layout gave, matched by config digest, when the layout named none.
 */
function addRepoTags(staged: Staged[], manifestJson: Uint8Array, what: string): void {
  const list = parseJsonDocument(manifestJson, `${what}: manifest.json`);
  if (!Array.isArray(list)) throw new OciError(`${what}: manifest.json is not a list`);
  for (const item of list as { Config?: unknown; RepoTags?: unknown }[]) {
    const m = typeof item.Config === "string" ? /(?:^|\/)sha256\/([0-9a-f]{64})$/.exec(item.Config) : null;
    const s = m === null ? undefined : staged.find((x) => x.record.config === `sha256:${m[1]}`);
    if (s === undefined || s.tags.length > 0 || !Array.isArray(item.RepoTags)) continue;
    s.tags = tagsFor(null, (item.RepoTags as unknown[]).filter((t): t is string => typeof t === "string"), 1);
  }
}

/** A plain rootfs tarball becomes a one-layer image with an empty config (as `docker import`). */
async function importRootfs(txn: StoreTxn, file: string, given: ImageReference | null, { what: source, source: recorded }: Origin, progress: Progress): Promise<Staged[]> {
  const size = statSync(file).size, compression = sniffCompression(file);
  progress.phase(`${source}: copying`, size);
  const blob = await txn.putStream(createReadStream(file), "rootfs tarball", undefined, (n) => progress.add(n));
  progress.phase(`${source}: unpacking`, size);
  const { diffId } = await txn.unpack(blob, null, (n) => progress.add(n));
  const configBytes = new TextEncoder().encode(JSON.stringify({
    architecture: RISCV64, os: "linux", created: new Date().toISOString(), config: {},
    rootfs: { type: "layers", diff_ids: [diffId] }, history: [{ created_by: `rvisor image import ${basename(file)}` }],
  }));
  const config = txn.putBytes(configBytes, "image config");
  const manifestBytes = makeManifest({ mediaType: MEDIA_OCI_CONFIG, digest: config, size: configBytes.length }, [{ mediaType: LAYER_MEDIA[compression], digest: blob, size }]);
  const manifest = txn.putBytes(manifestBytes, "manifest");
  const m = parseManifestDocument(parseJsonDocument(manifestBytes, "manifest"), null) as ImageManifest;
  return [{ record: await assembleImage(txn, manifest, m, recorded, source, progress), tags: tagsFor(given, [], 1) }];
}

export async function importImage(store: ImageStore, path: string, name: string | null, progress: Progress = new Progress()): Promise<ImportResult> {
  const given = name === null ? null : parseReference(name);
  if (given !== null && given.tag === null) throw new OciError(`${name}: give NAME:TAG, not a digest`);
  if (!existsSync(path)) throw new OciError(`${path}: no such file or directory`);
  const origin: Origin = { what: path, source: `import ${resolvePath(path)}` };
  const txn = store.begin();
  try {
    let kind: ImportKind;
    let staged: Staged[];
    if (statSync(path).isDirectory()) {
      kind = "oci-layout";
      staged = await importLayout(txn, path, given, origin, progress, false);
    } else {
      const names = await tarNames(path);
      if (names.has("/oci-layout") && names.has("/index.json")) {
        kind = names.has("/manifest.json") ? "docker-archive" : "oci-archive";
        const dir = txn.scratch("archive");
        progress.phase(`${path}: unpacking the archive`, statSync(path).size);
        await unpackArchive(path, dir, progress);
        staged = await importLayout(txn, dir, given, origin, progress, true);
        // Newer docker save: the names are in manifest.json's RepoTags.
        if (kind === "docker-archive" && given === null) addRepoTags(staged, readFileSync(join(dir, "manifest.json")), path);
      } else if (names.has("/manifest.json")) {
        kind = "docker-archive";
        const dir = txn.scratch("archive");
        progress.phase(`${path}: unpacking the archive`, statSync(path).size);
        await unpackArchive(path, dir, progress);
        staged = await importDockerSave(txn, dir, given, origin, progress);
      } else {
        kind = "rootfs";
        staged = await importRootfs(txn, path, given, origin, progress);
      }
    }
    await txn.commit(staged);
    return { kind, images: staged.map((s) => ({ manifest: s.record.manifest, config: s.record.config, tags: s.tags })) };
  } catch (e) {
    txn.abort();
    throw e;
  } finally { progress.done(); }
}

