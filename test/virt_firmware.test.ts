// The virt board with real firmware: Debian's OpenSBI boots on it and prints its banner with
// the platform details it read from rvisor's device tree; dtc accepts that device tree.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VirtMachine } from "../src/system/machine.js";
import { CaptureCharBackend } from "../src/system/devices/char_backend.js";

const FW_JUMP = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin";
const haveFw = existsSync(FW_JUMP);

function hasDtc(): boolean {
  try { execFileSync("dtc", ["--version"], { stdio: "ignore" }); return true; } catch { return false; }
}

test("dtc accepts the virt device tree (2 harts, disk-less)", { skip: hasDtc() ? false : "dtc not installed" }, () => {
  const m = new VirtMachine({ memBytes: 128 << 20, harts: 2, firmware: { kind: "builtin" }, kernel: new Uint8Array(64), console: new CaptureCharBackend(), append: "console=ttyS0" });
  const dir = mkdtempSync(join(tmpdir(), "rvisor-dtb-"));
  writeFileSync(join(dir, "virt.dtb"), m.dtb);
  const dts = execFileSync("dtc", ["-I", "dtb", "-O", "dts", join(dir, "virt.dtb")], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  for (const want of ["cpu@0", "cpu@1", "riscv,isa = \"rv64imafdc", "serial@10000000", "plic@c000000", "clint@2000000",
    "virtio_mmio@10001000", "rtc@101000", "bootargs = \"console=ttyS0\"", "timebase-frequency = <0x989680>", "syscon-poweroff"]) {
    assert.ok(dts.includes(want), `device tree lacks ${want}`);
  }
});

test("Debian's OpenSBI fw_jump boots on the virt board and reports it correctly", { skip: haveFw ? false : `${FW_JUMP} missing (package opensbi)` }, () => {
  const out = new CaptureCharBackend();
  const m = new VirtMachine({ memBytes: 128 << 20, harts: 2, firmware: { kind: "image", bytes: readFileSync(FW_JUMP) }, console: out });
  // OpenSBI prints its banner and then jumps to 0x80200000 (empty here).
  for (let i = 0; i < 200 && !out.text().includes("Boot HART MEDELEG"); i++) m.step(1_000_000);
  const text = out.text();
  assert.match(text, /OpenSBI v\d/);
  assert.match(text, /Platform Name\s+: riscv-virtio,qemu/);
  assert.match(text, /Platform HART Count\s+: 2/);
  assert.match(text, /Platform Console Device\s+: uart8250/);
  assert.match(text, /Platform Timer Device\s+: aclint-mtimer @ 10000000Hz/);
  assert.match(text, /Platform Shutdown Device\s+: sifive_test/);
  assert.match(text, /Boot HART Base ISA\s+: rv64imafdc/);
  assert.match(text, /Boot HART PMP Count\s+: 16/);
  assert.match(text, /Boot HART MIDELEG\s+: 0x0*222/);
});
