// `rvisor exec --layer --layer --upper` (the overlay of src/user/overlay.ts) running the real
// riscv64 busybox of the guest image: listings, reading lower files, writing, deleting a lower
// file, directory moves (EXDEV, which mv turns into a copy), a pipeline. The same script runs
// under qemu-riscv64 on a merged copy of the layers (made here as Docker would apply them), and
// the outputs must be identical; afterwards the upper holds exactly the changes (new files,
// copied-up files, whiteouts), the lower directories are unchanged, and a second run over the
// same upper sees the first run's changes. The side index's owners and modes show to the guest.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildProgram, run, RVISOR, SYSROOT, toolsMissing } from "./user/build.js";
import { appletDirs, findBusybox, QEMU } from "./user/busybox.js";
import { which } from "./lib/toolchain.js";
import { scaled } from "./lib/time_scale.js";

const tools = toolsMissing();
const found = tools === false ? await findBusybox((s) => process.stderr.write(`${s}\n`)) : { skip: tools };
const skip = "skip" in found ? found.skip : which("qemu-riscv64") === null ? "qemu-riscv64 not found" : false;

const APPLETS = ["sh", "ls", "cat", "echo", "rm", "mv", "mkdir", "find", "sort", "uniq", "head", "tr", "sed", "stat", "wc", "cp", "id", "grep"];

/** Every entry under a directory with its type and content, to compare before and after. */
function tree(d: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    for (const n of readdirSync(join(d, rel)).sort()) {
      const r = rel === "" ? n : `${rel}/${n}`, p = join(d, r), s = lstatSync(p);
      out[r] = s.isSymbolicLink() ? `-> ${readlinkSync(p)}` : s.isDirectory() ? `dir ${(s.mode & 0o7777).toString(8)}`
        : `${(s.mode & 0o7777).toString(8)} ${s.size > 4096 ? `${s.size} bytes` : readFileSync(p, "latin1")}`;
      if (s.isDirectory()) walk(r);
    }
  };
  walk("");
  return out;
}

/** Applies layers in order onto `dst` as Docker does: .wh.NAME removes NAME, .wh..wh..opq empties the directory. */
function applyLayers(layers: string[], dst: string): void {
  mkdirSync(dst, { recursive: true });
  const apply = (src: string, to: string): void => {
    const names = readdirSync(src);
    if (names.includes(".wh..wh..opq")) for (const n of readdirSync(to)) rmSync(join(to, n), { recursive: true, force: true });
    for (const n of names) {
      if (n === ".wh..wh..opq" || n === ".wh..wh.rvisor-index") continue;
      if (n.startsWith(".wh.")) { rmSync(join(to, n.slice(4)), { recursive: true, force: true }); continue; }
      const s = lstatSync(join(src, n));
      if (s.isDirectory()) {
        if (existsSync(join(to, n)) && !lstatSync(join(to, n)).isDirectory()) rmSync(join(to, n));
        mkdirSync(join(to, n), { recursive: true });
        apply(join(src, n), join(to, n));
      } else {
        rmSync(join(to, n), { recursive: true, force: true });
        if (s.isSymbolicLink()) symlinkSync(readlinkSync(join(src, n)), join(to, n));
        else copyFileSync(join(src, n), join(to, n));
      }
    }
  };
  for (const l of layers) apply(l, dst);
}

/** Paths are "$R/..." so that the script runs on the overlay's / (R empty) and on the merged copy (R=its path) alike. */
const SCRIPT = `exec 2>&1
echo "== ls"; ls "$R/etc"; ls "$R/data"
echo "== cat from the layers"; cat "$R/etc/over" "$R/etc/base" "$R/data/old/f"
echo "== write"; echo written > "$R/etc/new"; echo appended >> "$R/etc/over"; cat "$R/etc/new" "$R/etc/over"
echo "== delete a lower file"; rm "$R/etc/base"; ls "$R/etc"; cat "$R/etc/base" | sed "s|$R/|/|"; echo "status $?"
echo "== gone by a whiteout"; ls "$R/etc/gone" | sed "s|$R/|/|"
echo "== directories"; mkdir -p "$R/data/sub/deep"; echo d > "$R/data/sub/deep/f"; rm -r "$R/data/old"; find "$R/data" | sed "s|^$R/|/|" | sort
echo "== move a merged directory (EXDEV: mv copies)"; mv "$R/data" "$R/data2"; echo "mv $?"; find "$R/data2" | sed "s|^$R/|/|" | sort; ls "$R/data" | sed "s|$R/|/|"
echo "== rename a lower file"; mv "$R/etc/over" "$R/etc/over2"; ls "$R/etc"
echo "== pipeline"; cat "$R/etc/words" | tr ' ' '\\n' | sort | uniq -c | sort -rn | head -3
echo "== stat"; stat -c '%s %a %F' "$R/etc/over2" "$R/etc/new" "$R/data2/sub"
`;

const SECOND = `exec 2>&1
echo "== after"; ls "$R/etc"; cat "$R/etc/new" "$R/etc/over2"; ls "$R/" | grep -v bin
`;

test("overlay under rvisor exec: busybox over two layers + upper, the same output as qemu-riscv64 on a merged copy; upper holds the changes, layers unchanged", { skip, timeout: scaled(300_000) }, async (t) => {
  if (!("path" in found)) return;
  const work = mkdtempSync(join(tmpdir(), "rvisor-overlay-"));
  try {
    const l1 = join(work, "l1"), l2 = join(work, "l2"), up = join(work, "up"), merged = join(work, "merged");
    for (const d of [l1, l2, up]) mkdirSync(d);
    mkdirSync(join(l1, "bin")); mkdirSync(join(l1, "etc")); mkdirSync(join(l1, "data/old"), { recursive: true });
    copyFileSync(found.path, join(l1, "bin/busybox"));
    for (const a of APPLETS) symlinkSync("busybox", join(l1, "bin", a));
    writeFileSync(join(l1, "etc/base"), "base from l1\n");
    writeFileSync(join(l1, "etc/over"), "over from l1\n");
    writeFileSync(join(l1, "etc/gone"), "gone\n");
    writeFileSync(join(l1, "etc/shadow"), "root:*:\n");
    writeFileSync(join(l1, "data/old/f"), "old data\n");
    writeFileSync(join(l1, "etc/words"), "the cat the dog the end a cat\n");
    writeFileSync(join(l1, ".wh..wh.rvisor-index"), `{"rvisorLayerIndex":1}\n{"path":"/etc/shadow","uid":0,"gid":42,"mode":${0o100640}}\n`);
    mkdirSync(join(l2, "etc")); mkdirSync(join(l2, "data"));
    writeFileSync(join(l2, "etc/over"), "over from l2\n");
    writeFileSync(join(l2, "etc/.wh.gone"), "");
    writeFileSync(join(l2, "data/new-in-l2"), "l2 data\n");
    const l1Before = tree(l1), l2Before = tree(l2);
    applyLayers([l1, l2], merged);

    const rv = (script: string) => run(process.execPath, [RVISOR, "exec", "--layer", l1, "--layer", l2, "--upper", up,
      "-E", "R=", "-E", "PATH=/bin", "-E", "LC_ALL=C", "--", "/bin/sh", "-c", script], 120_000);
    const dirs = appletDirs(found.path, work);
    const qe = (script: string) => run("env", ["-i", `R=${merged}`, `PATH=${dirs.qemu}`, "LC_ALL=C", QEMU, found.path, "sh", "-c", script], 120_000);

    const [r, q] = [await rv(SCRIPT), await qe(SCRIPT)];
    t.diagnostic(`rvisor ${r.ms} ms, qemu-riscv64 ${q.ms} ms`);
    assert.equal(r.stderr, "", "rvisor's own stderr");
    assert.equal(r.stdout.replaceAll(merged, ""), q.stdout.replaceAll(merged, ""), "the same output as qemu-riscv64 on the merged copy");
    assert.equal(r.code, q.code);
    assert.match(r.stdout, /^over from l2\nappended\n/m, "the upper layer's copy, appended to");
    assert.match(r.stdout, /== pipeline\n\s+3 the\n\s+2 cat\n/);

    // The upper holds the changes and nothing else; the layers are as they were.
    assert.deepEqual(tree(l1), l1Before, "l1 unchanged");
    assert.deepEqual(tree(l2), l2Before, "l2 unchanged");
    const u = tree(up);
    assert.equal(u["etc/new"], "644 written\n");
    assert.equal(u["etc/over2"], "644 over from l2\nappended\n");
    for (const w of ["etc/.wh.base", "etc/.wh.over", ".wh.data"]) assert.ok(w in u, `whiteout ${w} in ${JSON.stringify(Object.keys(u))}`);
    assert.equal(u["data2/sub/deep/f"], "644 d\n");
    assert.equal(u["data2/new-in-l2"], "644 l2 data\n");
    assert.ok(!("etc/base" in u) && !("etc/shadow" in u) && !("bin/busybox" in u), "nothing copied that was only read");
    assert.ok(".wh..wh.rvisor-index" in u, "the upper's index");

    // A second run over the same upper sees the first one's changes.
    const [r2, q2] = [await rv(SECOND), await qe(SECOND)];
    assert.equal(r2.stdout.replaceAll(merged, ""), q2.stdout.replaceAll(merged, ""));
    assert.match(r2.stdout, /^written\nover from l2\nappended\n/m);

    // Owners and modes from the index; the guest (uid 1000) may not read root's 0640 file.
    const own = await rv(`exec 2>&1; stat -c '%u:%g %a %n' /etc/shadow /etc/words /; cat /etc/shadow; echo "cat $?"; id -u`);
    assert.equal(own.stdout, "0:42 640 /etc/shadow\n1000:1000 644 /etc/words\n1000:1000 755 /\ncat: can't open '/etc/shadow': Permission denied\ncat 1\n1000\n");
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test("overlay under rvisor exec: nothing outside the layers is reachable (links out in a lower layer, .., volumes)", { skip, timeout: scaled(120_000) }, async () => {
  if (!("path" in found)) return;
  const work = mkdtempSync(join(tmpdir(), "rvisor-overlay-esc-"));
  try {
    const l1 = join(work, "l1"), up = join(work, "up"), host = join(work, "host"), vol = join(work, "vol");
    for (const d of [l1, up, host, vol]) mkdirSync(d);
    mkdirSync(join(l1, "bin"));
    copyFileSync(found.path, join(l1, "bin/busybox"));
    for (const a of APPLETS) symlinkSync("busybox", join(l1, "bin", a));
    writeFileSync(join(host, "secret"), "secret\n");
    symlinkSync(join(host, "secret"), join(l1, "abs"));
    symlinkSync(`../../../../../../..${host}/secret`, join(l1, "rel"));
    symlinkSync(host, join(l1, "dir"));
    symlinkSync(host, join(vol, "out"));
    const hostBefore = tree(host);
    const r = await run(process.execPath, [RVISOR, "exec", "--layer", l1, "--upper", up, "-v", `${vol}:/vol`, "-E", "PATH=/bin", "--", "/bin/sh", "-c",
      `exec 2>&1; cat /abs /rel /dir/secret /vol/out/secret /../../${host}/secret; echo planted > /abs; echo planted > /vol/out/x; ls /dir /vol; echo v > /vol/written`], 60_000);
    // Links out resolve inside the guest's root, where nothing is: as a chroot on Linux answers.
    assert.equal(r.stdout, [
      "cat: can't open '/abs': No such file or directory", "cat: can't open '/rel': No such file or directory",
      "cat: can't open '/dir/secret': No such file or directory", "cat: can't open '/vol/out/secret': No such file or directory",
      `cat: can't open '/../..//${host.slice(1)}/secret': No such file or directory`,
      "/bin/sh: can't create /abs: nonexistent directory", "/bin/sh: can't create /vol/out/x: nonexistent directory",
      "ls: /dir: No such file or directory", "/vol:", "out", ""].join("\n"));
    assert.equal(r.code, 0);
    assert.deepEqual(tree(host), hostBefore, "the host directory is untouched");
    assert.equal(readFileSync(join(vol, "written"), "utf8"), "v\n", "the volume is written");
    assert.ok(!existsSync(join(up, "vol/written")), "a volume's writes go to the volume, not the upper");
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test("overlay under rvisor exec: glibc programs with Debian's riscv64 libraries as the lower layer match qemu-riscv64 -L", { skip: tools, timeout: scaled(300_000) }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), "rvisor-overlay-glibc-"));
  try {
    const progs = join(work, "progs"), up = join(work, "up");
    mkdirSync(join(progs, "prog"), { recursive: true });
    mkdirSync(join(progs, "work"));
    // /dev/null and /dev/zero are the kernel's own; the directory must exist for the lookup to reach them.
    mkdirSync(join(progs, "dev"));
    mkdirSync(up);
    for (const name of ["files", "threads", "procs"]) {
      const bin = buildProgram(name, "dynamic");
      copyFileSync(bin, join(progs, "prog", name));
      const arg = name === "files" ? ["files-dir"] : [];
      const q = await run(QEMU, ["-L", SYSROOT, bin, ...arg.map((a) => join(work, a))], 120_000);
      const r = await run(process.execPath, [RVISOR, "exec", "--layer", SYSROOT, "--layer", progs, "--upper", up, "--", `/prog/${name}`, ...arg.map((a) => `/work/${a}`)], 120_000);
      t.diagnostic(`${name}: rvisor ${r.ms} ms, qemu ${q.ms} ms`);
      assert.equal(r.stdout, q.stdout, `${name}: stdout; rvisor stderr:\n${r.stderr}`);
      assert.equal(r.code, q.code, `${name}: exit status`);
    }
    // Only what the programs made is in the upper: none of the libraries was copied.
    const u = Object.keys(tree(up)).filter((k) => !k.startsWith("work"));
    assert.deepEqual(u, [".wh..wh.rvisor-index"]);
    assert.ok("work" in tree(up), "files made (and removed) its directory in /work: copied up");
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test("rvisor exec: a layered root's options are checked before anything runs", { timeout: scaled(60_000) }, async () => {
  const work = mkdtempSync(join(tmpdir(), "rvisor-overlay-cli-"));
  try {
    const cases: [string[], RegExp][] = [
      [["--root", work, "--layer", work], /--root and --layer\/--upper are two ways/],
      [["-v", `${work}:/data`], /--volume needs a layered root/],
      [["--layer", join(work, "missing")], /--layer .*missing is not a directory/],
      [["--layer", work, "--upper", work], /is also a --layer/],
      [["--layer", work, "--ro", "--upper", join(work)], /--ro and --upper/],
      [["--layer", work, "-v", `${work}:relative`], /absolute GUEST/],
      [["--layer", work, "-v", `${work}:/`], /cannot mount over \//],
    ];
    for (const [args, re] of cases) {
      const r = await run(process.execPath, [RVISOR, "exec", ...args, "/bin/true"], 30_000);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, re);
    }
    // A broken index is refused before the program starts (125: the runtime's error, as Docker's).
    mkdirSync(join(work, "l"));
    writeFileSync(join(work, "l", ".wh..wh.rvisor-index"), "{oops\n");
    const r = await run(process.execPath, [RVISOR, "exec", "--layer", join(work, "l"), "/bin/true"], 30_000);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /rvisor-index:1: not JSON/);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
