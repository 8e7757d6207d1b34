// Debian's busybox (static riscv64, from the guest image) running shell scripts under
// `rvisor exec` and under qemu-riscv64: pipes, subshells, redirections, traps, find | xargs,
// tar/gzip round trips, sort, awk, sed, background jobs and wait. Output and exit status must be
// identical. Each run gets its own working directory in a temp dir; guest paths are host paths.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RVISOR, runIn, toolsMissing, type RunResult } from "./user/build.js";
import { appletDirs, findBusybox, QEMU } from "./user/busybox.js";
import { scaled } from "./lib/time_scale.js";

const tools = toolsMissing();
const found = tools === false ? await findBusybox((s) => process.stderr.write(`${s}\n`)) : { skip: tools };
const skip = "skip" in found ? found.skip : false;
const work = mkdtempSync(join(tmpdir(), "rvisor-busybox-"));
const dirs = "path" in found ? appletDirs(found.path, work) : null;

/** Runs `busybox sh -c script` under both, each in a fresh directory; stdout+stderr are compared. */
async function both(name: string, script: string, input = ""): Promise<{ q: RunResult; r: RunResult }> {
  if (!("path" in found) || dirs === null) throw new Error("no busybox");
  const qd = join(work, `${name}-q`), rd = join(work, `${name}-r`);
  mkdirSync(qd); mkdirSync(rd);
  const sh = [found.path, "sh", "-c", `exec 2>&1\n${script}`];
  const [q, r] = await Promise.all([
    runIn(QEMU, sh, qd, dirs.qemu, input),
    runIn(process.execPath, [RVISOR, "exec", ...sh], rd, dirs.rvisor, input),
  ]);
  return { q, r };
}

const SCRIPTS: [string, string][] = [
  ["pipes", `
echo "== pipes"
printf 'pear\\napple\\nfig\\nbanana\\napple\\n' | sort | uniq -c | sort -rn | head -3
seq 1 100 | grep 7 | wc -l
`],
  ["subshells and redirections", `
echo "== subshells and redirections"
x=outer; (x=inner; echo "in $x"); echo "out $x"
{ echo one; echo two >&2; } 2>err.txt >out.txt; cat out.txt err.txt
echo appended >> out.txt; wc -l < out.txt
v=$(echo nested $(echo deeper)); echo "$v"
cat <<EOT | tr a-z A-Z
heredoc $x
EOT
exec 3>fd3.txt; echo via fd3 >&3; exec 3>&-; cat fd3.txt
`],
  ["traps", `
echo "== traps"
trap 'echo trapped EXIT' EXIT
(trap 'echo got USR1' USR1; sh -c 'kill -USR1 $PPID'; echo sub done)
sh -c 'trap "echo term caught; exit 3" TERM; kill -TERM $$; sleep 5'; echo "status $?"
`],
  ["find | xargs", `
echo "== find | xargs"
mkdir -p tree/a/b tree/c
for i in 1 2 3; do echo "file $i" > tree/a/f$i.txt; done
echo deep > tree/a/b/deep.txt; echo other > tree/c/o.dat
find tree -name '*.txt' | sort | xargs cat
find tree -type f | sort | xargs -n 2 echo
find tree -type d | sort
`],
  ["tar and gzip", `
echo "== tar and gzip"
mkdir -p tree/a/b tree/c
for i in 1 2 3; do echo "file $i" > tree/a/f$i.txt; done
echo deep > tree/a/b/deep.txt; echo other > tree/c/o.dat
seq 1 20000 > tree/c/big.txt
tar cf t.tar tree; tar tf t.tar | sort
gzip -9 t.tar; ls t.tar.gz
mkdir x; cd x; tar xzf ../t.tar.gz; find . -type f | sort | xargs md5sum; cd ..
echo hello gzip | gzip | gzip -d
tar czf - tree | tar tzf - | wc -l
`],
  ["sort awk sed", `
echo "== sort awk sed"
printf '3 c\\n1 a\\n2 b\\n10 j\\n' | sort -n
printf '3 c\\n1 a\\n2 b\\n10 j\\n' | sort -k2 -r
printf 'a,1\\nb,2\\nc,3\\n' | awk -F, '{ s += $2; printf "%s=%d\\n", $1, $2 * 10 } END { print "sum", s }'
awk 'BEGIN { for (i = 0; i < 5; i++) a[i] = i * i; n = 0; for (k in a) n += a[k]; print "squares", n; print length("abcdef"), substr("abcdef", 2, 3), toupper("x") }'
echo "the quick brown fox" | sed -e 's/quick/slow/' -e 's/\\(b[a-z]*\\)/[\\1]/'
printf 'l1\\nl2\\nl3\\nl4\\n' | sed -n '2,3p'
printf 'keep\\ndrop me\\nkeep too\\n' > s.txt; sed -i '/drop/d' s.txt; cat s.txt
`],
  ["background jobs and wait", `
echo "== background jobs and wait"
(sleep 0.2; echo slow) & p1=$!
(echo fast) & p2=$!
wait $p2; echo "fast done"
wait $p1; echo "slow done $?"
for i in 1 2 3; do (echo job $i > job$i.out) & done; wait; cat job1.out job2.out job3.out
sh -c 'exit 7' & wait $!; echo "bg status $?"
`],
  ["misc", `
echo "== misc"
i=0; while [ $i -lt 5 ]; do i=$((i + 1)); done; echo "loop $i"
case foo.tar.gz in *.gz) echo gz;; *) echo other;; esac
set +e; false; echo "false $?"; test -d tree && echo isdir
ls tree/a | sort
cut -d: -f1 <<EOT
a:b
c:d
EOT
date -d @0 -u +%Y
echo done
`],
];

for (const [name, script] of SCRIPTS) {
  test(`user busybox: ${name}`, { skip, timeout: scaled(90_000) }, async (t) => {
    const { q, r } = await both(name.replace(/[^a-z]+/g, "-"), script);
    t.diagnostic(`rvisor ${r.ms} ms, qemu ${q.ms} ms`);
    assert.equal(q.code, 0, `qemu: ${q.stdout}${q.stderr}`);
    assert.equal(r.stdout, q.stdout, `rvisor stderr:\n${r.stderr}`);
    assert.equal(r.code, q.code);
  });
}

test("user busybox: stdin through a pipeline, exit status", { skip, timeout: scaled(60_000) }, async () => {
  const input = Array.from({ length: 2000 }, (_, i) => `row ${(i * 7919) % 2000} ${i % 13}`).join("\n") + "\n";
  const { q, r } = await both("stdin", "sort -k2 -n | awk '{ s[$3] += $2 } END { for (k = 0; k < 13; k++) print k, s[k] }' | tail -n 4; read -r x < /dev/null; exit 5", input);
  assert.equal(r.stdout, q.stdout, r.stderr);
  assert.equal(q.code, 5);
  assert.equal(r.code, 5);
});

test.after(() => rmSync(work, { recursive: true, force: true }));
