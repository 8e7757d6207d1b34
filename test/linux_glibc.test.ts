// A glibc userland under rvisor's built-in firmware (the default): the default guest (Linux
// 6.1 + busybox) with a dynamic glibc program appended to its initramfs. glibc's vDSO
// clock_gettime reads the `time` CSR from U-mode, which traps unless the firmware grants
// scounteren.TM (the built-in SBI does, as OpenSBI does; issue 12 found it dying with SIGILL).
import { test } from "node:test";
import assert from "node:assert/strict";
import { GuestConsole, guestImage, type ImagePaths } from "./lib/guest.js";
import { GLIBC_EXPECTED, GLIBC_PROGRAM, glibcInitramfs } from "./lib/glibc_initramfs.js";
import { which } from "./lib/toolchain.js";
import { scaled } from "./lib/time_scale.js";

async function image(): Promise<ImagePaths | string> {
  if (which("riscv64-linux-gnu-gcc") === null) return "riscv64-linux-gnu-gcc not found";
  return guestImage();
}

const img = await image();
const skip = typeof img === "string" ? img : false;

test("a dynamic glibc program runs to completion under the built-in SBI (vDSO rdtime, nanosleep, clocks)", { skip, timeout: scaled(300_000) }, async (t) => {
  if (typeof img === "string") return;
  const initrd = await glibcInitramfs(img.initrd);
  const g = new GuestConsole(["--kernel", img.kernel, "--initrd", initrd, "--append", "console=ttyS0 quiet", "--mem", "256M"]);
  try {
    await g.waitFor("rvisor guest ready", 180_000);
    await g.waitFor(/# $/m, 30_000);
    const out = await g.run(`${GLIBC_PROGRAM}; echo "exit status $?"`, 60_000);
    t.diagnostic(out.trim());
    for (const re of GLIBC_EXPECTED) assert.match(out, re);
    assert.match(out, /^exit status 0$/m);
    assert.doesNotMatch(out, /Illegal instruction/);
    // Linux 6.1 has no riscv_hwprobe.
    assert.match(out, /^hwprobe: errno 38$/m);
    g.send("poweroff\n");
    assert.equal(await g.exited, 0);
  } finally {
    g.kill();
  }
});
