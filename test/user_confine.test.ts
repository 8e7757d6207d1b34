// --root confinement of the path calls (rvisor issue 7): a root whose symlinks lead out of it, to
// a separate "host" directory holding a secret file, a directory and a Unix socket served here.
// test/user/programs/confine.c runs under `rvisor exec --root` and under qemu-riscv64 on a copy
// of the root whose absolute links are rewritten to the same root-relative (missing) places —
// what Linux answers for a chroot — and both must print the same; the host directory must come
// out untouched (owner, mode, times, names) and its socket must never see a connection.
import { test } from "node:test";
import assert from "node:assert/strict";
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync, chmodSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildProgram, qemu, rvisor, toolsMissing } from "./user/build.js";
import { scaled } from "./lib/time_scale.js";

const skip = toolsMissing();
/** Owners the program sets take effect as root; otherwise the host refuses (EPERM) and the owner stays. */
const asRoot = process.getuid?.() === 0;
const owner = (want: number): number => (asRoot ? want : process.getuid?.() ?? want);

/** A root: `out(hostPath)` is the link target that names a host path (raw, or rewritten for qemu). */
function makeRoot(root: string, host: string, out: (p: string) => string, rel: string): void {
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, "inside.txt"), "inside\n");
  writeFileSync(join(root, "victim.txt"), "victim\n");
  mkdirSync(join(root, "sub"));
  writeFileSync(join(root, "sub", "kept.txt"), "kept\n");
  mkdirSync(join(root, "sock-dir"));
  symlinkSync("inside.txt", join(root, "in-link"));
  symlinkSync(out(join(host, "secret")), join(root, "out-abs"));
  symlinkSync(rel, join(root, "out-rel"));
  symlinkSync(out(host), join(root, "out-dir"));
  symlinkSync(out(join(host, "host.sock")), join(root, "out-sock"));
  symlinkSync(out(join(host, "secret")), join(root, "probe-yes"));
  symlinkSync(out(join(host, "nothing")), join(root, "probe-no"));
  symlinkSync(out(join(host, "newfile")), join(root, "make-out"));
}

interface Snap { uid: number; gid: number; mode: number; mtimeMs: number; atimeMs: number; ctimeMs: number }
function snap(p: string): Snap {
  const s = lstatSync(p);
  return { uid: s.uid, gid: s.gid, mode: s.mode, mtimeMs: s.mtimeMs, atimeMs: s.atimeMs, ctimeMs: s.ctimeMs };
}

/** What only rvisor is asked (the reference depends on the host's filesystem and privileges). */
const RVISOR_ONLY = `setxattr inside: EOPNOTSUPP
setxattr out-abs: ENOENT
lsetxattr out-abs: EPERM
lsetxattr out-abs trusted: EPERM
setxattr bad flags: EINVAL
setxattr empty name: ERANGE
setxattr missing: ENOENT
getxattr inside: EOPNOTSUPP
getxattr out-abs: ENOENT
lgetxattr out-abs: ENODATA
lgetxattr out-abs security: EOPNOTSUPP
listxattr inside: 0
listxattr out-abs: ENOENT
llistxattr out-abs: 0
removexattr inside: EOPNOTSUPP
lremovexattr out-abs: EPERM
removexattr out-rel: ENOENT
fsetxattr: EOPNOTSUPP
fgetxattr: EOPNOTSUPP
flistxattr: 0
fremovexattr: EOPNOTSUPP
fgetxattr O_PATH: EBADF
fgetxattr bad fd: EBADF
fchmodat2 nofollow out-abs: EOPNOTSUPP
fchmodat2 nofollow inside: 0
fchmodat2 empty path: 0
  inside.txt: file uid ${owner(4545)} mode 640
fchmodat2 bad flags: EINVAL
linkat empty path: ENOENT
mknodat chr: EPERM
renameat2 whiteout: EINVAL
`;

test("user confine: path calls never act outside --root (same answers as Linux for the root-relative paths)", { skip, timeout: scaled(120_000) }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), "rvisor-confine-"));
  const host = join(work, "host");
  mkdirSync(join(host, "sub"), { recursive: true });
  writeFileSync(join(host, "secret"), "secret\n");
  chmodSync(join(host, "secret"), 0o640);
  utimesSync(join(host, "secret"), 12345, 23456);
  let connections = 0;
  const server: Server = createServer((c) => { connections++; c.destroy(); });
  await new Promise<void>((r) => server.listen(join(host, "host.sock"), r));
  try {
    utimesSync(host, 34567, 45678);
    const names = readdirSync(host).sort(); // (listing first: it moves the directory's atime once)
    const before = { secret: snap(join(host, "secret")), dir: snap(host), sock: snap(join(host, "host.sock")), names };
    const up = "../".repeat(24) + host.slice(1);

    const root = join(work, "root");
    makeRoot(root, host, (p) => p, join(up, "secret"));
    const ref = join(work, "ref");
    makeRoot(ref, host, (p) => ref + p, "." + join(host, "secret"));

    const bin = buildProgram("confine", "static");
    const q = await qemu([bin, ref, ref + join(host, "secret"), ref + host]);
    const r = await rvisor(["--root", root, bin, "/", join(host, "secret"), host, "rvisor"]);
    assert.equal(q.code, 0, `qemu: ${q.stderr}`);
    assert.equal(r.code, 0, `rvisor: ${r.stderr}`);
    // The host side: nothing changed, nothing created, nobody connected.
    assert.deepEqual(snap(join(host, "secret")), before.secret, "host secret changed");
    assert.deepEqual(snap(host), before.dir, "host directory changed");
    assert.deepEqual(snap(join(host, "host.sock")), before.sock, "host socket changed");
    assert.deepEqual(readdirSync(host).sort(), before.names, "host directory names changed");
    assert.deepEqual(readdirSync(join(host, "sub")), [], "host sub directory changed");
    assert.equal(connections, 0, "the guest reached the host's Unix socket");
    const [common, only] = r.stdout.split("-- rvisor\n");
    t.diagnostic(`${q.stdout.split("\n").length} lines compared`);
    assert.equal(common, q.stdout, `rvisor differs from Linux (qemu-riscv64 on the rewritten root); stderr:\n${r.stderr}`);
    assert.equal(only, RVISOR_ONLY);

    // The root side: the links themselves were changed (lchown/lutimes), the root-relative targets never existed.
    const link = lstatSync(join(root, "out-abs"));
    assert.ok(link.isSymbolicLink());
    assert.equal(link.uid, owner(4242));
    assert.equal(link.mtimeMs, 2000_000);
  } finally {
    server.close();
    rmSync(work, { recursive: true, force: true });
  }
});
