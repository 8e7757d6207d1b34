// Disk image locks between real `rvisor run` processes (bare-metal guests, so each run is quick):
// a second writer is refused with one line and exit status 1 while the first keeps running,
// readers share, a kill -9'd holder does not block the next run, and QEMU's locks are seen.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RVISOR_BIN } from "./lib/guest.js";
import { crossGcc } from "./lib/toolchain.js";
import { scaled } from "./lib/time_scale.js";

const dir = mkdtempSync(join(tmpdir(), "rvisor-disklock-"));
const QEMU = "/usr/bin/qemu-system-riscv64";
after(() => rmSync(dir, { recursive: true, force: true }));

/** Prints "ready" through HTIF, then exits with EXIT or (SPIN) spins forever. */
const PROGRAM = `
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
3:
#ifdef SPIN
4: j 4b
#endif
  li t1, (EXIT << 1) | 1
  la t3, tohost
  sd t1, 0(t3)
5: j 5b
.data
msg: .asciz "ready\\n"
.section .tohost,"aw",@progbits
.align 6
.globl tohost
tohost: .dword 0
.globl fromhost
fromhost: .dword 0
`;

const skip = crossGcc() === null ? "riscv64-linux-gnu-gcc not installed" : false;

function build(name: string, defs: string[]): string {
  const s = join(dir, `${name}.S`), out = join(dir, `${name}.elf`), ld = join(dir, "link.ld");
  writeFileSync(s, PROGRAM);
  writeFileSync(ld, "ENTRY(_start)\nSECTIONS {\n  . = 0x80000000;\n  .text : { *(.text.init) *(.text*) }\n  .data : { *(.data*) }\n  .tohost : ALIGN(64) { *(.tohost) }\n}\n");
  const r = spawnSync(crossGcc() ?? "riscv64-linux-gnu-gcc", ["-march=rv64gc", "-mabi=lp64d", "-nostdlib", "-nostartfiles", "-static",
    "-fno-pie", "-no-pie", "-Wl,--build-id=none", "-T", ld, "-x", "assembler-with-cpp", ...defs, s, "-o", out], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return out;
}

/** A running `rvisor run` that holds its drives until killed. */
class Holder {
  readonly child: ChildProcess;
  out = "";
  readonly exited: Promise<number | null>;
  constructor(args: string[]) {
    this.child = spawn(process.execPath, [RVISOR_BIN, "run", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    this.child.stdout?.on("data", (b: Buffer) => { this.out += b.toString(); });
    this.child.stderr?.on("data", (b: Buffer) => { this.out += b.toString(); });
    this.exited = new Promise((resolve) => this.child.on("exit", (code) => resolve(code)));
  }
  /** Resolves once the guest printed "ready": the drives were opened (and locked) before it started. */
  async ready(): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (!this.out.includes("ready")) {
      if (this.child.exitCode !== null || Date.now() > deadline) assert.fail(`holder did not start: ${this.out}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  get running(): boolean { return this.child.exitCode === null && this.child.signalCode === null; }
  async kill(signal: NodeJS.Signals = "SIGTERM"): Promise<void> { this.child.kill(signal); await this.exited; }
}

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [RVISOR_BIN, "run", ...args], { encoding: "utf8", timeout: scaled(60_000), input: "" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function oneLine(s: string): void { assert.equal(s.trim().split("\n").length, 1, `one line: ${s}`); }

test("two rvisor processes on one image: the second writer is refused, the first is unaffected; kill -9 leaves no stale lock", { skip, timeout: scaled(120_000) }, async () => {
  const spin = build("spin", ["-DSPIN", "-DEXIT=0"]), done = build("done", ["-DEXIT=0"]);
  const img = join(dir, "disk.img");
  writeFileSync(img, new Uint8Array(1 << 20));
  const drive = (ro = false): string[] => ["--drive", `file=${img},format=raw${ro ? ",readonly=on" : ""}`];

  const first = new Holder(["--bios", "none", "--kernel", spin, ...drive()]);
  try {
    await first.ready();
    const second = run(["--bios", "none", "--kernel", done, ...drive()]);
    assert.equal(second.status, 1, second.stderr);
    assert.match(second.stderr, new RegExp(`^rvisor: --drive 'file=.*disk\\.img,format=raw': Failed to get "write" lock on .*disk\\.img: in use by rvisor pid ${first.child.pid} \\(writing\\)\\n$`));
    oneLine(second.stderr);
    assert.equal(second.stdout, "", "the refused VM never started");
    const reader = run(["--bios", "none", "--kernel", done, ...drive(true)]);
    assert.equal(reader.status, 1);
    assert.match(reader.stderr, /Failed to get shared "write" lock .*in use by rvisor pid \d+ \(writing\)/);
    oneLine(reader.stderr);
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(first.running, "the first VM keeps running");
    // kill -9: no exit handler runs, the holder file stays; the next run takes the lock over.
    await first.kill("SIGKILL");
    const next = run(["--bios", "none", "--kernel", done, ...drive()]);
    assert.equal(next.status, 0, next.stderr);
    assert.equal(next.stdout, "ready\n");
    // A clean exit released it: another writer gets it at once.
    assert.equal(run(["--bios", "none", "--kernel", done, ...drive()]).status, 0);
  } finally {
    if (first.running) await first.kill("SIGKILL");
  }
});

test("readonly=on opens share the image with each other but not with a writer", { skip, timeout: scaled(120_000) }, async () => {
  const spin = build("spin", ["-DSPIN", "-DEXIT=0"]), done = build("done", ["-DEXIT=0"]);
  const img = join(dir, "shared.img");
  writeFileSync(img, new Uint8Array(1 << 20));
  const ro = ["--drive", `file=${img},format=raw,readonly=on`];
  const r1 = new Holder(["--bios", "none", "--kernel", spin, ...ro]);
  const r2 = new Holder(["--bios", "none", "--kernel", spin, ...ro]);
  try {
    await r1.ready(); await r2.ready();
    const r3 = run(["--bios", "none", "--kernel", done, ...ro]);
    assert.equal(r3.status, 0, r3.stderr);
    const w = run(["--bios", "none", "--kernel", done, "--drive", `file=${img},format=raw`]);
    assert.equal(w.status, 1);
    assert.match(w.stderr, /Failed to get "write" lock .*in use by rvisor pid \d+ \(reading\)/);
    oneLine(w.stderr);
    assert.ok(r1.running && r2.running);
  } finally {
    await r1.kill(); await r2.kill();
  }
  // SIGTERM'd readers are dead: a writer gets the image.
  assert.equal(run(["--bios", "none", "--kernel", done, "--drive", `file=${img},format=raw`]).status, 0);
});

test("an image QEMU has open for writing is refused, naming QEMU", { skip: skip || (existsSync(QEMU) ? false : "qemu-system-riscv64 not installed"), timeout: scaled(120_000) }, async () => {
  const done = build("done", ["-DEXIT=0"]);
  const img = join(dir, "qemu.img");
  writeFileSync(img, new Uint8Array(1 << 20));
  const q = spawn(QEMU, ["-M", "virt", "-display", "none", "-S", "-nodefaults", "-drive", `file=${img},format=raw,if=none,id=d0`,
    "-device", "virtio-blk-device,drive=d0"], { stdio: "ignore" });
  try {
    // Wait until QEMU has taken its locks.
    let r = run(["--bios", "none", "--kernel", done, "--drive", `file=${img},format=raw,readonly=on`]);
    for (let i = 0; i < 100 && r.status === 0; i++) {
      await new Promise((res) => setTimeout(res, 100));
      r = run(["--bios", "none", "--kernel", done, "--drive", `file=${img},format=raw,readonly=on`]);
    }
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`Failed to get shared "write" lock .*qemu-system-ris\\S* pid ${q.pid} is writing to it`));
    oneLine(r.stderr);
    const w = run(["--bios", "none", "--kernel", done, "--drive", `file=${img},format=raw`]);
    assert.equal(w.status, 1);
    assert.match(w.stderr, /Failed to get "write" lock/);
  } finally {
    q.kill("SIGKILL");
  }
});
