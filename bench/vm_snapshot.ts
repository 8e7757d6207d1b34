// Managed-VM snapshot benchmark: a VM (256 MiB, the default guest image, a fresh 64 MiB qcow2
// disk) runs in its own process in a temporary RVISOR_HOME, boots and idles; then
// `rvisor snapshot create` (twice: the first capture faults in RAM the guest never touched) and
// `rvisor restore` (stop the VM process, new overlays, a new process that loads the machine file
// and records itself: restore-to-running). The times are the host functions the CLI calls.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BenchRow, BenchSection } from "./bench.js";
import { parseVmConfig } from "../src/hypervisor/config.js";
import { VmStore } from "../src/host/node/vm_store.js";
import { killVm, startVmLocked } from "../src/host/node/vm_ops.js";
import { createVmDisks, newImagePath, revertVm, snapshotVm } from "../src/host/node/vm_snapshot.js";

interface ImagePaths { ready: boolean }
const MiB = 2 ** 20;
const BOOT_TIMEOUT_MS = 300_000;

const row = (program: string, seconds: number | null, notes?: string): BenchRow => ({
  section: "vm-snapshot", program, instructions: null, rvisorSeconds: seconds, rvisorMips: null, qemuSeconds: null, ratio: null,
  ...(notes === undefined ? {} : { notes }),
});

async function waitFor(file: string, text: string): Promise<void> {
  const deadline = performance.now() + BOOT_TIMEOUT_MS;
  while (!(existsSync(file) && readFileSync(file, "latin1").includes(text))) {
    if (performance.now() > deadline) throw new Error(`no '${text}' in ${file}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const vmSnapshotSection: BenchSection = {
  name: "vm-snapshot",
  description: "managed VM (own process, 256 MiB, qcow2 disk): snapshot create time and size, restore-to-running",
  async run(): Promise<BenchRow[]> {
    const lib = (await import(new URL("../../scripts/lib/image.mjs", import.meta.url).href)) as { imagePaths(): ImagePaths };
    if (!lib.imagePaths().ready) return [row("managed snapshot", null, "guest image not built: run `npm run image` first")];
    const home = mkdtempSync(join(tmpdir(), "rvisor-bench-vms-"));
    const store = new VmStore(home);
    try {
      const disk = newImagePath(store.disksDir("bench"), 0);
      store.create(parseVmConfig({ name: "bench", memory: "256M", disks: [{ path: disk, format: "qcow2" }] }));
      await createVmDisks([{ path: disk, size: 64 * MiB, format: "qcow2" }]);
      await store.withLock(() => startVmLocked(store, "bench"));
      await waitFor(store.logPath("bench"), "rvisor guest ready");
      await new Promise((r) => setTimeout(r, 2000));
      const rows: BenchRow[] = [];
      for (const [i, label] of ["snapshot create (first)", "snapshot create (again)"].entries()) {
        const t0 = performance.now();
        const rec = await snapshotVm(store, "bench", `s${i}`);
        rows.push(row(label, (performance.now() - t0) / 1000,
          `${(rec.machineBytes / MiB).toFixed(1)} MiB machine file, ${rec.ramPages} pages; guest paused ${rec.pauseMs} ms; 1 disk frozen`));
      }
      const runs: number[] = [];
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        await revertVm(store, "bench", "s1");
        runs.push((performance.now() - t0) / 1000);
      }
      runs.sort((a, b) => a - b);
      rows.push(row("restore-to-running (managed)", runs[1], "median of 3: stop the process, new overlay, spawn, load the machine file, running"));
      return rows;
    } finally {
      await killVm(store, "bench").catch(() => undefined);
      rmSync(home, { recursive: true, force: true });
    }
  },
};
