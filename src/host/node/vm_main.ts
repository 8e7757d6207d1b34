// The entry point of a VM process: `node vm_main.js NAME`, as vm_ops.ts spawns it. Started
// directly rather than through bin/rvisor.js (`rvisor __vm NAME` does the same by hand), so the
// process loads the modules a running VM needs and not the whole command line's.
//
// `node vm_main.js --warm` is a warm process of a pool (src/host/node/vm_pool.ts): it loads the
// same modules, says so on fd 3, and waits there for the name of the one VM it is to become. Its
// pool going away first (fd 3 closes) ends it: an unused warm process never outlives its manager.
import { rmSync } from "node:fs";
import { Socket } from "node:net";
import { READY_FD, READY_LINE } from "../../hypervisor/control.js";
import { WARM_ARG, WARM_ERR_ENV, WARM_LINE } from "./vm_pool.js";
import { markVm, primeRestore, vmProcessMain } from "./vm_process.js";

function runVm(name: string, onReady?: () => void): void {
  vmProcessMain(name, onReady).then((code) => { process.exitCode = code; }, (err: unknown) => {
    process.stderr.write(`rvisor: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}

async function warm(): Promise<void> {
  // A failed priming only costs speed: the process is still a fine VM process.
  await primeRestore().catch((e: unknown) => { process.stderr.write(`rvisor: warm process: priming failed: ${(e as Error).message}\n`); });
  const ctl = new Socket({ fd: READY_FD, readable: true, writable: true });
  let buf = "";
  let assigned = false;
  const unused = (): void => {
    if (assigned) return;
    const err = process.env[WARM_ERR_ENV];
    if (err !== undefined) rmSync(err, { force: true });
    process.exit(0);
  };
  ctl.on("end", unused);
  ctl.on("close", unused);
  ctl.on("error", unused);
  ctl.on("data", (d: Buffer) => {
    if (assigned) return;
    buf += d.toString("utf8");
    const nl = buf.indexOf("\n");
    if (nl < 0) return;
    let name: unknown;
    try { name = (JSON.parse(buf.slice(0, nl)) as { vm?: unknown }).vm; } catch { name = undefined; }
    if (typeof name !== "string") { process.stderr.write("rvisor: warm process: malformed assignment\n"); process.exit(2); }
    assigned = true;
    markVm("assigned a VM");
    // From here on this is VM `name`'s process, detached from the pool: the pool's end closing
    // (its manager exiting) no longer matters.
    ctl.removeAllListeners("end");
    ctl.removeAllListeners("close");
    ctl.removeAllListeners("error");
    ctl.on("error", () => undefined);
    runVm(name, () => { ctl.end(READY_LINE); });
  });
  ctl.write(WARM_LINE);
}

const arg = process.argv[2];
if (arg === undefined) {
  process.stderr.write("rvisor: usage: vm_main.js NAME | --warm\n");
  process.exitCode = 2;
} else if (arg === WARM_ARG) {
  void warm();
} else {
  runVm(arg);
}
