// Managed-VM benchmark (`npm run bench -- --only vm-snapshot`): VMs in their own processes in a
// temporary RVISOR_HOME, driven through the Node API (the code the CLI and REST server call).
//   create-to-shell       create → start → boot → the console answers a command (256 MiB, qcow2 disk)
//   snapshot create       twice (the first capture faults in RAM the guest never touched); size
//   restore-to-running    of a running VM: in place, in its own process (median of 5; the VM
//                         process's own share in the notes); of a shut-off VM: a new process
//                         (median of 3, with where its start-up time went); and `rvisor restore`
//                         from the shell (the CLI's own Node start-up included)
//   VMs started per minute  clones of a 64 MiB warm snapshot started one after another
//   memory per idle VM    PSS of each clone's process (smaps_rollup) minus its resident guest RAM,
//                         3 s after its command and again once idle past two idle trims (vm_process.ts)
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import type { BenchRow, BenchSection } from "./bench.js";
import { Hypervisor } from "../src/host/node/hypervisor.js";
import { newImagePath } from "../src/host/node/vm_snapshot.js";
import { IDLE_TRIM_MS } from "../src/host/node/vm_process.js";
import { RVISOR_BIN } from "../test/lib/guest.js";
import { processMemory } from "../test/lib/proc_memory.js";

interface ImagePaths { ready: boolean }
const MiB = 2 ** 20;
const BOOT_TIMEOUT_MS = 300_000;
const CLONES = 6;

const row = (program: string, seconds: number | null, notes?: string): BenchRow => ({
  section: "vm-snapshot", program, instructions: null, rvisorSeconds: seconds, rvisorMips: null, qemuSeconds: null, ratio: null,
  ...(notes === undefined ? {} : { notes }),
});

async function waitFor(file: string, text: string): Promise<void> {
  const deadline = performance.now() + BOOT_TIMEOUT_MS;
  while (!(existsSync(file) && readFileSync(file, "latin1").includes(text))) {
    if (performance.now() > deadline) throw new Error(`no '${text}' in ${file}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Sends a command and waits for its marker (assembled by the shell, so the echo does not match). */
async function answers(c: Duplex): Promise<void> {
  let got = "";
  c.on("data", (d: Buffer) => { got += d.toString("latin1"); });
  c.write('echo "AN""SWER"\n');
  const deadline = performance.now() + BOOT_TIMEOUT_MS;
  while (!got.includes("ANSWER")) {
    if (performance.now() > deadline) throw new Error("the console did not answer");
    await new Promise((r) => setTimeout(r, 10));
  }
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]; };

export const vmSnapshotSection: BenchSection = {
  name: "vm-snapshot",
  description: "managed VMs (own processes): create-to-shell, snapshot time and size, restore-to-running, VMs started per minute, memory per idle VM",
  async run(): Promise<BenchRow[]> {
    const lib = (await import(new URL("../../scripts/lib/image.mjs", import.meta.url).href)) as { imagePaths(): ImagePaths };
    if (!lib.imagePaths().ready) return [row("managed VMs", null, "guest image not built: run `npm run image` first")];
    const home = mkdtempSync(join(tmpdir(), "rvisor-bench-vms-"));
    const env: NodeJS.ProcessEnv = { ...process.env, RVISOR_HOME: home, RVISOR_VM_TIMING: "1" };
    for (const k of ["RVISOR_LIMITS_INSTANCES", "RVISOR_LIMITS_CPU", "RVISOR_LIMITS_MEMORY"]) delete env[k];
    const hv = new Hypervisor({ home, env });
    const rows: BenchRow[] = [];
    const t = (): number => performance.now();
    try {
      let t0 = t();
      const disk = newImagePath(hv.store.disksDir("bench"), 0);
      await hv.create({ name: "bench", memory: "256M", disks: [{ path: disk, format: "qcow2" }] }, { newDisks: [{ path: disk, size: 64 * MiB, format: "qcow2" }] });
      await hv.start("bench");
      await waitFor(hv.store.logPath("bench"), "rvisor guest ready");
      const c = await hv.console("bench");
      await answers(c);
      c.destroy();
      rows.push(row("create-to-shell (256 MiB, boot)", (t() - t0) / 1000, "create, start (own process), Linux boot, the console answers a command"));
      await new Promise((r) => setTimeout(r, 2000));
      for (const [i, label] of ["snapshot create (first)", "snapshot create (again)"].entries()) {
        t0 = t();
        const rec = await hv.snapshot("bench", `s${i}`);
        rows.push(row(label, (t() - t0) / 1000, `${(rec.machineBytes / MiB).toFixed(1)} MiB machine file, ${rec.ramPages} pages; guest paused ${rec.pauseMs} ms; 1 disk frozen`));
      }
      const inPlace: number[] = [];
      for (let i = 0; i < 5; i++) {
        t0 = t();
        await hv.restore("bench", "s1");
        inPlace.push((t() - t0) / 1000);
      }
      const status = await hv.info("bench");
      rows.push(row("restore-to-running, running VM (in place)", median(inPlace),
        `median of 5 (${inPlace.map((s) => (s * 1000).toFixed(0)).join(", ")} ms): new overlay, the VM's own process reads, checks and loads the machine file, runs; pid ${status.pid} kept`));
      const cli: number[] = [];
      for (let i = 0; i < 3; i++) {
        t0 = t();
        execFileSync(process.execPath, [RVISOR_BIN, "restore", "bench", "s1"], { env, stdio: "ignore" });
        cli.push((t() - t0) / 1000);
      }
      rows.push(row("`rvisor restore` from the shell (running VM)", median(cli), "median of 3, the CLI's own Node start-up and module loading included"));
      const cold: number[] = [];
      let timing = "";
      for (let i = 0; i < 3; i++) {
        await hv.stop("bench", { force: true });
        t0 = t();
        await hv.restore("bench", "s1");
        cold.push((t() - t0) / 1000);
        timing = readFileSync(hv.store.errPath("bench"), "utf8").trim().replace(/^vm timing: /, "");
      }
      rows.push(row("restore-to-running, shut-off VM (new process)", median(cold), `median of 3; in the new process: ${timing}`));
      // The same with a warm process pool (what `rvisor serve` keeps): Node and the modules are loaded ahead.
      const pooled = new Hypervisor({ home, env, warmPool: 1 });
      const warm: number[] = [];
      try {
        for (let i = 0; i < 3; i++) {
          await pooled.stop("bench", { force: true });
          await pooled.warmUp(60_000);
          t0 = t();
          await pooled.restore("bench", "s1");
          warm.push((t() - t0) / 1000);
          timing = readFileSync(hv.store.errPath("bench"), "utf8").trim().replace(/^vm timing: /, "");
        }
      } finally { pooled.close(); }
      rows.push(row("restore-to-running, shut-off VM (warm process pool)", median(warm),
        `median of 3 (${warm.map((s) => (s * 1000).toFixed(0)).join(", ")} ms); times in the process since its start, warmed ahead: ${timing}`));
      await hv.kill("bench");

      // Clones of a small warm snapshot: starts per minute and memory per idle VM.
      await hv.create({ name: "tmpl", memory: "64M" });
      await hv.start("tmpl");
      await waitFor(hv.store.logPath("tmpl"), "rvisor guest ready");
      const tc = await hv.console("tmpl");
      await answers(tc);
      tc.destroy();
      await new Promise((r) => setTimeout(r, 2000));
      await hv.snapshot("tmpl", "warm");
      await hv.kill("tmpl");
      const names = Array.from({ length: CLONES }, (_, i) => `c${i}`);
      for (const n of names) await hv.clone("tmpl", n, { snapshot: "warm" });
      t0 = t();
      const pids: number[] = [];
      for (const n of names) pids.push(await hv.start(n));
      const startS = (t() - t0) / 1000;
      rows.push(row(`VMs started per minute (${CLONES} clones of a 64 MiB snapshot, one after another)`, startS / CLONES,
        `${(CLONES / startS * 60).toFixed(0)} VMs/min; seconds per start (new process, snapshot loaded, running)`));
      for (const n of names) { const cc = await hv.console(n); await answers(cc); cc.destroy(); }
      // Just after the work (3 s), and idle past two of the VM process's idle trims.
      for (const [waitMs, when] of [[3000, "3 s after its command"], [2 * IDLE_TRIM_MS + 5000 - 3000, `idle ${(2 * IDLE_TRIM_MS + 5000) / 1000} s, trimmed`]] as const) {
        await new Promise((r) => setTimeout(r, waitMs));
        const mem = pids.map((p) => processMemory(p, 64 * MiB));
        const mean = (f: (m: typeof mem[number]) => number): number => mem.reduce((s, m) => s + f(m), 0) / mem.length / MiB;
        rows.push(row(`host memory overhead per idle VM (${when}; MiB, PSS above resident guest RAM)`, mean((m) => m.pss - m.guestRss),
          `mean of ${CLONES} idle 64 MiB clones: RSS ${mean((m) => m.rss).toFixed(1)} MiB, PSS ${mean((m) => m.pss).toFixed(1)} MiB, private ${mean((m) => m.private).toFixed(1)} MiB, guest RAM resident ${mean((m) => m.guestRss).toFixed(1)} MiB (the value column is MiB, not seconds)`));
      }
      return rows;
    } finally {
      for (const v of await hv.list()) if (v.pid !== null) await hv.kill(v.name).catch(() => undefined);
      rmSync(home, { recursive: true, force: true });
    }
  },
};
