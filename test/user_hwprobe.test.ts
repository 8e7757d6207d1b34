// riscv_hwprobe(2) and /proc/cpuinfo in the process VM, from a riscv64 C program
// (test/user/programs/hwprobe.c) run with each --cpu profile. The reference would be
// qemu-riscv64, but Debian 12's QEMU 7.2 has no riscv_hwprobe (it answers ENOSYS: checked
// below, so this test notices a QEMU that gains it); the expected answers are therefore worked
// out here from the profile's Isa and Linux 6.12's definitions (sys_hwprobe.c, hwprobe.rst).
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildProgram, qemu, rvisor, toolsMissing } from "./user/build.js";
import { availableParallelism } from "node:os";
import { Isa, PROFILES, type CpuProfile } from "../src/cpu/isa.js";
import { scaled } from "./lib/time_scale.js";

const skip = toolsMissing();

test("hwprobe: qemu-riscv64 7.2 has no riscv_hwprobe (so the reference is Linux's definition)", { skip, timeout: scaled(60_000) }, async () => {
  const q = await qemu([buildProgram("hwprobe", "static")]);
  assert.equal(q.code, 0, q.stderr);
  if (q.stdout !== "probe all: ENOSYS\n") {
    // A QEMU with hwprobe: its answer for the base keys must agree with rvisor's rv64gc one.
    const r = await rvisor(["--cpu", "rv64gc", buildProgram("hwprobe", "static")]);
    for (const key of ["key 0 ", "key 3 ", "key 10 ", "key -7 "]) {
      assert.equal(r.stdout.split("\n").find((l) => l.startsWith(key)), q.stdout.split("\n").find((l) => l.startsWith(key)), key);
    }
  }
});

for (const profile of Object.keys(PROFILES) as CpuProfile[]) {
  test(`hwprobe and /proc/cpuinfo under --cpu ${profile} report exactly the profile's ISA`, { skip, timeout: scaled(60_000) }, async () => {
    const isa = Isa.profile(profile);
    const r = await rvisor(["--cpu", profile, buildProgram("hwprobe", "static")]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split("\n");
    const line = (prefix: string): string => {
      const l = lines.find((x) => x.startsWith(prefix));
      assert.ok(l !== undefined, `no '${prefix}' line in:\n${r.stdout}`);
      return l;
    };
    assert.equal(line("probe all: "), "probe all: 0");
    // mvendorid, marchid, mimpid: 0. BASE_BEHAVIOR: IMA.
    for (const k of [0, 1, 2]) assert.equal(line(`key ${k} `), `key ${k} -> ${k} 0x0`);
    assert.equal(line("key 3 "), "key 3 -> 3 0x1");
    // IMA_EXT_0: FD, C and every extension of the profile that Linux 6.12 has a bit for, no more.
    const known = line("names: ").slice("names: ".length).split(" ");
    const expected = ["FD", "C", ...known.filter((n) => isa.extensions.some((e) => e === n))];
    const got = line("key 4 ext0:").slice("key 4 ext0:".length).trim().split(" ");
    assert.deepEqual([...got].sort(), [...expected].sort());
    assert.ok(got.includes("zca") && got.includes("zcd"), "C and D imply Zca and Zcd");
    if (profile !== "rv64gc") assert.ok(got.includes("zba") && got.includes("zbb") && got.includes("zbs"));
    // CPUPERF_0 and MISALIGNED_SCALAR_PERF agree (SLOW = 2); cbo.zero block 64 bytes with Zicboz.
    assert.equal(line("key 5 "), "key 5 -> 5 0x2");
    assert.equal(line("key 9 "), "key 9 -> 9 0x2");
    assert.equal(line("key 6 "), `key 6 -> 6 0x${isa.has("zicboz") ? "40" : "0"}`);
    // Sv39's TASK_SIZE (user_max_virt_addr) and the 10 MHz time CSR.
    assert.equal(line("key 7 "), "key 7 -> 7 0x4000000000");
    assert.equal(line("key 8 "), `key 8 -> 8 0x${(10_000_000).toString(16)}`);
    // Unknown keys (past RISCV_HWPROBE_MAX_KEY = 9, or negative): key -1, value 0.
    assert.equal(line("key 10 "), "key 10 -> -1 0x0");
    assert.equal(line("key -7 "), "key -7 -> -1 0x0");
    // The online CPUs are the host's, as sched_getaffinity reports them to the guest.
    const n = Math.min(availableParallelism(), 512);
    assert.equal(line("online cpus: "), `online cpus: ${n}`);
    const hex = (v: bigint): string => (v === 0n ? "0" : `0x${v.toString(16)}`);
    const onlineWord = (w: number): bigint => { const bits = Math.max(0, Math.min(64, n - 64 * w)); return (1n << BigInt(bits)) - 1n; };
    // cpumask_and over nr_cpu_ids bits (whole longs): a word past them comes back as it went.
    const kept = (w: number, v: bigint): bigint => (w < Math.ceil(n / 64) ? v & onlineWord(w) : v);
    // The cpu-set rules and the error paths, as sys_hwprobe.c has them.
    const rest = r.stdout.slice(r.stdout.indexOf("set {0}:"), r.stdout.indexOf("isa"));
    assert.equal(rest, [
      "set {0}: 0", "same value: 1", "set {0}, 32-byte set (the kernel reads 16): 0", "set {n} (offline): EINVAL",
      "size 0, set given: EINVAL", "size 8, NULL set: EFAULT", "set at a bad address: EFAULT", "flags 2: EINVAL",
      "pairs at a bad address: EFAULT", "no pairs, NULL: 0",
      "which: FD|C on {0}: 0", "  set 0x1", "which: empty set means all: 0", `  set ${hex(onlineWord(0))}`,
      "which: V: 0", "  set 0", "which: mvendorid 1: 0", "  set 0",
      "which: unknown key: 0", "  set 0, key -1 value 0, next key 4",
      "which: offline CPUs' bits are dropped, words past nr_cpu_ids kept: 0", `  set ${hex(kept(0, 0xff01n))} ${hex(kept(1, 0xabcn))}`,
      "which: size 0: EINVAL", "which: NULL set: EINVAL", "which: flags 3: EINVAL", "which: pairs at a bad address: EFAULT", "",
    ].join("\n"));
    // /proc/cpuinfo: the same ISA, as Linux prints it (isa and hart isa lines).
    assert.equal(line("isa\t"), `isa\t\t: ${isa.isaString()}`);
    assert.equal(line("hart isa\t"), `hart isa\t: ${isa.isaString()}`);
    assert.equal(line("mmu\t"), "mmu\t\t: sv39");
  });
}
