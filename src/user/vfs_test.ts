// Vfs.lookup and the path operations on it, over a temporary directory (the Node host's files):
// each LOOKUP_* combination, dirfd forms, and that no host call that follows links is handed a
// path whose last component is a symlink, or any path outside the root.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NodeFs } from "../host/node/user_host.js";
import { EISDIR, ELOOP, ENOENT, ENOTDIR, EOPNOTSUPP, O_NOFOLLOW, O_PATH, O_RDONLY, O_RDWR, S_IFLNK, S_IFMT, S_IFREG } from "../abi/linux.js";
import { type OpenFile } from "./file.js";
import type { HostFs } from "./host.js";
import { HostDir, HostFile, LOOKUP_EMPTY, LOOKUP_FOLLOW, PathFile, Vfs, type PathRef } from "./vfs.js";

const uid = process.getuid?.() ?? 0;
/** An owner the test may set: another user as root, else oneself (then only ctime shows the change). */
const OTHER = uid === 0 ? 4242 : uid;

/** The host's files, recording each path handed to a call that would follow a final symlink. */
class Recording extends NodeFs {
  followed: string[] = [];
  override stat(p: string) { this.followed.push(p); return super.stat(p); }
  override chmod(p: string, m: number) { this.followed.push(p); return super.chmod(p, m); }
  override access(p: string, m: number) { this.followed.push(p); return super.access(p, m); }
  override open(p: string, f: number, m: number) { if ((f & O_NOFOLLOW) === 0) this.followed.push(p); return super.open(p, f, m); }
}

interface Fixture { root: string; host: string; fs: Recording; vfs: Vfs; done: () => void }

/** root/ with links out to host/ (a sibling directory) and links inside; `decoy`: root/<host>/secret exists too. */
function fixture(decoy = false): Fixture {
  const work = fs.mkdtempSync(join(tmpdir(), "rvisor-vfs-"));
  const root = join(work, "root"), host = join(work, "host");
  fs.mkdirSync(join(root, "dir", "deep"), { recursive: true });
  fs.mkdirSync(host);
  fs.writeFileSync(join(host, "secret"), "secret\n");
  fs.chmodSync(join(host, "secret"), 0o600);
  fs.writeFileSync(join(root, "file"), "file\n");
  fs.writeFileSync(join(root, "dir", "f"), "f\n");
  fs.symlinkSync(join(host, "secret"), join(root, "abs-out"));
  fs.symlinkSync("/secret", join(root, "top-out"));
  if (decoy) { fs.mkdirSync(root + host, { recursive: true }); fs.writeFileSync(root + host + "/secret", "decoy\n"); }
  fs.symlinkSync("../".repeat(20) + host.slice(1) + "/secret", join(root, "rel-out"));
  fs.symlinkSync(host, join(root, "dir-out"));
  fs.symlinkSync(join(host, "nothing"), join(root, "dangling-out"));
  fs.symlinkSync("file", join(root, "in"));
  fs.symlinkSync("/dir", join(root, "dir-in"));
  fs.symlinkSync("loop-b", join(root, "loop-a"));
  fs.symlinkSync("loop-a", join(root, "loop-b"));
  const rfs = new Recording();
  return { root, host, fs: rfs, vfs: new Vfs(rfs, root, false), done: () => fs.rmSync(work, { recursive: true, force: true }) };
}

function ref(r: PathRef | number): PathRef {
  assert.notEqual(typeof r, "number", `lookup failed: ${String(r)}`);
  return r as PathRef;
}

/** Every component of a host path under the root is a non-symlink (the last too unless `lastMayLink`). */
function confined(x: Fixture, host: string, lastMayLink: boolean): void {
  assert.ok(host === x.root || host.startsWith(x.root + "/"), `${host} is outside the root`);
  const parts = host.slice(x.root.length).split("/").filter((c) => c !== "");
  let p = x.root;
  parts.forEach((c, i) => {
    p += "/" + c;
    const st = x.fs.lstat(p);
    if (typeof st === "number") { assert.equal(i, parts.length - 1, `${p}: a missing directory component`); return; }
    if (i < parts.length - 1 || !lastMayLink) assert.notEqual(st.mode & S_IFMT, S_IFLNK, `${p} is a symlink`);
  });
}

test("vfs lookup: links out of the root resolve to the root-relative target, never the host's", () => {
  const x = fixture(true);
  try {
    const names = ["top-out", "abs-out", "rel-out", "dir-out", "dangling-out", "in", "dir-in", "dir-in/f", "dir-out/secret", "dir/deep/../f", "../../file", "missing"];
    for (const name of names) {
      for (const flags of [0, LOOKUP_FOLLOW, LOOKUP_EMPTY, LOOKUP_FOLLOW | LOOKUP_EMPTY]) {
        const r = x.vfs.lookup("/", null, name, flags);
        if (typeof r === "number") { assert.equal(r, -ENOENT, `${name} ${flags}`); continue; }
        confined(x, r.host, (flags & LOOKUP_FOLLOW) === 0);
        assert.equal(r.file, null);
      }
    }
    assert.deepEqual(ref(x.vfs.lookup("/", null, "abs-out", LOOKUP_FOLLOW)), { guest: x.host + "/secret", host: x.root + x.host + "/secret", file: null });
    assert.equal(ref(x.vfs.lookup("/", null, "rel-out", LOOKUP_FOLLOW)).guest, x.host + "/secret");
    assert.deepEqual(ref(x.vfs.lookup("/", null, "abs-out", 0)), { guest: "/abs-out", host: x.root + "/abs-out", file: null });
    assert.equal(ref(x.vfs.lookup("/dir", null, "../in", LOOKUP_FOLLOW)).host, x.root + "/file");
    assert.equal(ref(x.vfs.lookup("/", null, "dir-in/f", 0)).host, x.root + "/dir/f");
    assert.equal(fs.readFileSync(ref(x.vfs.lookup("/", null, "dir-out/secret", 0)).host, "utf8"), "decoy\n", "a directory link out is followed inside the root");
    assert.equal(ref(x.vfs.lookup("/", null, "top-out", LOOKUP_FOLLOW)).host, x.root + "/secret");
  } finally { x.done(); }
  const y = fixture(false);
  try {
    // Without the decoy the root-relative target's directories are missing: ENOENT, as Linux in a chroot.
    assert.equal(y.vfs.lookup("/", null, "abs-out", LOOKUP_FOLLOW), -ENOENT);
    assert.equal(y.vfs.lookup("/", null, "rel-out", LOOKUP_FOLLOW), -ENOENT);
    assert.equal(y.vfs.lookup("/", null, "dir-out/secret", 0), -ENOENT);
  } finally { y.done(); }
});

test("vfs lookup: errors and the trailing slash as Linux", () => {
  const x = fixture();
  try {
    assert.equal(x.vfs.lookup("/", null, "", 0), -ENOENT);
    assert.equal(x.vfs.lookup("/", null, "", LOOKUP_FOLLOW), -ENOENT);
    assert.equal(x.vfs.lookup("/", null, "loop-a", LOOKUP_FOLLOW), -ELOOP);
    assert.equal(ref(x.vfs.lookup("/", null, "loop-a", 0)).host, x.root + "/loop-a");
    assert.equal(x.vfs.lookup("/", null, "file/x", 0), -ENOTDIR);
    assert.equal(x.vfs.lookup("/", null, "nothing/x", 0), -ENOENT);
    assert.equal(x.vfs.lookup("/", null, "file/", 0), -ENOTDIR);
    assert.equal(x.vfs.lookup("/", null, "in/", 0), -ENOTDIR, "a trailing slash follows the link, then wants a directory");
    assert.equal(ref(x.vfs.lookup("/", null, "dir-in/", 0)).host, x.root + "/dir");
    assert.equal(ref(x.vfs.lookup("/", null, "newdir/", 0)).host, x.root + "/newdir");
  } finally { x.done(); }
});

test("vfs lookup: directory files, AT_EMPTY_PATH and O_PATH descriptors", () => {
  const x = fixture();
  try {
    const dir = x.vfs.open("/dir", O_RDONLY, 0) as OpenFile;
    const file = x.vfs.open("/file", O_RDONLY, 0) as OpenFile;
    assert.ok(dir instanceof HostDir && file instanceof HostFile);
    assert.equal(ref(x.vfs.lookup("/", dir, "f", 0)).host, x.root + "/dir/f");
    assert.equal(ref(x.vfs.lookup("/", dir, "/file", 0)).host, x.root + "/file", "an absolute path ignores the directory");
    assert.equal(ref(x.vfs.lookup("/", dir, "../../../abs-out", 0)).host, x.root + "/abs-out");
    assert.equal(ref(x.vfs.lookup("/", dir, "../../../top-out", LOOKUP_FOLLOW)).host, x.root + "/secret");
    assert.equal(x.vfs.lookup("/", file, "x", 0), -ENOTDIR);
    assert.equal(x.vfs.lookup("/", file, "", 0), -ENOENT);
    assert.equal(x.vfs.lookup("/", file, "", LOOKUP_FOLLOW), -ENOENT);
    for (const flags of [LOOKUP_EMPTY, LOOKUP_EMPTY | LOOKUP_FOLLOW]) {
      assert.equal(ref(x.vfs.lookup("/", file, "", flags)).file, file);
      assert.equal(ref(x.vfs.lookup("/", dir, "", flags)).file, dir);
      assert.deepEqual(ref(x.vfs.lookup("/dir", null, "", flags)), { guest: "/dir", host: x.root + "/dir", file: null }, "AT_FDCWD: the working directory");
    }
    // O_PATH|O_NOFOLLOW on a link names the link itself, by path (nofollow calls only).
    const link = x.vfs.open("/abs-out", O_PATH | O_NOFOLLOW, 0) as OpenFile;
    assert.ok(link instanceof PathFile);
    assert.equal((link.stat() as { mode: number }).mode & S_IFMT, S_IFLNK);
    assert.deepEqual(ref(x.vfs.lookup("/", link, "", LOOKUP_EMPTY)), { guest: "/abs-out", host: x.root + "/abs-out", file: null });
    assert.equal(link.chown(0, 0), -9); // EBADF: O_PATH descriptors cannot fchown
    for (const f of [dir, file, link]) f.release();
  } finally { x.done(); }
});

test("vfs path operations act on a link itself or inside the root, never on the host's target", () => {
  const x = fixture();
  try {
    const secret = join(x.host, "secret");
    const before = fs.lstatSync(secret);
    const nofollow = (p: string) => ref(x.vfs.lookup("/", null, p, 0));
    const follow = (p: string) => x.vfs.lookup("/", null, p, LOOKUP_FOLLOW);
    for (const name of ["abs-out", "rel-out", "top-out"]) {
      assert.equal(x.vfs.chown(nofollow(name), OTHER, -1), 0);
      assert.equal(fs.lstatSync(join(x.root, name)).uid, OTHER);
      assert.equal(x.vfs.utimes(nofollow(name), 1000, 2000), 0);
      assert.equal(fs.lstatSync(join(x.root, name)).mtimeMs, 2000_000);
      assert.equal(x.vfs.chmod(nofollow(name), 0o777), -EOPNOTSUPP);
      assert.equal(x.vfs.access(nofollow(name), 7), 0, "a link's own permissions are rwxrwxrwx");
      assert.equal((x.vfs.stat(nofollow(name)) as { mode: number }).mode & S_IFMT, S_IFLNK);
      if (name !== "top-out") assert.equal(follow(name), -ENOENT);
    }
    // Followed, "/secret" is root/secret: missing, so every operation answers ENOENT.
    const f = ref(follow("top-out"));
    assert.equal(f.host, x.root + "/secret");
    assert.equal(x.vfs.chown(f, OTHER, -1), -ENOENT);
    assert.equal(x.vfs.utimes(f, 1, 1), -ENOENT);
    assert.equal(x.vfs.chmod(f, 0o777), -ENOENT);
    assert.equal(x.vfs.access(f, 4), -ENOENT);
    assert.equal(x.vfs.truncate(f, 0), -ENOENT);
    // The dangling link out answers like any link, whether or not the host has its target.
    assert.equal(x.vfs.access(nofollow("dangling-out"), 0), 0);
    // Inside the root, following works.
    assert.equal(x.vfs.chmod(ref(follow("in")), 0o640), 0);
    assert.equal(fs.statSync(join(x.root, "file")).mode & 0o777, 0o640);
    assert.equal(x.vfs.truncate(ref(follow("in")), 2), 0);
    assert.equal(fs.readFileSync(join(x.root, "file"), "utf8"), "fi");
    assert.equal(x.vfs.truncate(ref(follow("dir")), 0), -EISDIR);
    // The host primitive itself never follows a final symlink either.
    assert.equal(x.fs.truncate(join(x.root, "abs-out"), 0), -ELOOP);
    assert.equal(x.fs.lchown(join(x.root, "abs-out"), OTHER, -1), 0);
    assert.equal(x.fs.lutimes(join(x.root, "abs-out"), 5, 6), 0);
    for (const p of x.fs.followed) confined(x, p, false);
    const after = fs.lstatSync(secret);
    assert.deepEqual([after.uid, after.gid, after.mode, after.mtimeMs, after.atimeMs, after.ctimeMs, after.size],
      [before.uid, before.gid, before.mode, before.mtimeMs, before.atimeMs, before.ctimeMs, before.size], "the host file changed");
  } finally { x.done(); }
});

test("vfs open files keep acting on what they opened when the name becomes a link out", () => {
  const x = fixture();
  try {
    const secret = join(x.host, "secret");
    const before = fs.lstatSync(secret);
    const f = x.vfs.open("/file", O_RDWR, 0) as OpenFile;
    const d = x.vfs.open("/dir", O_RDONLY, 0) as OpenFile;
    fs.renameSync(join(x.root, "file"), join(x.root, "file2"));
    fs.symlinkSync(secret, join(x.root, "file"));
    fs.renameSync(join(x.root, "dir"), join(x.root, "dir2"));
    fs.symlinkSync(x.host, join(x.root, "dir"));
    assert.equal(f.chmod(0o604), 0);
    assert.equal(f.chown(OTHER, -1), 0);
    assert.equal(f.utimes(7, 8), 0);
    const st = fs.statSync(join(x.root, "file2"));
    assert.deepEqual([st.mode & 0o777, st.uid, st.mtimeMs], [0o604, OTHER, 8000]);
    assert.equal(d.chmod(0o711), 0);
    assert.equal(fs.statSync(join(x.root, "dir2")).mode & 0o777, 0o711);
    const names = (d.readdir() as { name: string }[]).map((e) => e.name).sort();
    assert.deepEqual(names, [".", "..", "deep", "f"], "the directory opened, not the host's");
    assert.equal(((d.stat() as { mode: number }).mode & S_IFMT) !== S_IFREG, true);
    // A file opened through the link is the root-relative one (missing), never the host's.
    assert.equal(x.vfs.open(x.vfs.resolve("/", "file", true) as string, O_RDONLY, 0), -ENOENT);
    f.release(); d.release();
    const after = fs.lstatSync(secret);
    assert.deepEqual([after.uid, after.mode, after.mtimeMs, after.ctimeMs], [before.uid, before.mode, before.mtimeMs, before.ctimeMs]);
  } finally { x.done(); }
});

// The HostFs shape the core relies on: NodeFs must implement it (compile-time check).
const _shape: HostFs = new NodeFs();
void _shape;
