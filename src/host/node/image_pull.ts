// `rvisor image pull REF`: manifest (choosing linux/riscv64 from an index), config and layer
// blobs, each verified against its digest, staged and unpacked, then committed at once.
import { createHash } from "node:crypto";
import { OciError, shortDigest, type Digest } from "../../oci/digest.js";
import { formatReference, parseReference } from "../../oci/reference.js";
import { RISCV64_LINUX, parseJsonDocument, parseManifestDocument, selectPlatform, type ImageManifest } from "../../oci/manifest.js";
import { RegistryClient, type RegistryOptions } from "./registry.js";
import { findCredentials } from "./registry_auth.js";
import { tagKey, type ImageStore } from "./image_store.js";
import { assembleImage } from "./image_assemble.js";
import { Progress } from "./progress.js";

export interface PullResult { name: string; manifest: Digest; config: Digest; upToDate: boolean }

function sha256(b: Uint8Array): Digest { return `sha256:${createHash("sha256").update(b).digest("hex")}`; }

/** `opts.credentials`: explicit ones (--creds); without them, the auth files' entry for the registry, if any (registry_auth.ts). */
export async function pullImage(store: ImageStore, refText: string, opts: RegistryOptions & { progress?: Progress } = {}): Promise<PullResult> {
  const ref = parseReference(refText);
  const name = formatReference(ref);
  const progress = opts.progress ?? new Progress();
  const client = new RegistryClient(ref, { ...opts, credentials: findCredentials(ref.registry, opts.credentials ?? null) });
  progress.phase(`${name}: resolving`);
  const want = ref.digest ?? (ref.tag as string);
  let { bytes, contentType } = await client.manifest(want);
  let digest = sha256(bytes);
  if (ref.digest !== null && digest !== ref.digest) throw new OciError(`manifest ${ref.digest}: digest mismatch (content hashes to ${digest})`);
  let doc = parseManifestDocument(parseJsonDocument(bytes, `manifest of ${name}`), contentType, `manifest of ${name}`);
  if (doc.kind === "index") {
    const d = selectPlatform(doc, RISCV64_LINUX, name);
    ({ bytes, contentType } = await client.manifest(d.digest));
    digest = sha256(bytes);
    if (digest !== d.digest) throw new OciError(`manifest ${d.digest}: digest mismatch (content hashes to ${digest})`);
    doc = parseManifestDocument(parseJsonDocument(bytes, `manifest ${d.digest}`), contentType, `manifest ${d.digest}`);
    if (doc.kind !== "manifest") throw new OciError(`${name}: the ${RISCV64_LINUX.os}/${RISCV64_LINUX.architecture} entry is an index, not an image`);
  }
  const m: ImageManifest = doc;
  const existing = store.find(digest);
  const upToDate = existing !== null && ref.tag !== null && store.find(name)?.record.manifest === digest;
  const txn = store.begin();
  try {
    txn.putBytes(bytes, "manifest", { digest });
    if (!txn.hasBlob(m.config.digest)) {
      await client.blob(m.config.digest, (res) => txn.putStream(res, "image config", m.config));
    }
    for (const [i, l] of m.layers.entries()) {
      if (txn.hasBlob(l.digest)) continue;
      progress.phase(`${shortDigest(l.digest)}: downloading layer ${i + 1}/${m.layers.length}`, l.size);
      await client.blob(l.digest, (res) => txn.putStream(res, "layer", l, (n) => progress.add(n)));
    }
    const record = { ...await assembleImage(txn, digest, m, `pull ${name}`, name, progress), repositories: [`${ref.registry}/${ref.repository}`] };
    await txn.commit([{ record, tags: ref.tag !== null ? [tagKey(ref)] : [] }]);
    return { name, manifest: digest, config: record.config, upToDate };
  } catch (e) {
    txn.abort();
    throw e;
  } finally { progress.done(); }
}
