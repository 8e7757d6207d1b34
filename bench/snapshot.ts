// Snapshot benchmark: the default Linux guest (256 MiB, built-in SBI) boots in-process to its
// shell and idles; then the snapshot is captured (first and second capture: the first reads RAM
// the guest never touched, which costs host page faults), written, and restored: read the file,
// check it, build a new board, load it, run the first instruction ("restore-to-running"). Also
// the file sizes and times with gzip (level 1) and brotli (quality 1 and 4), for docs/snapshot.md.
import { readFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { brotliCompressSync, brotliDecompressSync, constants, gzipSync, gunzipSync } from "node:zlib";
import type { BenchRow, BenchSection } from "./bench.js";
import { VirtMachine } from "../src/system/machine.js";
import { RunLoop } from "../src/host/node/run_loop.js";
import { captureSnapshot, machineFromSnapshot, parseSnapshot } from "../src/system/snapshot.js";
import { readSnapshotFile, writeSnapshotFile } from "../src/host/node/snapshot_file.js";

interface ImagePaths { kernel: string; initrd: string; ready: boolean }
const MiB = 2 ** 20;

function timed<T>(f: () => T): [T, number] {
  const t0 = performance.now();
  const r = f();
  return [r, (performance.now() - t0) / 1000];
}

const row = (program: string, seconds: number | null, notes?: string): BenchRow => ({
  section: "snapshot", program, instructions: null, rvisorSeconds: seconds, rvisorMips: null, qemuSeconds: null, ratio: null,
  ...(notes === undefined ? {} : { notes }),
});

export const snapshotSection: BenchSection = {
  name: "snapshot",
  description: "whole-machine snapshot of an idle 256 MiB Linux guest: capture time, file size, restore-to-running time",
  async run(): Promise<BenchRow[]> {
    const lib = (await import(new URL("../../scripts/lib/image.mjs", import.meta.url).href)) as { imagePaths(): ImagePaths };
    const img = lib.imagePaths();
    if (!img.ready) return [row("linux idle snapshot", null, "guest image not built: run `npm run image` first")];
    let out = "";
    const m = new VirtMachine({
      memBytes: 256 * MiB, harts: 1, firmware: { kind: "builtin" }, kernel: readFileSync(img.kernel), initrd: readFileSync(img.initrd),
      append: "console=ttyS0 quiet", console: { write: (b) => { out += Buffer.from(b).toString("latin1"); } },
    });
    const loop = new RunLoop(m);
    await loop.run({ shouldStop: () => out.includes("~ # ") });
    const idleUntil = performance.now() + 2000;
    await loop.run({ shouldStop: () => performance.now() > idleUntil });

    await m.settle();
    const [, firstCapture] = timed(() => captureSnapshot(m, { producer: "rvisor bench" }));
    const [file, capture] = timed(() => captureSnapshot(m, { producer: "rvisor bench" }));
    const dir = mkdtempSync(join(tmpdir(), "rvisor-bench-snap-"));
    const rows: BenchRow[] = [];
    try {
      const path = join(dir, "idle.snap");
      await writeSnapshotFile(path, file);
      const restoreRuns: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        const bytes = await readSnapshotFile(path);
        const m2 = machineFromSnapshot(parseSnapshot(bytes), { console: { write(): void {} } });
        m2.step(1);
        restoreRuns.push((performance.now() - t0) / 1000);
      }
      restoreRuns.sort((a, b) => a - b);
      const pages = parseSnapshot(file).pages.length;
      rows.push(
        row("capture (first)", firstCapture),
        row("capture (again)", capture, `${(file.length / MiB).toFixed(1)} MiB file, ${pages} of ${(256 * MiB) / 4096} pages`),
        row("restore-to-running (uncompressed file)", restoreRuns[2], "median of 5: read, check, new board, load, first instruction"),
      );
      const codecs: [string, (b: Uint8Array) => Uint8Array, (b: Uint8Array) => Uint8Array][] = [
        ["gzip -1", (b) => gzipSync(b, { level: 1 }), (b) => gunzipSync(b)],
        ["brotli q1", (b) => brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 1 } }), (b) => brotliDecompressSync(b)],
        ["brotli q4", (b) => brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 4 } }), (b) => brotliDecompressSync(b)],
      ];
      for (const [name, compress, decompress] of codecs) {
        const [z, tc] = timed(() => compress(file));
        const [, td] = timed(() => decompress(z));
        rows.push(row(`${name}: decompress`, td, `${(z.length / MiB).toFixed(2)} MiB; compress ${(tc * 1000).toFixed(0)} ms`));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    return rows;
  },
};
