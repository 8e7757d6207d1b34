// src/abi/linux.ts (shared by the process VM and virtio-9p) held against riscv64 userspace: a C
// program built with Debian's cross gcc prints the constants its glibc and kernel headers define,
// and reads back struct stat, struct statx, struct statfs and linux_dirent64 records that the
// codecs wrote (under qemu-riscv64), field by field. And prctl's process attributes
// (test/user/programs/prctl.c) as Linux 6.1 has them, compared with qemu-riscv64.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as abi from "../src/abi/linux.js";
import { buildProgram, qemu, rvisor, toolsMissing } from "./user/build.js";
import { QEMU } from "./user/busybox.js";
import { scaled } from "./lib/time_scale.js";

const skip = toolsMissing();

function run(mode: string, input?: Uint8Array): string {
  const r = spawnSync(QEMU, [buildProgram("abi", "static"), mode], { input, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/** Names the headers spell differently; C expressions for sizes. */
const ALIASES: Record<string, string> = {
  ALLPERMS: "S_IALLUGO", SIGPOLL: "SIGIO",
  "sizeof(struct stat)": "STAT_SIZE", "sizeof(struct statx)": "STATX_SIZE", "sizeof(struct statfs)": "STATFS_SIZE", "sizeof(siginfo_t)": "SIGINFO_SIZE",
};
/** In the module but not in userspace headers: kernel-internal, or 0 in glibc's 64-bit headers, or a kernel-only macro. */
const KERNEL_ONLY = new Set(["ERESTARTSYS", "O_LARGEFILE", "S_IXUGO"]);

test("abi: constants match riscv64 glibc and kernel headers", { skip, timeout: scaled(120_000) }, () => {
  const table = abi as unknown as Record<string, unknown>;
  const seen = new Set<string>();
  for (const line of run("constants").trim().split("\n")) {
    const sp = line.lastIndexOf(" ");
    const cname = line.slice(0, sp), value = Number(line.slice(sp + 1));
    const name = ALIASES[cname] ?? cname;
    seen.add(name);
    if (/^SIG[A-Z0-9]+$/.test(name)) { assert.equal(abi.SIGNAL_NAMES[value], name, `signal ${value}`); continue; }
    assert.equal(table[name], value, `${cname}`);
  }
  // Every number of these families in the module is one the headers define.
  for (const [name, v] of Object.entries(table)) {
    if (typeof v !== "number" || !/^(E[A-Z0-9]+|O_|AT_|RENAME_|[FRWX]_OK|UTIME_|POLL|S_I|DT_|STATX?_|STATFS_|SIGINFO_)/.test(name) || KERNEL_ONLY.has(name)) continue;
    assert.ok(seen.has(name), `${name} is not checked against the headers`);
  }
});

test("abi: struct codecs read back by riscv64 C (stat, statx, statfs, linux_dirent64, siginfo_t)", { skip, timeout: scaled(120_000) }, () => {
  const st: abi.LinuxStat = {
    dev: 0x803, ino: 2 ** 40 + 7, mode: abi.S_IFREG | 0o4755, nlink: 3, uid: 1000, gid: 100, rdev: 0x8801, size: 2 ** 33 + 5,
    blksize: 4096, blocks: 2 ** 24 + 1, atimeSec: 1_700_000_001, atimeNsec: 111, mtimeSec: 1_700_000_002, mtimeNsec: 222_222_222,
    ctimeSec: 1_700_000_003, ctimeNsec: 999_999_999,
  };
  assert.equal(run("stat", abi.encodeStat(st)),
    "dev 2051 ino 1099511627783 mode 104755 nlink 3 uid 1000 gid 100 rdev 34817 size 8589934597 blksize 4096 blocks 16777217\n" +
    "atime 1700000001.111 mtime 1700000002.222222222 ctime 1700000003.999999999\n");
  assert.equal(run("statx", abi.encodeStatx(st)),
    "mask 0x7ff blksize 4096 nlink 3 uid 1000 gid 100 mode 104755 ino 1099511627783 size 8589934597 blocks 16777217\n" +
    "atime 1700000001.111 btime 0.0 ctime 1700000003.999999999 mtime 1700000002.222222222\nrdev 136:1 dev 8:3\n");
  assert.equal(run("statfs", abi.encodeStatfs({ type: 0xef53, bsize: 4096, blocks: 2 ** 35, bfree: 3, bavail: 2, files: 9, ffree: 8, namelen: 255, frsize: 1024 })),
    "type 0xef53 bsize 4096 blocks 34359738368 bfree 3 bavail 2 files 9 ffree 8 namelen 255 frsize 1024\n");
  const si = new Uint8Array(3 * abi.SIGINFO_SIZE).fill(0xee);
  abi.encodeSiginfo({ signo: 17, code: 1, pid: 1234, uid: 1000, status: 7 }, si, 0);
  abi.encodeSiginfo({ signo: 34, code: -1, pid: 99, uid: 0, value: -5 }, si, abi.SIGINFO_SIZE);
  abi.encodeSiginfo({ signo: 11, code: 2, addr: 2 ** 38 + 0x10 }, si, 2 * abi.SIGINFO_SIZE);
  const head = run("siginfo", si).split("\n");
  assert.equal(head[0], "signo 17 code 1 pid 1234 uid 1000 status 7 value 7 addr 0x3e8000004d2");
  assert.equal(head[1].replace(/ status \S+/, ""), "signo 34 code -1 pid 99 uid 0 value -5 addr 0x63");
  assert.match(head[2], /^signo 11 code 2 .* addr 0x4000000010$/);
  assert.equal(abi.encodeSiginfo({ signo: 1, code: 0 }).length, abi.SIGINFO_SIZE);
  const names = ["a", "seven77", "eight888", "a-name-of-some-length.txt"];
  const enc = new TextEncoder();
  const out = new Uint8Array(names.reduce((n, s) => n + abi.dirent64Size(enc.encode(s).length), 0)).fill(0xff);
  let o = 0;
  names.forEach((s, i) => { o += abi.encodeDirent64(out, o, 2 ** 35 + i, i + 1, i === 0 ? abi.DT_DIR : abi.direntType(abi.S_IFLNK), enc.encode(s)); });
  assert.equal(o, out.length);
  assert.equal(run("dirent", out), [
    "ino 34359738368 off 1 reclen 24 type 4 name a", "ino 34359738369 off 2 reclen 32 type 10 name seven77",
    "ino 34359738370 off 3 reclen 32 type 10 name eight888", "ino 34359738371 off 4 reclen 48 type 10 name a-name-of-some-length.txt", "",
  ].join("\n"));
});

test("abi: prctl PDEATHSIG (a parent's death), DUMPABLE, TIMERSLACK, NO_NEW_PRIVS match qemu-riscv64", { skip, timeout: scaled(120_000) }, async () => {
  const bin = buildProgram("prctl", "static");
  const q = await qemu([bin]);
  assert.equal(q.code, 0, q.stderr);
  // The death signal really arrived under the reference (else both could agree on nothing).
  assert.match(q.stdout, /^handler: SIGUSR1 arrived\ngrandchild: signal 10, si_pid is the dead parent's yes, si_code 0\n/m);
  const r = await rvisor([bin]);
  assert.equal(r.stdout, q.stdout, `stdout differs; rvisor stderr:\n${r.stderr}`);
  assert.equal(r.code, 0, r.stderr);
});

test("abi: prctl THP_DISABLE, 64-bit arguments, PDEATHSIG to a subreaper's adoptee, what execve keeps (Linux 6.1)", { skip, timeout: scaled(120_000) }, async () => {
  const r = await rvisor([buildProgram("prctl", "static"), "rvisor"]);
  assert.equal(r.stdout, [
    "PR_GET_THP_DISABLE = 0",
    "PR_GET_THP_DISABLE arg2=1 = -EINVAL",
    "PR_GET_THP_DISABLE arg4=1 = -EINVAL",
    "PR_SET_THP_DISABLE 1 arg3=1 = -EINVAL",
    "PR_SET_THP_DISABLE 1 arg5=1 = -EINVAL",
    "PR_GET_THP_DISABLE = 0",
    "PR_SET_THP_DISABLE 7 = 0",
    "PR_GET_THP_DISABLE = 1",
    "fork child: PR_GET_THP_DISABLE = 1",
    "PR_SET_THP_DISABLE 0 = 0",
    "PR_GET_THP_DISABLE = 0",
    "PR_SET_PDEATHSIG 2^32+10 = -EINVAL",
    "pdeathsig 0",
    "PR_SET_TIMERSLACK 2^40 = 0",
    "PR_GET_TIMERSLACK = 1099511627776",
    "parent of the grandchild exited, code 3",
    "handler: SIGUSR1 arrived",
    "grandchild: signal 10, si_pid is the dead parent's yes, si_code 0",
    "grandchild: adopted by the subreaper yes",
    "reaped the grandchild yes, code 0",
    "after execve: pdeathsig 12",
    "after execve: PR_GET_DUMPABLE = 1",
    "after execve: PR_GET_NO_NEW_PRIVS = 1",
    "after execve: PR_GET_THP_DISABLE = 1",
    "after execve: PR_GET_TIMERSLACK = 777",
    "THP_enabled:\t0",
    "NoNewPrivs:\t1",
    "execve child code 0",
    "THP_enabled:\t1",
    "NoNewPrivs:\t0",
  ].map((l) => l + "\n").join(""), r.stderr);
  assert.equal(r.code, 0, r.stderr);
});
