// Whole-machine snapshot of the default Linux guest, in-process: a counter loop runs in the
// guest's shell; the machine is paused, settled and captured; the original runs on; the
// snapshot is restored into a NEW machine, whose counter continues from the snapshot's value
// (not from 0, not from the original's later value), whose shell answers, whose ext4 disk still
// has the file written before the snapshot, and whose clock did not jump. Prints the figures
// (snapshot time, file size, restore-to-running time) on stderr.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { VirtMachine } from "../src/system/machine.js";
import { MemBlockBackend } from "../src/system/devices/virtio_blk.js";
import type { CharBackend } from "../src/system/devices/char_backend.js";
import { RunLoop } from "../src/host/node/run_loop.js";
import { captureSnapshot, machineFromSnapshot, parseSnapshot } from "../src/system/snapshot.js";
import { guestImage } from "./lib/guest.js";
import { scaled } from "./lib/time_scale.js";

const img = await guestImage();
const skip = typeof img === "string" ? img : false;
const BOOT_TIMEOUT_MS = 240_000;

/** A console that collects text and a run loop that can be driven until the text matches. */
class Guest {
  out = "";
  readonly console: CharBackend;
  private readonly decoder = new TextDecoder();
  loop!: RunLoop;
  constructor() { this.console = { write: (b) => { this.out += this.decoder.decode(b, { stream: true }); } }; }
  attach(m: VirtMachine): this { this.loop = new RunLoop(m); return this; }
  get m(): VirtMachine { return this.loop.machine; }

  /** Runs the machine until `pattern` appears after offset `from`; returns the index after it. */
  async until(pattern: RegExp | string, timeoutMs: number, from = 0): Promise<number> {
    const deadline = performance.now() + scaled(timeoutMs);
    let at = -1;
    const find = (): boolean => {
      const rest = this.out.slice(from);
      if (typeof pattern === "string") { const i = rest.indexOf(pattern); if (i >= 0) at = from + i + pattern.length; }
      else { const r = pattern.exec(rest); if (r !== null) at = from + r.index + r[0].length; }
      return at >= 0;
    };
    const exit = await this.loop.run({ shouldStop: () => find() || performance.now() > deadline });
    if (at < 0) throw new Error(`no ${String(pattern)} (${exit.kind}); console:\n${this.out.slice(-2000)}`);
    return at;
  }

  /** Runs the machine for `ms` of host time. */
  async runFor(ms: number): Promise<void> {
    const end = performance.now() + ms;
    await this.loop.run({ shouldStop: () => performance.now() > end });
  }

  /** Types a shell command; returns what it printed between two markers. */
  async sh(cmd: string, timeoutMs = 30_000): Promise<string> {
    const n = Math.floor(Math.random() * 1e9);
    const start = this.out.length;
    this.m.consoleInput(new TextEncoder().encode(`echo "@@B""${n}@@"; ${cmd}; echo "@@E""${n}@@"\n`));
    const b = await this.until(`@@B${n}@@\r\n`, timeoutMs, start);
    const e = await this.until(`@@E${n}@@`, timeoutMs, b);
    // Lines of the counter loop (if it still runs) are not the command's output.
    return this.out.slice(b, e - `@@E${n}@@`.length).replace(/\r/g, "").replace(/^c=\d+\n/gm, "");
  }
}

/** The counter values the guest printed in `text` (lines c=N). */
function counters(text: string): number[] {
  return [...text.matchAll(/c=(\d+)\r?\n/g)].map((x) => Number(x[1]));
}

test("a Linux guest restored from a snapshot into a new machine continues where the snapshot was taken", { skip, timeout: scaled(600_000) }, async () => {
  if (typeof img === "string") return;
  const disk = new MemBlockBackend(new Uint8Array(readFileSync(img.rootfs)));
  const g = new Guest();
  g.attach(new VirtMachine({
    memBytes: 256 << 20, harts: 1, firmware: { kind: "builtin" }, kernel: readFileSync(img.kernel), initrd: readFileSync(img.initrd),
    append: "console=ttyS0 quiet", drives: [disk], console: g.console,
  }));
  await g.until("rvisor guest ready", BOOT_TIMEOUT_MS);
  await g.until("~ # ", 30_000);
  assert.equal((await g.sh("mkdir -p /mnt/d && mount -t ext4 /dev/vda /mnt/d && echo before-snapshot-$((6*7)) > /mnt/d/snap.txt && sync && echo ok")).trim(), "ok");
  g.m.consoleInput(new TextEncoder().encode("i=0; while true; do i=$((i+1)); echo c=$i; sleep 0.2; done &\n"));
  const since = g.out.length;
  await g.until(/c=5\r?\n/, 60_000, since);
  const uptimeBefore = Number((await g.sh("cut -d' ' -f1 /proc/uptime")).trim());
  const mtimeBefore = g.m.clint.mtime();

  // Pause (the loop has returned), settle the disk, capture the machine and the disk at this instant.
  await g.m.settle();
  const t0 = performance.now();
  const file = captureSnapshot(g.m, { producer: "rvisor test" });
  const snapshotMs = performance.now() - t0;
  // The capture skips pages no one wrote, unread: every page holding a non-zero byte must be marked.
  const { written, i32 } = g.m.ram;
  const unmarked: number[] = [];
  for (let p = 0; p < written.length; p++) {
    if (written[p] !== 0) continue;
    for (let w = p * 1024; w < (p + 1) * 1024; w++) if (i32[w] !== 0) { unmarked.push(p); break; }
  }
  assert.deepEqual(unmarked, [], "pages written by the boot that the write map missed");
  const diskAtSnapshot = new MemBlockBackend(disk.data.slice());
  const lastBefore = counters(g.out.slice(since)).at(-1)!;
  const mtimeAt = parseSnapshot(file).header.state.clint.mtime;

  // The original runs on for 3 s of host time (scaled): its counter moves past the snapshot's.
  await g.runFor(scaled(3000));
  const origLater = counters(g.out.slice(since)).at(-1)!;
  assert.ok(origLater > lastBefore + 3, `the original ran on (${lastBefore} → ${origLater})`);

  // Restore into a new machine: the same disk contents as at the snapshot, a new console.
  const r = new Guest();
  const t1 = performance.now();
  const m2 = machineFromSnapshot(parseSnapshot(file), { drives: [diskAtSnapshot], console: r.console });
  r.attach(m2);
  m2.step(1); // the first instruction
  const restoreMs = performance.now() - t1;
  process.stderr.write(`snapshot: ${(file.length / 2 ** 20).toFixed(1)} MiB (${parseSnapshot(file).pages.length} pages), ` +
    `capture ${snapshotMs.toFixed(0)} ms, restore-to-running ${restoreMs.toFixed(0)} ms\n`);
  const mtimeRestored = m2.clint.mtime();
  assert.ok(mtimeRestored >= mtimeAt && mtimeRestored - mtimeAt < (performance.now() - t1) * 1e4 + 1e4,
    `mtime continues from the snapshot's value (${mtimeAt} → ${mtimeRestored})`);

  const lines = await r.until(/c=\d+\r?\n(?:.|\n)*c=\d+\r?\n/, 60_000);
  const after = counters(r.out.slice(0, lines));
  assert.equal(after[0], lastBefore + 1, `the counter continues from the snapshot's value: ${lastBefore} then ${after.join(",")}`);
  assert.equal(after[1], after[0] + 1);
  r.m.consoleInput(new TextEncoder().encode("kill $!\n"));
  assert.equal((await r.sh("echo answer-$((6*7))")).trim(), "answer-42", "the shell answers");
  assert.equal((await r.sh("cat /mnt/d/snap.txt")).trim(), "before-snapshot-42", "the file written before the snapshot is on the disk");
  // The guest's monotonic clock is mtime, which restarted at the snapshot's value: uptime
  // moved as much as mtime did since before the snapshot (no jump of its own), and is less
  // than the original's would be by now.
  const uptime = Number((await r.sh("cut -d' ' -f1 /proc/uptime")).trim());
  const mtimeNow = r.m.clint.mtime();
  // (The slack is the guest time between cut's read and the host's: a limit, so it scales.)
  assert.ok(Math.abs((uptime - uptimeBefore) * 1e7 - (mtimeNow - mtimeBefore)) < scaled(0.5e7),
    `uptime ${uptimeBefore} → ${uptime} s, mtime ${mtimeBefore / 1e7} → ${mtimeNow / 1e7} s`);
  assert.ok(mtimeNow < g.m.clint.mtime(), "the restored guest's clock is behind the original's, which ran on");
});
