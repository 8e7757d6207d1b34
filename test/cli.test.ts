// `rvisor run` as a user meets it: bare-metal HTIF programs, exit codes, and one clear line
// for bad input.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RVISOR_BIN } from "./lib/guest.js";
import { crossGcc } from "./lib/toolchain.js";
import { USER_EXIT_42, WFI_LOOP, tinyElf } from "./lib/tiny_elf.js";
import { DEFAULT_PROFILE, Isa, PROFILES, type CpuProfile } from "../src/cpu/isa.js";
import { scaled } from "./lib/time_scale.js";

const dir = mkdtempSync(join(tmpdir(), "rvisor-cli-"));

function rvisor(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [RVISOR_BIN, ...args], { encoding: "utf8", timeout: scaled(60_000), input: "" });
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

// ---- issue 7: inputs that cannot be a kernel or firmware, option parsing, limits ----
// These need no cross toolchain: the ELF files are built in memory (test/lib/tiny_elf.ts).

const file = (name: string, bytes: Uint8Array): string => { const p = join(dir, name); writeFileSync(p, bytes); return p; };
const oneLine = (r: { stderr: string }, what: string): void => assert.equal(r.stderr.trim().split("\n").length, 1, `one line for ${what}: ${r.stderr}`);
const DRAM = 0x8000_0000;
const FW_JUMP = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin";
/** `1: addi ra, ra, 1; addi ra, ra, 1; j 1b` */
const LOOP3 = [0x00108093, 0x00108093, 0xff9ff06f];

test("an empty, compressed or non-RISC-V kernel/firmware is refused with one line (exit 1)", () => {
  const empty = file("empty.bin", new Uint8Array(0));
  const gz = file("Image.gz", Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3));
  const cases: [string[], RegExp][] = [
    [["run", "--kernel", empty], /kernel image is empty/],
    [["run", "--bios", "none", "--kernel", empty], /kernel image is empty/],
    [["run", "--bios", empty, "--kernel", file("k.bin", new Uint8Array(64))], /firmware image is empty/],
    [["run", "--kernel", gz], /gzip-compressed/],
    [["run", "--bios", "/bin/sh"], /firmware: not a RISC-V ELF file/],
  ];
  for (const [args, message] of cases) {
    const r = rvisor(...args);
    assert.equal(r.status, 1, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
    oneLine(r, args.join(" "));
  }
});

test("a kernel or firmware of zeros or random bytes stops with a clear line instead of spinning", () => {
  let seed = 7;
  const random = new Uint8Array(65536).map(() => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed >>> 24; });
  const zeros = file("zeros.bin", new Uint8Array(65536)), noise = file("noise.bin", random);
  const cases: [string[], RegExp][] = [
    [["--kernel", zeros], /in S-mode\); is kernel '.*zeros.bin' RISC-V code/],
    [["--kernel", noise], /in S-mode\); is kernel '.*noise.bin' RISC-V code/],
    [["--bios", "none", "--kernel", zeros], /in M-mode\); is kernel '.*zeros.bin' RISC-V code/],
    [["--bios", noise, "--kernel", zeros], /in M-mode\); is firmware '.*noise.bin' RISC-V firmware/],
  ];
  // OpenSBI redirects each fault to the kernel's stvec (0 here): M-mode retires, S-mode never does.
  if (existsSync(FW_JUMP)) cases.push([["--bios", FW_JUMP, "--kernel", zeros], / in S-mode\); is kernel '.*zeros.bin'/]);
  for (const [args, message] of cases) {
    const t0 = Date.now();
    const r = rvisor("run", ...args);
    assert.equal(r.status, 1, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /^rvisor: hart 0 makes no progress: it keeps trapping \(.* at 0x[0-9a-f]+ in [SUM]-mode\)/m);
    assert.match(r.stderr, message);
    oneLine(r, args.join(" "));
    assert.ok(Date.now() - t0 < 20_000, "detected in seconds");
  }
});

test("--mem takes the same sizes in run and exec (512M, 2G, bare MiB), 2048 included; bad ones get one line", () => {
  const kernel = file("wfi.elf", tinyElf({ base: DRAM, code: WFI_LOOP }));
  const prog = file("exit42", tinyElf({ base: 0x10000, code: USER_EXIT_42 }));
  for (const mem of ["2048", "2G", "512M", "512", "16M"]) {
    const r = rvisor("run", "--mem", mem, "--bios", "none", "--kernel", kernel, "--dump-dtb", join(dir, "m.dtb"));
    assert.equal(r.status, 0, `run --mem ${mem}: ${r.stderr}`);
    const e = rvisor("exec", "--mem", mem, prog);
    assert.equal(e.status, 42, `exec --mem ${mem}: ${e.stderr}`);
  }
  assert.equal(rvisor("exec", "--mem=1G", prog).status, 42);
  const bad: [string[], RegExp][] = [
    [["run", "--mem", "-5M", "--kernel", kernel], /bad size '-5M'/],
    [["run", "-m", "-5M", "--kernel", kernel], /bad size '-5M'/],
    [["run", "--mem", "4G", "--kernel", kernel], /--mem must be between 16M and 2G \(got 4G\)/],
    [["run", "--mem", "2049", "--kernel", kernel], /--mem must be between 16M and 2G/],
    [["exec", "--mem", "-5M", prog], /bad size '-5M'/],
    [["exec", "--mem", "4G", prog], /exec: --mem must be between 16M and 2G \(got 4G\)/],
    [["exec", "--mem", "lots", prog], /bad size 'lots'/],
    [["run", "--kernel"], /argument missing|--kernel/],
  ];
  for (const [args, message] of bad) {
    const r = rvisor(...args);
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
    oneLine(r, args.join(" "));
  }
});

test("--cpu PROFILE picks the ISA: run's device tree, exec's decoder; an unknown name lists the valid ones", () => {
  const kernel = file("wfi-cpu.elf", tinyElf({ base: DRAM, code: WFI_LOOP }));
  const dtbIsa = (extra: string[]): string => {
    const out = join(dir, "cpu.dtb");
    const r = rvisor("run", "--bios", "none", "--kernel", kernel, ...extra, "--dump-dtb", out);
    assert.equal(r.status, 0, r.stderr);
    const text = readFileSync(out).toString("latin1");
    const m = /rv64i[a-z0-9_]*/.exec(text);
    assert.ok(m !== null, "riscv,isa in the device tree");
    return m[0];
  };
  for (const p of Object.keys(PROFILES) as CpuProfile[]) assert.equal(dtbIsa(["--cpu", p]), Isa.profile(p).isaString(), p);
  assert.equal(dtbIsa([]), Isa.profile(DEFAULT_PROFILE).isaString(), "default profile");
  assert.notEqual(Isa.profile("rv64gc").isaString(), Isa.profile("max").isaString());
  // exec: under rv64gc, sh1add (Zba) is an illegal instruction (SIGILL, 128+4).
  const SH1ADD_A0_A0_A1 = 0x20b52533;
  const zba = file("zba", tinyElf({ base: 0x10000, code: [SH1ADD_A0_A0_A1, ...USER_EXIT_42] }));
  assert.equal(rvisor("exec", "--cpu", "rv64gc", zba).status, 128 + 4);
  const plain = file("exit42-cpu", tinyElf({ base: 0x10000, code: USER_EXIT_42 }));
  for (const p of Object.keys(PROFILES)) assert.equal(rvisor("exec", `--cpu=${p}`, plain).status, 42, p);
  for (const args of [["run", "--cpu", "rv32gc", "--kernel", kernel], ["exec", "--cpu", "rv32gc", plain], ["exec", "--cpu=MAX", plain]]) {
    const r = rvisor(...args);
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /--cpu: unknown CPU profile '(rv32gc|MAX)' \(valid: rv64gc, rva22, max\)/);
    oneLine(r, args.join(" "));
  }
  for (const cmd of ["run", "exec"]) {
    const h = rvisor(cmd, "--help");
    const text = h.stdout + h.stderr;
    assert.match(text, /--cpu PROFILE/, `${cmd} --help`);
    for (const p of Object.keys(PROFILES)) assert.match(text, new RegExp(`^ +${p} `, "m"), `${cmd} --help lists ${p}`);
  }
});

test("--share DIR,tag= (empty tag) is a usage error (exit 2, one line)", () => {
  const kernel = file("wfi2.elf", tinyElf({ base: DRAM, code: WFI_LOOP }));
  const r = rvisor("run", "--bios", "none", "--kernel", kernel, "--share", `${dir},tag=`, "--dump-dtb", join(dir, "s.dtb"));
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /--share '.*,tag=': tag= must be 1 to 65535 bytes/);
  oneLine(r, "--share tag=");
});

test("--max-instructions N stops within one block of N", () => {
  const kernel = file("loop.elf", tinyElf({ base: DRAM, code: LOOP3 }));
  for (const n of [1000, 123_457, 5_000_001]) {
    const r = rvisor("run", "--bios", "none", "--kernel", kernel, "--max-instructions", String(n));
    assert.equal(r.status, 3, r.stderr);
    const got = Number(/stopped after (\d+) instructions/.exec(r.stderr)?.[1]);
    assert.ok(got >= n && got < n + 3, `--max-instructions ${n}: stopped after ${got}`);
  }
  const r = rvisor("run", "--bios", "none", "--kernel", kernel, "--max-instructions", "1.5");
  assert.equal(r.status, 2);
});

test("--strace prints 64-bit values as unsigned hex (si_addr, pointer arguments)", () => {
  // write(1, -2048, 1) → EFAULT; then ld from -2048 → SIGSEGV.
  const code = [0x80000293, 0x00100513, 0x00028593, 0x00100613, 0x04000893, 0x00000073, 0x0002b303];
  const prog = file("segv", tinyElf({ base: 0x10000, code }));
  const r = rvisor("exec", "--strace", prog);
  assert.equal(r.status, 128 + 11, r.stderr);
  assert.match(r.stderr, /write\(1,0xfffffffffffff800,1\) = -1 errno=14/);
  assert.match(r.stderr, /--- SIGSEGV \{si_addr=0xfffffffffffff800\} ---/);
  assert.doesNotMatch(r.stderr, /0x-/);
});
