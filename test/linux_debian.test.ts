// Debian's distribution kernel (trixie's linux-image-riscv64, 6.12) on rvisor with the built-in
// SBI and the default guest's initramfs (plus a glibc program, test/lib/glibc_initramfs.ts).
// The kernel is fetched from Debian's archive with apt and cached by version
// (test/lib/debian_kernel.ts). Its modules are not needed: the 16550 console, the initramfs
// and the SBI drivers are built in (checked against the package's config first).
//
// With `--cpu max` the kernel patches itself to use what the device tree lists (Zbb string
// routines, Svpbmt, Zicboz clear_page, ...); the test checks that /proc/cpuinfo's isa line
// carries every extension of the device tree that this kernel knows, that the kernel's own
// riscv_hwprobe agrees with the process VM's for the same ISA, and that glibc runs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { spawn } from "node:child_process";
import { GuestConsole, RVISOR_BIN, guestImage } from "./lib/guest.js";
import { GLIBC_EXPECTED, GLIBC_PROGRAM, glibcInitramfs } from "./lib/glibc_initramfs.js";
import { debianKernelUnavailable, fetchDebianKernel, type DebianKernel } from "./lib/debian_kernel.js";
import { which } from "./lib/toolchain.js";
import { Isa } from "../src/cpu/isa.js";
import { IMA_EXT_0_BITS, imaExt0 } from "../src/user/hwprobe.js";
import { scaled, scaledKernelArgs } from "./lib/time_scale.js";

const BOOT_TIMEOUT = 180_000;
/** Options the boot depends on: built in (=y), not modules. */
const NEEDED_CONFIG = ["CONFIG_SERIAL_8250_CONSOLE", "CONFIG_SERIAL_OF_PLATFORM", "CONFIG_BLK_DEV_INITRD", "CONFIG_RD_GZIP", "CONFIG_RISCV_SBI", "CONFIG_RISCV_PMU_SBI"];

async function setup(): Promise<{ kernel: DebianKernel; initrd: string } | string> {
  const why = debianKernelUnavailable();
  if (why !== null) return why;
  if (which("riscv64-linux-gnu-gcc") === null) return "riscv64-linux-gnu-gcc not found";
  const img = await guestImage();
  if (typeof img === "string") return img;
  // Not a skip: a host with apt that cannot reach the archive fails here with the reason.
  const kernel = fetchDebianKernel((s) => process.stderr.write(`${s}\n`));
  return { kernel, initrd: await glibcInitramfs(img.initrd) };
}

const env = await setup();
const skip = typeof env === "string" ? env : false;

/** Extension names this kernel knows: they are NUL-terminated strings in its riscv_isa_ext table. */
function kernelKnows(image: Buffer, ext: string): boolean {
  return image.includes(Buffer.from(`\0${ext}\0`, "latin1"));
}

test("Debian's 6.12 kernel boots on rvisor --cpu max: shell, cpuinfo isa = the device tree's extensions, hwprobe, glibc, SBI PMU/DBCN", { skip, timeout: scaled(600_000) }, async (t) => {
  if (typeof env === "string") return;
  const { kernel, initrd } = env;
  const config = readFileSync(kernel.config, "utf8");
  for (const opt of NEEDED_CONFIG) assert.match(config, new RegExp(`^${opt}=y$`, "m"), `${kernel.package}: ${opt}=y`);
  const image = readFileSync(kernel.image);
  const isa = Isa.profile("max");

  // earlycon=sbi: the kernel's first lines go out through DBCN, so a boot that stops early still shows where.
  const g = new GuestConsole(["--cpu", isa.profile, "--kernel", kernel.image, "--initrd", initrd, "--append", `console=ttyS0 earlycon=sbi${scaledKernelArgs()}`, "--mem", "512M"]);
  try {
    await g.waitFor("rvisor guest ready", BOOT_TIMEOUT);
    const bootS = (performance.now() - g.started) / 1000;
    await g.waitFor(/# $/m, 30_000);
    t.diagnostic(`${kernel.package} ${kernel.version}: shell after ${bootS.toFixed(1)} s`);
    assert.match(await g.run("uname -r"), /^6\.12\./m);

    // /proc/cpuinfo: "isa : rv64imafdc_zi..." lists single letters, then _-separated names.
    const cpuinfo = await g.run("cat /proc/cpuinfo");
    const line = /^isa\s*:\s*(\S+)$/m.exec(cpuinfo);
    assert.ok(line !== null, cpuinfo);
    const [letters, ...multi] = line[1].split("_");
    assert.equal(letters, "rv64imafdc", "the base ISA");
    const known = isa.isaExtensions().filter((e) => e.length > 1 && kernelKnows(image, e));
    t.diagnostic(`device tree extensions this kernel knows: ${known.join(" ")}`);
    // The string search finds what 6.12 does know (so `known` is not empty by accident).
    for (const e of ["zba", "zbb", "zbs", "zicboz", "zicbom", "zicntr", "sstc", "svpbmt"]) assert.ok(kernelKnows(image, e), `6.12 knows ${e}`);
    const missingInGuest = known.filter((e) => !multi.includes(e));
    assert.deepEqual(missingInGuest, [], `in the device tree and known to the kernel, but not in /proc/cpuinfo: ${line[1]}`);
    const unexpected = multi.filter((e) => !isa.extensions.some((x) => x === e));
    assert.deepEqual(unexpected, [], "nothing beyond the device tree");

    // The SBI: v2.0, DBCN used for earlycon, the PMU driver probes (and sets scounteren).
    const dmesg = await g.run("dmesg");
    assert.match(dmesg, /SBI specification v2\.0 detected/);
    assert.match(dmesg, /SBI DBCN extension detected/);
    assert.match(dmesg, /riscv-pmu-sbi: SBI PMU extension is available/);
    assert.match(dmesg, /riscv-pmu-sbi: 16 firmware and 2 hardware counters/);
    assert.doesNotMatch(dmesg, /Oops|BUG:|Unable to handle/);

    // glibc, and the real kernel's riscv_hwprobe against the process VM's for the same ISA
    // (the bits of extensions this kernel knows).
    const out = await g.run(`${GLIBC_PROGRAM}; echo "exit status $?"`, 60_000);
    for (const re of GLIBC_EXPECTED) assert.match(out, re);
    assert.match(out, /^exit status 0$/m);
    const hw = /^hwprobe ext0: 0x([0-9a-f]+)$/m.exec(out);
    assert.ok(hw !== null, out);
    let mask = 0b11n; // FD, C
    for (const [e, bit] of Object.entries(IMA_EXT_0_BITS)) if (kernelKnows(image, e)) mask |= 1n << BigInt(bit);
    assert.equal(`0x${(BigInt(`0x${hw[1]}`) & mask).toString(16)}`, `0x${(imaExt0(isa) & mask).toString(16)}`, "Linux's hwprobe IMA_EXT_0 = rvisor exec's");

    g.send("poweroff\n");
    assert.equal(await g.exited, 0, `poweroff; output:\n${g.output.slice(-2000)}`);
    t.diagnostic(`total ${((performance.now() - g.started) / 1000).toFixed(1)} s`);
  } finally {
    g.kill();
  }
});

/**
 * The kernel's log lines about the SBI (from boot until the PMU driver has probed), timestamps
 * cut off; the implementation ID line and the number of hardware counters (QEMU's hart has 16
 * hpmcounters, rvisor's read zero) are what may differ between two SBIs and are normalised.
 */
function sbiLines(log: string): string[] {
  const out: string[] = [];
  for (const m of log.matchAll(/^\[\s*[\d.]+\] (.*\bSBI\b.*|riscv-pmu-sbi: .*)$/gm)) {
    const l = m[1].replace(/\r$/, "");
    if (/^SBI implementation ID=/.test(l)) { out.push("SBI implementation ID=* Version=*"); continue; }
    out.push(l.replace(/(\d+ firmware and )\d+( hardware counters)/, "$1N$2"));
  }
  return out;
}

/** Runs `cmd` until its output shows `done` (or `timeoutMs` passes), then kills it; returns the output. */
function runUntil(cmd: string, args: string[], done: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const finish = (): void => { clearTimeout(timer); p.kill("SIGKILL"); };
    const timer = setTimeout(finish, scaled(timeoutMs));
    const take = (d: Buffer): void => { out += d.toString("latin1"); if (done.test(out)) finish(); };
    p.stdout.on("data", take);
    p.stderr.on("data", take);
    p.on("close", () => resolve(out));
  });
}

const QEMU = "qemu-system-riscv64";
test("the built-in SBI answers Debian's 6.12 kernel as trixie's OpenSBI does on QEMU (extensions, spec version, PMU counters)", { skip: skip || (which(QEMU) === null ? `${QEMU} not found` : false), timeout: scaled(300_000) }, async (t) => {
  if (typeof env === "string") return;
  const { kernel } = env;
  // No initrd: both boots are stopped once the PMU driver has reported (long before the root mount).
  const append = "console=ttyS0 earlycon=sbi";
  const done = /riscv-pmu-sbi: \d+ firmware and \d+ hardware counters[^\n]*\n[^\n]*\n/;
  // The SBI's answers do not depend on the ISA profile; rv64gc keeps this check apart from the extensions'.
  const [qemu, rvisor] = await Promise.all([
    runUntil(QEMU, ["-M", "virt", "-m", "512M", "-nographic", "-bios", kernel.opensbi, "-kernel", kernel.image, "-append", append], done, 180_000),
    runUntil(process.execPath, [RVISOR_BIN, "run", "--cpu", "rv64gc", "--kernel", kernel.image, "--append", append, "--mem", "512M"], done, 180_000),
  ]);
  assert.match(qemu, new RegExp(`OpenSBI v${kernel.opensbiVersion.replace(/-.*$/, "").replace(/\./g, "\\.")}`), "QEMU ran trixie's OpenSBI");
  const want = sbiLines(qemu), got = sbiLines(rvisor);
  t.diagnostic(`OpenSBI ${kernel.opensbiVersion} on QEMU: ${want.join(" | ")}`);
  assert.ok(want.some((l) => l.startsWith("riscv-pmu-sbi: ")), `QEMU's boot reached the PMU driver:\n${qemu.slice(-2000)}`);
  assert.deepEqual(got, want);
});
