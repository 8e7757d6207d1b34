// Network benchmark: TCP throughput through user-mode networking with the default guest image,
// rvisor's `--net user` beside qemu-system-riscv64's `-netdev user` (slirp) on the same kernel
// and initrd in the same run. host→guest: busybox wget fetches a file from an HTTP server on
// the host's loopback (10.0.2.2), timed on the host from the request's arrival to wget's exit;
// guest→host: busybox nc sends it to a host socket, timed from the connection to the last byte.
// Connection latency: a guest loop of short wget requests, timed on the host between the first
// and the last request. Beside the wall-clock figures, the CPU time the VM's host process (all
// its threads: QEMU has several) used per MiB over the whole command, which a host shared with
// other work changes far less than MB/s.
import { existsSync, readFileSync } from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import { randomBytes } from "node:crypto";
import type { BenchRow, BenchSection } from "./bench.js";
import { GuestConsole, guestDhcp } from "../test/lib/guest.js";

const FW_JUMP = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin";
const APPEND = "console=ttyS0 quiet";
const SIZE = 4 * 1024 * 1024;
const REQUESTS = 20;
const MIB = 1024 * 1024;

interface ImagePaths { kernel: string; initrd: string; ready: boolean }
interface Figures { down: number; up: number; latencyMs: number; downCpuMs: number; upCpuMs: number }

/** Clock ticks per second of /proc/PID/stat's utime and stime (USER_HZ: 100 on Linux). */
const USER_HZ = 100;

/** CPU milliseconds (user + system) process `pid` has used so far; NaN where /proc cannot tell. */
function cpuMs(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(f[11]) + Number(f[12])) * 1000) / USER_HZ;
  } catch { return NaN; }
}

async function measure(g: GuestConsole, blob: Uint8Array): Promise<Figures> {
  let reqAt = 0;
  let smallAt: number[] = [];
  const server = http.createServer((req, res) => {
    if (req.url === "/blob") { reqAt = performance.now(); res.writeHead(200, { "content-length": blob.length }); res.end(blob); }
    else { smallAt.push(performance.now()); res.writeHead(200, { "content-length": 2 }); res.end("ok"); }
  });
  let upStart = 0, upEnd = 0;
  const sink = net.createServer((s) => {
    upStart = performance.now();
    let n = 0;
    s.on("data", (b: Buffer) => { n += b.length; if (n >= blob.length) { upEnd = performance.now(); s.end(); } });
    s.on("error", () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  await new Promise<void>((r) => sink.listen(0, "127.0.0.1", r));
  try {
    const port = (server.address() as net.AddressInfo).port, sinkPort = (sink.address() as net.AddressInfo).port;
    await g.waitFor("rvisor guest ready", 300_000);
    await g.waitFor(/# $/m, 30_000);
    await guestDhcp(g);
    const pid = g.child.pid;
    const c0 = cpuMs(pid);
    await g.run(`wget -q -O /tmp/blob http://10.0.2.2:${port}/blob`, 600_000);
    const down = blob.length / MIB / ((performance.now() - reqAt) / 1000);
    const c1 = cpuMs(pid);
    await g.run(`nc 10.0.2.2 ${sinkPort} < /tmp/blob`, 600_000);
    const up = upEnd > upStart ? blob.length / MIB / ((upEnd - upStart) / 1000) : NaN;
    const c2 = cpuMs(pid);
    smallAt = [];
    await g.run(`for i in $(seq 1 ${REQUESTS}); do wget -q -O /dev/null http://10.0.2.2:${port}/s; done`, 600_000);
    const latencyMs = smallAt.length === REQUESTS ? (smallAt[REQUESTS - 1] - smallAt[0]) / (REQUESTS - 1) : NaN;
    return { down, up, latencyMs, downCpuMs: (c1 - c0) / (blob.length / MIB), upCpuMs: (c2 - c1) / (blob.length / MIB) };
  } finally {
    server.close();
    sink.close();
    g.kill();
  }
}

export const netSection: BenchSection = {
  name: "net",
  description: "TCP through user-mode networking (MB/s each way, ms per connection) vs QEMU -netdev user",
  async run(): Promise<BenchRow[]> {
    const lib = (await import(new URL("../../scripts/lib/image.mjs", import.meta.url).href)) as { imagePaths(): ImagePaths };
    const img = lib.imagePaths();
    const none = (program: string, notes: string): BenchRow => ({ section: "net", program, instructions: null, rvisorSeconds: null, rvisorMips: null, qemuSeconds: null, ratio: null, notes });
    if (!img.ready) return [none("tcp", "guest image not built: run `npm run image` first")];
    const blob = randomBytes(SIZE);
    const rv = await measure(new GuestConsole(["--kernel", img.kernel, "--initrd", img.initrd, "--append", APPEND, "--mem", "256M", "--net", "user"]), blob);
    const q = existsSync(FW_JUMP)
      ? await measure(new GuestConsole(["-M", "virt", "-m", "256M", "-nographic", "-bios", FW_JUMP, "-kernel", img.kernel, "-initrd", img.initrd,
        "-append", APPEND, "-netdev", "user,id=n0", "-device", "virtio-net-device,netdev=n0"], "run", process.env, "qemu-system-riscv64"), blob)
      : null;
    // The seconds columns hold what the row measures: seconds per MiB for throughput, seconds per connection for latency.
    const row = (program: string, rvSec: number, qSec: number | null, notes: string): BenchRow => ({
      section: "net", program, instructions: null, rvisorSeconds: rvSec, rvisorMips: null, qemuSeconds: qSec,
      ratio: qSec !== null && Number.isFinite(rvSec) && Number.isFinite(qSec) ? rvSec / qSec : null, notes,
    });
    const qNote = (f: (x: Figures) => string): string => (q !== null ? `qemu ${f(q)}` : "qemu: opensbi not installed");
    return [
      row(`tcp host→guest (wget ${SIZE / MIB} MiB), s/MiB`, 1 / rv.down, q !== null ? 1 / q.down : null, `rvisor ${rv.down.toFixed(2)} MB/s; ${qNote((x) => `${x.down.toFixed(2)} MB/s`)}`),
      row(`tcp host→guest, host CPU s/MiB`, rv.downCpuMs / 1000, q !== null ? q.downCpuMs / 1000 : null, `rvisor ${rv.downCpuMs.toFixed(0)} ms/MiB; ${qNote((x) => `${x.downCpuMs.toFixed(0)} ms/MiB`)}`),
      row(`tcp guest→host (nc ${SIZE / MIB} MiB), s/MiB`, 1 / rv.up, q !== null ? 1 / q.up : null, `rvisor ${rv.up.toFixed(2)} MB/s; ${qNote((x) => `${x.up.toFixed(2)} MB/s`)}`),
      row(`tcp guest→host, host CPU s/MiB`, rv.upCpuMs / 1000, q !== null ? q.upCpuMs / 1000 : null, `rvisor ${rv.upCpuMs.toFixed(0)} ms/MiB; ${qNote((x) => `${x.upCpuMs.toFixed(0)} ms/MiB`)}`),
      row(`tcp connection (wget, ${REQUESTS} in a row), s/conn`, rv.latencyMs / 1000, q !== null ? q.latencyMs / 1000 : null, `rvisor ${rv.latencyMs.toFixed(1)} ms; ${qNote((x) => `${x.latencyMs.toFixed(1)} ms`)}`),
    ];
  },
};
