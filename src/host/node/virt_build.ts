// Builds a VirtMachine's host side from a VmConfig: reads the boot files (rvisor's guest image
// when the config names none), opens the disks (locked against a second writer) and the 9p shares.
import { readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import type { VmConfig } from "../../hypervisor/config.js";
import { Isa } from "../../cpu/isa.js";
import { VirtMachine, type Firmware, type VirtConfig } from "../../system/machine.js";
import type { CharBackend } from "../../system/devices/char_backend.js";
import { DiskOpenError, openDisk, type OpenDisk } from "./disk_image.js";
import { NodeFs9p } from "./fs_9p_node.js";

const MIB = 1 << 20;

export class VmBuildError extends Error {}

/** Reads a host file the machine needs; errors name what it is for. */
export function readHostFile(path: string, what: string): Uint8Array {
  try {
    if (statSync(path).isDirectory()) throw new VmBuildError(`${what} '${path}' is a directory`);
    return readFileSync(path);
  } catch (e) {
    if (e instanceof VmBuildError) throw e;
    throw new VmBuildError(`cannot read ${what} '${path}': ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

/** A host directory as a virtio-9p share; `what` names it in errors. */
export function openShare(dir: string, tag: string, readonly: boolean, what: string): { fs: NodeFs9p; tag: string } {
  let isDir = false;
  try { isDir = statSync(dir).isDirectory(); } catch { /* reported below */ }
  if (!isDir) throw new VmBuildError(`${what}: ${dir} is not a directory`);
  return { fs: new NodeFs9p(resolve(dir), { readonly }), tag };
}

type ImagePath = string | null;
interface ImageLib { imagePaths(): { kernel: ImagePath; initrd: ImagePath; rootfs: ImagePath; manifest: ImagePath; ready: boolean } }

/** The files of rvisor's default guest image (scripts/lib/image.mjs). */
export interface GuestImageFiles { kernel: string; initrd: string; rootfs: string; manifest: string }

/** rvisor's own guest image (Linux 6.1 + busybox initramfs, ext4 root disk), as `npm run image` caches it. */
export async function defaultGuestImage(): Promise<GuestImageFiles> {
  const lib = (await import(new URL("../../../../scripts/lib/image.mjs", import.meta.url).href)) as ImageLib;
  const p = lib.imagePaths();
  if (!p.ready || p.kernel === null || p.initrd === null || p.rootfs === null || p.manifest === null) {
    throw new VmBuildError("rvisor's guest image is not built (run 'npm run image'), or give the VM a kernel (--kernel)");
  }
  return { kernel: p.kernel, initrd: p.initrd, rootfs: p.rootfs, manifest: p.manifest };
}

/** The files and backends a VM's machine is built from; open once, reused across guest reboots. */
export interface VmResources {
  firmware: Firmware;
  kernel: Uint8Array | undefined;
  initrd: Uint8Array | undefined;
  /** The opened disks (raw or qcow2 with backing chains, locked as QEMU locks them). */
  drives: OpenDisk[];
  shares: { fs: NodeFs9p; tag: string }[];
  /** False when firmware, kernel and initrd were left unread (a machine restored from a snapshot needs them only to reboot). */
  bootFilesLoaded: boolean;
}

/** The firmware, kernel and initrd a boot of `cfg` needs (rvisor's guest image when it names no kernel). */
export async function loadBootFiles(cfg: VmConfig): Promise<Pick<VmResources, "firmware" | "kernel" | "initrd">> {
  const b = cfg.boot;
  let firmware: Firmware = { kind: "builtin" };
  if (b.firmware === "none") firmware = { kind: "none" };
  else if (b.firmware !== "builtin") firmware = { kind: "image", bytes: readHostFile(b.firmware, "firmware") };
  let kernelPath = b.kernel, initrdPath = b.initrd;
  if (kernelPath === null && firmware.kind !== "image") ({ kernel: kernelPath, initrd: initrdPath } = await defaultGuestImage());
  const kernel = kernelPath === null ? undefined : readHostFile(kernelPath, "kernel");
  const initrd = initrdPath === null ? undefined : readHostFile(initrdPath, "initrd");
  return { firmware, kernel, initrd };
}

/** Opens what the machine of `cfg` runs on; `bootFiles: false` leaves the boot files for loadBootFiles. */
export async function openVmResources(cfg: VmConfig, opts: { bootFiles?: boolean } = {}): Promise<VmResources> {
  const boot = opts.bootFiles === false ? { firmware: { kind: "none" } as Firmware, kernel: undefined, initrd: undefined } : await loadBootFiles(cfg);
  const drives: OpenDisk[] = [];
  try {
    for (const [i, d] of cfg.disks.entries()) {
      try {
        drives.push(await openDisk(d.path, { format: d.format, readonly: d.readonly }));
      } catch (e) {
        const why = e instanceof DiskOpenError ? e.message : (e as NodeJS.ErrnoException).code ?? (e as Error).message;
        throw new VmBuildError(`disks[${i}]: cannot open ${d.path}: ${why}`);
      }
    }
  } catch (e) {
    await Promise.all(drives.map((d) => d.close()));
    throw e;
  }
  const shares = cfg.shares.map((s, i) => openShare(s.path, s.tag, s.readonly, `shares[${i}]`));
  return { ...boot, drives, shares, bootFilesLoaded: opts.bootFiles !== false };
}

export function buildVmMachine(cfg: VmConfig, r: VmResources, nics: VirtConfig["nics"], console: CharBackend, clock: () => number): VirtMachine {
  return new VirtMachine({
    memBytes: cfg.memoryMib * MIB, harts: cfg.cpus, firmware: r.firmware, kernel: r.kernel, initrd: r.initrd,
    append: cfg.boot.cmdline, drives: r.drives.map((d) => d.backend), shares: r.shares, nics, console, clock, isa: Isa.profile(cfg.cpu.profile),
  });
}
