// The hypervisor's web console (src/web, served by `rvisor serve` at /ui/), end to end in real
// Chromium: `rvisor serve` on loopback TCP with a token, a VM of the default guest image; the
// page without a token or with a wrong one shows an error and no data; with the token (in the
// URL fragment) it lists the VM with its resources, starts it, shows its serial console in
// xterm.js where a typed command is answered, pauses and resumes it (input waits meanwhile),
// sends the terminal's size on resize, takes a snapshot that appears in the list, and stops it,
// the table following each state. A WebSocket upgrade from the page without a ticket fails.
// Screenshot: test-output/web-console.png.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import { guestImage, RVISOR_BIN } from "./lib/guest.js";
import { CHROMIUM, launchChromium, READY, TEST_OUTPUT } from "./lib/browser.js";
import { ApiClient } from "./lib/api_client.js";
import { scaled } from "./lib/time_scale.js";

const BOOT_TIMEOUT = 300_000;
const STEP_TIMEOUT = 60_000;
const CONSOLE_ROOT = fileURLToPath(new URL("../web/console/", import.meta.url));
const TOKEN = "web-console-test-token-0123456789";

const img = await guestImage();
const skip = typeof img === "string" ? img
  : !existsSync(CHROMIUM) ? `${CHROMIUM} not installed (scripts/install-deps.sh)`
  : !existsSync(join(CONSOLE_ROOT, "index.html")) ? `${CONSOLE_ROOT} not built (npm run web:build)` : false;

let browser: Browser | null = null;
before(async () => { if (skip === false) browser = await launchChromium(); });
after(async () => { await browser?.close(); });

/** `rvisor serve --listen 127.0.0.1:0 --token-file F` in its own state directory; resolves with its base URL. */
async function serve(home: string): Promise<{ child: ChildProcessWithoutNullStreams; base: string; output: () => string }> {
  const tokenFile = join(home, "token");
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const child = spawn(process.execPath, [RVISOR_BIN, "serve", "--listen", "127.0.0.1:0", "--token-file", tokenFile],
    { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, RVISOR_HOME: home } });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (s: string) => { out += s; });
  child.stderr.setEncoding("utf8").on("data", (s: string) => { out += s; });
  const deadline = performance.now() + 30_000;
  for (;;) {
    const m = /web console at (http:\/\/127\.0\.0\.1:\d+)\/ui\//.exec(out);
    if (m !== null) return { child, base: m[1], output: () => out };
    if (child.exitCode !== null || performance.now() > deadline) throw new Error(`rvisor serve did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const screen = (page: Page): Promise<string> => page.evaluate("window.rvisorConsole.screenText()") as Promise<string>;

async function waitScreen(page: Page, pattern: RegExp, timeoutMs: number, log: string[]): Promise<string> {
  const deadline = performance.now() + scaled(timeoutMs);
  for (;;) {
    const text = await screen(page);
    if (pattern.test(text)) return text;
    if (performance.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${String(pattern)}\nscreen:\n${text.trimEnd().split("\n").slice(-30).join("\n")}\n` +
        `status: ${await page.textContent("#console-status")}\nerror: ${await page.textContent("#error")}\npage log:\n${log.slice(-20).join("\n")}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The state shown in VM `name`'s row. */
const rowState = (page: Page, name: string): Promise<string | null> => page.locator(`tr[data-vm="${name}"] td.state`).getAttribute("data-state");

async function waitState(page: Page, name: string, state: string, timeoutMs = STEP_TIMEOUT): Promise<void> {
  await page.locator(`tr[data-vm="${name}"] td.state[data-state="${state}"]`).waitFor({ timeout: scaled(timeoutMs) });
  // The row is not busy any more (its buttons follow the state).
  await page.locator(`tr[data-vm="${name}"] td.state`).filter({ hasNotText: "…" }).waitFor({ timeout: scaled(timeoutMs) });
}

const press = (page: Page, name: string, action: string): Promise<void> => page.click(`tr[data-vm="${name}"] button[data-action="${action}"]`);

test("web console: no data without the token; with it, start a VM, use its serial console in xterm.js, pause/resume, snapshot, stop", { skip, timeout: scaled(900_000) }, async () => {
  const home = mkdtempSync(join(tmpdir(), "rvisor-webcon-"));
  const disk = join(home, "data.img");
  writeFileSync(disk, Buffer.alloc(1 << 20));
  const srv = await serve(home);
  const port = Number(new URL(srv.base).port);
  const api = new ApiClient({ host: "127.0.0.1", port }, TOKEN);
  const page = await (browser as Browser).newPage({ viewport: { width: 1100, height: 760 } });
  const log: string[] = [];
  page.on("console", (m) => log.push(`console.${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => log.push(`page error: ${e.message}`));
  const sent: string[] = [];
  page.on("websocket", (w) => w.on("framesent", (f) => { if (typeof f.payload === "string") sent.push(f.payload); }));
  try {
    const made = await api.call("POST", "/v1/vms", "/v1/vms", { name: "web1", memory: "256M", disks: [{ id: "data", path: disk }] });
    assert.equal(made.status, 201, made.text);

    // No token: the page asks for one and shows no VM.
    await page.goto(`${srv.base}/ui/`);
    await page.locator("#login").waitFor({ state: "visible" });
    assert.equal(await page.locator("#vms tr").count(), 0);
    // A wrong token: an error, still no data.
    await page.fill("#token", "wrong-token-wrong-token-wrong");
    await page.click("#login button[type=submit]");
    await page.locator("#error").filter({ hasText: "refused the token" }).waitFor({ timeout: scaled(STEP_TIMEOUT) });
    assert.match(await page.textContent("#error") ?? "", /missing or wrong bearer token/);
    assert.equal(await page.locator("#vms tr").count(), 0);
    assert.equal(await page.locator("#login").isVisible(), true);
    // A WebSocket upgrade without a ticket (the page's origin, its cookies, no token) fails.
    const wsRefused = await page.evaluate(`new Promise((resolve) => {
      const w = new WebSocket("ws://" + location.host + "/v1/vms/web1/console");
      w.onopen = () => resolve("open"); w.onclose = (e) => resolve("closed " + e.code);
    })`);
    assert.equal(wsRefused, "closed 1006");

    // The token in the URL fragment: the table shows the VM and its resources; the fragment is gone.
    await page.goto(`${srv.base}/ui/#token=${TOKEN}`);
    await waitState(page, "web1", "shut off");
    assert.equal(new URL(page.url()).hash, "");
    const row = page.locator('tr[data-vm="web1"]');
    assert.deepEqual([await row.locator("td.cpus").textContent(), await row.locator("td.memory").textContent(), await row.locator("td.disks").textContent()],
      ["1", "256 MiB", "data (raw)"]);
    assert.equal(await row.locator('button[data-action="pause"]').isDisabled(), true);

    // Start, then the console: the guest's shell answers in xterm.js.
    await press(page, "web1", "start");
    await waitState(page, "web1", "running");
    await press(page, "web1", "console");
    await page.locator('#console-status[data-state="attached"]').waitFor({ timeout: scaled(STEP_TIMEOUT) });
    await waitScreen(page, new RegExp(`${READY}[\\s\\S]*\\n[^\\n]*#\\s*$`), BOOT_TIMEOUT, log);
    await page.click("#terminal");
    await page.keyboard.type("echo $((6*7))\n");
    await waitScreen(page, /echo \$\(\(6\*7\)\)\n42\n[^\n]*#\s*$/, STEP_TIMEOUT, log);

    // The terminal's size goes to the server as a resize message, again when the window changes.
    const resizes = (): { cols: number; rows: number }[] => sent.map((s) => JSON.parse(s) as { type: string; cols: number; rows: number })
      .filter((m) => m.type === "resize").map((m) => ({ cols: m.cols, rows: m.rows }));
    const size = async (): Promise<{ cols: number; rows: number }> =>
      page.evaluate("({ cols: window.rvisorConsole.terminal.cols, rows: window.rvisorConsole.terminal.rows })") as Promise<{ cols: number; rows: number }>;
    assert.deepEqual(resizes().at(-1), await size());
    // (Polled from here: the page's Content Security Policy forbids the eval that waitForFunction uses.)
    const poll = async (ok: () => Promise<boolean>, what: string): Promise<void> => {
      const deadline = performance.now() + scaled(STEP_TIMEOUT);
      while (!(await ok())) {
        if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const wide = await size();
    await page.setViewportSize({ width: 800, height: 700 });
    await poll(async () => (await size()).cols < wide.cols, "the terminal to narrow");
    const narrow = await size();
    await poll(async () => JSON.stringify(resizes().at(-1)) === JSON.stringify(narrow), `a resize message ${JSON.stringify(narrow)} (sent: ${JSON.stringify(resizes())})`);
    assert.equal(await page.locator("#error").isVisible(), false, "the server refused the resize message");

    // Pause: typed input waits in the UART; resume: it is answered.
    await press(page, "web1", "pause");
    await waitState(page, "web1", "paused");
    await page.click("#terminal");
    await page.keyboard.type("echo held-$((40+2))\n");
    await new Promise((r) => setTimeout(r, 1500));
    assert.doesNotMatch(await screen(page), /\nheld-42\n/, "a paused VM answered");
    await press(page, "web1", "resume");
    await waitState(page, "web1", "running");
    await waitScreen(page, /\nheld-42\n[^\n]*#\s*$/, STEP_TIMEOUT, log);

    // A snapshot appears in the VM's list.
    await press(page, "web1", "snapshot");
    await page.locator("#snapshots tr[data-snapshot]").first().waitFor({ timeout: scaled(120_000) });
    mkdirSync(TEST_OUTPUT, { recursive: true });
    await page.screenshot({ path: join(TEST_OUTPUT, "web-console.png") });

    // Stop: the guest powers off (the power button), the table says so, the console closes.
    await press(page, "web1", "stop");
    await waitState(page, "web1", "shut off", 120_000);
    await page.locator('#console-status[data-state="closed"]').waitFor({ timeout: scaled(STEP_TIMEOUT) });
    assert.equal(await rowState(page, "web1"), "shut off");
    assert.equal(await row.locator('button[data-action="start"]').isDisabled(), false);
  } catch (e) {
    throw new Error(`${(e as Error).message}\nserve output:\n${srv.output().slice(-2000)}\npage log:\n${log.slice(-20).join("\n")}`, { cause: e });
  } finally {
    await page.close();
    await api.raw("PUT", "/v1/vms/web1/actions", { action_type: "InstanceKill" }).catch(() => undefined);
    srv.child.kill("SIGTERM");
    await new Promise((r) => srv.child.once("exit", r));
    rmSync(home, { recursive: true, force: true });
  }
});
