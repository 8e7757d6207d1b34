// `rvisor run` as a user meets it: bare-metal HTIF programs, exit codes, and one clear line
// for bad input.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RVISOR_BIN } from "./lib/guest.js";
import { crossGcc } from "./lib/toolchain.js";

const dir = mkdtempSync(join(tmpdir(), "rvisor-cli-"));

function rvisor(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [RVISOR_BIN, ...args], { encoding: "utf8", timeout: 60_000, input: "" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const HTIF_PROGRAM = `
.section .text.init
.globl _start
_start:
  la t0, msg
1: lbu a0, 0(t0)
  beqz a0, 3f
  li t1, 0x0101000000000000
  or t1, t1, a0
  la t3, tohost
  sd t1, 0(t3)
2: ld t4, 0(t3)
  bnez t4, 2b
  addi t0, t0, 1
  j 1b
3: li t1, (EXIT << 1) | 1
  la t3, tohost
  sd t1, 0(t3)
4: j 4b
.data
msg: .asciz "hi from bare metal\\n"
.section .tohost,"aw",@progbits
.align 6
.globl tohost
tohost: .dword 0
.size tohost, 8
.globl fromhost
fromhost: .dword 0
.size fromhost, 8
`;

function build(name: string, src: string, flags: string[]): string {
  const s = join(dir, `${name}.S`), out = join(dir, `${name}.elf`);
  writeFileSync(s, src);
  const r = spawnSync(crossGcc() ?? "riscv64-linux-gnu-gcc", ["-march=rv64gc", "-mabi=lp64d", "-nostdlib", "-nostartfiles", "-static", "-fno-pie", "-no-pie", ...flags, s, "-o", out], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return out;
}

writeFileSync(join(dir, "link.ld"), "ENTRY(_start)\nSECTIONS {\n  . = 0x80000000;\n  .text : { *(.text.init) *(.text*) }\n  .data : { *(.data*) }\n  .tohost : ALIGN(64) { *(.tohost) }\n}\n");
const IN_RAM = ["-Wl,--build-id=none", "-T", join(dir, "link.ld"), "-x", "assembler-with-cpp"];
const skip = crossGcc() === null ? "riscv64-linux-gnu-gcc not installed" : false;

test("bare-metal ELF: HTIF console output and exit status", { skip }, () => {
  const pass = build("pass", HTIF_PROGRAM, ["-DEXIT=0", ...IN_RAM]);
  const fail = build("fail", HTIF_PROGRAM, ["-DEXIT=7", ...IN_RAM]);
  let r = rvisor("run", "--bios", "none", "--kernel", pass);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, "hi from bare metal\n");
  r = rvisor("run", "--bios", "none", "--kernel", fail);
  assert.equal(r.status, 7);
});

test("bad input gets one clear line and a non-zero exit", { skip }, () => {
  const cases: [string[], number, RegExp][] = [
    [["run", "--bios", "none", "--kernel", join(dir, "missing.elf")], 2, /cannot read kernel .*ENOENT/],
    [["run", "--bios", "none", "--kernel", "/bin/sh"], 1, /not a RISC-V ELF file/],
    [["run", "--bios", "none", "--kernel", build("low", HTIF_PROGRAM, ["-DEXIT=0", "-Wl,-Ttext=0x10000", "-x", "assembler-with-cpp"])], 1, /outside RAM/],
    [["run", "--smp", "9", "--kernel", "/bin/sh"], 2, /--smp must be an integer from 1 to 8/],
    [["run", "--mem", "lots", "--kernel", "/bin/sh"], 2, /bad size 'lots'/],
    [["run", "--frobnicate"], 2, /Unknown option '--frobnicate'/],
    [["run", "--drive", "format=raw", "--kernel", "/bin/sh"], 2, /file=PATH is required/],
    [["launch"], 2, /unknown command 'launch'/],
  ];
  for (const [args, status, message] of cases) {
    const r = rvisor(...args);
    assert.equal(r.status, status, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split("\n").length, 1, `one line for ${args.join(" ")}: ${r.stderr}`);
  }
  const raw = join(dir, "notelf.bin");
  writeFileSync(raw, new Uint8Array(16));
  // A 32-bit ELF header: class 1.
  const elf32 = new Uint8Array(64); elf32.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]);
  writeFileSync(join(dir, "e32.elf"), elf32);
  const r = rvisor("run", "--bios", "none", "--kernel", join(dir, "e32.elf"));
  assert.equal(r.status, 1);
  assert.match(r.stderr, /not a 64-bit ELF file/);
});
