// Builds the default rvisor guest image from Debian sources and caches it
// outside the repo, keyed by a hash of every input.
//
//   imagePaths()         -> { dir, kernel, initrd, initrdGz, rootfs, manifest, ready, hash, missing }
//                           (computes the key; never builds)
//   buildImage({ log })  -> same object after building (no-op when cached)
//
// Inputs (all hashed): the linux-source-6.1 and busybox source package
// versions, the cross toolchain versions, guest/linux.config,
// guest/busybox.config, guest/init, guest/rootfs/**, and this file plus
// scripts/build-image.mjs.
//
// Cache root: $RVISOR_CACHE, else $XDG_CACHE_HOME/rvisor, else ~/.cache/rvisor.
// Outputs:    <root>/image-<hash>/{Image,initramfs.cpio,initramfs.cpio.gz,rootfs.ext4,manifest.json}
//             <root>/current.json points at the last image built.
// Parts:      <root>/linux-<hash>/ and <root>/busybox-<hash>/ cache the two
//             compiled components, keyed only by what they are built from
//             (package + toolchain versions, config fragment, recipe version
//             below), so changing guest/init or guest/rootfs rebuilds in seconds.
// Scratch:    <root>/build-<hash>/ (removed on success, kept on failure).
//
// RVISOR_IMAGE_DIR=<dir> overrides everything: imagePaths() then returns that
// directory as is (for hosts that cannot build, e.g. with a downloaded image).

import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..');
const guestDir = path.join(repoRoot, 'guest');

const LINUX_PKG = 'linux-source-6.1';
const ROOTFS_SIZE = '64M';
/** Timestamp of every file in the initramfs and ext4 image (2024-01-01), for reproducible output. */
const FIXED_MTIME = 1704067200;
/** Bump when buildLinux()/buildBusybox() change in a way that changes their output. */
const LINUX_RECIPE = 1;
const BUSYBOX_RECIPE = 1;
/** Recorded in the kernel so `uname -a` is the same on every build. */
const KBUILD_ENV = {
  KBUILD_BUILD_USER: 'rvisor',
  KBUILD_BUILD_HOST: 'rvisor',
  KBUILD_BUILD_VERSION: '1',
  KBUILD_BUILD_TIMESTAMP: 'Mon Jan  1 00:00:00 UTC 2024',
};

/** Debian packages the build needs, and a command that proves each is there. */
const DEPS = [
  ['gcc-riscv64-linux-gnu', 'riscv64-linux-gnu-gcc'],
  ['binutils-riscv64-linux-gnu', 'riscv64-linux-gnu-ld'],
  ['libc6-dev-riscv64-cross', null],
  ['linux-source-6.1', null],
  ['build-essential', 'gcc'],
  ['make', 'make'],
  ['bc', 'bc'],
  ['bison', 'bison'],
  ['flex', 'flex'],
  ['libssl-dev', null],
  ['libelf-dev', null],
  ['e2fsprogs', 'mke2fs'],
  ['dpkg-dev', 'dpkg-source'],
  ['xz-utils', 'xz'],
];

export function cacheRoot() {
  if (process.env.RVISOR_CACHE) return path.resolve(process.env.RVISOR_CACHE);
  const xdg = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(xdg, 'rvisor');
}

function run(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts }).trim();
}

/**
 * PATH for finding and running the build's tools: the user's PATH plus the sbin directories,
 * which Debian leaves out of a non-root user's PATH although mke2fs (e2fsprogs) lives there.
 */
const SBIN_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];
const TOOL_PATH = [...new Set([...(process.env.PATH || '').split(path.delimiter).filter(Boolean), ...SBIN_DIRS])].join(path.delimiter);

function hasCommand(cmd) {
  for (const d of TOOL_PATH.split(path.delimiter)) {
    if (!d) continue;
    try { fs.accessSync(path.join(d, cmd), fs.constants.X_OK); return true; } catch { /* next */ }
  }
  return false;
}

function pkgVersion(pkg) {
  try {
    const out = run('dpkg-query', ['-W', '-f=${Status}\t${Version}', pkg]);
    const [status, version] = out.split('\t');
    return status.endsWith('install ok installed') ? version : null;
  } catch { return null; }
}

/** Details of what the host lacks to build the image: { packages, commands, debian, debSrc }. */
export function missingDepsInfo() {
  if (!hasCommand('dpkg-query') || !hasCommand('apt-get')) {
    return { packages: DEPS.map(([p]) => p), commands: ['apt-get', 'dpkg-query'], debian: false, debSrc: false };
  }
  const packages = [];
  const commands = [];
  for (const [pkg, cmd] of DEPS) {
    const noCmd = cmd && !hasCommand(cmd);
    if (!pkgVersion(pkg) || noCmd) packages.push(pkg);
    if (noCmd) commands.push(cmd);
  }
  return { packages, commands, debian: true, debSrc: busyboxSourceVersion() != null };
}

/**
 * What is missing to get the image, as a list of short names (Debian packages,
 * commands, "deb-src"); empty when the image is already built or can be built.
 */
export function missingDeps() {
  if (imagePaths().ready) return [];
  const m = missingDepsInfo();
  const out = [...m.packages];
  for (const c of m.commands) if (!out.includes(c)) out.push(c);
  if (m.debian && !m.debSrc) out.push('deb-src line for `apt-get source busybox`');
  return out;
}

export function missingDepsMessage(m = missingDepsInfo()) {
  if (!m.packages.length && !m.commands.length && m.debSrc) return null;
  const lines = [];
  if (!m.debian) {
    lines.push('image: this host has no apt-get/dpkg-query; the guest image is built from Debian source packages.');
    lines.push(`image: needed Debian packages: ${m.packages.join(' ')}`);
    lines.push('image: build on Debian 12 (bookworm) or in a debian:bookworm container: sudo bash scripts/install-deps.sh && npm run image');
    lines.push('image: or point RVISOR_IMAGE_DIR at a directory holding Image, initramfs.cpio and rootfs.ext4.');
  } else {
    if (m.commands.length) lines.push(`image: missing commands: ${m.commands.join(' ')}`);
    if (m.packages.length) {
      lines.push(`image: install Debian packages: ${m.packages.join(' ')}`);
      lines.push('image:   (sudo bash scripts/install-deps.sh  or  sudo apt-get install ' + m.packages.join(' ') + ')');
    }
    if (!m.debSrc) lines.push('image: `apt-get source busybox` needs a deb-src line in the apt sources (sudo bash scripts/install-deps.sh adds one, then apt-get update)');
  }
  return lines.join('\n');
}

let busyboxVersionMemo;
/**
 * The busybox source version `apt-get source busybox` would fetch. Asking apt
 * takes seconds, so the answer is kept in <cache root>/apt-busybox.json until
 * the apt lists change (`apt-get update`).
 */
function busyboxSourceVersion() {
  if (busyboxVersionMemo !== undefined) return busyboxVersionMemo;
  busyboxVersionMemo = null;
  const stamp = ['/var/lib/apt/lists', '/etc/apt/sources.list.d', '/etc/apt/sources.list']
    .map((f) => { try { return fs.statSync(f).mtimeMs; } catch { return 0; } }).join(',');
  const memoFile = path.join(cacheRoot(), 'apt-busybox.json');
  try {
    const m = JSON.parse(fs.readFileSync(memoFile, 'utf8'));
    if (m.stamp === stamp && m.version) return (busyboxVersionMemo = m.version);
  } catch { /* none yet */ }
  try {
    const out = run('apt-get', ['source', '--print-uris', '-qq', 'busybox'], { cwd: os.tmpdir() });
    const m = out.match(/busybox_([^\s'/]+)\.dsc/);
    if (m) busyboxVersionMemo = decodeURIComponent(m[1]);
  } catch { /* no deb-src line or no apt */ }
  if (busyboxVersionMemo) {
    try { fs.mkdirSync(cacheRoot(), { recursive: true }); writeJson(memoFile, { stamp, version: busyboxVersionMemo }); } catch { /* read-only cache: fine */ }
  }
  return busyboxVersionMemo;
}

function listFiles(dir, base = dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...listFiles(p, base));
    else out.push(path.relative(base, p));
  }
  return out;
}

/** Repo files that feed the image, relative to the repo root. */
function inputFiles() {
  const files = ['guest/linux.config', 'guest/busybox.config', 'guest/init', 'scripts/build-image.mjs', 'scripts/lib/image.mjs'];
  const overlay = path.join(guestDir, 'rootfs');
  if (fs.existsSync(overlay)) files.push(...listFiles(overlay).map((f) => path.join('guest/rootfs', f)));
  return files;
}

/** Everything the hash covers, or null when the host cannot tell (no dpkg/apt). */
export function imageInputs() {
  const versions = {
    [LINUX_PKG]: pkgVersion(LINUX_PKG),
    busybox: busyboxSourceVersion(),
    'gcc-riscv64-linux-gnu': pkgVersion('gcc-riscv64-linux-gnu'),
    'libc6-dev-riscv64-cross': pkgVersion('libc6-dev-riscv64-cross'),
  };
  if (!versions[LINUX_PKG] || !versions.busybox) return null;
  const files = {};
  for (const f of inputFiles()) {
    const p = path.join(repoRoot, f);
    const st = fs.statSync(p);
    files[f] = createHash('sha256').update(fs.readFileSync(p)).update(st.mode & 0o111 ? 'x' : '-').digest('hex');
  }
  return { versions, files };
}

const sha = (x) => createHash('sha256').update(typeof x === 'string' || Buffer.isBuffer(x) ? x : JSON.stringify(x)).digest('hex').slice(0, 16);

/** Cache keys of the compiled components (subsets of the image inputs). */
function partKeys(inputs) {
  const v = inputs.versions;
  const read = (f) => fs.readFileSync(path.join(repoRoot, f), 'utf8');
  return {
    linux: sha({ recipe: LINUX_RECIPE, src: v[LINUX_PKG], gcc: v['gcc-riscv64-linux-gnu'], config: read('guest/linux.config'), env: KBUILD_ENV }),
    busybox: sha({ recipe: BUSYBOX_RECIPE, src: v.busybox, gcc: v['gcc-riscv64-linux-gnu'], libc: v['libc6-dev-riscv64-cross'], config: read('guest/busybox.config') }),
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs fn() holding the lock directory `lock` (it holds the owner's pid), so
 * that concurrent builders (tests, npm start, npm run image) wait for one
 * another instead of compiling the same thing twice. `done()` is checked
 * after every wait: when it is true the work was done by someone else.
 */
async function withLock(lock, log, done, fn) {
  for (;;) {
    if (done()) return null;
    try {
      fs.mkdirSync(lock);
      fs.writeFileSync(path.join(lock, 'pid'), String(process.pid));
      break;
    } catch (e) { if (e.code !== 'EEXIST') throw e; }
    let pid = 0;
    for (let i = 0; i < 10 && !pid; i++) {
      try { pid = Number(fs.readFileSync(path.join(lock, 'pid'), 'utf8')); } catch { await sleep(100); }
    }
    if (pid && pid !== process.pid && pidAlive(pid)) {
      log(`image: waiting for pid ${pid}, which holds ${lock}…`);
      while (pidAlive(pid) && fs.existsSync(lock)) await sleep(2000);
    } else {
      fs.rmSync(lock, { recursive: true, force: true }); // stale
    }
  }
  try {
    if (done()) return null;
    return await fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

/** Runs fn(tmpDir) to fill a part dir unless <root>/<name>-<key>/ exists; returns the part dir. */
async function part(ctx, name, key, files, fn) {
  const dir = path.join(ctx.root, `${name}-${key}`);
  const done = () => files.every((f) => fs.existsSync(path.join(dir, f)));
  if (done()) { ctx.log(`image:   ${name} from cache ${dir}`); return dir; }
  await withLock(`${dir}.lock`, ctx.log, done, () => buildPart(ctx, name, dir, files, fn));
  return dir;
}

async function buildPart(ctx, name, dir, files, fn) {
  const tmp = path.join(ctx.work, `part-${name}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  const t0 = Date.now();
  await fn(tmp);
  writeJson(path.join(tmp, 'build.json'), { seconds: Math.round((Date.now() - t0) / 1000), built: new Date().toISOString(), jobs: ctx.jobs });
  try {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(tmp, dir);
  } catch (e) {
    // Another builder finished the same part first; theirs is as good as ours.
    if (!files.every((f) => fs.existsSync(path.join(dir, f)))) throw e;
  }
}

function pathsFor(dir, extra = {}) {
  const kernel = path.join(dir, 'Image');
  const initrd = path.join(dir, 'initramfs.cpio');
  const initrdGz = path.join(dir, 'initramfs.cpio.gz');
  const rootfs = path.join(dir, 'rootfs.ext4');
  const manifest = path.join(dir, 'manifest.json');
  const ready = [kernel, initrd, rootfs, manifest].every((f) => fs.existsSync(f));
  return { dir, kernel, initrd, initrdGz, rootfs, manifest, ready, ...extra };
}

/**
 * Where the image for the current inputs lives and whether it is built.
 * Never builds. On a host that cannot compute the key (no dpkg/apt) falls back
 * to the last image built (current.json) if any; `dir` is null otherwise.
 */
export function imagePaths() {
  if (process.env.RVISOR_IMAGE_DIR) return pathsFor(path.resolve(process.env.RVISOR_IMAGE_DIR), { hash: null });
  const root = cacheRoot();
  const inputs = imageInputs();
  if (!inputs) {
    try {
      const cur = JSON.parse(fs.readFileSync(path.join(root, 'current.json'), 'utf8'));
      return pathsFor(cur.dir, { hash: cur.hash, stale: true });
    } catch {
      return { dir: null, kernel: null, initrd: null, initrdGz: null, rootfs: null, manifest: null, ready: false, hash: null };
    }
  }
  const hash = sha(inputs);
  return pathsFor(path.join(root, `image-${hash}`), { hash, inputs });
}

// ---------------------------------------------------------------- building

function fmtSecs(ms) { return `${Math.round(ms / 1000)}s`; }

/** Runs a command, appending its output to the build log; rejects with the log tail. */
function sh(ctx, cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    fs.appendFileSync(ctx.logFile, `\n$ ${[cmd, ...args].join(' ')}   (cwd ${opts.cwd || ctx.work})\n`);
    const fd = fs.openSync(ctx.logFile, 'a');
    const child = spawn(cmd, args, {
      cwd: opts.cwd || ctx.work,
      env: { ...process.env, PATH: TOOL_PATH, LC_ALL: 'C', ...opts.env },
      stdio: [opts.input != null ? 'pipe' : 'ignore', ctx.verbose ? 'inherit' : fd, ctx.verbose ? 'inherit' : fd],
    });
    if (opts.input != null) { child.stdin.on('error', () => {}); child.stdin.end(opts.input); } // EPIPE if it exits early
    child.on('error', (e) => { fs.closeSync(fd); reject(e); });
    child.on('close', (code, sig) => {
      fs.closeSync(fd);
      if (code === 0) return resolve();
      const tail = fs.readFileSync(ctx.logFile, 'utf8').split('\n').slice(-40).join('\n');
      reject(new Error(`${cmd} ${args.join(' ')} failed (${sig || 'exit ' + code})\n--- last lines of ${ctx.logFile} ---\n${tail}`));
    });
  });
}

async function step(ctx, title, fn) {
  const t0 = Date.now();
  ctx.log(`image: ${title}…`);
  const r = await fn();
  const ms = Date.now() - t0;
  ctx.log(`image:   done in ${fmtSecs(ms)}`);
  ctx.times[title.split(' ')[0]] = Math.round(ms / 1000);
  return r;
}

/** Parses `CONFIG_X=v` / `# CONFIG_X is not set` lines into a map (v = 'n' for unset). */
function parseConfig(text) {
  const m = new Map();
  for (const line of text.split('\n')) {
    let r = line.match(/^(CONFIG_\w+)=(.*)$/);
    if (r) { m.set(r[1], r[2]); continue; }
    r = line.match(/^# (CONFIG_\w+) is not set/);
    if (r) m.set(r[1], 'n');
  }
  return m;
}

function checkConfig(wantText, haveText, what) {
  const have = parseConfig(haveText);
  const bad = [];
  for (const [k, v] of parseConfig(wantText)) {
    const got = have.get(k) ?? 'n';
    if (got !== v) bad.push(`${k}: wanted ${v}, got ${got}`);
  }
  if (bad.length) throw new Error(`${what}: the final .config does not honour the fragment (a dependency is missing?):\n  ${bad.join('\n  ')}`);
}

function linuxTarball() {
  for (const f of ['/usr/src/linux-source-6.1.tar.xz', '/usr/src/linux-source-6.1.tar.bz2']) if (fs.existsSync(f)) return f;
  const listed = run('dpkg', ['-L', LINUX_PKG]).split('\n').find((f) => /linux-source-[\d.]+\.tar\.\w+$/.test(f));
  if (!listed) throw new Error(`cannot find the kernel tarball of ${LINUX_PKG}`);
  return listed;
}

async function buildLinux(ctx, dest) {
  const src = path.join(ctx.work, 'linux');
  fs.mkdirSync(src, { recursive: true });
  await sh(ctx, 'tar', ['-xf', linuxTarball(), '-C', src, '--strip-components=1']);
  const kenv = { ARCH: 'riscv', CROSS_COMPILE: 'riscv64-linux-gnu-', ...KBUILD_ENV };
  const mk = (...a) => sh(ctx, 'make', [`-j${ctx.jobs}`, 'ARCH=riscv', 'CROSS_COMPILE=riscv64-linux-gnu-', ...a], { cwd: src, env: kenv });
  await mk('tinyconfig');
  const frag = path.join(guestDir, 'linux.config');
  await sh(ctx, 'bash', ['scripts/kconfig/merge_config.sh', '-m', '.config', frag], { cwd: src, env: kenv });
  await mk('olddefconfig');
  checkConfig(fs.readFileSync(frag, 'utf8'), fs.readFileSync(path.join(src, '.config'), 'utf8'), 'guest/linux.config');
  await mk('Image');
  fs.copyFileSync(path.join(src, 'arch/riscv/boot/Image'), path.join(dest, 'Image'));
  fs.copyFileSync(path.join(src, '.config'), path.join(dest, 'linux.config'));
  fs.rmSync(src, { recursive: true, force: true });
}

async function buildBusybox(ctx, dest) {
  const top = path.join(ctx.work, 'busybox');
  fs.mkdirSync(top, { recursive: true });
  // Not `busybox=<version>`: the version in a .dsc name has no epoch. Check the fetched one instead.
  await sh(ctx, 'apt-get', ['source', '-q', 'busybox'], { cwd: top });
  const dsc = `busybox_${ctx.inputs.versions.busybox}.dsc`;
  if (!fs.existsSync(path.join(top, dsc))) {
    throw new Error(`apt-get source busybox fetched ${fs.readdirSync(top).filter((f) => f.endsWith('.dsc')).join(' ')}, expected ${dsc} (apt lists changed during the build? rerun)`);
  }
  const src = fs.readdirSync(top).map((d) => path.join(top, d)).find((d) => fs.statSync(d).isDirectory() && fs.existsSync(path.join(d, 'Makefile')));
  if (!src) throw new Error('apt-get source busybox produced no source tree');
  // dpkg-source applies debian/patches for "3.0 (quilt)"; apply them by hand if it did not.
  const series = path.join(src, 'debian/patches/series');
  if (!fs.existsSync(path.join(src, '.pc/applied-patches')) && fs.existsSync(series)) {
    for (const p of fs.readFileSync(series, 'utf8').split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean)) {
      await sh(ctx, 'patch', ['-p1', '-N', '-i', path.join(src, 'debian/patches', p.split(/\s+/)[0])], { cwd: src });
    }
  }
  const benv = { CROSS_COMPILE: 'riscv64-linux-gnu-' };
  const mk = (...a) => sh(ctx, 'make', [`-j${ctx.jobs}`, 'CROSS_COMPILE=riscv64-linux-gnu-', ...a], { cwd: src, env: benv });
  await mk('defconfig');
  const fragText = fs.readFileSync(path.join(guestDir, 'busybox.config'), 'utf8');
  const want = parseConfig(fragText);
  const cfgPath = path.join(src, '.config');
  const lines = fs.readFileSync(cfgPath, 'utf8').split('\n').filter((l) => {
    const m = l.match(/^(?:# )?(CONFIG_\w+)[= ]/);
    return !(m && want.has(m[1]));
  });
  for (const [k, v] of want) lines.push(v === 'n' ? `# ${k} is not set` : `${k}=${v}`);
  fs.writeFileSync(cfgPath, lines.join('\n') + '\n');
  await sh(ctx, 'make', ['CROSS_COMPILE=riscv64-linux-gnu-', 'oldconfig'], { cwd: src, env: benv, input: '\n'.repeat(2000) });
  checkConfig(fragText, fs.readFileSync(cfgPath, 'utf8'), 'guest/busybox.config');
  await mk('busybox');
  await mk('busybox.links');
  fs.copyFileSync(path.join(src, 'busybox'), path.join(dest, 'busybox'));
  fs.copyFileSync(path.join(src, 'busybox.links'), path.join(dest, 'busybox.links'));
  fs.copyFileSync(cfgPath, path.join(dest, 'busybox.config'));
  fs.rmSync(top, { recursive: true, force: true });
}

/** Lays out the userland shared by the initramfs and the ext4 disk. */
function stageRootfs(ctx) {
  const root = path.join(ctx.work, 'rootfs');
  fs.rmSync(root, { recursive: true, force: true });
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'dev', 'proc', 'sys', 'tmp', 'mnt', 'root', 'etc', 'run', 'var/log']) {
    fs.mkdirSync(path.join(root, d), { recursive: true });
  }
  fs.chmodSync(path.join(root, 'tmp'), 0o1777);
  fs.chmodSync(path.join(root, 'root'), 0o700);
  fs.copyFileSync(path.join(ctx.busyboxDir, 'busybox'), path.join(root, 'bin/busybox'));
  fs.chmodSync(path.join(root, 'bin/busybox'), 0o755);
  // `busybox --install -s` semantics: absolute symlinks to /bin/busybox.
  let n = 0;
  for (const l of fs.readFileSync(path.join(ctx.busyboxDir, 'busybox.links'), 'utf8').split('\n').map((s) => s.trim())) {
    if (!l || l === '/linuxrc' || l === '/bin/busybox') continue;
    const p = path.join(root, l);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    if (!fs.existsSync(p)) { fs.symlinkSync('/bin/busybox', p); n++; }
  }
  copyTree(path.join(guestDir, 'rootfs'), root);
  fs.copyFileSync(path.join(guestDir, 'init'), path.join(root, 'init'));
  fs.chmodSync(path.join(root, 'init'), 0o755);
  fs.symlinkSync('/proc/mounts', path.join(root, 'etc/mtab'));
  const touch = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) touch(p);
      fs.lutimesSync(p, FIXED_MTIME, FIXED_MTIME);
    }
    fs.lutimesSync(d, FIXED_MTIME, FIXED_MTIME);
  };
  touch(root);
  ctx.applets = n;
  return root;
}

function copyTree(from, to) {
  if (!fs.existsSync(from)) return;
  for (const e of fs.readdirSync(from, { withFileTypes: true })) {
    const s = path.join(from, e.name), d = path.join(to, e.name);
    if (e.isDirectory()) { fs.mkdirSync(d, { recursive: true }); copyTree(s, d); }
    else { fs.copyFileSync(s, d); fs.chmodSync(d, fs.statSync(s).mode & 0o7777); }
  }
}

/**
 * A newc cpio of `root`, every file owned by root:root, plus device nodes the
 * kernel needs before /init runs (/dev/console). Written in JS so that no
 * root privileges or `cpio` binary are needed.
 */
export function makeCpio(root, extra = [{ name: 'dev/console', mode: 0o020600, rdevMajor: 5, rdevMinor: 1 }]) {
  const chunks = [];
  let ino = 1;
  const pad4 = (n) => (4 - (n % 4)) % 4;
  const hex = (n) => n.toString(16).padStart(8, '0');
  const entry = (name, mode, data, nlink, rdevMajor = 0, rdevMinor = 0, mtime = FIXED_MTIME) => {
    const nameBuf = Buffer.from(name + '\0');
    const hdr = '070701' + [ino++, mode, 0, 0, nlink, mtime, data.length, 0, 0, rdevMajor, rdevMinor, nameBuf.length, 0].map(hex).join('');
    chunks.push(Buffer.from(hdr), nameBuf, Buffer.alloc(pad4(110 + nameBuf.length)), data, Buffer.alloc(pad4(data.length)));
  };
  const walk = (dir, rel) => {
    for (const e of fs.readdirSync(dir).sort()) {
      const p = path.join(dir, e), r = rel ? `${rel}/${e}` : e;
      const st = fs.lstatSync(p);
      if (st.isSymbolicLink()) entry(r, st.mode, Buffer.from(fs.readlinkSync(p)), 1);
      else if (st.isDirectory()) { entry(r, st.mode, Buffer.alloc(0), 2); walk(p, r); }
      else if (st.isFile()) entry(r, st.mode, fs.readFileSync(p), 1);
    }
  };
  entry('.', 0o040755, Buffer.alloc(0), 2);
  walk(root, '');
  for (const x of extra) entry(x.name, x.mode, Buffer.alloc(0), 1, x.rdevMajor, x.rdevMinor);
  entry('TRAILER!!!', 0, Buffer.alloc(0), 1);
  return Buffer.concat(chunks);
}

async function makeExt4(ctx, root) {
  const out = path.join(ctx.out, 'rootfs.ext4');
  // No lazy init: otherwise the guest kernel zeroes inode tables in the background.
  await sh(ctx, 'mke2fs', ['-q', '-F', '-t', 'ext4', '-L', 'rvisor', '-d', root,
    '-E', 'root_owner=0:0,lazy_itable_init=0,lazy_journal_init=0', out, ROOTFS_SIZE],
  { env: { E2FSPROGS_FAKE_TIME: String(FIXED_MTIME) } });
}

function writeJson(file, obj) {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(obj, null, 2) + '\n');
  fs.renameSync(tmp, file);
}

function pidAlive(pid) {
  try { process.kill(pid, 0); return true; } catch (e) { return e.code === 'EPERM'; }
}

/**
 * Builds the image for the current inputs unless it is already cached.
 * Concurrent callers wait for one builder (the build dir holds its pid).
 */
export async function buildImage({ log = (s) => console.log(s), verbose = false, jobs = os.availableParallelism?.() ?? os.cpus().length } = {}) {
  let p = imagePaths();
  if (p.ready) return p;
  const msg = missingDepsMessage();
  if (msg || !p.inputs) {
    const e = new Error(msg || 'image: cannot compute the image inputs (dpkg-query/apt-get failed)');
    e.code = 'RVISOR_MISSING_DEPS';
    throw e;
  }
  const root = cacheRoot();
  fs.mkdirSync(root, { recursive: true });
  const work = path.join(root, `build-${p.hash}`);
  await withLock(path.join(root, `image-${p.hash}.lock`), log, () => imagePaths().ready, () => build(p, root, work, { log, verbose, jobs }));
  return imagePaths();
}

async function build(p, root, work, { log, verbose, jobs }) {
  fs.rmSync(work, { recursive: true, force: true }); // left over from a failed build
  fs.mkdirSync(work, { recursive: true });
  const out = path.join(work, 'out');
  fs.mkdirSync(out);
  const ctx = { root, work, out, log, verbose, jobs, inputs: p.inputs, logFile: path.join(work, 'build.log'), times: {} };
  const keys = partKeys(p.inputs);
  const t0 = Date.now();
  const v = p.inputs.versions;
  log(`image: building guest image ${p.hash} in ${work} (log: ${ctx.logFile})`);
  try {
    const linuxDir = await step(ctx, `linux ${v[LINUX_PKG]} (${LINUX_PKG}; takes ~8 min on 2 cores)`,
      () => part(ctx, 'linux', keys.linux, ['Image', 'linux.config'], (d) => buildLinux(ctx, d)));
    ctx.busyboxDir = await step(ctx, `busybox ${v.busybox} (static riscv64; takes ~2-3 min on 2 cores)`,
      () => part(ctx, 'busybox', keys.busybox, ['busybox', 'busybox.links', 'busybox.config'], (d) => buildBusybox(ctx, d)));
    for (const f of ['Image', 'linux.config']) fs.copyFileSync(path.join(linuxDir, f), path.join(out, f));
    fs.copyFileSync(path.join(ctx.busyboxDir, 'busybox.config'), path.join(out, 'busybox.config'));
    const rootDir = await step(ctx, 'initramfs (newc cpio)', async () => {
      const r = stageRootfs(ctx);
      const cpio = makeCpio(r);
      fs.writeFileSync(path.join(out, 'initramfs.cpio'), cpio);
      fs.writeFileSync(path.join(out, 'initramfs.cpio.gz'), zlib.gzipSync(cpio, { level: 9 }));
      return r;
    });
    await step(ctx, `rootfs.ext4 (${ROOTFS_SIZE})`, () => makeExt4(ctx, rootDir));
    const files = {};
    for (const f of fs.readdirSync(out).sort()) {
      const buf = fs.readFileSync(path.join(out, f));
      files[f] = { size: buf.length, sha256: createHash('sha256').update(buf).digest('hex') };
    }
    writeJson(path.join(out, 'manifest.json'), {
      hash: p.hash,
      built: new Date().toISOString(),
      host: os.hostname(),
      versions: v,
      inputs: p.inputs.files,
      parts: Object.fromEntries([['linux', linuxDir], ['busybox', ctx.busyboxDir]].map(([k, d]) => {
        let built = null;
        try { built = JSON.parse(fs.readFileSync(path.join(d, 'build.json'), 'utf8')); } catch { /* older part */ }
        return [k, { dir: path.basename(d), ...built }];
      })),
      applets: ctx.applets,
      buildSeconds: { ...ctx.times, total: Math.round((Date.now() - t0) / 1000) },
      kernel: 'Image',
      initrd: 'initramfs.cpio',
      initrdGz: 'initramfs.cpio.gz',
      rootfs: 'rootfs.ext4',
      cmdline: 'console=ttyS0',
      files,
    });
    fs.rmSync(p.dir, { recursive: true, force: true });
    fs.renameSync(out, p.dir);
    writeJson(path.join(root, 'current.json'), { dir: p.dir, hash: p.hash, versions: v });
    fs.rmSync(work, { recursive: true, force: true });
  } catch (e) {
    e.message += `\nimage: build dir kept for inspection: ${work}`;
    throw e;
  }
  log(`image: ready in ${fmtSecs(Date.now() - t0)}: ${p.dir}`);
}
