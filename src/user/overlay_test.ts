// The overlay filesystem over temporary directories (the Node host's files): lookups, merged
// listings, whiteouts, opaque directories, copy-up (content, mode, times, owner, inode number),
// unlink/rmdir of lower objects, renames, hard links, the side index and its persistence,
// volumes, and that no path trick reaches a host path outside the layers: every path the
// overlay hands the host is checked to lie, with its symlinks resolved, inside a layer or volume.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NodeFs } from "../host/node/user_host.js";
import {
  EACCES, EEXIST, EINVAL, EISDIR, ENOENT, ENOTDIR, ENOTEMPTY, EPERM, EROFS, EXDEV, O_CREAT, O_DIRECTORY, O_RDONLY,
  O_RDWR, O_TRUNC, O_WRONLY, S_IFCHR, S_IFDIR, S_IFMT, S_IFREG,
} from "../abi/linux.js";
import type { HostStat } from "./host.js";
import { FileLayerIndex, LAYER_INDEX_NAME } from "./layer_index.js";
import { OPAQUE_NAME, OVERLAY_DEV, OverlayFs, type OverlayVolume } from "./overlay.js";
import { LOOKUP_FOLLOW, Vfs } from "./vfs.js";

const HOST_IDS = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
const OWNER = { uid: 1000, gid: 1000 };

/** The host's files, failing on any path outside `allowed` (symlinks in it resolved). */
class Guarded extends NodeFs {
  allowed: string[] = [];
  seen = 0;
  private check(p: string, final: boolean): void {
    this.seen++;
    if (this.allowed.includes(p)) return;
    // The last component may be a symlink for calls that act on it itself; its directory may not lead out.
    let dir = final ? p : p.slice(0, p.lastIndexOf("/")) || "/";
    let real: string;
    try { real = fs.realpathSync(dir); } catch { dir = dir.slice(0, dir.lastIndexOf("/")) || "/"; real = fs.existsSync(dir) ? fs.realpathSync(dir) : dir; }
    assert.ok(this.allowed.some((a) => real === a || real.startsWith(a + "/")), `host path outside the layers: ${p} (${real})`);
  }
  override lstat(p: string) { this.check(p, false); return super.lstat(p); }
  override stat(p: string) { this.check(p, true); return super.stat(p); }
  override readlink(p: string) { this.check(p, false); return super.readlink(p); }
  override open(p: string, f: number, m: number) { this.check(p, false); return super.open(p, f, m); }
  override readdir(p: string) { this.check(p, true); return super.readdir(p); }
  override mkdir(p: string, m: number) { this.check(p, false); return super.mkdir(p, m); }
  override rmdir(p: string) { this.check(p, false); return super.rmdir(p); }
  override unlink(p: string) { this.check(p, false); return super.unlink(p); }
  override rename(a: string, b: string) { this.check(a, false); this.check(b, false); return super.rename(a, b); }
  override symlink(t: string, p: string) { this.check(p, false); return super.symlink(t, p); }
  override link(a: string, b: string) { this.check(a, false); this.check(b, false); return super.link(a, b); }
  override chmod(p: string, m: number) { this.check(p, true); return super.chmod(p, m); }
  override lchown(p: string, u: number, g: number) { this.check(p, false); return super.lchown(p, u, g); }
  override lutimes(p: string, a: number | null, m: number | null) { this.check(p, false); return super.lutimes(p, a, m); }
  override truncate(p: string, l: number) { this.check(p, false); return super.truncate(p, l); }
  override access(p: string, m: number) { this.check(p, true); return super.access(p, m); }
}

interface Fx { work: string; l1: string; l2: string; up: string; host: string; inner: Guarded; ovl: OverlayFs; done: () => void }

/**
 * l1 (the base) and l2 over it, an empty upper, and a "host" directory beside them that the
 * guest must never reach. l1's index makes /etc/shadow root:42 0640 and /dev/null a device.
 */
function fixture(volumes: OverlayVolume[] = []): Fx {
  const work = fs.realpathSync(fs.mkdtempSync(join(tmpdir(), "rvisor-ovl-")));
  const l1 = join(work, "l1"), l2 = join(work, "l2"), up = join(work, "up"), host = join(work, "host");
  for (const d of [l1, l2, up, host]) fs.mkdirSync(d);
  const w = (p: string, s: string) => { fs.mkdirSync(join(p, ".."), { recursive: true }); fs.writeFileSync(p, s); };
  fs.writeFileSync(join(host, "secret"), "secret\n");
  w(join(l1, "etc/base"), "base\n");
  w(join(l1, "etc/over"), "l1\n");
  w(join(l1, "etc/gone"), "gone\n");
  w(join(l1, "etc/shadow"), "root:*:\n");
  w(join(l1, "dev/null"), "");
  w(join(l1, "merged/a"), "a\n");
  w(join(l1, "merged/sub/deep"), "deep\n");
  w(join(l1, "opaque/hidden"), "hidden\n");
  w(join(l1, "todir"), "file in l1\n");
  w(join(l1, "tofile/inside"), "dir in l1\n");
  fs.chmodSync(join(l1, "etc/base"), 0o751);
  fs.utimesSync(join(l1, "etc/base"), 1_000_000, 1_000_000);
  w(join(l2, "etc/over"), "l2\n");
  w(join(l2, "etc/.wh.gone"), "");
  w(join(l2, "merged/b"), "b\n");
  w(join(l2, "opaque/shown"), "shown\n");
  w(join(l2, "opaque", OPAQUE_NAME), "");
  w(join(l2, "todir/x"), "dir in l2\n");
  w(join(l2, "tofile"), "file in l2\n");
  fs.symlinkSync(join(host, "secret"), join(l2, "abs-out"));
  fs.symlinkSync("../../host/secret", join(l2, "rel-out"));
  fs.symlinkSync(host, join(l2, "dir-out"));
  // A directory in l2 over a symlink out in l1: the merge must not follow l1's link.
  fs.mkdirSync(join(l2, "mix"));
  fs.symlinkSync(host, join(l1, "mix"));
  fs.writeFileSync(join(l1, LAYER_INDEX_NAME), [
    JSON.stringify({ rvisorLayerIndex: 1 }),
    JSON.stringify({ path: "/etc/shadow", uid: 0, gid: 42, mode: S_IFREG | 0o640 }),
    JSON.stringify({ path: "/dev/null", uid: 0, gid: 0, mode: S_IFCHR | 0o666, rdev: 0x103 }),
    JSON.stringify({ path: "/dev", uid: 0, gid: 0, mode: S_IFDIR | 0o755 }),
    "",
  ].join("\n"));
  const inner = new Guarded();
  inner.allowed = [l1, l2, up, ...volumes.map((v) => fs.realpathSync(v.host))];
  const ovl = open(inner, l1, l2, up, volumes);
  return { work, l1, l2, up, host, inner, ovl, done: () => { ovl.shutdown(); fs.rmSync(work, { recursive: true, force: true }); } };
}

function open(inner: Guarded, l1: string, l2: string, up: string, volumes: OverlayVolume[] = []): OverlayFs {
  const lowers = [l1, l2].map((d) => { const l = OverlayFs.lower(inner, d); assert.equal(typeof l, "object", String(l)); return l as Exclude<typeof l, string>; });
  return new OverlayFs(inner, { lowers, upper: up, volumes, hostIds: HOST_IDS, owner: OWNER });
}

function read(o: OverlayFs, p: string): string | number {
  const h = o.open(p, O_RDONLY, 0);
  if (h < 0) return h;
  const b = new Uint8Array(1 << 16);
  const n = o.read(h, b, 0);
  o.close(h);
  return n < 0 ? n : new TextDecoder().decode(b.subarray(0, n));
}

function write(o: OverlayFs, p: string, s: string, flags = O_WRONLY | O_CREAT | O_TRUNC): number {
  const h = o.open(p, flags, 0o644);
  if (h < 0) return h;
  if ((flags & O_TRUNC) !== 0) o.ftruncate(h, 0);
  const n = o.write(h, new TextEncoder().encode(s), null);
  o.close(h);
  return n < 0 ? n : 0;
}

function names(o: OverlayFs, p: string): string[] | number {
  const r = o.readdir(p);
  return typeof r === "number" ? r : r.map((e) => e.name).sort();
}

function st(o: OverlayFs, p: string): HostStat {
  const s = o.lstat(p);
  assert.notEqual(typeof s, "number", `lstat ${p}: ${String(s)}`);
  return s as HostStat;
}

/** Every file under a directory with its content (or "dir"/"-> target"), to compare before and after. */
function tree(d: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    for (const n of fs.readdirSync(join(d, rel)).sort()) {
      const r = rel === "" ? n : rel + "/" + n, p = join(d, r), s = fs.lstatSync(p);
      out[r] = s.isSymbolicLink() ? "-> " + fs.readlinkSync(p) : s.isDirectory() ? "dir " + (s.mode & 0o7777).toString(8) : (s.mode & 0o7777).toString(8) + " " + fs.readFileSync(p, "utf8");
      if (s.isDirectory()) walk(r);
    }
  };
  walk("");
  return out;
}

test("overlay lookup: top-down, merged listings, whiteouts, opaque directories, .wh. names hidden", () => {
  const x = fixture();
  try {
    const o = x.ovl;
    assert.equal(read(o, "/etc/over"), "l2\n", "the upper layer wins");
    assert.equal(read(o, "/etc/base"), "base\n", "a lower-only file shows through");
    assert.equal(o.lstat("/etc/gone"), -ENOENT, "whited out by l2");
    assert.equal(o.lstat("/etc/.wh.gone"), -ENOENT, "whiteouts are never visible");
    assert.equal(o.open("/etc/.wh.gone", O_RDONLY, 0), -ENOENT);
    assert.deepEqual(names(o, "/etc"), ["base", "over", "shadow"]);
    assert.deepEqual(names(o, "/merged"), ["a", "b", "sub"], "directories merge");
    assert.deepEqual(names(o, "/opaque"), ["shown"], "an opaque directory hides the lower one");
    assert.equal(o.lstat("/opaque/hidden"), -ENOENT);
    assert.deepEqual(names(o, "/"), ["abs-out", "dev", "dir-out", "etc", "merged", "mix", "opaque", "rel-out", "todir", "tofile"], "no index file, no whiteouts");
    // A directory above a file hides it; a file above a directory hides it.
    assert.equal(st(o, "/todir").mode & S_IFMT, S_IFDIR);
    assert.deepEqual(names(o, "/todir"), ["x"]);
    assert.equal(read(o, "/tofile"), "file in l2\n");
    assert.equal(o.lstat("/tofile/inside"), -ENOTDIR);
    // The index gives owners, modes and device numbers; host-user files show as the owner.
    const sh = st(o, "/etc/shadow");
    assert.deepEqual([sh.uid, sh.gid, sh.mode], [0, 42, S_IFREG | 0o640]);
    const dn = st(o, "/dev/null");
    assert.deepEqual([dn.mode, dn.rdev], [S_IFCHR | 0o666, 0x103]);
    assert.equal((o.readdir("/dev") as { name: string; type: number }[]).find((e) => e.name === "null")?.type, 2, "d_type of the device");
    const b = st(o, "/etc/base");
    if (fs.statSync(join(x.l1, "etc/base")).uid === HOST_IDS.uid) assert.deepEqual([b.uid, b.gid], [OWNER.uid, OWNER.gid]);
    // One st_dev; st_ino stable and matching readdir's d_ino.
    assert.equal(b.dev, OVERLAY_DEV);
    assert.equal(st(o, "/etc").dev, OVERLAY_DEV);
    const d = (o.readdir("/etc") as { name: string; ino: number }[]).find((e) => e.name === "base");
    assert.equal(d?.ino, b.ino);
    assert.notEqual(st(o, "/etc/over").ino, st(o, "/etc/base").ino);
  } finally { x.done(); }
});

test("overlay copy-up: writing, chmod, chown and truncate of a lower file copy it whole with its metadata; the lowers stay unchanged", () => {
  const x = fixture();
  try {
    const o = x.ovl;
    const l1 = tree(x.l1), l2 = tree(x.l2);
    const before = st(o, "/etc/base"), shBefore = st(o, "/etc/shadow"), etcBefore = st(o, "/etc");
    // Open for reading only: nothing is copied.
    assert.equal(read(o, "/etc/base"), "base\n");
    assert.equal(fs.existsSync(join(x.up, "etc/base")), false);
    // Appending copies the whole file up first.
    assert.equal(write(o, "/etc/base", "more\n", O_WRONLY | 0o2000), 0);
    assert.equal(read(o, "/etc/base"), "base\nmore\n");
    assert.equal(fs.readFileSync(join(x.up, "etc/base"), "utf8"), "base\nmore\n");
    const after = st(o, "/etc/base");
    assert.equal(after.mode, before.mode, "mode kept");
    assert.equal(after.ino, before.ino, "inode number kept across copy-up");
    assert.deepEqual([after.uid, after.gid], [before.uid, before.gid]);
    // The copied parent directory keeps the lower one's metadata too.
    assert.ok(fs.statSync(join(x.up, "etc")).isDirectory());
    assert.deepEqual([st(o, "/etc").ino, st(o, "/etc").mode], [etcBefore.ino, etcBefore.mode]);
    // chmod of a lower file (the root-owned one needs root's credentials to change).
    assert.equal(o.chmod("/etc/shadow", 0o600), -EPERM, "not the owner");
    o.creds = { uid: 0, gid: 0 };
    assert.equal(o.chmod("/etc/shadow", 0o600), 0);
    const sh = st(o, "/etc/shadow");
    assert.deepEqual([sh.uid, sh.gid, sh.mode, sh.ino], [0, 42, S_IFREG | 0o600, shBefore.ino], "owner from the index kept, new mode");
    assert.equal(read(o, "/etc/shadow"), "root:*:\n");
    // chown is recorded, never done on the host.
    const hostOwner = fs.statSync(join(x.up, "etc/shadow")).uid;
    assert.equal(o.lchown("/merged/a", 7, 8), 0);
    assert.deepEqual([st(o, "/merged/a").uid, st(o, "/merged/a").gid], [7, 8]);
    assert.equal(fs.statSync(join(x.up, "etc/shadow")).uid, hostOwner);
    assert.equal(read(o, "/merged/a"), "a\n");
    // truncate copies up.
    assert.equal(o.truncate("/merged/sub/deep", 2), 0);
    assert.equal(read(o, "/merged/sub/deep"), "de");
    // utimes copies up with the new times; the copy kept the lower mtime before.
    assert.equal(o.lutimes("/etc/over", 5, 6), 0);
    assert.equal(st(o, "/etc/over").mtimeSec, 6);
    assert.equal(fs.statSync(join(x.up, "etc/base")).mtimeMs < Date.now() - 1000, false, "a written file has a new mtime");
    assert.deepEqual(tree(x.l1), l1, "l1 unchanged");
    assert.deepEqual(tree(x.l2), l2, "l2 unchanged");
  } finally { x.done(); }
});

test("overlay permissions: the guest's credentials against the owners and modes it sees", () => {
  const x = fixture();
  try {
    const o = x.ovl;
    assert.equal(o.open("/etc/shadow", O_RDONLY, 0), -EACCES, "root:42 0640, the guest is 1000:1000");
    assert.equal(o.access("/etc/shadow", 4), -EACCES);
    assert.equal(o.access("/etc/base", 4 | 1), 0);
    assert.equal(o.lchown("/etc/base", 0, -1), -EPERM, "giving a file away needs root");
    assert.equal(o.lchown("/etc/base", -1, 1000), 0, "the owner may set its own group");
    assert.equal(o.lchown("/etc/shadow", -1, 1000), -EPERM, "not the owner");
    o.creds = { uid: 0, gid: 0 };
    assert.notEqual(read(o, "/etc/shadow"), -EACCES);
    assert.equal(o.lchown("/etc/base", 0, 0), 0);
    assert.deepEqual([st(o, "/etc/base").uid, st(o, "/etc/base").gid], [0, 0]);
    o.creds = OWNER;
    assert.equal(o.open("/dev/x", O_WRONLY | O_CREAT, 0o644), -EACCES, "/dev is root's 0755 (index)");
    assert.equal(o.mkdir("/dev/d", 0o755), -EACCES);
    const h = o.open("/etc/x", O_WRONLY | O_CREAT, 0o644);
    assert.ok(h >= 0, "/etc is the owner's");
    o.close(h);
    // Deleting and renaming need write permission on the directory; a sticky one also ownership.
    assert.equal(o.unlink("/dev/null"), -EACCES);
    assert.equal(o.rename("/etc/x", "/dev/x"), -EACCES);
    assert.equal(o.rename("/dev/null", "/etc/null"), -EACCES);
    o.creds = { uid: 0, gid: 0 };
    assert.equal(o.mkdir("/tmp", 0o777), 0);
    assert.equal(o.chmod("/tmp", 0o1777), 0);
    assert.equal(write(o, "/tmp/roots", "r"), 0);
    o.creds = OWNER;
    assert.equal(o.unlink("/tmp/roots"), -EPERM, "sticky /tmp: not the file's owner");
    assert.equal(o.rename("/tmp/roots", "/tmp/mine"), -EPERM);
    assert.equal(write(o, "/tmp/mine", "m"), 0);
    assert.equal(o.unlink("/tmp/mine"), 0);
    assert.equal(st(o, "/tmp").mode, S_IFDIR | 0o1777);
  } finally { x.done(); }
});

test("overlay unlink and rmdir: whiteouts in the upper; recreation; merged directories", () => {
  const x = fixture();
  try {
    const o = x.ovl;
    const l1 = tree(x.l1), l2 = tree(x.l2);
    assert.equal(o.unlink("/etc/base"), 0);
    assert.equal(o.lstat("/etc/base"), -ENOENT);
    assert.deepEqual(names(o, "/etc"), ["over", "shadow"]);
    assert.ok(fs.existsSync(join(x.up, "etc/.wh.base")), "a whiteout in the upper");
    assert.equal(o.unlink("/etc"), -EISDIR);
    // Recreated: the new file, not the lower one.
    assert.equal(write(o, "/etc/base", "new\n"), 0);
    assert.equal(read(o, "/etc/base"), "new\n");
    assert.equal(o.unlink("/etc/base"), 0);
    assert.equal(o.lstat("/etc/base"), -ENOENT, "still whited out after the second unlink");
    // A file made only in the upper leaves no whiteout.
    assert.equal(write(o, "/etc/fresh", "f\n"), 0);
    assert.equal(o.unlink("/etc/fresh"), 0);
    assert.equal(fs.existsSync(join(x.up, "etc/.wh.fresh")), false);
    // rmdir of a merged directory: ENOTEMPTY until the merged listing is empty.
    assert.equal(o.rmdir("/merged"), -ENOTEMPTY);
    assert.equal(o.rmdir("/merged/a"), -ENOTDIR);
    for (const f of ["/merged/a", "/merged/b", "/merged/sub/deep"]) assert.equal(o.unlink(f), 0, f);
    assert.equal(o.rmdir("/merged/sub"), 0);
    assert.equal(o.rmdir("/merged"), 0);
    assert.equal(o.lstat("/merged"), -ENOENT);
    assert.ok(!names(o, "/").toString().includes("merged"));
    // mkdir where a lower directory was removed: an empty directory, not the old content.
    assert.equal(o.mkdir("/merged", 0o755), 0);
    assert.deepEqual(names(o, "/merged"), []);
    assert.equal(o.lstat("/merged/a"), -ENOENT);
    assert.equal(o.mkdir("/merged", 0o755), -EEXIST);
    assert.equal(o.mkdir("/.wh.x", 0o755), -EPERM, "whiteout names are reserved");
    assert.equal(o.rmdir("/"), -16);
    assert.deepEqual(tree(x.l1), l1);
    assert.deepEqual(tree(x.l2), l2);
  } finally { x.done(); }
});

test("overlay rename: files copy up and leave a whiteout; directories with lower parts are EXDEV; upper directories move", () => {
  const x = fixture();
  try {
    const o = x.ovl;
    const l1 = tree(x.l1);
    const ino = st(o, "/etc/base").ino;
    assert.equal(o.rename("/etc/base", "/moved"), 0);
    assert.equal(o.lstat("/etc/base"), -ENOENT);
    assert.equal(read(o, "/moved"), "base\n");
    assert.equal(st(o, "/moved").ino, ino, "the inode number moves with it");
    assert.ok(fs.existsSync(join(x.up, "etc/.wh.base")));
    // Over an existing lower file.
    assert.equal(o.rename("/moved", "/etc/over"), 0);
    assert.equal(read(o, "/etc/over"), "base\n");
    assert.equal(o.lstat("/moved"), -ENOENT);
    // Directories.
    assert.equal(o.rename("/merged", "/m2"), -EXDEV, "a merged directory");
    assert.equal(o.rename("/opaque", "/o2"), -EXDEV, "a lower directory");
    assert.equal(o.mkdir("/newdir", 0o755), 0);
    assert.equal(write(o, "/newdir/f", "f\n"), 0);
    assert.equal(o.rename("/newdir", "/newdir/sub"), -EINVAL);
    assert.equal(o.rename("/newdir", "/nd2"), 0);
    assert.equal(read(o, "/nd2/f"), "f\n");
    assert.equal(o.lstat("/newdir"), -ENOENT);
    // A directory onto an empty lower directory: it must not merge with it.
    assert.equal(o.unlink("/todir/x"), 0);
    assert.deepEqual(names(o, "/todir"), []);
    assert.equal(o.rename("/nd2", "/todir"), 0);
    assert.deepEqual(names(o, "/todir"), ["f"]);
    assert.equal(o.rename("/etc/over", "/todir"), -EISDIR);
    assert.equal(o.rename("/todir", "/etc/shadow"), -ENOTDIR);
    assert.equal(o.mkdir("/full", 0o755), 0);
    assert.equal(write(o, "/full/x", ""), 0);
    assert.equal(o.mkdir("/empty", 0o755), 0);
    assert.equal(o.rename("/empty", "/full"), -ENOTEMPTY);
    assert.equal(o.rename("/full", "/empty"), 0);
    assert.equal(o.rename("/nothing", "/x"), -ENOENT);
    assert.deepEqual(tree(x.l1), l1);
  } finally { x.done(); }
});

test("overlay hard links and symlinks: links of a lower file share the copied-up inode and its metadata", () => {
  const x = fixture();
  try {
    const o = x.ovl;
    o.creds = { uid: 0, gid: 0 };
    assert.equal(o.link("/etc/base", "/etc/base2"), 0);
    const a = st(o, "/etc/base"), b = st(o, "/etc/base2");
    assert.equal(a.ino, b.ino);
    assert.equal(b.nlink, 2);
    assert.equal(o.lchown("/etc/base2", 3, 4), 0);
    assert.deepEqual([st(o, "/etc/base").uid, st(o, "/etc/base").gid], [3, 4], "one inode, one owner");
    assert.equal(write(o, "/etc/base2", "via link\n"), 0);
    assert.equal(read(o, "/etc/base"), "via link\n");
    assert.equal(o.unlink("/etc/base"), 0);
    assert.equal(st(o, "/etc/base2").uid, 3, "the entry stays while a link is left");
    assert.equal(o.link("/etc", "/etc3"), -EPERM);
    assert.equal(o.link("/etc/base2", "/etc/over"), -EEXIST);
    assert.equal(o.symlink("base2", "/etc/sl"), 0);
    assert.equal(o.readlink("/etc/sl"), "base2");
    assert.equal(st(o, "/etc/sl").uid, 0, "made by root");
    assert.equal((o.stat("/etc/sl") as HostStat).ino, st(o, "/etc/base2").ino, "stat follows the link inside the overlay");
  } finally { x.done(); }
});

test("overlay side index persists: owners, modes and whiteouts survive a new overlay on the same upper", () => {
  const x = fixture();
  try {
    let o = x.ovl;
    o.creds = { uid: 0, gid: 0 };
    assert.equal(o.lchown("/etc/over", 5, 6), 0);
    assert.equal(o.chmod("/etc/over", 0o604), 0);
    assert.equal(write(o, "/rootfile", "r\n"), 0);
    assert.equal(o.unlink("/etc/base"), 0);
    const ino = st(o, "/etc/over").ino;
    o.shutdown();
    o = open(x.inner, x.l1, x.l2, x.up);
    const s = st(o, "/etc/over");
    assert.deepEqual([s.uid, s.gid, s.mode & 0o7777, s.ino], [5, 6, 0o604, ino]);
    assert.deepEqual([st(o, "/rootfile").uid, st(o, "/rootfile").gid], [0, 0]);
    assert.equal(o.lstat("/etc/base"), -ENOENT);
    o.shutdown();
    // A copy of the upper (other inode numbers) keeps its entries: they are re-keyed by path.
    const copy = join(x.work, "up-copy");
    fs.cpSync(x.up, copy, { recursive: true });
    x.inner.allowed.push(copy);
    o = open(x.inner, x.l1, x.l2, copy);
    assert.deepEqual([st(o, "/etc/over").uid, st(o, "/etc/over").mode & 0o7777], [5, 0o604]);
    o.shutdown();
    // A broken index is refused with its name and line.
    fs.appendFileSync(join(x.l1, LAYER_INDEX_NAME), "{not json\n");
    assert.match(String(FileLayerIndex.load(x.inner, x.l1)), /rvisor-index:5: not JSON/);
  } finally { x.done(); }
});

test("overlay confinement: symlinks in the layers and .. never reach the host (through the Vfs, as every system call)", () => {
  const x = fixture();
  try {
    const o = x.ovl;
    const vfs = new Vfs(o, "/", false, null, true);
    const statG = (p: string): number => {
      const r = vfs.lookup("/", null, p, LOOKUP_FOLLOW);
      if (typeof r === "number") return r;
      const s = vfs.stat(r);
      return typeof s === "number" ? s : 0;
    };
    assert.equal(statG("/abs-out"), -ENOENT, "an absolute link resolves inside the guest root");
    assert.equal(statG("/rel-out"), -ENOENT, "../../host/secret stops at the guest root");
    assert.equal(statG("/dir-out/secret"), -ENOENT);
    assert.equal(statG("/../../../host/secret"), -ENOENT);
    assert.equal(statG("/mix/secret"), -ENOENT, "l1's link under l2's directory is hidden");
    assert.deepEqual(names(o, "/mix"), [], "and not listed through");
    // Writes through a link out land inside the upper, never at the host path (its directories made in the guest first).
    let d = "";
    for (const c of x.host.split("/").slice(1)) { d += "/" + c; assert.equal(o.mkdir(d, 0o755), 0, d); }
    const r = vfs.lookup("/", null, "/abs-out", LOOKUP_FOLLOW);
    assert.equal(typeof r, "object");
    const ref = r as Exclude<typeof r, number>;
    assert.equal(ref.guest, join(x.host, "secret"), "the link's target, as a guest path");
    const h = o.open(ref.host, O_WRONLY | O_CREAT, 0o644);
    assert.ok(h >= 0, String(h));
    o.write(h, new TextEncoder().encode("planted\n"), 0);
    o.close(h);
    assert.equal(fs.readFileSync(join(x.up, x.host, "secret"), "utf8"), "planted\n", "made inside the upper");
    assert.equal(fs.readFileSync(join(x.host, "secret"), "utf8"), "secret\n");
    assert.deepEqual(fs.readdirSync(x.host), ["secret"]);
    assert.ok(x.inner.seen > 0, "the guard saw the calls");
  } finally { x.done(); }
});

test("overlay volumes: a host directory at a guest path, read-write or read-only; EXDEV across", () => {
  const work = fs.realpathSync(fs.mkdtempSync(join(tmpdir(), "rvisor-vol-")));
  const rw = join(work, "rw"), ro = join(work, "ro");
  fs.mkdirSync(rw); fs.mkdirSync(ro);
  fs.writeFileSync(join(ro, "r"), "read only\n");
  const x = fixture([{ host: rw, guest: "/data", readonly: false }, { host: ro, guest: "/mnt/ro", readonly: true }]);
  try {
    const o = x.ovl;
    assert.ok((names(o, "/") as string[]).includes("data"), "the mount point is made in the upper");
    assert.ok(fs.statSync(join(x.up, "mnt/ro")).isDirectory());
    assert.equal(write(o, "/data/new", "v\n"), 0);
    assert.equal(fs.readFileSync(join(rw, "new"), "utf8"), "v\n");
    assert.deepEqual(names(o, "/data"), ["new"]);
    assert.equal(read(o, "/mnt/ro/r"), "read only\n");
    assert.equal(write(o, "/mnt/ro/x", "x"), -EROFS);
    assert.equal(o.unlink("/mnt/ro/r"), -EROFS);
    assert.equal(o.rename("/data/new", "/etc/new"), -EXDEV);
    assert.equal(o.link("/etc/base", "/data/l"), -EXDEV);
    assert.equal(o.rmdir("/data"), -16, "a mount point is busy");
    assert.equal(o.rmdir("/mnt"), -16);
    assert.equal(o.rename("/data/new", "/data/renamed"), 0);
    assert.ok(fs.existsSync(join(rw, "renamed")));
    const h = o.open("/data", O_RDONLY | O_DIRECTORY, 0);
    assert.ok(h >= 0);
    assert.deepEqual((o.readdirHandle(h) as { name: string }[]).map((e) => e.name), ["renamed"]);
    o.close(h);
  } finally { x.done(); fs.rmSync(work, { recursive: true, force: true }); }
});

test("overlay without an upper is read-only; O_RDWR on a lower file never opens it writable", () => {
  const x = fixture();
  try {
    const lowers = [x.l1, x.l2].map((d) => OverlayFs.lower(x.inner, d) as Exclude<ReturnType<typeof OverlayFs.lower>, string>);
    const o = new OverlayFs(x.inner, { lowers, upper: null, hostIds: HOST_IDS, owner: OWNER });
    assert.equal(o.open("/etc/base", O_RDWR, 0), -EROFS);
    assert.equal(o.unlink("/etc/base"), -EROFS);
    assert.equal(o.mkdir("/x", 0o755), -EROFS);
    assert.equal(read(o, "/etc/base"), "base\n");
    // A reader opened before the copy-up sees what the writer writes (its descriptor moves to the copy).
    const r0 = x.ovl.open("/etc/base", O_RDONLY, 0);
    const d0 = x.ovl.open("/etc", O_RDONLY | O_DIRECTORY, 0);
    const h = x.ovl.open("/etc/base", O_RDWR, 0);
    assert.ok(h >= 0 && r0 >= 0 && d0 >= 0);
    x.ovl.write(h, new TextEncoder().encode("XX"), 0);
    x.ovl.close(h);
    assert.equal(fs.readFileSync(join(x.l1, "etc/base"), "utf8"), "base\n");
    assert.equal(read(x.ovl, "/etc/base"), "XXse\n");
    const b = new Uint8Array(16);
    const n = x.ovl.read(r0, b, 0);
    assert.equal(new TextDecoder().decode(b.subarray(0, n)), "XXse\n");
    assert.equal((x.ovl.fstat(r0) as HostStat).ino, st(x.ovl, "/etc/base").ino);
    assert.equal(x.ovl.write(r0, b, 0) < 0, true, "still read-only");
    assert.ok((x.ovl.readdirHandle(d0) as { name: string }[]).some((e) => e.name === "base"));
    x.ovl.close(r0);
    x.ovl.close(d0);
    assert.equal(x.ovl.read(r0, b, 0), -9 /* EBADF */);
  } finally { x.done(); }
});

test("overlay over image-store layers (root/ + index.json): index-only symlinks, devices, FIFOs, whiteouts, opaque directories, owners and times", () => {
  const work = fs.realpathSync(fs.mkdtempSync(join(tmpdir(), "rvisor-ovl-store-")));
  const host = join(work, "host");
  fs.mkdirSync(host);
  fs.writeFileSync(join(host, "secret"), "secret\n");
  const layer = (name: string, files: Record<string, string>, entries: object[], whiteouts: string[] = [], opaques: string[] = []): string => {
    const d = join(work, name);
    fs.mkdirSync(join(d, "root"), { recursive: true });
    for (const [p, c] of Object.entries(files)) { fs.mkdirSync(join(d, "root", p, ".."), { recursive: true }); fs.writeFileSync(join(d, "root", p), c); }
    // The store makes every directory entry; symlinks, devices and FIFOs are in the index only.
    for (const e of entries as { path: string; type: string }[]) if (e.type === "dir") fs.mkdirSync(join(d, "root", e.path), { recursive: true });
    fs.writeFileSync(join(d, "index.json"), JSON.stringify({ version: 1, diffId: "sha256:0", entries, whiteouts, opaques }));
    return d;
  };
  const dir = (path: string) => ({ path, type: "dir", mode: 0o755, uid: 0, gid: 0, mtime: 1000 });
  const base = layer("base", { "bin/sh": "#!sh\n", "etc/passwd": "root:x:0:0\n", "etc/old": "old\n", "var/cache/x": "x\n" }, [
    dir("/"), dir("/bin"), dir("/etc"), dir("/var"), dir("/var/cache"), dir("/dev"),
    { path: "/bin/sh", type: "file", mode: 0o755, uid: 0, gid: 0, mtime: 1234 },
    { path: "/etc/passwd", type: "file", mode: 0o644, uid: 0, gid: 0, mtime: 1234 },
    { path: "/etc/old", type: "file", mode: 0o644, uid: 0, gid: 0, mtime: 1234 },
    { path: "/var/cache/x", type: "file", mode: 0o600, uid: 33, gid: 33, mtime: 1234 },
    { path: "/bin/bash", type: "symlink", mode: 0o777, uid: 0, gid: 0, mtime: 1234, link: "sh" },
    { path: "/etc/out", type: "symlink", mode: 0o777, uid: 0, gid: 0, mtime: 1234, link: join(host, "secret") },
    { path: "/dev/null", type: "char", mode: 0o666, uid: 0, gid: 0, mtime: 1234, devmajor: 1, devminor: 3 },
    { path: "/dev/fifo", type: "fifo", mode: 0o600, uid: 0, gid: 0, mtime: 1234 },
  ]);
  const top = layer("top", { "etc/new": "new\n" }, [dir("/"), dir("/bin"), dir("/etc"), dir("/var"), dir("/var/cache"),
    { path: "/etc/new", type: "file", mode: 0o640, uid: 0, gid: 4, mtime: 99 }], ["/etc/old", "/bin/bash"], ["/var/cache"]);
  const up = join(work, "up");
  fs.mkdirSync(up);
  const inner = new Guarded();
  inner.allowed = [join(base, "root"), join(top, "root"), up, base, top];
  const lowers = [base, top].map((d) => { const l = OverlayFs.lower(inner, d); assert.equal(typeof l, "object", String(l)); return l as Exclude<typeof l, string>; });
  const o = new OverlayFs(inner, { lowers, upper: up, hostIds: HOST_IDS, owner: OWNER });
  try {
    assert.deepEqual(names(o, "/"), ["bin", "dev", "etc", "var"]);
    assert.deepEqual(names(o, "/etc"), ["new", "out", "passwd"], "index whiteout of /etc/old; the index-only link listed");
    assert.deepEqual(names(o, "/bin"), ["sh"], "/bin/bash whited out by the top layer's index");
    assert.deepEqual(names(o, "/var/cache"), [], "opaque in the top layer's index");
    assert.equal(o.lstat("/var/cache/x"), -ENOENT);
    const sh = st(o, "/bin/sh");
    assert.deepEqual([sh.uid, sh.gid, sh.mode, sh.mtimeSec], [0, 0, S_IFREG | 0o755, 1234]);
    assert.deepEqual([st(o, "/").uid, st(o, "/").mode], [0, S_IFDIR | 0o755], "the root shows the image's root");
    const out = st(o, "/etc/out");
    assert.equal(out.mode & S_IFMT, 0o120000);
    assert.equal(o.readlink("/etc/out"), join(host, "secret"));
    const vfs = new Vfs(o, "/", false, null, true);
    const r = vfs.lookup("/", null, "/etc/out", LOOKUP_FOLLOW);
    assert.equal(typeof r === "number" ? r : o.lstat(r.host), -ENOENT, "the index-only link resolves inside the guest, where nothing is");
    const dn = st(o, "/dev/null");
    assert.deepEqual([dn.mode, dn.rdev], [S_IFCHR | 0o666, 0x103]);
    assert.equal(st(o, "/dev/fifo").mode, 0o010600);
    assert.equal(o.open("/dev/null", O_RDONLY, 0), -6 /* ENXIO */);
    const types = Object.fromEntries((o.readdir("/dev") as { name: string; type: number }[]).map((e) => [e.name, e.type]));
    assert.deepEqual(types, { null: 2, fifo: 1 });
    assert.equal(st(o, "/dev/null").ino, st(o, "/dev/null").ino);
    assert.notEqual(st(o, "/dev/null").ino, st(o, "/dev/fifo").ino);
    // Copy-up of index-only objects: a real symlink, a placeholder that keeps the device's type.
    o.creds = { uid: 0, gid: 0 };
    assert.equal(o.lchown("/etc/out", 5, 5), 0);
    assert.equal(fs.readlinkSync(join(up, "etc/out")), join(host, "secret"));
    assert.deepEqual([st(o, "/etc/out").uid, o.readlink("/etc/out")], [5, join(host, "secret")]);
    assert.equal(o.chmod("/dev/null", 0o600), 0);
    assert.deepEqual([st(o, "/dev/null").mode, st(o, "/dev/null").rdev], [S_IFCHR | 0o600, 0x103]);
    assert.equal(o.unlink("/dev/fifo"), 0);
    assert.equal(o.lstat("/dev/fifo"), -ENOENT);
    assert.ok(fs.existsSync(join(up, "dev/.wh.fifo")));
    assert.equal(read(o, "/etc/new"), "new\n", "root reads root:4 0640");
    o.creds = OWNER;
    assert.equal(read(o, "/etc/new"), -EACCES, "the guest user does not");
  } finally { o.shutdown(); fs.rmSync(work, { recursive: true, force: true }); }
});
