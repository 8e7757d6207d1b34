// A program built for the new extensions (test/user/programs/rva22.c: gcc -O2
// -march=rv64gc_zba_zbb_zbc_zbs_zfh, so the compiler itself emits Zba/Zbb/Zbs; Zbc, Zfh and
// Zicond by instruction) gives the same output under rvisor as under qemu-riscv64 with those
// extensions enabled — in the process VM and inside a Linux guest on the system VM. Zicond,
// which QEMU 7.2 lacks, is checked by the program against the instruction's definition.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { buildProgram, qemu, rvisor, toolsMissing } from "./user/build.js";
import { GuestConsole, guestImage } from "./lib/guest.js";
import { scaled } from "./lib/time_scale.js";

const MARCH = "rv64gc_zba_zbb_zbc_zbs_zfh";
const QEMU_CPU = "rv64,zba=true,zbb=true,zbc=true,zbs=true,Zfh=true,Zfhmin=true";
/** The Zicond line rvisor must add when asked (6 x 6 operand pairs, two instructions each). */
const ZICOND_LINE = "zicond: 72 ok, 0 wrong\n";
/** Exit status of a process killed by SIGILL, as shells report it (and rvisor exec exits). */
const SIGILL_STATUS = 128 + 4;
const BOOT_TIMEOUT = 180_000;

const skip = toolsMissing();
const program = (): string => buildProgram("rva22", "static", ["-O2", `-march=${MARCH}`]);

let reference: string | null = null;
async function qemuOutput(): Promise<string> {
  if (reference !== null) return reference;
  const q = await qemu(["-cpu", QEMU_CPU, program()]);
  assert.equal(q.code, 0, q.stderr);
  reference = q.stdout;
  return reference;
}

test("rva22 program: gcc emitted Zba/Zbb/Zbs instructions and QEMU runs it", { skip, timeout: scaled(60_000) }, async () => {
  const dis = spawnSync("riscv64-linux-gnu-objdump", ["-d", program()], { encoding: "utf8", maxBuffer: 64 << 20 });
  assert.equal(dis.status, 0, dis.stderr);
  const mnemonics = new Set(dis.stdout.split("\n").map((l) => l.split("\t")[2]?.trim() ?? ""));
  for (const m of ["sh1add", "sh3add.uw", "add.uw", "rev8", "cpop", "clz", "rol", "maxu", "zext.h", "bset", "bclr", "clmulr", "fmadd.h", "fcvt.h.d"]) {
    assert.ok(mnemonics.has(m), `${m} not in the binary`);
  }
  const out = await qemuOutput();
  assert.match(out, /^zfh: [0-9a-f]{8} fflags=[0-9a-f]{2}$/m);
  assert.equal(out.split("\n").filter((l) => l.startsWith("half ")).length, 13);
});

test("rvisor exec runs the rva22 program exactly as qemu-riscv64 does, and Zicond as defined", { skip, timeout: scaled(60_000) }, async () => {
  const want = await qemuOutput();
  const r = await rvisor([program()]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, want);
  const z = await rvisor([program(), "zicond"]);
  assert.equal(z.code, 0, z.stderr);
  assert.equal(z.stdout, want + ZICOND_LINE);
});

test("rvisor exec --cpu rv64gc refuses the new instructions with SIGILL, as QEMU without them does", { skip, timeout: scaled(60_000) }, async () => {
  // qemu-riscv64 re-raises the guest's signal on itself; rvisor exits with 128 + signal.
  const q = spawnSync("qemu-riscv64", [program()], { encoding: "utf8", timeout: scaled(60_000) });
  assert.equal(q.signal, "SIGILL", q.stderr);
  const r = await rvisor(["--cpu", "rv64gc", program()]);
  assert.equal(r.code, SIGILL_STATUS, r.stderr);
});

const img = await guestImage();
test("the rva22 program inside a Linux guest on the system VM prints what qemu-riscv64 prints", { skip: skip !== false ? skip : typeof img === "string" ? img : false, timeout: scaled(300_000) }, async () => {
  if (typeof img === "string") return;
  const want = await qemuOutput();
  const share = mkdtempSync(join(tmpdir(), "rvisor-rva22-"));
  copyFileSync(program(), join(share, "rva22"));
  const g = new GuestConsole(["--kernel", img.kernel, "--initrd", img.initrd, "--append", "console=ttyS0 quiet",
    "--mem", "256M", "--share", `${share},tag=host0`]);
  try {
    await g.waitFor("rvisor guest ready", BOOT_TIMEOUT);
    await g.waitFor(/# $/m, 30_000);
    await g.run("mkdir -p /mnt/h && mount -t 9p -o trans=virtio,version=9p2000.L host0 /mnt/h");
    const out = await g.run("/mnt/h/rva22 zicond; echo status=$?", 120_000);
    assert.equal(out.replace(/\r/g, ""), want + ZICOND_LINE + "status=0\n");
  } finally {
    g.kill();
  }
});
