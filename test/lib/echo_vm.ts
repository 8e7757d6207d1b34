// Managed VMs that need no guest image: a state directory in a temporary directory holding a
// bare-machine program that echoes the serial console (UART_ECHO_LOOP, loaded at DRAM_BASE with no
// firmware), an environment without the host-wide limits, and waits for an echo. The program
// ignores the power button, so such a VM is also "a guest that does not power off".
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import { tinyElf, UART_ECHO_LOOP } from "./tiny_elf.js";
import { scaled } from "./time_scale.js";

/** Where the virt board's RAM starts: the echo program is linked there. */
export const DRAM_BASE = 0x80000000;
/** The host-wide limits a test must not inherit from the environment it runs in. */
export const LIMIT_ENV = ["RVISOR_LIMITS_INSTANCES", "RVISOR_LIMITS_CPU", "RVISOR_LIMITS_MEMORY"] as const;
const ECHO_TIMEOUT_MS = 30_000;
const POLL_MS = 20;

export interface EchoHome {
  /** The state directory (RVISOR_HOME), under the system's temporary directory. */
  home: string;
  /** process.env with RVISOR_HOME = home and without the host-wide limits (and `unset`). */
  env: NodeJS.ProcessEnv;
  /** The echo program (an ELF file in `home`). */
  kernel: string;
}

/** A fresh state directory with the echo program in it; `unset` names more variables to drop from the environment. */
export function echoHome(prefix: string, unset: readonly string[] = []): EchoHome {
  const home = mkdtempSync(join(tmpdir(), `rvisor-${prefix}-`));
  const kernel = join(home, "echo.elf");
  writeFileSync(kernel, tinyElf({ base: DRAM_BASE, code: UART_ECHO_LOOP }));
  const env: NodeJS.ProcessEnv = { ...process.env, RVISOR_HOME: home };
  for (const k of [...LIMIT_ENV, ...unset]) delete env[k];
  return { home, env, kernel };
}

/** The definition of an echo VM (Node API / REST body): no firmware, the echo program as its kernel. */
export function echoVmDefinition(name: string, kernel: string, memory = "16M"): { name: string; memory: string; boot: { firmware: "none"; kernel: string } } {
  return { name, memory, boot: { firmware: "none", kernel } };
}

/** Sends `text` to an echoing console stream and waits until it comes back. */
export async function echoes(stream: Duplex, text: string, timeoutMs = ECHO_TIMEOUT_MS): Promise<void> {
  let got = "";
  const onData = (d: Buffer): void => { got += d.toString("latin1"); };
  stream.on("data", onData);
  try {
    stream.write(text);
    const deadline = performance.now() + scaled(timeoutMs);
    while (!got.includes(text)) {
      if (performance.now() > deadline) throw new Error(`no echo of ${JSON.stringify(text)}; got ${JSON.stringify(got)}`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } finally { stream.off("data", onData); }
}
