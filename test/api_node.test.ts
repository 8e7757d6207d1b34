// The Node API as a user of the package sees it: `import { Hypervisor } from "rvisor"` resolved
// through package.json "exports" (at run time, and by tsc against the emitted .d.ts), driving a
// bare machine that echoes its serial console (no guest image needed).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type * as Rvisor from "../src/index.js";
import { echoHome, echoVmDefinition } from "./lib/echo_vm.js";
import { RVISOR_BIN } from "./lib/guest.js";
import { nicSummary } from "../src/hypervisor/config.js";
import { scaled } from "./lib/time_scale.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** The package's own name, imported as a user would (a variable, so tsc does not resolve it while building the package itself). */
const PACKAGE = "rvisor";

function run(file: string, args: string[], env: NodeJS.ProcessEnv, cwd = ROOT): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env, cwd, timeout: scaled(180_000) }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === "number" ? err.code : 1, stdout, stderr });
    });
  });
}

test("Node API: import { Hypervisor } from \"rvisor\"; create, start, console, pause, resume, logs, stop, update, rm", { timeout: scaled(120_000) }, async () => {
  const mod = (await import(PACKAGE)) as typeof Rvisor;
  const { Hypervisor, HypervisorError, VmConfigError } = mod;
  const { home, env, kernel } = echoHome("node-api");
  const hv = new Hypervisor({ home, env });
  const kind = (k: Rvisor.HypervisorErrorKind) => (e: unknown): boolean => e instanceof HypervisorError && e.kind === k;
  try {
    const cfg = await hv.create(echoVmDefinition("n1", kernel));
    assert.deepEqual([cfg.name, cfg.cpus, cfg.memoryMib, cfg.boot.kernel], ["n1", 1, 16, kernel]);
    await assert.rejects(hv.create({ name: "n1" }), kind("exists"));
    await assert.rejects(hv.create({ name: "n2", cpus: 99 }), (e: unknown) => e instanceof VmConfigError && e.field === "cpus");
    await assert.rejects(hv.pause("n1"), kind("state"));
    await assert.rejects(hv.info("nosuch"), kind("not_found"));
    assert.deepEqual(await hv.list(), [{ name: "n1", state: "shut off", cpus: 1, memoryMib: 16, pid: null }]);

    const pid = await hv.start("n1");
    assert.ok(pid > 0);
    const info = await hv.info("n1");
    assert.deepEqual([info.state, info.pid, info.status?.state], ["running", pid, "running"]);
    // The CLI is a client of the same code: its JSON is the Node API's, with each VM's network cards.
    const cli = await run(process.execPath, [RVISOR_BIN, "list", "--json"], env);
    assert.equal(cli.code, 0, cli.stderr);
    assert.deepEqual(JSON.parse(cli.stdout), (await hv.list()).map((r) => ({ ...r, network: hv.config(r.name).network.map(nicSummary) })));

    const con = await hv.console("n1");
    let out = "";
    con.on("data", (d: Buffer) => { out += d.toString("latin1"); });
    const waitOut = async (s: string): Promise<void> => {
      const deadline = performance.now() + 20_000;
      while (!out.includes(s)) {
        if (performance.now() > deadline) throw new Error(`no '${s}' on the console; got ${JSON.stringify(out)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    con.write("hi-node");
    await waitOut("hi-node");
    assert.equal((await hv.pause("n1")).state, "paused");
    await assert.rejects(hv.pause("n1"), kind("state"));
    await assert.rejects(hv.update("n1", (c) => ({ ...c, cpus: 2 })), kind("state"));
    con.write("while-paused");
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(out.includes("while-paused"), false);
    assert.equal((await hv.resume("n1")).state, "running");
    await waitOut("while-paused");
    assert.match(hv.logs("n1").toString("latin1"), /hi-nodewhile-paused/);

    const closed = new Promise<void>((r) => con.once("close", () => r()));
    // The bare-metal guest ignores the power button: after the timeout the host stops it.
    assert.deepEqual(await hv.stop("n1", { timeoutMs: 1000 }), { outcome: "stopped", reason: "timeout", pid });
    await closed;
    const off = await hv.info("n1");
    assert.deepEqual([off.state, off.pid, off.lastExit?.reason], ["shut off", null, "stop"]);

    const changed = await hv.update("n1", (c) => ({ ...c, cpus: 2, memory: undefined, memoryMib: 32 }));
    assert.deepEqual([changed.cpus, changed.memoryMib], [2, 32]);
    assert.equal(JSON.parse(readFileSync(join(home, "vms", "n1", "config.json"), "utf8")).cpus, 2);
    await assert.rejects(hv.update("n1", (c) => ({ ...c, name: "other" })), (e: unknown) => e instanceof VmConfigError && e.field === "name");
    await hv.rm("n1");
    assert.deepEqual(await hv.list(), []);
  } finally {
    for (const v of await hv.list()) if (v.pid !== null) await hv.kill(v.name).catch(() => undefined);
    rmSync(home, { recursive: true, force: true });
  }
});

test("Node API: a TypeScript user's program type-checks against the package's .d.ts", { timeout: scaled(240_000) }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "rvisor-consumer-"));
  try {
    mkdirSync(join(dir, "node_modules"));
    symlinkSync(ROOT, join(dir, "node_modules", "rvisor"));
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "consumer", type: "module", private: true }));
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({
      compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, noEmit: true, skipLibCheck: true, types: [], typeRoots: [join(ROOT, "node_modules", "@types")] },
      files: ["main.ts"],
    }));
    const program = [
      'import { Hypervisor, HypervisorError, type VmInfo, type VmSummary } from "rvisor";',
      'const hv = new Hypervisor({ home: "/tmp/x" });',
      'const rows: VmSummary[] = await hv.list();',
      'const info: VmInfo = await hv.info("a");',
      'await hv.create({ name: "a", cpus: 2, memory: "512M", disks: [{ path: "/d.img", format: "qcow2" }] });',
      'const r = await hv.stop("a", { timeoutMs: 1000 });',
      'const outcome: "powered-off" | "stopped" | "killed" = r.outcome;',
      'const e = new HypervisorError("state", "x"); const k: "state" | "not_found" | "exists" | "limit" | "failed" = e.kind;',
      'export { rows, info, outcome, k };',
    ];
    writeFileSync(join(dir, "main.ts"), `${program.join("\n")}\n`);
    const tsc = join(ROOT, "node_modules", "typescript", "bin", "tsc");
    const ok = await run(process.execPath, [tsc, "-p", dir], process.env, dir);
    assert.equal(ok.code, 0, `tsc: ${ok.stdout}${ok.stderr}`);
    // And the declarations are precise enough to catch a wrong call.
    writeFileSync(join(dir, "main.ts"), 'import { Hypervisor } from "rvisor";\nawait new Hypervisor().create({ name: "a", cpus: "two" });\n');
    const bad = await run(process.execPath, [tsc, "-p", dir], process.env, dir);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stdout, /main\.ts\(2,\d+\): error TS2322: Type 'string' is not assignable to type 'number'/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
