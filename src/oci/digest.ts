// OCI content digests (image-spec descriptor.md "Digests"): `algorithm:encoded`; rvisor stores
// and verifies sha256 only, the one algorithm registries and engines write.

export class OciError extends Error {}

/** A sha256 digest: "sha256:" and 64 lowercase hex digits. */
export type Digest = `sha256:${string}`;

const SHA256_RE = /^sha256:[0-9a-f]{64}$/;
const ANY_DIGEST_RE = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export function isDigest(s: string): s is Digest { return SHA256_RE.test(s); }

/** Validates a digest string; other well-formed algorithms are refused by name. */
export function parseDigest(s: unknown, what = "digest"): Digest {
  if (typeof s !== "string") throw new OciError(`${what}: not a string`);
  if (isDigest(s)) return s;
  if (ANY_DIGEST_RE.test(s) && !s.startsWith("sha256:")) throw new OciError(`${what} ${s}: only sha256 digests are supported`);
  throw new OciError(`${what}: malformed digest '${s}'`);
}

/** The 64 hex digits of a sha256 digest (the file name in blobs/sha256/). */
export function digestHex(d: Digest): string { return d.slice("sha256:".length); }

/** The first 12 hex digits, as Docker shows IMAGE IDs. */
export function shortDigest(d: Digest): string { return digestHex(d).slice(0, 12); }
