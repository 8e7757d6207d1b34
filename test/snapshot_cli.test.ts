// `rvisor run --snapshot-file FILE` writes a snapshot on SIGUSR1 while the guest runs, and
// `rvisor run --restore FILE` continues it in a new process: the guest's counter goes on from
// the snapshot's value and its shell answers. A damaged file is refused before anything runs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { GuestConsole, RVISOR_BIN, guestImage } from "./lib/guest.js";
import { scaled } from "./lib/time_scale.js";

const img = await guestImage();
const skip = typeof img === "string" ? img : false;
const work = mkdtempSync(join(tmpdir(), "rvisor-snapcli-"));

const counters = (text: string): number[] => [...text.matchAll(/c=(\d+)\r?\n/g)].map((x) => Number(x[1]));

test("rvisor run: SIGUSR1 writes a snapshot, --restore continues it in a new process", { skip, timeout: scaled(600_000) }, async () => {
  if (typeof img === "string") return;
  for (const name of ["guest.snap", "guest.snap.gz"]) {
    const file = join(work, name);
    const g = new GuestConsole(["--kernel", img.kernel, "--initrd", img.initrd, "--append", "console=ttyS0 quiet", "--snapshot-file", file]);
    let last: number;
    try {
      await g.waitFor("rvisor guest ready", 240_000);
      await g.waitFor(/# $/m, 30_000);
      g.send("i=0; while true; do i=$((i+1)); echo c=$i; sleep 0.2; done &\n");
      const from = await g.waitFor(/c=3\r?\n/, 60_000);
      g.child.kill("SIGUSR1");
      const done = await g.waitFor(/snapshot written to \S+ \([\d.]+ MiB/, 60_000, from);
      // The pause covers capture and write: the last line before the report is the snapshot's.
      last = counters(g.output.slice(0, done)).at(-1)!;
      process.stderr.write(`${g.output.slice(done - 120, done + 40).trim().split("\n").at(-1)!}\n`);
    } finally {
      g.kill();
    }
    const r = new GuestConsole(["--restore", file]);
    try {
      await r.waitFor(/c=\d+\r?\n(?:.|\n)*c=\d+\r?\n/, 60_000);
      const got = counters(r.output);
      assert.equal(got[0], last + 1, `${name}: the counter continues from the snapshot (${last} then ${got.join(",")})`);
      r.send("kill $!\n");
      assert.equal((await r.run("echo restored-$((6*7))")).replace(/^c=\d+\n/gm, "").trim(), "restored-42");
    } finally {
      r.kill();
    }
  }

  // Damaged or mismatched snapshots: a clear message, exit status 1, no guest output.
  const good = readFileSync(join(work, "guest.snap"));
  const bad = Buffer.from(good);
  bad[bad.length - 4096] ^= 0xff;
  writeFileSync(join(work, "bad.snap"), bad);
  const run = (args: string[]): { status: number | null; stderr: string } => {
    const p = spawnSync(process.execPath, [RVISOR_BIN, "run", ...args], { encoding: "utf8", input: "" });
    return { status: p.status, stderr: p.stderr };
  };
  let p = run(["--restore", join(work, "bad.snap")]);
  assert.equal(p.status, 1);
  assert.match(p.stderr, /bad\.snap: snapshot checksum mismatch: the file is corrupt/);
  p = run(["--restore", join(work, "guest.snap"), "--drive", `file=${join(work, "bad.snap")},format=raw,readonly=on`]);
  assert.equal(p.status, 1);
  assert.match(p.stderr, /snapshot does not fit this machine: virtio devices: the snapshot has 2, this machine 3/);
  p = run(["--restore", join(work, "guest.snap"), "--mem", "512M"]);
  assert.equal(p.status, 2);
  assert.match(p.stderr, /--restore: the snapshot defines the machine; drop --mem/);
  p = run(["--restore", join(work, "missing.snap")]);
  assert.match(p.stderr, /cannot read snapshot .*missing\.snap.*ENOENT/);
});
