// Moving a machine between the Node side and a browser tab (issue 13), in real Chromium, with
// the one snapshot format of docs/snapshot.md:
//   - a managed VM (the hypervisor's `snapshot create`) runs a counter loop; its snapshot file
//     is loaded by the in-tab page, which shows the console history it carries and the counter
//     going on past the snapshot's value, every number once, in order;
//   - a machine booted in the tab gets a shell variable, is saved with the page's "Save a
//     snapshot" (a Blob download), and `rvisor run --restore FILE` continues it: the guest
//     answers with that variable.
// A file that is no snapshot is refused by the page with a clear message.
// Screenshots: test-output/web-tab-restored.png, web-tab-snapshot-saved.png.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { GuestConsole, guestImage } from "./lib/guest.js";
import { browserSkipReason, launchChromium, READY, serveWeb, TabVm, TEST_OUTPUT } from "./lib/browser.js";
import { Hypervisor } from "../src/host/node/hypervisor.js";
import { parseSnapshot, snapshotConsoleHistory } from "../src/system/snapshot.js";
import { scaled } from "./lib/time_scale.js";

const BOOT_TIMEOUT = 300_000;
const STEP_TIMEOUT = 90_000;
const APPEND = "console=ttyS0 quiet";
const img = await guestImage();
const skip = typeof img === "string" ? img : browserSkipReason() ?? false;
let browser: Browser | null = null;
before(async () => { if (skip === false) browser = await launchChromium(); });
after(async () => { await browser?.close(); });

const counters = (text: string): number[] => [...text.matchAll(/^n=(\d+)\r?$/gm)].map((m) => Number(m[1]));

async function waitFor(what: string, ok: () => boolean | Promise<boolean>, timeoutMs: number, show: () => string): Promise<void> {
  const deadline = performance.now() + scaled(timeoutMs);
  while (!(await ok())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${show().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test("a managed VM's snapshot continues in the tab: its console history on the screen, then the counter going on", { skip, timeout: scaled(900_000) }, async () => {
  const home = mkdtempSync(join(tmpdir(), "rvisor-websnap-"));
  const env: NodeJS.ProcessEnv = { ...process.env, RVISOR_HOME: home };
  for (const k of ["RVISOR_LIMITS_INSTANCES", "RVISOR_LIMITS_CPU", "RVISOR_LIMITS_MEMORY"]) delete env[k];
  const hv = new Hypervisor({ home, env });
  let out = "";
  let file: string;
  let last: number;
  try {
    // The default network card comes along: the tab runs it unplugged.
    await hv.create({ name: "ctr", memory: "256M", boot: { cmdline: APPEND } });
    await hv.start("ctr");
    const con = await hv.console("ctr");
    con.on("data", (d: Buffer) => { out += d.toString("latin1"); });
    const show = (): string => out;
    await waitFor("the shell", () => new RegExp(`${READY}[\\s\\S]*# $`).test(out), BOOT_TIMEOUT, show);
    con.write("i=0; while true; do i=$((i+1)); echo n=$i; sleep 0.5; done\n");
    await waitFor("n=3", () => counters(out).includes(3), STEP_TIMEOUT, show);
    const rec = await hv.snapshot("ctr", "s1");
    file = join(hv.store.snapshotDir("ctr", "s1"), rec.machineFile);
    con.destroy();
  } finally {
    await hv.kill("ctr").catch(() => undefined);
  }
  // The snapshot carries the console history: the loop's command line and the counter so far.
  const history = new TextDecoder().decode(snapshotConsoleHistory(parseSnapshot(new Uint8Array(readFileSync(file)))));
  assert.match(history, /while true; do i=\$\(\(i\+1\)\); echo n=\$i; sleep 0\.5; done/);
  last = counters(history).at(-1) ?? 0;
  assert.ok(last >= 3, `the history ends with the counter (${history.slice(-200)})`);

  const web = await serveWeb(true);
  const vm = await TabVm.open(browser as Browser, `${web.url}?boot=0`);
  try {
    assert.equal((await vm.state()).phase, "waiting");
    // Not a snapshot: refused, nothing runs.
    await vm.page.setInputFiles("#snapshot-file", { name: "junk.rvsnap", mimeType: "application/octet-stream", buffer: Buffer.from("hello, not a snapshot") });
    await waitFor("the refusal", async () => (await vm.state()).snapshotError !== null, STEP_TIMEOUT, () => vm.log.join("\n"));
    assert.match((await vm.state()).snapshotError ?? "", /not an rvisor snapshot/);
    assert.equal((await vm.state()).phase, "waiting");

    await vm.page.setInputFiles("#snapshot-file", file);
    // The history first (the loop's command and the counter up to the snapshot), then new numbers.
    const screen = await vm.waitScreen(new RegExp(`echo n=\\$i; sleep 0\\.5; done[\\s\\S]*\\nn=${last}\\n[\\s\\S]*\\nn=${last + 3}\\n`), STEP_TIMEOUT);
    const st = await vm.state();
    assert.equal(st.phase, "running");
    assert.equal(st.restoredFrom?.name, "machine.rvsnap");
    assert.match(st.restoredFrom?.producer ?? "", /^rvisor /);
    const seen = counters(screen);
    assert.deepEqual(seen, seen.map((_, i) => seen[0] + i), `every number once, in order: ${seen.join(",")}`);
    assert.ok(seen.at(-1)! >= last + 3);
    mkdirSync(TEST_OUTPUT, { recursive: true });
    await vm.page.screenshot({ path: join(TEST_OUTPUT, "web-tab-restored.png") });
  } finally {
    await vm.close();
    await web.close();
    rmSync(home, { recursive: true, force: true });
  }
});

test("a machine saved by the tab (a Blob download) continues in rvisor run --restore and answers there", { skip, timeout: scaled(900_000) }, async () => {
  const work = mkdtempSync(join(tmpdir(), "rvisor-tabsnap-"));
  const web = await serveWeb(true);
  const vm = await TabVm.open(browser as Browser, `${web.url}?disk=0&append=${encodeURIComponent(APPEND)}`);
  const file = join(work, "tab.rvsnap");
  try {
    await vm.waitShell(BOOT_TIMEOUT);
    await vm.type("x=from-tab-$((20+22)); echo set-$x\n");
    await vm.waitScreen(/\nset-from-tab-42\n[^\n]*#\s*$/, STEP_TIMEOUT);
    const [download] = await Promise.all([vm.page.waitForEvent("download", { timeout: scaled(STEP_TIMEOUT) }), vm.page.click("#snapshot-save")]);
    assert.match(download.suggestedFilename(), /^rvisor-tab-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ\.rvsnap$/);
    await download.saveAs(file);
    const st = await vm.state();
    assert.equal(st.savedSnapshot?.file, download.suggestedFilename());
    assert.match(await vm.page.textContent("#snapshot-notice") ?? "", /rvisor run --restore/);
    mkdirSync(TEST_OUTPUT, { recursive: true });
    await vm.page.screenshot({ path: join(TEST_OUTPUT, "web-tab-snapshot-saved.png") });
  } finally {
    await vm.close();
    await web.close();
  }
  const snap = parseSnapshot(new Uint8Array(readFileSync(file)));
  assert.match(snap.header.producer, /browser tab/);
  const r = new GuestConsole(["--restore", file]);
  try {
    assert.equal((await r.run("echo $x", STEP_TIMEOUT)).trim(), "from-tab-42");
    assert.equal((await r.run("echo node-$((6*7))", STEP_TIMEOUT)).trim(), "node-42");
  } finally {
    r.kill();
    rmSync(work, { recursive: true, force: true });
  }
});
