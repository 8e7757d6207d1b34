// Boot benchmark: wall time from process start to the guest's "rvisor guest ready" line
// (printed by the initramfs /init, i.e. boot-to-init), for rvisor with its built-in SBI, rvisor
// with Debian's OpenSBI, and qemu-system-riscv64 with the same OpenSBI, kernel and initrd,
// measured in the same run.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import type { BenchRow, BenchSection } from "./bench.js";
import { RVISOR_BIN } from "../test/lib/guest.js";
import { browserSkipReason, launchChromium, serveWeb, TabVm } from "../test/lib/browser.js";

const FW_JUMP = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin";
const READY = "rvisor guest ready";
const APPEND = "console=ttyS0 quiet";

interface ImagePaths { kernel: string; initrd: string; ready: boolean }

/** Seconds until `READY` appears on the process's stdout; the process is killed then. */
export function timeToReady(cmd: string, args: string[], timeoutMs = 300_000): Promise<number | null> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "ignore"] });
    let buf = "";
    const done = (v: number | null): void => { clearTimeout(timer); child.kill("SIGKILL"); resolve(v); };
    const timer = setTimeout(() => done(null), timeoutMs);
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (s: string) => {
      buf += s;
      if (buf.includes(READY)) done((performance.now() - t0) / 1000);
      if (buf.length > 1 << 20) buf = buf.slice(-4096);
    });
    child.on("exit", () => done(null));
  });
}

/**
 * Seconds from opening the in-tab VM's page (cross-origin isolated, no root disk, the same
 * command line) to `READY` on its terminal, in Debian's Chromium; null with why when it cannot run.
 */
async function chromiumTimeToReady(timeoutMs = 300_000): Promise<{ seconds: number | null; notes?: string }> {
  const why = browserSkipReason();
  if (why !== null) return { seconds: null, notes: why };
  const web = await serveWeb(true);
  const browser = await launchChromium();
  try {
    const t0 = performance.now();
    const vm = await TabVm.open(browser, `${web.url}?disk=0&append=${encodeURIComponent(APPEND)}`);
    await vm.waitScreen(new RegExp(READY), timeoutMs);
    return { seconds: (performance.now() - t0) / 1000, notes: "from opening the page (image fetch included); qemu column: QEMU with OpenSBI fw_jump" };
  } catch (e) {
    return { seconds: null, notes: `Chromium: ${(e as Error).message.split("\n")[0]}` };
  } finally {
    await browser.close();
    await web.close();
  }
}

export const bootSection: BenchSection = {
  name: "boot",
  description: "Linux 6.1 boot-to-init time (default guest image) vs qemu-system-riscv64",
  async run(): Promise<BenchRow[]> {
    const lib = (await import(new URL("../../scripts/lib/image.mjs", import.meta.url).href)) as { imagePaths(): ImagePaths };
    const img = lib.imagePaths();
    if (!img.ready) {
      return [{ section: "boot", program: "linux", instructions: null, rvisorSeconds: null, rvisorMips: null, qemuSeconds: null, ratio: null,
        notes: "guest image not built: run `npm run image` first" }];
    }
    const common = ["--kernel", img.kernel, "--initrd", img.initrd, "--append", APPEND];
    const builtin = await timeToReady(process.execPath, [RVISOR_BIN, "run", ...common]);
    const haveFw = existsSync(FW_JUMP);
    const withSbi = haveFw ? await timeToReady(process.execPath, [RVISOR_BIN, "run", "--bios", FW_JUMP, ...common]) : null;
    const qemu = haveFw
      ? await timeToReady("qemu-system-riscv64", ["-M", "virt", "-m", "256M", "-nographic", "-bios", FW_JUMP, "-kernel", img.kernel, "-initrd", img.initrd, "-append", APPEND])
      : null;
    const row = (program: string, s: number | null, notes?: string): BenchRow => ({
      section: "boot", program, instructions: null, rvisorSeconds: s, rvisorMips: null, qemuSeconds: qemu,
      ratio: s !== null && qemu !== null ? s / qemu : null, ...(notes === undefined ? {} : { notes }),
    });
    const tab = await chromiumTimeToReady();
    return [
      row("linux boot-to-init, built-in SBI", builtin, "qemu column: QEMU with OpenSBI fw_jump"),
      row("linux boot-to-init, OpenSBI fw_jump", withSbi, haveFw ? undefined : "opensbi not installed"),
      row("linux boot-to-init in Chromium (in-tab VM, built-in SBI)", tab.seconds, tab.notes),
    ];
  },
};
