// Fetches one file of the guest image whole, reporting progress as the body arrives (Fetch
// standard: Response.body is a ReadableStream of Uint8Array chunks). Uses only `fetch`, so it
// runs in a browser worker and in Node alike.
import type { FetchProgress } from "./protocol.js";

export class ImageFetchError extends Error {}

export async function fetchWithProgress(url: string, file: string, onProgress: (p: FetchProgress) => void): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new ImageFetchError(`${file}: ${url} answered ${r.status} ${r.statusText}`);
  const header = r.headers.get("Content-Length");
  const total = header !== null && /^\d+$/.test(header) ? Number(header) : null;
  onProgress({ file, loaded: 0, total });
  if (r.body === null) {
    const all = new Uint8Array(await r.arrayBuffer());
    onProgress({ file, loaded: all.length, total: all.length });
    return all;
  }
  const reader = r.body.getReader();
  const parts: Uint8Array[] = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    loaded += value.length;
    onProgress({ file, loaded, total });
  }
  if (total !== null && loaded !== total) throw new ImageFetchError(`${file}: got ${loaded} of ${total} bytes`);
  const out = new Uint8Array(loaded);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}
