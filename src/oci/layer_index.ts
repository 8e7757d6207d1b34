// The side index of an unpacked layer: what the tar headers said about each entry that an
// unprivileged host cannot keep in the files themselves (owner, full mode, device numbers,
// symlinks, xattrs), and the layer's whiteouts, which are recorded here instead of being applied
// (the container's overlay applies them at lookup). See docs/images.md for the on-disk layout.
import { OciError, type Digest } from "./digest.js";

export const LAYER_INDEX_VERSION = 1;

/** Entry types, named as tar's typeflags are (POSIX ustar). */
export type LayerEntryType = "file" | "dir" | "symlink" | "hardlink" | "char" | "block" | "fifo";

export interface LayerEntry {
  /** Absolute guest path, normalised: "/", "/bin", "/bin/sh" (no trailing slash). */
  path: string;
  type: LayerEntryType;
  /** Permission bits with setuid/setgid/sticky (mode & 0o7777); the type is `type`. */
  mode: number;
  uid: number;
  gid: number;
  /** Modification time, seconds since the epoch. */
  mtime: number;
  /** Regular files: the byte count of the file under root/. */
  size?: number;
  /** symlink: the target as written in the tar (not resolved); hardlink: the absolute guest path it links to (a "file" of this layer). */
  link?: string;
  devmajor?: number;
  devminor?: number;
  /** Extended attributes from PAX `SCHILY.xattr.NAME` records (values as UTF-8 text). */
  xattrs?: Record<string, string>;
  /** A directory the tar implies (a parent of an entry) without listing it: metadata is the default. */
  implied?: true;
}

export interface LayerIndex {
  version: typeof LAYER_INDEX_VERSION;
  diffId: Digest;
  /** Sorted by path (code-unit order). Contents of "file" entries are at root/<path>. */
  entries: LayerEntry[];
  /** `.wh.NAME`: NAME (absolute guest path) is hidden in the layers below. */
  whiteouts: string[];
  /** `.wh..wh..opq`: the directory's children from the layers below are hidden. */
  opaques: string[];
}

export const WHITEOUT_PREFIX = ".wh.";
export const WHITEOUT_OPAQUE = ".wh..wh..opq";

/** Reads an index written by rvisor (it is trusted, but a version from the future is refused). */
export function parseLayerIndex(text: string): LayerIndex {
  const v = JSON.parse(text) as LayerIndex;
  if (v.version !== LAYER_INDEX_VERSION) throw new OciError(`layer index version ${String(v.version)} is not supported (this rvisor reads ${LAYER_INDEX_VERSION})`);
  return v;
}

/**
 * Normalises a tar entry name to an absolute guest path, refusing names that would leave the
 * layer: absolute names, ".." components, NUL bytes. "./a//b/" becomes "/a/b"; "." and "./" are "/".
 */
export function normaliseEntryName(name: string): string {
  if (name.includes("\0")) throw new OciError(`tar entry ${JSON.stringify(name)}: NUL in the name`);
  if (name.startsWith("/")) throw new OciError(`tar entry ${JSON.stringify(name)}: absolute path refused`);
  const parts: string[] = [];
  for (const p of name.split("/")) {
    if (p === "" || p === ".") continue;
    if (p === "..") throw new OciError(`tar entry ${JSON.stringify(name)}: '..' refused (path traversal)`);
    parts.push(p);
  }
  return "/" + parts.join("/");
}

export function parentPath(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}
export function baseName(path: string): string { return path.slice(path.lastIndexOf("/") + 1); }

/** The ancestors of a path, outermost first, without "/" and without the path itself. */
export function ancestors(path: string): string[] {
  const out: string[] = [];
  for (let i = path.indexOf("/", 1); i > 0; i = path.indexOf("/", i + 1)) out.push(path.slice(0, i));
  return out;
}
