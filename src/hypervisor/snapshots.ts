// Managed-VM snapshots as data: the record kept in vms/NAME/snapshots/SNAP/snapshot.json (and
// returned by the control channel), its validation, and snapshot names. Platform-neutral: the
// host layer (src/host/node/vm_snapshot.ts) takes, lists, restores and removes them.
//
// A snapshot is the machine file (the format of src/system/snapshot.ts, docs/snapshot.md) plus,
// for every disk, the image that holds the disk's contents at that instant. Writable disks get
// libvirt's external-snapshot chain: at the snapshot the disk's current image becomes a
// read-only base and the VM goes on writing into a new qcow2 overlay on top of it, so later
// writes never reach what the snapshot refers to.
import { NAME_PATTERN, VmConfigError, type DiskFormat } from "./config.js";
import type { RunState } from "./control.js";

export const SNAPSHOT_RECORD_VERSION = 1;

export interface SnapshotDisk {
  /** The disk's index in the VM's config (its virtio-blk slot). */
  index: number;
  /** The image holding the disk's contents at the snapshot (never written again). */
  path: string;
  format: DiskFormat;
  readonly: boolean;
  /** That image and its backing files, top first. */
  chain: string[];
}

export interface SnapshotRecord {
  version: typeof SNAPSHOT_RECORD_VERSION;
  name: string;
  vm: string;
  /** ISO 8601 time it was taken. */
  createdAt: string;
  /** The VM's state when it was taken; a restore returns to it unless told otherwise. */
  state: RunState;
  /** The machine file, relative to the snapshot's directory, and its size in bytes. */
  machineFile: string;
  machineBytes: number;
  /** RAM pages stored in the machine file (the rest were zeros). */
  ramPages: number;
  /** Milliseconds the guest stood paused while it was taken. */
  pauseMs: number;
  disks: SnapshotDisk[];
}

export class SnapshotRecordError extends Error {}

/** A snapshot name: as a VM name (a letter or digit first, then letters, digits, '-', '_', '.'). */
export function validateSnapshotName(v: unknown): string {
  if (typeof v !== "string" || !NAME_PATTERN.test(v)) {
    throw new SnapshotRecordError(`invalid snapshot name ${typeof v === "string" ? `'${v}'` : String(v)}: use 1 to 63 letters, digits, '-', '_' or '.', starting with a letter or digit`);
  }
  return v;
}

/** A default snapshot name from a time: snap-YYYYMMDD-HHMMSS (UTC), as unique as the second. */
export function defaultSnapshotName(at: Date): string {
  const iso = at.toISOString();
  return `snap-${iso.slice(0, 10).replace(/-/g, "")}-${iso.slice(11, 19).replace(/:/g, "")}`;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

function need<T>(ok: boolean, v: T, what: string): T {
  if (!ok) throw new SnapshotRecordError(`snapshot record: ${what}`);
  return v;
}

const nonNegInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0;
const nonEmpty = (v: unknown): v is string => typeof v === "string" && v !== "" && !v.includes("\0");

/** Checks a record read from disk; throws SnapshotRecordError naming the first bad field. */
export function parseSnapshotRecord(v: unknown): SnapshotRecord {
  if (!isObj(v)) throw new SnapshotRecordError("snapshot record: not a JSON object");
  need(v.version === SNAPSHOT_RECORD_VERSION, 0, `version ${String(v.version)} is not supported (this rvisor reads ${SNAPSHOT_RECORD_VERSION})`);
  const name = validateSnapshotName(v.name);
  const disks = need(Array.isArray(v.disks), v.disks as unknown[], "disks must be an array").map((d, i): SnapshotDisk => {
    need(isObj(d), 0, `disks[${i}] must be an object`);
    const o = d as Obj;
    need(nonNegInt(o.index), 0, `disks[${i}].index must be a whole number`);
    need(nonEmpty(o.path), 0, `disks[${i}].path must be a path`);
    need(o.format === "raw" || o.format === "qcow2", 0, `disks[${i}].format must be raw or qcow2`);
    need(typeof o.readonly === "boolean", 0, `disks[${i}].readonly must be true or false`);
    need(Array.isArray(o.chain) && o.chain.every(nonEmpty), 0, `disks[${i}].chain must be a list of paths`);
    return { index: o.index as number, path: o.path as string, format: o.format as DiskFormat, readonly: o.readonly as boolean, chain: [...(o.chain as string[])] };
  });
  need(disks.every((d, i) => d.index === i), 0, "disks must be listed in index order");
  need(typeof v.vm === "string" && NAME_PATTERN.test(v.vm), 0, "vm must be a VM name");
  need(typeof v.createdAt === "string" && !Number.isNaN(Date.parse(v.createdAt)), 0, "createdAt must be a time");
  need(v.state === "running" || v.state === "paused", 0, "state must be running or paused");
  need(nonEmpty(v.machineFile) && !(v.machineFile as string).includes("/"), 0, "machineFile must be a file name");
  need(nonNegInt(v.machineBytes) && nonNegInt(v.ramPages) && typeof v.pauseMs === "number" && v.pauseMs >= 0, 0, "machineBytes, ramPages and pauseMs must be numbers");
  return {
    version: SNAPSHOT_RECORD_VERSION, name, vm: v.vm as string, createdAt: v.createdAt as string, state: v.state as RunState,
    machineFile: v.machineFile as string, machineBytes: v.machineBytes as number, ramPages: v.ramPages as number, pauseMs: v.pauseMs as number, disks,
  };
}

const DISK_UNITS: Record<string, number> = { K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };
const SECTOR = 512;
/** The largest disk `create --disk SIZE` makes (qcow2 with 64 KiB clusters allows far more; this keeps sizes exact in a double). */
export const DISK_SIZE_MAX = 2 ** 50;

/**
 * A new disk's size from "10G", "512M", "1.5G", "100GiB" (a unit is required, so a bare number
 * stays a path); rounded up to whole 512-byte sectors. null when `spec` is not a size.
 */
export function parseDiskSize(spec: string, field = "disk"): number | null {
  const m = /^(\d+(?:\.\d+)?)([KMGT])(?:i?B)?$/i.exec(spec);
  if (m === null) return null;
  const bytes = Math.ceil((Number(m[1]) * DISK_UNITS[m[2].toUpperCase()]) / SECTOR) * SECTOR;
  if (bytes <= 0 || bytes > DISK_SIZE_MAX) throw new VmConfigError(field, `disk size ${spec} is out of range (1 sector to ${DISK_SIZE_MAX / 2 ** 40}T)`);
  return bytes;
}
