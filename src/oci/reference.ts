// Image references as Docker parses them (distribution/reference "normalize.go"):
//   [HOST[:PORT]/]PATH[:TAG][@DIGEST]
// The first component is a registry host when it has a '.' or a ':' or is "localhost";
// otherwise the image is on Docker Hub, and a one-component path gets "library/".
import { OciError, parseDigest, type Digest } from "./digest.js";

export const DOCKER_HUB = "docker.io";
/** Docker Hub's API host (what "docker.io" resolves to for the /v2/ API). */
export const DOCKER_HUB_API = "registry-1.docker.io";
export const DEFAULT_TAG = "latest";

export interface ImageReference {
  /** Registry host[:port] ("docker.io" for Docker Hub). */
  registry: string;
  /** Repository path, e.g. "library/busybox". */
  repository: string;
  /** The tag; "latest" when neither tag nor digest was given. */
  tag: string | null;
  digest: Digest | null;
}

// distribution/reference grammar: path components and tags.
const COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const HOST_RE = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$/;

export function parseReference(ref: string): ImageReference {
  let rest = ref.trim();
  let digest: Digest | null = null;
  const at = rest.indexOf("@");
  if (at >= 0) { digest = parseDigest(rest.slice(at + 1), `reference ${ref}`); rest = rest.slice(0, at); }
  let tag: string | null = null;
  const slash = rest.lastIndexOf("/"), colon = rest.lastIndexOf(":");
  if (colon > slash) { tag = rest.slice(colon + 1); rest = rest.slice(0, colon); }
  if (tag !== null && !TAG_RE.test(tag)) throw new OciError(`invalid reference format: bad tag '${tag}' in '${ref}'`);
  const parts = rest.split("/");
  let registry = DOCKER_HUB;
  if (parts.length > 1 && (parts[0].includes(".") || parts[0].includes(":") || parts[0] === "localhost")) {
    registry = parts.shift() as string;
    if (!HOST_RE.test(registry)) throw new OciError(`invalid reference format: bad registry '${registry}' in '${ref}'`);
  }
  if (parts.length === 0 || parts.some((p) => !COMPONENT_RE.test(p))) {
    throw new OciError(`invalid reference format: '${ref}' (repository names are lowercase: letters, digits, '.', '_', '-', '/')`);
  }
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift("library");
  if (tag === null && digest === null) tag = DEFAULT_TAG;
  return { registry, repository: parts.join("/"), tag, digest };
}

/** The repository as Docker shows it: Docker Hub's "docker.io/library/" prefix dropped. */
export function familiarName(r: Pick<ImageReference, "registry" | "repository">): string {
  if (r.registry !== DOCKER_HUB) return `${r.registry}/${r.repository}`;
  return r.repository.startsWith("library/") ? r.repository.slice("library/".length) : r.repository;
}

/** "NAME:TAG" (or "NAME@DIGEST") in the familiar form. */
export function formatReference(r: ImageReference): string {
  const name = familiarName(r);
  return r.tag !== null ? `${name}:${r.tag}` : `${name}@${r.digest}`;
}
