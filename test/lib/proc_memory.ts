// A process's memory as Linux accounts it: /proc/PID/smaps_rollup (RSS, PSS of the whole
// process) and, from /proc/PID/smaps, the mapping that holds a VM's guest RAM (the
// WebAssembly memory: the largest accessible anonymous mapping at least as large as the guest's RAM).
import { readFileSync } from "node:fs";

export interface ProcessMemory {
  rss: number;
  pss: number;
  /** Pages only this process maps (Private_Clean + Private_Dirty): what it alone costs the host. */
  private: number;
  /** Resident bytes of the guest RAM mapping (0 when none was found). */
  guestRss: number;
  /** The guest RAM mapping's address range, or null. */
  guestMapping: string | null;
}

const KIB = 1024;

function field(text: string, name: string): number {
  const m = new RegExp(`^${name}:\\s+(\\d+) kB$`, "m").exec(text);
  return m === null ? 0 : Number(m[1]) * KIB;
}

export function processMemory(pid: number, guestBytes: number): ProcessMemory {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const smaps = readFileSync(`/proc/${pid}/smaps`, "utf8");
  let guestRss = 0, guestMapping: string | null = null, best = 0;
  // Each mapping starts with "start-end perms offset dev inode [path]".
  const parts = smaps.split(/^(?=[0-9a-f]+-[0-9a-f]+ )/m);
  for (const p of parts) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ (\d+)[ \t]*(.*)$/m.exec(p);
    // Anonymous and accessible: the guard regions around a WebAssembly memory are ---p.
    if (head === null || !head[3].startsWith("rw") || head[4] !== "0" || head[5] !== "") continue;
    const size = field(p, "Size");
    if (size >= guestBytes && size > best) { best = size; guestRss = field(p, "Rss"); guestMapping = `${head[1]}-${head[2]}`; }
  }
  return { rss: field(rollup, "Rss"), pss: field(rollup, "Pss"), private: field(rollup, "Private_Clean") + field(rollup, "Private_Dirty"), guestRss, guestMapping };
}
