// Boots the default guest (Linux 6.1) on a hart with the privileged extensions of issue 12 —
// rv64gc plus Sstc, Svpbmt, Svnapot, Svinval, Svadu, Zicbom/Zicboz/Zicbop, Zihpm, Zawrs,
// Smstateen/Ssstateen and Sdtrig — in-process, so the test can look at the hart afterwards:
// with the built-in SBI (which enables them in menvcfg as OpenSBI does) Linux must program its
// timer through stimecmp, and with Debian's OpenSBI it must boot too.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { VirtMachine, type Firmware } from "../src/system/machine.js";
import { RunLoop } from "../src/host/node/run_loop.js";
import { Isa, PROFILES, type ExtName } from "../src/cpu/isa.js";
import { CSR } from "../src/cpu/csr_numbers.js";
import { guestImage, type ImagePaths } from "./lib/guest.js";
import { scaled } from "./lib/time_scale.js";

const FW_JUMP = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin";
const BOOT_TIMEOUT_MS = 240_000;

export const PRIV_EXTENSIONS: readonly ExtName[] = [
  "sstc", "svpbmt", "svnapot", "svinval", "svadu", "zicbom", "zicboz", "zicbop", "zihpm", "zawrs", "smstateen", "ssstateen", "sdtrig",
];

const img = await guestImage();
const skip = typeof img === "string" ? img : false;

/** Boots, runs `commands` at the shell, powers off; returns the console text and the machine. */
async function boot(paths: ImagePaths, firmware: Firmware, commands: string[]): Promise<{ out: string; m: VirtMachine }> {
  let out = "";
  const decoder = new TextDecoder();
  const m = new VirtMachine({
    memBytes: 256 << 20, harts: 1, firmware, kernel: readFileSync(paths.kernel), initrd: readFileSync(paths.initrd),
    append: "console=ttyS0 quiet", console: { write: (b) => { out += decoder.decode(b, { stream: true }); } },
    isa: new Isa([...PROFILES.rv64gc, ...PRIV_EXTENSIONS]),
  });
  const loop = new RunLoop(m);
  const start = performance.now();
  let sent = 0, sentAt = 0;
  const exit = await loop.run({
    shouldStop: () => {
      if (performance.now() - start > scaled(BOOT_TIMEOUT_MS)) return true;
      // One command per prompt once the guest is up; then poweroff.
      const prompts = out.split("~ # ").length - 1;
      if (!out.includes("rvisor guest ready") || prompts <= sentAt) return false;
      const cmd = sent < commands.length ? commands[sent] : sent === commands.length ? "poweroff" : null;
      if (cmd !== null) { m.consoleInput(new TextEncoder().encode(cmd + "\n")); sent++; sentAt = prompts; }
      return false;
    },
  });
  assert.equal(exit.kind, "poweroff", `guest did not power off (${exit.kind}); console:\n${out.slice(-3000)}`);
  return { out, m };
}

test("Linux 6.1 boots with the privileged extensions and the built-in SBI, using Sstc's stimecmp", { skip, timeout: scaled(600_000) }, async () => {
  if (typeof img === "string") return;
  const { out, m } = await boot(img, { kind: "builtin" }, ["cat /proc/cpuinfo", "sleep 1; echo slept-$((6*7))"]);
  assert.match(out, /isa\s+: rv64imafdc\S*_sstc/, out.slice(-3000));
  assert.match(out, /isa\s+: \S*svpbmt/);
  assert.match(out, /slept-42/);
  const h = m.harts[0];
  assert.ok(h.csrRead(CSR.stimecmp));
  assert.ok(h.csrLo !== -1 || h.csrHi !== -1, "Linux never wrote stimecmp: it did not use Sstc");
  // The SBI's timer (mtimecmp) was never armed: the kernel's clockevent is Sstc's.
  assert.equal(m.clint.nextDeadline(), Infinity);
});

test("Linux 6.1 boots with the privileged extensions under Debian's OpenSBI", { skip: skip || (existsSync(FW_JUMP) ? false : "opensbi not installed"), timeout: scaled(600_000) }, async () => {
  if (typeof img === "string") return;
  const { out } = await boot(img, { kind: "image", bytes: readFileSync(FW_JUMP) }, ["cat /proc/cpuinfo", "sleep 1; echo slept-$((6*7))"]);
  assert.match(out, /OpenSBI v/);
  assert.match(out, /isa\s+: \S*sstc/);
  assert.match(out, /slept-42/);
});
