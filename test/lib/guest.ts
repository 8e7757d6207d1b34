// Drives a guest through rvisor's console: spawns `rvisor run ...` with stdin/stdout as pipes
// (line mode), waits for text, and runs shell commands whose output is fenced by markers.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { fileURLToPath } from "node:url";
import { scaled } from "./time_scale.js";

export interface ImagePaths { kernel: string; initrd: string; rootfs: string; ready: boolean }
interface ImageLib { buildImage(o: { log: (s: string) => void }): Promise<ImagePaths>; missingDeps(): string[] }

/** The default guest image (built, or taken from the cache, by scripts/lib/image.mjs), or why not. */
export async function guestImage(): Promise<ImagePaths | string> {
  const lib = (await import(new URL("../../../scripts/lib/image.mjs", import.meta.url).href)) as ImageLib;
  const missing = lib.missingDeps();
  if (missing.length > 0) return `guest image cannot be built here: missing ${missing.join(", ")}`;
  return lib.buildImage({ log: (s) => process.stderr.write(`${s}\n`) });
}

export const RVISOR_BIN = fileURLToPath(new URL("../../../bin/rvisor.js", import.meta.url));

export class GuestConsole {
  readonly child: ChildProcessWithoutNullStreams;
  private buf = "";
  private seq = 0;
  exitCode: number | null = null;
  readonly exited: Promise<number | null>;
  readonly started = performance.now();

  /**
   * Spawns `rvisor run ARGS` (or `rvisor COMMAND ARGS`, e.g. command "console" for a running VM),
   * or with `program` that program with ARGS (qemu-system-riscv64 for a comparison).
   */
  constructor(args: string[], command = "run", env: NodeJS.ProcessEnv = process.env, program?: string) {
    this.child = program !== undefined
      ? spawn(program, args, { stdio: ["pipe", "pipe", "pipe"], env })
      : spawn(process.execPath, [RVISOR_BIN, command, ...args], { stdio: ["pipe", "pipe", "pipe"], env });
    this.child.stdout.setEncoding("utf8");
    this.child.stderr.setEncoding("utf8");
    this.child.stdout.on("data", (s: string) => { this.buf += s; });
    this.child.stderr.on("data", (s: string) => { this.buf += s; });
    this.exited = new Promise((resolve) => this.child.on("exit", (code) => { this.exitCode = code; resolve(code); }));
  }

  /** Everything printed so far. */
  get output(): string { return this.buf; }

  /** Waits until the output (from `from`) matches; returns the index after the match. */
  async waitFor(pattern: string | RegExp, timeoutMs: number, from = 0): Promise<number> {
    const deadline = performance.now() + scaled(timeoutMs);
    for (;;) {
      const rest = this.buf.slice(from);
      if (typeof pattern === "string") {
        const i = rest.indexOf(pattern);
        if (i >= 0) return from + i + pattern.length;
      } else {
        const m = pattern.exec(rest);
        if (m !== null) return from + m.index + m[0].length;
      }
      if (this.exitCode !== null) throw new Error(`guest exited (${this.exitCode}) before ${String(pattern)}; output:\n${this.buf.slice(-3000)}`);
      if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${String(pattern)}; output:\n${this.buf.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  send(text: string): void { this.child.stdin.write(text); }

  /** Runs a shell command in the guest and returns what it printed. */
  async run(cmd: string, timeoutMs = 30_000): Promise<string> {
    const n = ++this.seq;
    const start = this.buf.length;
    // The markers are assembled by the shell, so the echoed command line (which the tty may
    // also wrap) never matches them; the output is what lies between them.
    this.send(`echo "@@B""EGIN${n}@@"; ${cmd}; echo "@@E""ND${n}@@"\n`);
    const begin = await this.waitFor(`@@BEGIN${n}@@\r\n`, timeoutMs, start);
    const end = await this.waitFor(`@@END${n}@@`, timeoutMs, begin);
    return this.buf.slice(begin, end - `@@END${n}@@`.length).replace(/\r/g, "");
  }

  kill(): void { if (this.exitCode === null) this.child.kill("SIGKILL"); }
}

/** The udhcpc event script (busybox passes ip, subnet, router, dns in the environment). */
export const DHCP_SCRIPT = [
  "#!/bin/sh",
  "case \"$1\" in",
  "bound|renew) ifconfig \"$interface\" \"$ip\" netmask \"$subnet\"; route add default gw \"$router\" dev \"$interface\";",
  "  echo \"nameserver $dns\" > /etc/resolv.conf; echo \"lease $lease router $router dns $dns\";;",
  "esac",
].join("\n");

/** Brings `iface` up and configures it by DHCP (busybox udhcpc); returns what udhcpc printed. */
export async function guestDhcp(g: GuestConsole, iface = "eth0"): Promise<string> {
  await g.run(`printf '%s\\n' '${DHCP_SCRIPT.replace(/'/g, "'\\''").split("\n").join("' '")}' > /tmp/dhcp.sh; chmod +x /tmp/dhcp.sh`);
  return g.run(`ip link set ${iface} up && udhcpc -i ${iface} -n -q -t 5 -T 2 -s /tmp/dhcp.sh 2>&1`, 60_000);
}
