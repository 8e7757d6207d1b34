// Linux in a browser tab (issue 13), end to end in real Chromium: `npm run web`'s server on
// loopback, the page boots rvisor's default guest in a Web Worker to a shell, a person's keys go
// into the xterm.js terminal and `uname -a` is read back from its screen. Once cross-origin
// isolated (guest RAM a SharedArrayBuffer) and once without isolation (the unshared fallback);
// the isolated run also mounts the root disk that the worker reads with HTTP range requests and
// writes into memory; a third run keeps the disk's writes in OPFS and finds them after a reload.
// Screenshots go to test-output/.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { guestImage } from "./lib/guest.js";
import { browserSkipReason, launchChromium, serveWeb, TabVm, TEST_OUTPUT } from "./lib/browser.js";
import { scaled } from "./lib/time_scale.js";

const BOOT_TIMEOUT = 240_000;
const COMMAND_TIMEOUT = 60_000;
const img = await guestImage();
const skip = typeof img === "string" ? img : browserSkipReason() ?? false;
let browser: Browser | null = null;
before(async () => { if (skip === false) browser = await launchChromium(); });
after(async () => { await browser?.close(); });

const UNAME = /uname -a\n(Linux rvisor 6\.1\.\S+ .* riscv64 GNU\/Linux)\n[^\n]*#\s*$/;

/**
 * Boots the tab against a server with or without COOP/COEP, checks how guest RAM was made, types
 * `uname -a` and reads the answer; then runs `more` and saves a screenshot as `shot`.
 */
async function bootTab(isolation: boolean, shot: string, more: (vm: TabVm) => Promise<void>): Promise<void> {
  const web = await serveWeb(isolation);
  const vm = await TabVm.open(browser as Browser, web.url);
  try {
    await vm.waitShell(BOOT_TIMEOUT);
    const st = await vm.state();
    assert.equal(st.crossOriginIsolated, isolation);
    assert.equal(st.ramShared, isolation);
    assert.equal(st.ramBuffer, isolation ? "SharedArrayBuffer" : "ArrayBuffer");
    await vm.type("uname -a\n");
    await vm.waitScreen(UNAME, COMMAND_TIMEOUT);
    await more(vm);
    mkdirSync(TEST_OUTPUT, { recursive: true });
    await vm.page.screenshot({ path: join(TEST_OUTPUT, shot) });
  } finally {
    await vm.close();
    await web.close();
  }
}

test("the in-tab VM boots to a shell cross-origin isolated (SharedArrayBuffer RAM), answers uname -a on the screen, and mounts its range-read disk", { skip, timeout: scaled(600_000) }, async () => {
  await bootTab(true, "web-tab-isolated.png", async (vm) => {
    // The ext4 root disk comes over HTTP range requests; the guest's writes stay in the tab.
    await vm.type("mkdir -p /mnt/disk && mount -t ext4 /dev/vda /mnt/disk && echo web-$((6*7)) > /mnt/disk/web.txt && sync && cat /mnt/disk/web.txt /mnt/disk/etc/hostname\n");
    await vm.waitScreen(/\nweb-42\nrvisor\n[^\n]*#\s*$/, COMMAND_TIMEOUT);
  });
});

test("without cross-origin isolation the in-tab VM runs on unshared ArrayBuffer RAM and still boots to a shell that answers uname -a", { skip, timeout: scaled(600_000) }, async () => {
  await bootTab(false, "web-tab-fallback.png", async () => { /* uname -a is the check */ });
});

test("with persist=1 the disk's writes are saved in the Origin Private File System and are there again after the page reloads", { skip, timeout: scaled(600_000) }, async () => {
  const web = await serveWeb(true);
  const vm = await TabVm.open(browser as Browser, `${web.url}?persist=1`);
  const token = `kept-${Date.now().toString(36)}`;
  try {
    await vm.waitShell(BOOT_TIMEOUT);
    assert.deepEqual((await vm.state()).diskStore, { kind: "opfs", file: "rvisor-disk-_image_rootfs.ext4.overlay", restoredBytes: 0 });
    // umount flushes the disk (VIRTIO_BLK_T_FLUSH), which saves the written chunks.
    await vm.type(`mkdir -p /mnt/disk && mount -t ext4 /dev/vda /mnt/disk && echo ${token} > /mnt/disk/kept.txt && umount /mnt/disk && echo un""mounted\n`);
    await vm.waitScreen(/\nunmounted\n[^\n]*#\s*$/, COMMAND_TIMEOUT);
    await vm.page.reload();
    await vm.waitShell(BOOT_TIMEOUT);
    const st = await vm.state();
    assert.ok(st.diskStore !== null && st.diskStore.kind === "opfs" && st.diskStore.restoredBytes > 0, JSON.stringify(st.diskStore));
    await vm.type("mkdir -p /mnt/disk && mount -t ext4 /dev/vda /mnt/disk && cat /mnt/disk/kept.txt\n");
    await vm.waitScreen(new RegExp(`\\n${token}\\n[^\\n]*#\\s*$`), COMMAND_TIMEOUT);
    mkdirSync(TEST_OUTPUT, { recursive: true });
    await vm.page.screenshot({ path: join(TEST_OUTPUT, "web-tab-persisted.png") });
  } finally {
    await vm.close();
    await web.close();
  }
});
