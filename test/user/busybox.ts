// Finds the static riscv64 busybox of the guest image (scripts/lib/image.mjs builds it from
// `apt-get source busybox` and caches it as <cache>/busybox-<key>/busybox), building the image
// when nothing is cached yet; and lays out PATH directories so that a shell under rvisor and one
// under qemu-riscv64 find the same applets.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { which } from "../lib/toolchain.js";

interface ImageLib {
  cacheRoot(): string;
  imagePaths(): { dir: string | null; manifest: string | null; ready: boolean };
  buildImage(o: { log: (s: string) => void }): Promise<{ dir: string; manifest: string }>;
  missingDepsMessage(): string | null;
}

async function imageLib(): Promise<ImageLib> {
  return (await import(new URL("../../../scripts/lib/image.mjs", import.meta.url).href)) as ImageLib;
}

function fromManifest(lib: ImageLib, manifest: string | null): string | null {
  if (manifest === null || !existsSync(manifest)) return null;
  const m = JSON.parse(readFileSync(manifest, "utf8")) as { parts?: { busybox?: string | { dir?: string } } };
  const entry = m.parts?.busybox;
  const part = typeof entry === "string" ? entry : entry?.dir;
  if (part === undefined) return null;
  const p = join(lib.cacheRoot(), part, "busybox");
  return existsSync(p) ? p : null;
}

/** The busybox binary's path, or a reason to skip. RVISOR_BUSYBOX overrides the lookup. */
export async function findBusybox(log: (s: string) => void = () => {}, build = true): Promise<{ path: string } | { skip: string }> {
  const env = process.env.RVISOR_BUSYBOX;
  if (env !== undefined && env !== "") return existsSync(env) ? { path: env } : { skip: `RVISOR_BUSYBOX=${env} does not exist` };
  const lib = await imageLib();
  const img = lib.imagePaths();
  const inImage = img.ready ? fromManifest(lib, img.manifest) : null;
  if (inImage !== null) return { path: inImage };
  // A busybox part built for some image (the part is cached before the image is complete).
  const root = lib.cacheRoot();
  if (existsSync(root)) {
    const parts = readdirSync(root).filter((d) => /^busybox-[0-9a-f]+$/.test(d) && existsSync(join(root, d, "busybox")))
      .map((d) => join(root, d, "busybox")).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
    if (parts.length > 0) return { path: parts[0] };
  }
  if (!build) return { skip: "busybox is not built yet (npm run image, or set RVISOR_BUSYBOX)" };
  const missing = lib.missingDepsMessage();
  if (missing !== null) return { skip: `the guest image (and its busybox) cannot be built here: ${missing.split("\n")[0]}` };
  log("busybox: not cached yet, building the guest image (scripts/lib/image.mjs)");
  const built = await lib.buildImage({ log });
  const p = fromManifest(lib, built.manifest);
  return p !== null ? { path: p } : { skip: "the guest image was built but names no busybox part" };
}

/** Applet names of a busybox binary (`busybox --list` under qemu-riscv64). */
export function applets(busybox: string): string[] {
  const r = spawnSync(QEMU, [busybox, "--list"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`busybox --list failed: ${r.stderr}`);
  return r.stdout.split("\n").filter((s) => /^[\w.[\]-]+$/.test(s));
}

/**
 * Two PATH directories with every applet: for rvisor, symlinks to busybox (rvisor's execve loads
 * riscv64 programs itself); for qemu-riscv64, which hands execve to the host kernel, tiny shell
 * scripts that start the applet under qemu-riscv64 again.
 */
export const QEMU = which("qemu-riscv64") ?? "qemu-riscv64";

export function appletDirs(busybox: string, dir: string): { rvisor: string; qemu: string } {
  const rv = join(dir, "bin-rvisor"), q = join(dir, "bin-qemu");
  mkdirSync(rv, { recursive: true });
  mkdirSync(q, { recursive: true });
  for (const a of applets(busybox)) {
    if (!existsSync(join(rv, a))) symlinkSync(busybox, join(rv, a));
    writeFileSync(join(q, a), `#!/bin/sh\nexec ${QEMU} ${busybox} ${a} "$@"\n`, { mode: 0o755 });
  }
  return { rvisor: rv, qemu: q };
}
