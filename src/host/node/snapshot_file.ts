// Snapshot files on the host: written atomically (a temporary file renamed into place), read
// whole. The core encodes and checks the format (src/system/snapshot.ts); this adapter only
// adds optional gzip around it (a FILE ending in .gz), which the reader detects by its magic.
// Uncompressed is the default: it restores fastest (docs/snapshot.md has the figures).
import { promises as fsp, readFileSync } from "node:fs";
import { promisify } from "node:util";
import { gunzip, gzip, constants } from "node:zlib";

const gzipAsync = promisify(gzip), gunzipAsync = promisify(gunzip);
const GZIP_MAGIC0 = 0x1f, GZIP_MAGIC1 = 0x8b;

export type SnapshotCompression = "none" | "gzip";

/** The compression a snapshot file name asks for: gzip for *.gz, none otherwise. */
export function compressionFor(path: string): SnapshotCompression {
  return path.endsWith(".gz") ? "gzip" : "none";
}

/** Writes the snapshot bytes to `path` atomically; returns the bytes written. */
export async function writeSnapshotFile(path: string, bytes: Uint8Array, compression = compressionFor(path)): Promise<number> {
  // Level 1: the figures in docs/snapshot.md show higher levels cost seconds for a few percent.
  const data = compression === "gzip" ? await gzipAsync(bytes, { level: constants.Z_BEST_SPEED }) : bytes;
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    await fsp.writeFile(tmp, data);
    await fsp.rename(tmp, path);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
  return data.length;
}

/** Reads a snapshot file, gunzipping it when it is gzip (by magic, whatever its name). */
export async function readSnapshotFile(path: string): Promise<Uint8Array> {
  const raw = await fsp.readFile(path);
  if (raw.length >= 2 && raw[0] === GZIP_MAGIC0 && raw[1] === GZIP_MAGIC1) return new Uint8Array(await gunzipAsync(raw));
  return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
}

/** "rvisor X.Y.Z", from package.json (written into every snapshot's header). */
export function producer(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../../../package.json", import.meta.url), "utf8")) as { version?: string };
    return `rvisor ${pkg.version ?? "unknown"}`;
  } catch {
    return "rvisor unknown";
  }
}

