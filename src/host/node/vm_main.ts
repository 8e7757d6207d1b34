// The entry point of a VM process: `node vm_main.js NAME`, as vm_ops.ts spawns it. Started
// directly rather than through bin/rvisor.js (`rvisor __vm NAME` does the same by hand), so the
// process loads the modules a running VM needs and not the whole command line's.
import { vmProcessMain } from "./vm_process.js";

const name = process.argv[2];
if (name === undefined) {
  process.stderr.write("rvisor: usage: vm_main.js NAME\n");
  process.exitCode = 2;
} else {
  vmProcessMain(name).then((code) => { process.exitCode = code; }, (err: unknown) => {
    process.stderr.write(`rvisor: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
