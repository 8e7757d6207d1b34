// Drives the in-tab VM (src/host/browser) in real Chromium: Debian's `chromium` package through
// playwright-core (downloaded browser builds are not used), against `npm run web`'s server on
// loopback. Shared by test/web.test.ts and the bench.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { startWebServer, type WebServer } from "../../src/host/node/web_server.js";
import { defaultGuestImage } from "../../src/host/node/virt_build.js";
import { scaled } from "./time_scale.js";

export const CHROMIUM = "/usr/bin/chromium";
/** dist/web, as scripts/web-build.mjs writes it. */
export const WEB_ROOT = fileURLToPath(new URL("../../web/", import.meta.url));
/** The folder for screenshots and other things a person may look at after a test run (ignored by git). */
export const TEST_OUTPUT = fileURLToPath(new URL("../../../test-output/", import.meta.url));
export const READY = "rvisor guest ready";

/** Why the browser tests cannot run here, or null. */
export function browserSkipReason(): string | null {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} not installed (scripts/install-deps.sh installs Debian's chromium)`;
  if (!existsSync(`${WEB_ROOT}index.html`)) return `${WEB_ROOT} not built (npm run web:build)`;
  return null;
}

export function launchChromium(): Promise<Browser> {
  // Chromium's sandbox needs user namespaces that a root process in a container lacks.
  const root = typeof process.getuid === "function" && process.getuid() === 0;
  return chromium.launch({ executablePath: CHROMIUM, args: root ? ["--no-sandbox"] : [], timeout: scaled(60_000) });
}

export function serveWeb(isolation: boolean): Promise<WebServer> {
  return defaultGuestImage().then((image) => startWebServer({ host: "127.0.0.1", port: 0, isolation, webRoot: WEB_ROOT, image }));
}

/** What window.rvisor.state says (src/host/browser/page.ts). */
export interface TabState {
  phase: string; crossOriginIsolated: boolean; ramShared: boolean | null; ramBuffer: string | null; message: string;
  diskStore: { kind: "memory"; why?: string } | { kind: "opfs"; file: string; restoredBytes: number } | null;
  restoredFrom: { name: string; producer: string; createdAt: string } | null;
  savedSnapshot: { file: string; bytes: number } | null;
  snapshotError: string | null;
}

/** An in-tab VM: the page, what it logged, and its terminal's text. */
export class TabVm {
  readonly log: string[] = [];
  constructor(readonly page: Page) {
    page.on("console", (m) => this.log.push(`console.${m.type()}: ${m.text()}`));
    page.on("pageerror", (e) => this.log.push(`page error: ${e.message}`));
  }

  static async open(browser: Browser, url: string): Promise<TabVm> {
    const vm = new TabVm(await browser.newPage({ viewport: { width: 1000, height: 640 } }));
    await vm.page.goto(url);
    return vm;
  }

  state(): Promise<TabState> { return this.page.evaluate("window.rvisor.state") as Promise<TabState>; }

  /** The terminal's buffer as text (xterm.js's buffer, scrollback included). */
  screen(): Promise<string> { return this.page.evaluate("window.rvisor.screenText()") as Promise<string>; }

  /** Waits until the screen text matches (a multi-line RegExp source); fails with the screen and the page's log. */
  async waitScreen(pattern: RegExp, timeoutMs: number): Promise<string> {
    const deadline = performance.now() + scaled(timeoutMs);
    for (;;) {
      const text = await this.screen();
      if (pattern.test(text)) return text;
      const st = await this.state();
      if (st.phase === "error" || st.phase === "exited" || performance.now() > deadline) {
        throw new Error(`${st.phase === "error" || st.phase === "exited" ? st.message : `timed out after ${timeoutMs} ms`} waiting for ${String(pattern)}\n`
          + `screen:\n${text.trimEnd().split("\n").slice(-30).join("\n")}\npage log:\n${this.log.slice(-20).join("\n")}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Waits for the shell prompt after the boot banner. */
  waitShell(timeoutMs: number): Promise<string> { return this.waitScreen(new RegExp(`${READY}[\\s\\S]*\\n[^\\n]*#\\s*$`), timeoutMs); }

  /** Types into the terminal as a person does (keyboard events into xterm.js). */
  async type(text: string): Promise<void> {
    await this.page.click("#terminal");
    await this.page.keyboard.type(text);
  }

  close(): Promise<void> { return this.page.close(); }
}
