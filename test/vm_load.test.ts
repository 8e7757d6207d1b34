// Many VMs on one small host, from one warm snapshot (Firecracker-style cloning): a 64 MiB
// template boots to its shell and is snapshotted; 20 clones start from that snapshot at once,
// each its own process, and each answers a command on its console. The figures — start time,
// VMs started per minute, and each idle VM process's resident and proportional size
// (/proc/PID/smaps_rollup) split into guest RAM (the WebAssembly memory mapping) and host
// overhead — are printed, not asserted (the machine is shared; npm run bench keeps them).
// Then one clone's guest exhausts its memory: its own kernel's OOM killer ends the hog, the
// guest answers again, its process stays within memoryCapBytes, and the others keep answering.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import { Hypervisor } from "../src/host/node/hypervisor.js";
import { memoryCapBytes } from "../src/hypervisor/memory.js";
import { IDLE_TRIM_MS } from "../src/host/node/vm_process.js";
import { guestImage } from "./lib/guest.js";
import { waitReady } from "./lib/vm.js";
import { processMemory } from "./lib/proc_memory.js";
import { scaled } from "./lib/time_scale.js";

const img = await guestImage();
const skip = typeof img === "string" ? img : false;
const CLONES = 20;
const MEMORY_MIB = 64;
const MiB = 2 ** 20;

/** A console that collects output and runs one command at a time, fenced by markers the shell assembles. */
class Console {
  private buf = "";
  private seq = 0;
  constructor(readonly stream: Duplex) { stream.on("data", (d: Buffer) => { this.buf += d.toString("latin1"); }); }
  async run(cmd: string, timeoutMs: number): Promise<string> {
    const n = ++this.seq;
    const from = this.buf.length;
    this.stream.write(`echo "@@B""${n}@@"; ${cmd}; echo "@@E""${n}@@"\n`);
    const deadline = performance.now() + scaled(timeoutMs);
    for (;;) {
      const rest = this.buf.slice(from);
      const b = rest.indexOf(`@@B${n}@@`), e = rest.indexOf(`@@E${n}@@`);
      if (b >= 0 && e > b) return rest.slice(b + `@@B${n}@@`.length, e).replace(/\r/g, "").trim();
      if (performance.now() > deadline) throw new Error(`no answer to ${JSON.stringify(cmd)} in ${timeoutMs} ms; console:\n${this.buf.slice(-1500)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  close(): void { this.stream.destroy(); }
}

const mib = (n: number): string => `${(n / MiB).toFixed(1)} MiB`;

test(`${CLONES} VMs of ${MEMORY_MIB} MiB cloned from one warm snapshot run at once and each answers; memory per idle VM; a guest that exhausts its memory hurts nobody`, { skip, timeout: scaled(900_000) }, async () => {
  const home = mkdtempSync(join(tmpdir(), "rvisor-load-"));
  const env: NodeJS.ProcessEnv = { ...process.env, RVISOR_HOME: home };
  for (const k of ["RVISOR_LIMITS_INSTANCES", "RVISOR_LIMITS_CPU", "RVISOR_LIMITS_MEMORY"]) delete env[k];
  const hv = new Hypervisor({ home, env });
  const consoles: Console[] = [];
  const names = Array.from({ length: CLONES }, (_, i) => `c${String(i + 1).padStart(2, "0")}`);
  try {
    await hv.create({ name: "tmpl", memory: `${MEMORY_MIB}M` });
    await hv.start("tmpl");
    await waitReady(home, "tmpl");
    const t = new Console(await hv.console("tmpl"));
    assert.equal(await t.run("echo $((6*7))", 60_000), "42");
    t.close();
    await new Promise((r) => setTimeout(r, 2000));
    const rec = await hv.snapshot("tmpl", "warm");
    await hv.kill("tmpl");
    for (const n of names) await hv.clone("tmpl", n, { snapshot: "warm" });

    // All at once: the starts run concurrently (each takes the host lock in turn).
    const t0 = performance.now();
    const pids = await Promise.all(names.map((n) => hv.start(n)));
    const startS = (performance.now() - t0) / 1000;
    assert.equal(new Set(pids).size, CLONES, "each VM is its own process");
    for (const n of names) consoles.push(new Console(await hv.console(n)));
    // Kernel messages (a loaded host makes the guest print "hrtimer: interrupt took ...") off the
    // console, and only the command's own last line compared.
    const last = (s: string): string => s.split("\n").pop() ?? "";
    const answers = (await Promise.all(consoles.map((c, i) => c.run(`dmesg -n 1; echo VM-$((${i} * 3))`, 300_000)))).map(last);
    const answeredS = (performance.now() - t0) / 1000;
    assert.deepEqual(answers, names.map((_, i) => `VM-${i * 3}`));
    const list = await hv.list();
    assert.deepEqual(list.filter((v) => names.includes(v.name)).map((v) => v.state), names.map(() => "running"));

    // Each process's memory 3 s after its command, and once idle past two of its idle trims (vm_process.ts).
    for (const [waitMs, when] of [[3000, "3 s after its command"], [2 * IDLE_TRIM_MS + 5000 - 3000, `idle ${(2 * IDLE_TRIM_MS + 5000) / 1000} s`]] as const) {
      await new Promise((r) => setTimeout(r, waitMs));
      const mem = pids.map((p) => processMemory(p, MEMORY_MIB * MiB));
      for (const [i, m] of mem.entries()) {
        assert.ok(m.guestMapping !== null, `VM ${names[i]}: no guest RAM mapping of ${MEMORY_MIB} MiB or more in /proc/${pids[i]}/smaps`);
        assert.ok(m.rss <= memoryCapBytes(MEMORY_MIB), `VM ${names[i]}: RSS ${mib(m.rss)} is past its cap`);
      }
      const sum = (f: (m: ReturnType<typeof processMemory>) => number): number => mem.reduce((s, m) => s + f(m), 0);
      const guestRss = sum((m) => m.guestRss), pss = sum((m) => m.pss), rss = sum((m) => m.rss), priv = sum((m) => m.private);
      if (waitMs === 3000) {
        process.stderr.write(`load: ${CLONES} clones of a ${MEMORY_MIB} MiB VM from one snapshot (${rec.ramPages} pages, ${mib(rec.machineBytes)}): started in ${startS.toFixed(1)} s ` +
          `(${(CLONES / startS * 60).toFixed(0)} VMs/min), all answered ${answeredS.toFixed(1)} s after the first start\n`);
      }
      process.stderr.write(
        `load: per VM (mean), ${when}: RSS ${mib(rss / CLONES)}, PSS ${mib(pss / CLONES)}, private ${mib(priv / CLONES)}, of which guest RAM resident ${mib(guestRss / CLONES)}; ` +
        `host overhead above the guest RAM it touched: ${mib((pss - guestRss) / CLONES)} PSS, ${mib((priv - guestRss) / CLONES)} private, ${mib((rss - guestRss) / CLONES)} RSS\n` +
        `load: total for ${CLONES} VMs, ${when}: RSS ${mib(rss)}, PSS ${mib(pss)}\n`);
    }

    // One guest eats all its memory: its kernel's OOM killer ends the hog inside the guest.
    const hog = consoles[0];
    const out = await hog.run("awk 'BEGIN { s = \"x\"; while (1) s = s s }'; echo exit=$?", 300_000);
    assert.match(out, /exit=(137|[1-9]\d*)/, `the hog ended (${out})`);
    assert.equal(last(await hog.run("echo still-$((2*21))", 120_000)), "still-42");
    const after = processMemory(pids[0], MEMORY_MIB * MiB);
    process.stderr.write(`load: the ${MEMORY_MIB} MiB guest that touched all its RAM: RSS ${mib(after.rss)}, guest RAM resident ${mib(after.guestRss)}, ` +
      `overhead ${mib(after.rss - after.guestRss)}; cap ${mib(memoryCapBytes(MEMORY_MIB))}; guest log: ${/Out of memory[^\n]*/.exec(readFileSync(join(home, "vms", names[0], "console.log"), "latin1"))?.[0] ?? "(no OOM line)"}\n`);
    assert.ok(after.rss <= memoryCapBytes(MEMORY_MIB), `RSS ${mib(after.rss)} past the cap`);
    assert.ok(after.guestRss <= MEMORY_MIB * MiB, "guest RAM resident is at most the guest's RAM");
    assert.equal((await hv.info(names[0])).state, "running");
    const others = (await Promise.all(consoles.slice(1).map((c, i) => c.run(`echo again-${i}`, 300_000)))).map(last);
    assert.deepEqual(others, consoles.slice(1).map((_, i) => `again-${i}`));
  } finally {
    for (const c of consoles) c.close();
    for (const v of await hv.list()) if (v.pid !== null) await hv.kill(v.name).catch(() => undefined);
    rmSync(home, { recursive: true, force: true });
  }
});
