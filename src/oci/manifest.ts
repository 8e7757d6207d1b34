// OCI image-spec and Docker image manifest v2 schema 2 documents: manifests, indexes (manifest
// lists), image configs; parsing validates what rvisor relies on and keeps the rest.
import { OciError, parseDigest, type Digest } from "./digest.js";

export const MEDIA_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const MEDIA_OCI_INDEX = "application/vnd.oci.image.index.v1+json";
export const MEDIA_OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
export const MEDIA_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar";
export const MEDIA_OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";
export const MEDIA_OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd";
export const MEDIA_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
export const MEDIA_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
export const MEDIA_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json";
export const MEDIA_DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip";
export const MEDIA_DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
/** The tag annotation of an OCI layout's index.json (image-spec annotations.md). */
export const ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name";

/** What `Accept` names when fetching a manifest: both image formats and both index formats. */
export const MANIFEST_ACCEPT = [MEDIA_OCI_MANIFEST, MEDIA_OCI_INDEX, MEDIA_DOCKER_MANIFEST, MEDIA_DOCKER_LIST];
const LAYER_TYPES = new Set([
  MEDIA_OCI_LAYER, MEDIA_OCI_LAYER_GZIP, MEDIA_OCI_LAYER_ZSTD, MEDIA_DOCKER_LAYER, MEDIA_DOCKER_FOREIGN_LAYER,
  "application/vnd.oci.image.layer.nondistributable.v1.tar", "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
  "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
]);
const CONFIG_TYPES = new Set([MEDIA_OCI_CONFIG, MEDIA_DOCKER_CONFIG]);
/** Manifests and configs larger than this are refused (containerd's limit for manifests). */
export const MANIFEST_MAX_BYTES = 4 << 20;

export interface Platform { architecture: string; os: string; variant?: string }
export const RISCV64_LINUX: Platform = { architecture: "riscv64", os: "linux" };

export interface Descriptor { mediaType: string; digest: Digest; size: number; platform?: Platform; annotations?: Record<string, string> }
export interface ImageManifest { kind: "manifest"; mediaType: string; config: Descriptor; layers: Descriptor[] }
export interface ImageIndex { kind: "index"; mediaType: string; manifests: Descriptor[] }

/** The parts of the image config's `config` rvisor runs containers with (image-spec config.md). */
export interface ContainerConfig {
  User?: string; Env?: string[]; Entrypoint?: string[] | null; Cmd?: string[] | null; WorkingDir?: string;
  ExposedPorts?: Record<string, object>; Volumes?: Record<string, object>; StopSignal?: string; Labels?: Record<string, string>;
}
export interface ImageConfig {
  architecture: string; os: string; variant?: string; created?: string; author?: string;
  config: ContainerConfig;
  rootfs: { type: "layers"; diff_ids: Digest[] };
  history?: unknown[];
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new OciError(`${what}: not a JSON object`);
  return v as Record<string, unknown>;
}
function str(v: unknown, what: string): string {
  if (typeof v !== "string") throw new OciError(`${what}: missing or not a string`);
  return v;
}
function strArray(v: unknown, what: string): string[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) throw new OciError(`${what}: not an array of strings`);
  return v as string[];
}

export function parseJsonDocument(bytes: Uint8Array, what: string): unknown {
  if (bytes.length > MANIFEST_MAX_BYTES) throw new OciError(`${what}: ${bytes.length} bytes, more than the ${MANIFEST_MAX_BYTES} allowed`);
  try { return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes)) as unknown; } catch (e) {
    throw new OciError(`${what}: not valid JSON (${(e as Error).message})`);
  }
}

export function parseDescriptor(v: unknown, what: string): Descriptor {
  const o = obj(v, what);
  const size = o.size;
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) throw new OciError(`${what}: bad size`);
  const d: Descriptor = { mediaType: str(o.mediaType, `${what}.mediaType`), digest: parseDigest(o.digest, `${what}.digest`), size };
  if (o.platform !== undefined) {
    const p = obj(o.platform, `${what}.platform`);
    d.platform = { architecture: str(p.architecture, `${what}.platform.architecture`), os: str(p.os, `${what}.platform.os`) };
    if (typeof p.variant === "string") d.platform.variant = p.variant;
  }
  if (o.annotations !== undefined) d.annotations = obj(o.annotations, `${what}.annotations`) as Record<string, string>;
  return d;
}

/**
 * A manifest or an index. `mediaType` is the document's own field, else the transport's
 * Content-Type; OCI manifests may omit it (then `config`/`manifests` tell).
 */
export function parseManifestDocument(doc: unknown, contentType: string | null, what = "manifest"): ImageManifest | ImageIndex {
  const o = obj(doc, what);
  if (o.schemaVersion !== 2) throw new OciError(`${what}: schemaVersion ${String(o.schemaVersion)} is not supported (only 2)`);
  const own = typeof o.mediaType === "string" ? o.mediaType : null;
  const type = own ?? (contentType !== null && MANIFEST_ACCEPT.includes(contentType) ? contentType : o.manifests !== undefined ? MEDIA_OCI_INDEX : MEDIA_OCI_MANIFEST);
  if (type === MEDIA_OCI_INDEX || type === MEDIA_DOCKER_LIST) {
    if (!Array.isArray(o.manifests)) throw new OciError(`${what}: an index without manifests`);
    return { kind: "index", mediaType: type, manifests: o.manifests.map((m, i) => parseDescriptor(m, `${what}.manifests[${i}]`)) };
  }
  if (type !== MEDIA_OCI_MANIFEST && type !== MEDIA_DOCKER_MANIFEST) throw new OciError(`${what}: unsupported media type ${type}`);
  const config = parseDescriptor(o.config, `${what}.config`);
  if (!CONFIG_TYPES.has(config.mediaType)) throw new OciError(`${what}: config media type ${config.mediaType} is not an image config`);
  if (!Array.isArray(o.layers)) throw new OciError(`${what}: no layers`);
  const layers = o.layers.map((l, i) => parseDescriptor(l, `${what}.layers[${i}]`));
  for (const l of layers) if (!LAYER_TYPES.has(l.mediaType)) throw new OciError(`${what}: layer ${l.digest} has unsupported media type ${l.mediaType}`);
  return { kind: "manifest", mediaType: type, config, layers };
}

export function formatPlatform(p: Platform | undefined): string {
  if (p === undefined) return "unknown";
  return `${p.os}/${p.architecture}${p.variant !== undefined ? `/${p.variant}` : ""}`;
}

/**
 * The index entry for `want` (os and architecture; the variant too when `want` has one). Entries
 * without a platform are not chosen (attestations carry "unknown/unknown").
 */
export function selectPlatform(index: ImageIndex, want: Platform = RISCV64_LINUX, what = "image"): Descriptor {
  const hit = index.manifests.find((m) => m.platform !== undefined && m.platform.os === want.os && m.platform.architecture === want.architecture &&
    (want.variant === undefined || m.platform.variant === want.variant) && (m.mediaType === MEDIA_OCI_MANIFEST || m.mediaType === MEDIA_DOCKER_MANIFEST));
  if (hit !== undefined) return hit;
  const have = index.manifests.filter((m) => m.platform !== undefined && m.platform.os !== "unknown").map((m) => formatPlatform(m.platform));
  throw new OciError(`${what} has no ${formatPlatform(want)} image (it has: ${have.length > 0 ? have.join(", ") : "no platforms"})`);
}

function optStrArray(v: unknown, what: string): string[] | null | undefined {
  return v === undefined ? undefined : v === null ? null : strArray(v, what);
}

/** An image config; the known `config` fields are type-checked, unknown ones are kept. */
export function parseImageConfig(doc: unknown, what = "image config"): ImageConfig {
  const o = obj(doc, what);
  const rootfs = obj(o.rootfs, `${what}.rootfs`);
  if (rootfs.type !== "layers") throw new OciError(`${what}.rootfs.type: must be "layers"`);
  const diffIds = strArray(rootfs.diff_ids, `${what}.rootfs.diff_ids`).map((d, i) => parseDigest(d, `${what}.rootfs.diff_ids[${i}]`));
  const c = o.config === undefined || o.config === null ? {} : obj(o.config, `${what}.config`);
  const config: ContainerConfig = { ...c } as ContainerConfig;
  if (c.User !== undefined) config.User = str(c.User, `${what}.config.User`);
  if (c.WorkingDir !== undefined) config.WorkingDir = str(c.WorkingDir, `${what}.config.WorkingDir`);
  if (c.Env !== undefined && c.Env !== null) config.Env = strArray(c.Env, `${what}.config.Env`);
  config.Entrypoint = optStrArray(c.Entrypoint, `${what}.config.Entrypoint`);
  config.Cmd = optStrArray(c.Cmd, `${what}.config.Cmd`);
  if (config.Entrypoint === undefined) delete config.Entrypoint;
  if (config.Cmd === undefined) delete config.Cmd;
  const out: ImageConfig = {
    ...o, architecture: str(o.architecture, `${what}.architecture`), os: str(o.os, `${what}.os`), config,
    rootfs: { type: "layers", diff_ids: diffIds },
  } as ImageConfig;
  return out;
}

/** Checks that a manifest and its config agree (one diff_id per layer). */
export function checkManifestConfig(m: ImageManifest, c: ImageConfig, what = "image"): void {
  if (m.layers.length !== c.rootfs.diff_ids.length) {
    throw new OciError(`${what}: the manifest has ${m.layers.length} layers but the config lists ${c.rootfs.diff_ids.length} diff_ids`);
  }
}

/** The OCI manifest rvisor writes for an image it assembles itself (a rootfs or docker-save import). */
export function makeManifest(config: Descriptor, layers: Descriptor[]): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_OCI_MANIFEST, config, layers }));
}
