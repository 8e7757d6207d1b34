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
import { buildElf, crossGcc } from "./lib/toolchain.js";

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

// User-mode counter reads (rdtime/rdcycle/rdinstret) as a Linux 6.1 guest makes them. Linux
// writes scounteren only in its SBI PMU driver (drivers/perf/riscv_pmu_sbi.c, which needs
// CONFIG_RISCV_PMU_SBI and the SBI PMU extension); otherwise user access is whatever the
// firmware left: OpenSBI's mstatus_init sets mcounteren and scounteren to all ones, so the
// built-in SBI must too. This S-mode payload drops to U-mode, reads each counter twice,
// checks it counts up, and reports through the UART; an illegal-instruction trap names the
// counter that trapped.
const COUNTERS_PAYLOAD = `
#define UART 0x10000000
.section .text.init
.globl _start
_start:
  la t0, strap
  csrw stvec, t0
  li t0, 0x100          /* sstatus.SPP = U */
  csrc sstatus, t0
  la t0, user
  csrw sepc, t0
  sret
user:
  li s1, 'T'
  rdtime a0
1: rdtime a1
  beq a0, a1, 1b        /* time advances */
  bltu a1, a0, bad
  li s1, 'C'
  rdcycle a0
  rdcycle a1
  bgeu a0, a1, bad
  li s1, 'I'
  rdinstret a0
  rdinstret a1
  bgeu a0, a1, bad
  ecall                 /* scause 8: all good */
bad:
  ebreak                /* scause 3: a counter went backwards */
.align 2
strap:
  li t2, UART
  csrr t0, scause
  li t1, 8
  bne t0, t1, 2f
  la t3, okmsg
  j 3f
2: sb s1, 0(t2)
  addi t0, t0, '0'
  sb t0, 0(t2)
  la t3, failmsg
3: lbu t0, 0(t3)
  beqz t0, 4f
  sb t0, 0(t2)
  addi t3, t3, 1
  j 3b
4: li a7, 0x53525354    /* SBI SRST: shutdown */
  li a6, 0
  li a0, 0
  li a1, 0
  ecall
5: j 5b
okmsg: .asciz "user counters ok\\n"
failmsg: .asciz " trapped\\n"
`;

function countersPayload(): Uint8Array | null {
  if (crossGcc() === null) return null;
  const dir = mkdtempSync(join(tmpdir(), "rvisor-counters-"));
  const ld = join(dir, "link.ld");
  writeFileSync(ld, "ENTRY(_start)\nSECTIONS {\n  . = 0x80200000;\n  .text : { *(.text.init) *(.text*) *(.rodata*) }\n}\n");
  return readFileSync(buildElf({ name: "counters.elf", sources: [{ name: "counters.S", text: COUNTERS_PAYLOAD }], linkerScript: ld, flags: ["-x", "assembler-with-cpp"] }));
}

for (const fw of ["builtin", "OpenSBI fw_jump"] as const) {
  const skip = crossGcc() === null ? "riscv64-linux-gnu-gcc not installed" : fw !== "builtin" && !haveFw ? `${FW_JUMP} missing (package opensbi)` : false;
  test(`U-mode reads time, cycle and instret under ${fw} firmware`, { skip }, () => {
    const kernel = countersPayload();
    assert.ok(kernel !== null);
    const out = new CaptureCharBackend();
    const firmware = fw === "builtin" ? { kind: "builtin" as const } : { kind: "image" as const, bytes: readFileSync(FW_JUMP) };
    const m = new VirtMachine({ memBytes: 128 << 20, harts: 1, firmware, kernel, console: out });
    for (let i = 0; i < 100 && m.exit === null; i++) m.step(1_000_000);
    assert.deepEqual(m.exit, { kind: "poweroff", code: 0 }, out.text());
    assert.match(out.text(), /user counters ok\n$/);
  });
}
