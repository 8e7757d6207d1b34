// A wide set of Debian trixie's riscv64 programs doing real work (issue 11), from a root with more
// packages than user_debian's (test/lib/debian_image.ts, cached by its package list). Single
// programs run under rvisor and under qemu-riscv64 on the same root, and their output must match
// exactly. Pipelines run under rvisor only (qemu-riscv64 without binfmt_misc runs a child's
// execve as a host program) and must print what Linux prints, fixed below. The extract root has
// no /bin/sh (dash's maintainer script makes it), so nothing here runs sh.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { debianRootfs, debianToolsMissing } from "./lib/debian_image.js";
import { run, rvisor, toolsMissing } from "./user/build.js";
import { scaled } from "./lib/time_scale.js";

const EXTRA = ["findutils", "grep", "sed", "gawk", "tar", "gzip", "xz-utils", "diffutils", "file", "sqlite3", "lua5.4", "ruby", "tcl", "git", "make", "openssl", "bzip2"];
const built = toolsMissing() || (debianToolsMissing() ?? debianRootfs(EXTRA));
const skip: string | false = typeof built === "string" ? built : false;
const ENV = ["LC_ALL=C", "TZ=UTC", "PATH=/usr/bin"];

/** `D` in an argument is the case's scratch directory (the same path under both). */
const SINGLE: { name: string; argv: string[] }[] = [
  { name: "sqlite3", argv: ["/usr/bin/sqlite3", "D/db", "create table t(a, b); insert into t values (1, 'x'), (2, 'y'); pragma journal_mode = wal; insert into t values (3, 'z'); select sum(a), group_concat(b) from t; select count(*) from t where b > 'x';"] },
  { name: "openssl", argv: ["/usr/bin/openssl", "dgst", "-sha3-256", "/etc/os-release", "/usr/bin/sqlite3"] },
  { name: "ruby", argv: ["/usr/bin/ruby", "-e", "require 'json'; puts JSON.generate({a: [1, 2, 3].map { |x| x * x }}); p Thread.new { 6 * 7 }.value; p (1..20).reduce(:*); File.write('D/r', 'ruby'); p File.read('D/r'); p Dir.children('D/.').sort"] },
  { name: "lua5.4", argv: ["/usr/bin/lua5.4", "-e", "local t = {} for i = 1, 10 do t[#t + 1] = i * i end print(table.concat(t, ',')) print(string.format('%.3f', math.pi)) print(os.time{year = 2020, month = 1, day = 1, hour = 0}) local f = io.open('D/l', 'w') f:write('lua') f:close() print(io.open('D/l'):read('a'))"] },
  { name: "tclsh", argv: ["/usr/bin/tclsh8.6", "D/s.tcl"] },
  { name: "perl", argv: ["/usr/bin/perl", "-MPOSIX", "-e", "print join(',', map { $_ * 2 } 1..5), \"\\n\"; print strftime('%Y-%m-%d', gmtime(86400 * 365)), \"\\n\"; opendir(my $d, '/usr/share/perl5') or die; print scalar(grep { !/^\\./ } readdir $d) > 0 ? \"dir\\n\" : \"none\\n\"; pipe(my $r, my $w); print $w \"via pipe\\n\"; close $w; print scalar <$r>"] },
  { name: "gawk", argv: ["/usr/bin/gawk", "-F=", "{ n[$1]++ } END { for (s in n) c++; print (NR > 0), (c == NR); print length(sprintf(\"%x\", 48879)) }", "/etc/os-release"] },
  { name: "file", argv: ["/usr/bin/file", "-b", "/usr/bin/sqlite3", "/etc/os-release"] },
];

/** Pipelines run by bash under rvisor, with what they print on Linux (the same under qemu-riscv64 with host children). */
const PIPELINES: { name: string; script: string; out: string }[] = [
  { name: "git init, commit, log", out: "ac52a3d4ed79a631ad43c7b1751b097a4f9ac208 one\n100644 blob 45b983be36b73c0788dc9cbcb76cbb80fc7bb057\tf\n",
    script: "git init -q -b main r && cd r && git config user.email a@b && git config user.name A && echo hi > f && git add f && GIT_AUTHOR_DATE=2020-01-01T00:00:00Z GIT_COMMITTER_DATE=2020-01-01T00:00:00Z git commit -qm one && git log --format='%H %s' && git status --short && git cat-file -p HEAD^{tree}" },
  { name: "tar, xz, gzip, bzip2 round trips", out: "e071f707df7bbeee2a6a1eb48011ddd0  a/n\n401b30e3b8b5d629635a5c613cdb7919  a/y\n20000\nx\n",
    script: "mkdir a; seq 1 20000 > a/n; echo x > a/y; tar -cf - a | xz -9 > a.tar.xz && rm -rf a && xz -dc a.tar.xz | tar -xf - && md5sum a/n a/y; gzip -9 a/n; gzip -dc a/n.gz | tail -1; bzip2 -k a/y; bzip2 -dc a/y.bz2" },
  { name: "find, xargs, grep, sed, gawk, diff on /dev/fd", out: "6 3\n3a4\n> 4\ndiff 1\n",
    script: "mkdir -p x/y/z; for i in 1 2 3; do echo \"line $i foo\" > x/y/f$i.txt; done; find x -name '*.txt' | sort | xargs grep -n foo | sed 's/foo/bar/' | gawk -F: '{ s += $2 * 2 } END { print s, NR }'; diff <(seq 3) <(seq 4); echo diff $?" },
  { name: "python3 subprocess", out: "3 b'hi\\n' b'err\\n'\nb'xxxxx' 0\n",
    script: "python3 -c \"import subprocess; r = subprocess.run(['bash', '-c', 'echo hi; echo err >&2; exit 3'], capture_output=True); print(r.returncode, r.stdout, r.stderr); p = subprocess.Popen(['cat'], stdin=subprocess.PIPE, stdout=subprocess.PIPE); print(p.communicate(b'x' * 100000)[0][:5], p.returncode)\"" },
];

const TCL = "puts [expr {2**64}]; puts [string reverse hello]; puts [lsort {c a b}]; puts [clock format 0 -gmt 1]; set f [open D/t w]; puts $f tcl; close $f; puts [glob -tails -directory D/. *]\n";

/** A fresh scratch directory at `dir` (with the Tcl script). */
function scratch(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  writeFileSync(join(dir, "s.tcl"), TCL.replaceAll("D/", dir + "/"));
}

test("user programs: Debian's sqlite3, openssl, ruby, lua, tcl, perl, gawk and file match qemu-riscv64", { skip, timeout: scaled(300_000) }, async (t) => {
  if (typeof built === "string") return;
  const { root } = built;
  const base = mkdtempSync(join(tmpdir(), "rvisor-progs-"));
  try {
    const dir = join(base, "d"), upper = join(base, "upper");
    for (const c of SINGLE) {
      const argv = c.argv.map((a) => a.replaceAll("D/", dir + "/"));
      scratch(dir);
      const q = await run("qemu-riscv64", [...ENV.flatMap((e) => ["-E", e]), "-L", root, root + argv[0], ...argv.slice(1)], 120_000);
      scratch(dir);
      rmSync(upper, { recursive: true, force: true });
      mkdirSync(upper);
      const r = await rvisor([...ENV.flatMap((e) => ["-E", e]), "--layer", root, "--upper", upper, "-v", `${dir}:${dir}`, ...argv], 120_000);
      assert.equal(q.code, 0, `${c.name} under qemu-riscv64: ${q.stderr}`);
      assert.equal(r.stdout, q.stdout, `${c.name}: stdout differs; rvisor stderr:\n${r.stderr}`);
      assert.equal(r.stderr, q.stderr, `${c.name}: stderr`);
      assert.equal(r.code, 0, c.name);
      t.diagnostic(`${c.name}: rvisor ${r.ms} ms, qemu ${q.ms} ms`);
    }
  } finally { rmSync(base, { recursive: true, force: true }); }
});

test("user programs: git, tar with xz, gzip, bzip2, find | xargs grep | sed | gawk, diff <(...) and python3 subprocess pipelines print Linux's output", { skip, timeout: scaled(300_000) }, async (t) => {
  if (typeof built === "string") return;
  const { root } = built;
  const base = mkdtempSync(join(tmpdir(), "rvisor-progs-"));
  try {
    for (const c of PIPELINES) {
      const upper = join(base, "upper");
      rmSync(upper, { recursive: true, force: true });
      mkdirSync(upper);
      const env = [...ENV, "HOME=/tmp"].flatMap((e) => ["-E", e]);
      const r = await rvisor([...env, "--layer", root, "--upper", upper, "/usr/bin/bash", "-c", `cd "$(mktemp -d)" && { ${c.script}; }`], 120_000);
      assert.equal(r.stdout, c.out, `${c.name}: rvisor stderr:\n${r.stderr}`);
      assert.equal(r.code, 0, c.name);
      t.diagnostic(`${c.name}: rvisor ${r.ms} ms`);
    }
  } finally { rmSync(base, { recursive: true, force: true }); }
});
