// Image import benchmark: the busybox OCI image (test/lib/oci_image.ts, two gzip layers) imported
// into a fresh store (verify blobs, unpack both layers, write the indexes, commit), median of 5;
// and the same image as a docker-archive made by skopeo. No qemu equivalent.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BenchRow, BenchSection } from "./bench.js";
import { findBusybox } from "../test/user/busybox.js";
import { which } from "../test/lib/toolchain.js";
import { busyboxLayout, run } from "../test/lib/oci_image.js";
import { ImageStore } from "../src/host/node/image_store.js";
import { importImage } from "../src/host/node/image_import.js";
import { Progress } from "../src/host/node/progress.js";

const RUNS = 5;

const row = (program: string, seconds: number | null, notes?: string): BenchRow => ({
  section: "image", program, instructions: null, rvisorSeconds: seconds, rvisorMips: null, qemuSeconds: null, ratio: null,
  ...(notes === undefined ? {} : { notes }),
});

async function median(dir: string, source: string, name: string): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const home = join(dir, `home-${name}-${i}`);
    const t0 = performance.now();
    await importImage(new ImageStore(home), source, `bench:${name}`, new Progress(process.stderr, false));
    times.push((performance.now() - t0) / 1000);
    rmSync(home, { recursive: true, force: true });
  }
  return times.sort((a, b) => a - b)[RUNS >> 1];
}

export const imageSection: BenchSection = {
  name: "image",
  description: "rvisor image import of the busybox OCI image (2 gzip layers) into an empty store",
  async run(): Promise<BenchRow[]> {
    const missing = ["umoci", "skopeo"].filter((t) => which(t) === null);
    if (missing.length > 0) return [row("image import", null, `missing ${missing.join(", ")} (scripts/install-deps.sh)`)];
    const bb = await findBusybox(() => {}, false);
    if ("skip" in bb) return [row("image import", null, bb.skip)];
    const layout = busyboxLayout(bb.path);
    const dir = mkdtempSync(join(tmpdir(), "rvisor-bench-image-"));
    try {
      const archive = join(dir, "bb-docker.tar");
      run("skopeo", ["copy", "--quiet", `oci:${layout}:riscv64`, `docker-archive:${archive}:bench/bb:1`]);
      return [
        row("import busybox OCI layout", await median(dir, layout, "riscv64"), `median of ${RUNS}`),
        row("import busybox docker-archive", await median(dir, archive, "archive"), `median of ${RUNS}; uncompressed layers`),
      ];
    } finally { rmSync(dir, { recursive: true, force: true }); }
  },
};
