// Container benchmarks: start-to-exit of `rvisor container run --rm IMAGE true` on the test image
// (test/lib/container_image.ts; three layers, nothing copied at start), as a fresh CLI process
// and in this process (no Node start-up: what the runtime itself costs); beside it
// qemu-riscv64 running the same busybox `true` from the image's unpacked layer (its equivalent:
// no image, no overlay, no container). Median of 7 each.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BenchRow, BenchSection } from "./bench.js";
import { findBusybox } from "../test/user/busybox.js";
import { RVISOR_BIN } from "../test/lib/guest.js";
import { which } from "../test/lib/toolchain.js";
import { IMAGE_TAG, containerLayout } from "../test/lib/container_image.js";
import { ImageStore } from "../src/host/node/image_store.js";
import { importImage } from "../src/host/node/image_import.js";
import { Progress } from "../src/host/node/progress.js";
import { ContainerStore, type ContainerSpec } from "../src/host/node/container_store.js";
import { runContainer } from "../src/host/node/container_run.js";
import { debianRootfs, debianToolsMissing } from "../test/lib/debian_image.js";

const RUNS = 7;
/**
 * Node 20 reads and parses NODE_EXTRA_CA_CERTS at start-up, before any script runs (~45 ms for
 * Debian's 140-certificate bundle on this machine, in every Node process, `node -e 0` too). A
 * container run needs no TLS: its rows are measured without the variable, as a machine that
 * does not set it has them, and once with it when this environment sets it.
 */
const EXTRA_CA = "NODE_EXTRA_CA_CERTS";
const GOAL_MS = 150;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];

const row = (program: string, seconds: number | null, qemuSeconds: number | null, notes?: string): BenchRow => ({
  section: "container", program, instructions: null, rvisorSeconds: seconds, rvisorMips: null, qemuSeconds,
  ratio: seconds !== null && qemuSeconds !== null ? seconds / qemuSeconds : null, ...(notes === undefined ? {} : { notes }),
});

function timeSpawn(cmd: string, args: string[], env: NodeJS.ProcessEnv): number {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { env, stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  const s = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: status ${r.status}: ${r.stderr}`);
  return s;
}

/** `python3 -c pass` in a Debian trixie container, and under qemu-riscv64 -L on the same root. */
async function pythonRows(images: ImageStore, env: NodeJS.ProcessEnv): Promise<BenchRow[]> {
  const built = debianToolsMissing() ?? debianRootfs();
  if (typeof built === "string") return [row("container python3 -c pass", null, null, built)];
  await importImage(images, built.tar, "debian:trixie", new Progress(process.stderr, false));
  const t0 = performance.now();
  await importImage(new ImageStore(join(images.home, "again")), built.tar, "debian:trixie", new Progress(process.stderr, false));
  const importSeconds = (performance.now() - t0) / 1000;
  const ctr = Array.from({ length: RUNS }, () => timeSpawn(process.execPath, [RVISOR_BIN, "container", "run", "--rm", "debian:trixie", "python3", "-c", "pass"], env));
  const qemu = Array.from({ length: RUNS }, () => timeSpawn("qemu-riscv64", ["-L", built.root, join(built.root, "usr", "bin", "python3"), "-c", "pass"], env));
  return [
    row("container run --rm python3 -c pass (Debian trixie)", median(ctr), median(qemu), `median of ${RUNS}; qemu-riscv64 -L on the same root`),
    row("image import Debian trixie rootfs tarball (python3, perl)", importSeconds, null, "one run; no qemu equivalent"),
  ];
}

export const containerSection: BenchSection = {
  name: "container",
  description: `container start-to-exit of a trivial command (goal <= ${GOAL_MS} ms), qemu-riscv64 running the same binary beside it`,
  async run(): Promise<BenchRow[]> {
    const missing = ["umoci", "qemu-riscv64"].filter((t) => which(t) === null);
    if (missing.length > 0) return [row("container run --rm true", null, null, `missing ${missing.join(", ")}`)];
    const bb = await findBusybox(() => {}, false);
    if ("skip" in bb) return [row("container run --rm true", null, null, bb.skip)];
    const home = mkdtempSync(join(tmpdir(), "rvisor-bench-ctr-"));
    try {
      const images = new ImageStore(home);
      const imported = await importImage(images, containerLayout(bb.path), `ctr:${IMAGE_TAG}`, new Progress(process.stderr, false));
      const img = images.find(`ctr:${IMAGE_TAG}`);
      if (img === null) throw new Error(`import did not tag ctr:${IMAGE_TAG} (${JSON.stringify(imported)})`);
      const withCa = { ...process.env, RVISOR_HOME: home };
      const env: NodeJS.ProcessEnv = { ...withCa };
      delete env[EXTRA_CA];
      const runTrue = [RVISOR_BIN, "container", "run", "--rm", `ctr:${IMAGE_TAG}`, "true"];
      timeSpawn(process.execPath, runTrue, env); // writes the CLI's code cache for `container`
      const cli = Array.from({ length: RUNS }, () => timeSpawn(process.execPath, runTrue, env));
      const node = Array.from({ length: RUNS }, () => timeSpawn(process.execPath, ["-e", "0"], env));
      const caSet = process.env[EXTRA_CA] !== undefined;
      const cliCa = caSet ? Array.from({ length: RUNS }, () => timeSpawn(process.execPath, runTrue, withCa)) : [];
      const nodeCa = caSet ? Array.from({ length: RUNS }, () => timeSpawn(process.execPath, ["-e", "0"], withCa)) : [];
      // In this process: create + run + remove, as `run --rm` does after Node has started.
      const store = new ContainerStore(home);
      const spec: ContainerSpec = {
        imageRef: `ctr:${IMAGE_TAG}`, manifest: img.record.manifest, imageId: img.record.config, entrypoint: null, cmd: ["true"], env: [], workdir: null, user: null,
        hostname: "bench", tty: false, interactive: false, detach: false, autoRemove: true, volumes: [], ports: [], memory: 1 << 30, cpus: null, pidsLimit: null,
      };
      const inProc: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const t0 = performance.now();
        const rec = await store.create(null, spec);
        const code = await runContainer(home, rec.id, { attached: false });
        inProc.push((performance.now() - t0) / 1000);
        if (code !== 0) throw new Error(`container true: status ${code}`);
      }
      // qemu-riscv64: the busybox the image was built from (byte for byte its /bin/busybox), no container around it.
      const qemu = Array.from({ length: RUNS }, () => timeSpawn("qemu-riscv64", [bb.path, "true"], env));
      const q = median(qemu);
      const python = await pythonRows(images, env);
      return [
        row("container run --rm true (CLI process)", median(cli), q, `median of ${RUNS}; Node start-up alone ${(median(node) * 1000).toFixed(0)} ms; goal ${GOAL_MS} ms; without ${EXTRA_CA}`),
        ...(caSet ? [row(`container run --rm true (CLI process, this environment's ${EXTRA_CA})`, median(cliCa), q,
          `median of ${RUNS}; Node start-up alone ${(median(nodeCa) * 1000).toFixed(0)} ms with it`)] : []),
        row("container create+run+rm true (in process)", median(inProc), q, `median of ${RUNS}; the runtime without Node start-up`),
        ...python,
      ];
    } finally { rmSync(home, { recursive: true, force: true }); }
  },
};
