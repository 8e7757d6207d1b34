// The last steps shared by pull and import: a manifest whose blobs are staged (or stored) is
// checked against its config, its layers are unpacked and verified, and its record is built.
import { OciError, type Digest } from "../../oci/digest.js";
import { checkManifestConfig, parseImageConfig, parseJsonDocument, type ImageConfig, type ImageManifest } from "../../oci/manifest.js";
import { shortDigest } from "../../oci/digest.js";
import type { ImageRecord, LayerRecord, StoreTxn } from "./image_store.js";
import type { Progress } from "./progress.js";
import { readFileSync } from "node:fs";

export const RISCV64 = "riscv64";

export function readStagedConfig(txn: StoreTxn, m: ImageManifest, what: string): ImageConfig {
  const c = parseImageConfig(parseJsonDocument(readFileSync(txn.blobFile(m.config.digest)), `${what}: image config`), `${what}: image config`);
  checkManifestConfig(m, c, what);
  if (c.os !== "linux" || c.architecture !== RISCV64) {
    throw new OciError(`${what} is a ${c.os}/${c.architecture} image; rvisor runs linux/${RISCV64} images`);
  }
  return c;
}

/** Unpacks every layer of `m` (blobs already staged) and returns the image's record. */
export async function assembleImage(txn: StoreTxn, manifest: Digest, m: ImageManifest, source: string, what: string, progress: Progress): Promise<Omit<ImageRecord, "added">> {
  const c = readStagedConfig(txn, m, what);
  const layers: LayerRecord[] = [];
  let size = 0;
  for (const [i, l] of m.layers.entries()) {
    if (!txn.hasBlob(l.digest)) throw new OciError(`${what}: layer ${l.digest} is missing`);
    progress.phase(`${shortDigest(l.digest)}: unpacking layer ${i + 1}/${m.layers.length}`, l.size);
    const r = await txn.unpack(l.digest, c.rootfs.diff_ids[i], (n) => progress.add(n));
    layers.push({ digest: l.digest, diffId: r.diffId, mediaType: l.mediaType, size: l.size });
    size += r.size;
  }
  return { manifest, config: m.config.digest, layers, size, created: typeof c.created === "string" ? c.created : null, source };
}
