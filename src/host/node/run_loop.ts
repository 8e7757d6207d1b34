// The run loop on Node's event loop: yields to I/O with setImmediate between slices.
import { RunLoop as CoreRunLoop } from "../../system/run_loop.js";
import type { VirtMachine } from "../../system/machine.js";

const yieldToNode = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

export class RunLoop extends CoreRunLoop {
  constructor(machine: VirtMachine) { super(machine, yieldToNode); }
}
export type { RunLoopOptions } from "../../system/run_loop.js";
