// Builds the Go test programs (test/user/go/NAME/*.go, standard library only) for
// linux/riscv64 with the host's `go` (Debian's golang-go) into a content-addressed cache
// outside the repository: os.tmpdir()/rvisor-test-cache/<hash of sources + go version>/.
// GOCACHE/GOPATH live under os.tmpdir() too, so tests never write to $HOME.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn, spawnSync } from "node:child_process";
import { repoRoot, which } from "../lib/toolchain.js";

export function goMissing(): string | false {
  if (which("go") === null) return "go not found (apt-get install golang-go)";
  if (which("qemu-riscv64") === null) return "qemu-riscv64 not found (it is the reference)";
  return false;
}

function goEnv(): NodeJS.ProcessEnv {
  const base = join(tmpdir(), "rvisor-go-cache");
  return {
    ...process.env, GOOS: "linux", GOARCH: "riscv64", CGO_ENABLED: "0", GO111MODULE: "off", GOFLAGS: "",
    GOCACHE: join(base, "cache"), GOPATH: join(base, "path"), GOTMPDIR: "",
  };
}

let version: string | null = null;
function goVersion(): string {
  if (version === null) {
    const r = spawnSync("go", ["version"], { encoding: "utf8", env: goEnv() });
    version = r.stdout.trim();
  }
  return version;
}

/** Compiles test/user/go/NAME; resolves to the cached binary's path. */
export function buildGo(name: string): Promise<string> {
  const dir = join(repoRoot(), "test", "user", "go", name);
  const files = readdirSync(dir).filter((f) => f.endsWith(".go")).sort();
  const h = createHash("sha256").update(goVersion());
  for (const f of files) h.update(f).update(readFileSync(join(dir, f)));
  const outDir = join(tmpdir(), "rvisor-test-cache", `go-${h.digest("hex").slice(0, 16)}`);
  const out = join(outDir, name);
  if (existsSync(out)) return Promise.resolve(out);
  mkdirSync(outDir, { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  return new Promise((resolve, reject) => {
    const p = spawn("go", ["build", "-trimpath", "-o", tmp, ...files], { cwd: dir, env: goEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    p.stdout.on("data", (d: Buffer) => { err += d.toString(); });
    p.stderr.on("data", (d: Buffer) => { err += d.toString(); });
    p.on("close", (code) => {
      if (code !== 0) { reject(new Error(`go build ${name} failed:\n${err}`)); return; }
      renameSync(tmp, out);
      resolve(out);
    });
  });
}
