// Snapshots, restore and clones of managed VMs (virsh snapshot-create-as / snapshot-revert,
// Multipass and Lima clone, Firecracker snapshot/load), on top of the state directory.
//
// Disks follow libvirt's external snapshots. At a snapshot, in the same pause as the machine
// capture, each writable disk's current image (its "top") is flushed and closed and becomes a
// read-only base; a new qcow2 overlay on top of it takes the VM's later writes. The snapshot
// records the frozen image, so nothing the VM does afterwards changes what it refers to:
//
//   base.img ← disk0-a.qcow2 (frozen by s1) ← disk0-b.qcow2 (frozen by s2) ← disk0-c.qcow2 (written)
//
// A restore to s1 puts a fresh overlay on disk0-a.qcow2 (the current one is dropped), so s1 can
// be restored again and again; a clone gets its own overlay on the same frozen image (each clone
// writes only its own file). Read-only disks are shared as they are.
//
// Images rvisor made live in vms/NAME/disks/. An image is deleted only when nothing refers to
// it any more: no VM's disk chain and no snapshot's (collectImages, after snapshot rm, restore
// and rm). Backing file names are stored relative to the overlay's directory when both are in
// the state directory (so the directory can move), absolute otherwise.
//
// Every check comes before the first change: an unknown VM or snapshot, a VM in the wrong
// state, a snapshot whose machine file is corrupt (checksum, format version, board) or whose
// images are missing is refused and the VM is left as it was.
import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, copyFileSync } from "node:fs";
import { promises as fsp } from "node:fs";
import { randomBytes } from "node:crypto";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { validateName, vmMac, type DiskConfig, type DiskFormat, type VmConfig } from "../../hypervisor/config.js";
import type { ControlReply, RunState } from "../../hypervisor/control.js";
import { createRefusal } from "../../hypervisor/limits.js";
import {
  defaultSnapshotName, parseSnapshotRecord, SNAPSHOT_RECORD_VERSION, SnapshotRecordError, validateSnapshotName, type SnapshotDisk, type SnapshotRecord,
} from "../../hypervisor/snapshots.js";
import { createQcow2, Qcow2 } from "../../system/block/qcow2.js";
import type { VirtMachine } from "../../system/machine.js";
import { captureSnapshot, parseSnapshot, SnapshotError, type Snapshot } from "../../system/snapshot.js";
import { backingPath, NodeImageFile, openDisk, probeFormat, type OpenDisk } from "./disk_image.js";
import { producer, readSnapshotFile, writeSnapshotFile } from "./snapshot_file.js";
import { controlRequest, vmState } from "./vm_control.js";
import { liveVm, startVmLocked, VmOpError, waitGone } from "./vm_ops.js";
import { VmExistsError, writeFileAtomic, type VmStore } from "./vm_store.js";
import type { WarmPool } from "./vm_pool.js";

export const MACHINE_FILE = "machine.rvsnap";
export const RECORD_FILE = "snapshot.json";
/** Where the next start's machine state is kept (a hard link to, or copy of, a snapshot's machine file). */
export const RESTORE_MACHINE_FILE = "restore.rvsnap";
const MIB = 1 << 20;
/** A snapshot may take a while on a loaded host (the first capture faults in all of RAM). */
const SNAPSHOT_REQUEST_MS = 300_000;
const HOST_STOP_WAIT_MS = 10_000;

// ---- Disk images ----

/** A new, unused image name in `dir` for disk `index`. */
export function newImagePath(dir: string, index: number): string {
  return resolve(dir, `disk${index}-${Date.now().toString(36)}-${randomBytes(3).toString("hex")}.qcow2`);
}

/** The virtual size of an image (qcow2: its header's size; raw: the file's length). */
export async function imageSize(path: string, format: DiskFormat): Promise<number> {
  const { file } = await NodeImageFile.open(path, true);
  try {
    return format === "qcow2" ? (await Qcow2.readHeader(file)).size : file.size();
  } finally { await file.close(); }
}

/** An image and its backing files, top first (stops at a file that cannot be read: `missing`). */
export async function imageChain(path: string, format: DiskFormat | undefined): Promise<{ chain: string[]; missing: string | null }> {
  const chain: string[] = [];
  let p: string | null = resolve(path), fmt = format;
  while (p !== null && chain.length < 64) {
    let opened;
    try { opened = await NodeImageFile.open(p, true); } catch { return { chain, missing: p }; }
    const { file } = opened;
    try {
      chain.push(p);
      const f = fmt ?? await probeFormat(file);
      if (f !== "qcow2") break;
      const h = await Qcow2.readHeader(file);
      p = h.backingFile === null ? null : backingPath(p, h.backingFile);
      fmt = h.backingFormat === "raw" || h.backingFormat === "qcow2" ? h.backingFormat : undefined;
    } catch {
      return { chain, missing: null };
    } finally { await file.close(); }
  }
  return { chain, missing: null };
}

/** Creates a qcow2 overlay `overlay` on `backing` (version 3, as `qemu-img create -f qcow2 -b B -F FMT`). */
export async function createOverlay(store: VmStore, overlay: string, backing: string, backingFormat: DiskFormat, size: number): Promise<void> {
  const root = resolve(store.root) + sep;
  const name = resolve(backing).startsWith(root) && resolve(overlay).startsWith(root) ? relative(dirname(overlay), backing) : resolve(backing);
  await createImage(overlay, (file) => createQcow2(file, { size, backingFile: name, backingFormat }));
}

/** Creates a fresh, empty disk image of `size` bytes: qcow2, or a sparse raw file. */
export async function createDiskImage(path: string, size: number, format: DiskFormat): Promise<void> {
  if (format === "raw") {
    await fsp.writeFile(path, new Uint8Array(0), { flag: "wx" });
    await fsp.truncate(path, size);
    return;
  }
  await createImage(path, (file) => createQcow2(file, { size }));
}

async function createImage(path: string, fill: (file: NodeImageFile) => Promise<void>): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  await fsp.writeFile(path, new Uint8Array(0), { flag: "wx" });
  try {
    const { file } = await NodeImageFile.open(path, false);
    try { await fill(file); } finally { await file.close(); }
  } catch (e) {
    rmSync(path, { force: true });
    throw e;
  }
}

/** Paths that are in `dir` (resolved). */
function inside(dir: string, p: string): boolean { return resolve(p).startsWith(resolve(dir) + sep); }

// ---- Snapshot records ----

function recordPath(store: VmStore, name: string, snap: string): string { return join(store.snapshotDir(name, snap), RECORD_FILE); }

/** A snapshot's record, or a VmOpError: unknown snapshot, or a record that cannot be read. */
export function readSnapshotRecord(store: VmStore, name: string, snap: string): SnapshotRecord {
  validateSnapshotName(snap);
  const p = recordPath(store, name, snap);
  if (!existsSync(store.snapshotDir(name, snap))) throw new VmOpError(`VM '${name}' has no snapshot '${snap}'`, "not_found");
  let v: unknown;
  try { v = JSON.parse(readFileSync(p, "utf8")) as unknown; } catch (e) {
    throw new VmOpError(`snapshot '${snap}' of VM '${name}' is corrupt: cannot read ${RECORD_FILE} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try { return parseSnapshotRecord(v); } catch (e) {
    throw new VmOpError(`snapshot '${snap}' of VM '${name}' is corrupt: ${(e as Error).message}`);
  }
}

export type SnapshotListEntry = { name: string; record: SnapshotRecord; error: null } | { name: string; record: null; error: string };

/** VM `name`'s snapshots, oldest first (a record that cannot be read is listed with its error). */
export function listSnapshots(store: VmStore, name: string): SnapshotListEntry[] {
  let names: string[];
  try { names = readdirSync(store.snapshotsDir(name)).filter((n) => !n.startsWith(".")); } catch { return []; }
  const out = names.map((n): SnapshotListEntry => {
    try { return { name: n, record: readSnapshotRecord(store, name, n), error: null }; } catch (e) { return { name: n, record: null, error: (e as Error).message }; }
  });
  const t = (e: SnapshotListEntry): string => e.record?.createdAt ?? "";
  return out.sort((a, b) => t(a).localeCompare(t(b)) || a.name.localeCompare(b.name));
}

/** Reads and checks a snapshot's machine file (magic, version, length, checksum, header) and that it fits `cfg`. */
async function checkedMachine(store: VmStore, name: string, rec: SnapshotRecord, cfg: VmConfig): Promise<Snapshot> {
  const file = join(store.snapshotDir(name, rec.name), rec.machineFile);
  const what = `snapshot '${rec.name}' of VM '${name}'`;
  let bytes: Uint8Array;
  try { bytes = await readSnapshotFile(file); } catch (e) { throw new VmOpError(`${what} is corrupt: cannot read its machine file (${(e as NodeJS.ErrnoException).code ?? String(e)})`); }
  let snap: Snapshot;
  try { snap = parseSnapshot(bytes); } catch (e) {
    if (e instanceof SnapshotError) throw new VmOpError(`${what} is corrupt: ${e.message}`);
    throw e;
  }
  const b = snap.header.board;
  const bad: string[] = [];
  if (b.memBytes !== cfg.memoryMib * MIB) bad.push(`memory ${b.memBytes / MIB}M, the VM has ${cfg.memoryMib}M`);
  if (b.harts !== cfg.cpus) bad.push(`${b.harts} vCPUs, the VM has ${cfg.cpus}`);
  if (rec.disks.length !== cfg.disks.length) bad.push(`${rec.disks.length} disks, the VM has ${cfg.disks.length}`);
  if (bad.length > 0) throw new VmOpError(`${what} does not fit the VM: ${bad.join("; ")}`);
  return snap;
}

/** Every image a snapshot's disks need must still be there. */
async function checkSnapshotDisks(name: string, rec: SnapshotRecord): Promise<void> {
  for (const d of rec.disks) {
    const { missing } = await imageChain(d.path, d.format);
    if (missing !== null) throw new VmOpError(`snapshot '${rec.name}' of VM '${name}' is unusable: disk ${d.index} image ${missing} is missing`);
  }
}

// ---- Taking a snapshot (in the VM process) ----

/** What the VM process lends the snapshot code while its guest is held still. */
export interface SnapshotHost {
  readonly store: VmStore;
  cfg: VmConfig;
  readonly machine: VirtMachine;
  /** The open disks, in config order; writable ones are replaced by their new overlays. */
  readonly drives: OpenDisk[];
  /** The state the VM was in when asked (a paused VM stays paused). */
  readonly state: RunState;
  /** Lets the guest run again: called once the disks are on their new overlays. */
  resume(): void;
}

/**
 * Takes snapshot `snap` of the machine in `h`, which must not run meanwhile (the VM process
 * calls it between run slices with the guest's clock stopped): settle, capture, move every
 * writable disk onto a new overlay, resume, then write the machine file and the record.
 */
export async function takeSnapshot(h: SnapshotHost, snap: string): Promise<SnapshotRecord> {
  const { store, machine } = h;
  const name = h.cfg.name;
  const final = store.snapshotDir(name, snap);
  if (existsSync(final)) throw new VmOpError(`VM '${name}' already has a snapshot '${snap}'`, "exists");
  const t0 = performance.now();
  await machine.settle();
  const bytes = captureSnapshot(machine, { producer: producer() });
  const ramPages = new DataView(bytes.buffer, bytes.byteOffset).getUint32(16, true);

  // New overlays first (nothing is switched if one cannot be made), then the switch.
  const overlays = new Map<number, string>();
  try {
    for (const [i, d] of h.cfg.disks.entries()) {
      if (d.readonly) continue;
      await h.drives[i].backend.flush();
      const o = newImagePath(store.disksDir(name), i);
      await createOverlay(store, o, d.path, d.format, h.drives[i].backend.size);
      overlays.set(i, o);
    }
  } catch (e) {
    for (const o of overlays.values()) rmSync(o, { force: true });
    throw new VmOpError(`cannot create the disk overlays: ${(e as Error).message}`);
  }
  const disks: DiskConfig[] = h.cfg.disks.map((d) => ({ ...d }));
  const recDisks: SnapshotDisk[] = [];
  for (const [i, d] of h.cfg.disks.entries()) {
    const o = overlays.get(i);
    if (o === undefined) {
      recDisks.push({ index: i, path: d.path, format: d.format, readonly: true, chain: h.drives[i].chain.map((c) => c.path) });
      continue;
    }
    await h.drives[i].close();
    let nd: OpenDisk;
    try {
      nd = await openDisk(o, { format: "qcow2" });
    } catch (e) {
      // Back onto the image it had (now unchanged); the snapshot fails.
      h.drives[i] = await openDisk(d.path, { format: d.format });
      machine.replaceDrive(i, h.drives[i].backend);
      for (const p of overlays.values()) if (!disks.some((x) => x.path === p)) rmSync(p, { force: true });
      h.cfg = { ...h.cfg, disks };
      store.writeConfig(h.cfg);
      throw new VmOpError(`cannot open the new overlay of disk ${i}: ${(e as Error).message}`);
    }
    h.drives[i] = nd;
    machine.replaceDrive(i, nd.backend);
    disks[i] = { ...d, path: o, format: "qcow2" };
    recDisks.push({ index: i, path: d.path, format: d.format, readonly: false, chain: nd.chain.slice(1).map((c) => c.path) });
  }
  h.cfg = { ...h.cfg, disks };
  store.writeConfig(h.cfg);
  const pauseMs = performance.now() - t0;
  h.resume();

  const record: SnapshotRecord = {
    version: SNAPSHOT_RECORD_VERSION, name: snap, vm: name, createdAt: new Date().toISOString(), state: h.state,
    machineFile: MACHINE_FILE, machineBytes: bytes.length, ramPages, pauseMs: Math.round(pauseMs), disks: recDisks,
  };
  // Assembled beside and renamed into place: a reader sees the snapshot whole or not at all.
  mkdirSync(store.snapshotsDir(name), { recursive: true });
  const tmp = join(store.snapshotsDir(name), `.new-${snap}-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  try {
    await writeSnapshotFile(join(tmp, MACHINE_FILE), bytes, "none");
    writeFileAtomic(join(tmp, RECORD_FILE), `${JSON.stringify(record, null, 2)}\n`);
    renameSync(tmp, final);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw new VmOpError(`cannot write snapshot '${snap}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return record;
}

// ---- Operations (the CLI and the APIs call these) ----

function requireDefined(store: VmStore, name: string): VmConfig {
  validateName(name);
  if (!store.exists(name)) throw new VmOpError(`VM '${name}' does not exist`, "not_found");
  return store.read(name);
}

/** Takes a snapshot of running or paused VM `name` (named `snap`, default snap-DATE-TIME). */
export async function snapshotVm(store: VmStore, name: string, snap?: string): Promise<SnapshotRecord> {
  requireDefined(store, name);
  const sname = snap ?? defaultSnapshotName(new Date());
  validateSnapshotName(sname);
  return store.withLock(async () => {
    const st = await vmState(store, name);
    if (st.state !== "running" && st.state !== "paused") {
      throw new VmOpError(`VM '${name}' is ${st.state}: a snapshot captures a running or paused machine (start it first)`, "state");
    }
    if (existsSync(store.snapshotDir(name, sname))) throw new VmOpError(`VM '${name}' already has a snapshot '${sname}'`, "exists");
    const v = await liveVm(store, name);
    const r = await controlRequest(v.socket, { cmd: "snapshot", snapshot: sname }, SNAPSHOT_REQUEST_MS);
    if (!r.ok) throw new VmOpError(r.error);
    if (r.snapshot === undefined) throw new VmOpError("the VM process sent no snapshot record");
    return r.snapshot;
  });
}

/** Deletes snapshot `snap` of VM `name`; its images go once nothing else needs them. Returns the files freed. */
export async function removeSnapshot(store: VmStore, name: string, snap: string): Promise<string[]> {
  requireDefined(store, name);
  return store.withLock(async () => {
    if (!existsSync(store.snapshotDir(name, snap))) throw new VmOpError(`VM '${name}' has no snapshot '${snap}'`, "not_found");
    const gone = join(store.snapshotsDir(name), `.rm-${snap}-${process.pid}`);
    renameSync(store.snapshotDir(name, snap), gone);
    rmSync(gone, { recursive: true, force: true });
    return collectImages(store);
  });
}

/** Stops a live VM from the host side (its current state is being discarded): stop request, then SIGKILL. */
async function discardRun(store: VmStore, name: string): Promise<void> {
  const st = await vmState(store, name);
  if (st.runtime === null) return;
  if (st.state === "running" || st.state === "paused") {
    let asked = false;
    try { asked = (await controlRequest(st.runtime.socket, "stop")).ok; } catch { /* killed below */ }
    if (!(asked && await waitGone(st.runtime.pid, HOST_STOP_WAIT_MS))) {
      try { process.kill(st.runtime.pid, "SIGKILL"); } catch { /* gone */ }
      await waitGone(st.runtime.pid, 5000);
    }
  }
  store.clearRuntime(name);
}

/** Disks for a VM that continues from `rec`: a new overlay on every writable disk's frozen image. */
async function disksFrom(store: VmStore, vm: string, base: readonly DiskConfig[], rec: SnapshotRecord, made: string[]): Promise<DiskConfig[]> {
  const out: DiskConfig[] = [];
  for (const [i, d] of base.entries()) {
    const s = rec.disks[i];
    if (d.readonly) { out.push({ ...d, path: s.path, format: s.format }); continue; }
    const o = newImagePath(store.disksDir(vm), i);
    await createOverlay(store, o, s.path, s.format, await imageSize(s.path, s.format));
    made.push(o);
    out.push({ ...d, path: o, format: "qcow2" });
  }
  return out;
}

/** Records that the next start of `vm` continues from snapshot file `machine` (linked, or copied across file systems). */
function setPendingRestore(store: VmStore, vm: string, machine: string, state: RunState, from: string): void {
  const dst = join(store.dir(vm), RESTORE_MACHINE_FILE);
  rmSync(dst, { force: true });
  try { linkSync(machine, dst); } catch { copyFileSync(machine, dst); }
  writeFileAtomic(store.restorePath(vm), `${JSON.stringify({ machine: RESTORE_MACHINE_FILE, state, from })}\n`);
}

export interface PendingRestore { machine: string; state: RunState; from: string }

/** The machine state VM `vm`'s next start continues from, or null (boot). */
export function pendingRestore(store: VmStore, vm: string): PendingRestore | null {
  let v: unknown;
  try { v = JSON.parse(readFileSync(store.restorePath(vm), "utf8")) as unknown; } catch { return null; }
  const o = v as Record<string, unknown>;
  if (typeof o !== "object" || o === null || typeof o.machine !== "string" || (o.state !== "running" && o.state !== "paused")) return null;
  return { machine: join(store.dir(vm), o.machine), state: o.state, from: typeof o.from === "string" ? o.from : "?" };
}

/** Forgets a pending restore (the VM process calls it once the machine is loaded). */
export function clearPendingRestore(store: VmStore, vm: string): void {
  rmSync(store.restorePath(vm), { force: true });
  rmSync(join(store.dir(vm), RESTORE_MACHINE_FILE), { force: true });
}

export interface RevertOptions {
  /** The state to come back in; default the snapshot's own. */
  state?: RunState;
}

/** How long a live VM process may take to load a snapshot in place. */
const RESTORE_REQUEST_MS = 60_000;

/**
 * Restores live VM `name` in its own process (the "restore" control request): new overlays on
 * the snapshot's images, then the process checks the machine file, builds the snapshot's
 * machine on them and switches. Returns null when the process could not be asked (it is gone
 * or does not answer: the caller falls back to a new process); throws a VmOpError when the
 * process refused (the VM is left as it was).
 */
async function restoreInPlace(store: VmStore, name: string, socket: string, cfg: VmConfig, rec: SnapshotRecord, state: RunState): Promise<boolean> {
  const what = `snapshot '${rec.name}' of VM '${name}'`;
  if (rec.disks.length !== cfg.disks.length) throw new VmOpError(`${what} does not fit the VM: ${rec.disks.length} disks, the VM has ${cfg.disks.length}`);
  await checkSnapshotDisks(name, rec);
  const made: string[] = [];
  let disks: DiskConfig[];
  try { disks = await disksFrom(store, name, cfg.disks, rec, made); } catch (e) {
    for (const m of made) rmSync(m, { force: true });
    throw new VmOpError(`cannot create the disk overlays: ${(e as Error).message}`);
  }
  const machine = join(store.snapshotDir(name, rec.name), rec.machineFile);
  let r: ControlReply;
  try {
    r = await controlRequest(socket, { cmd: "restore", machine, disks: disks.map((d, i) => cfg.disks[i].readonly ? null : d.path), state }, RESTORE_REQUEST_MS);
  } catch {
    for (const m of made) rmSync(m, { force: true });
    return false;
  }
  if (!r.ok) {
    for (const m of made) rmSync(m, { force: true });
    if (r.code === "corrupt") throw new VmOpError(`${what} is corrupt: ${r.error}`);
    if (r.code === "unfit") throw new VmOpError(`${what} does not fit the VM: ${r.error}`);
    throw new VmOpError(`cannot restore ${what}: ${r.error}`);
  }
  return true;
}

/**
 * Returns VM `name` to snapshot `snap`. A live VM is restored in its own process (no process
 * start: restoreInPlace); a shut-off one, or one whose process does not answer, is checked
 * first, then stopped, its disks put on new overlays over the snapshot's images, and started
 * from the snapshot's machine state. Returns the VM process's pid.
 */
export async function revertVm(store: VmStore, name: string, snap: string, opts: RevertOptions = {}, env: NodeJS.ProcessEnv = process.env, pool: WarmPool | null = null): Promise<{ pid: number; record: SnapshotRecord }> {
  requireDefined(store, name);
  return store.withLock(async () => {
    const cfg = store.read(name);
    const rec = readSnapshotRecord(store, name, snap);
    const state = opts.state ?? rec.state;
    const st = await vmState(store, name);
    if ((st.state === "running" || st.state === "paused") && st.runtime !== null) {
      if (await restoreInPlace(store, name, st.runtime.socket, cfg, rec, state)) {
        await collectImages(store);
        return { pid: st.runtime.pid, record: rec };
      }
    }
    await checkedMachine(store, name, rec, cfg);
    await checkSnapshotDisks(name, rec);
    // Checked: from here on the VM changes.
    await discardRun(store, name);
    const made: string[] = [];
    let disks: DiskConfig[];
    try { disks = await disksFrom(store, name, cfg.disks, rec, made); } catch (e) {
      for (const m of made) rmSync(m, { force: true });
      throw new VmOpError(`cannot create the disk overlays: ${(e as Error).message}`);
    }
    store.writeConfig({ ...cfg, disks });
    setPendingRestore(store, name, join(store.snapshotDir(name, snap), rec.machineFile), state, `${name}/${snap}`);
    await collectImages(store);
    return { pid: await startVmLocked(store, name, env, pool), record: rec };
  });
}

export interface CloneOptions {
  /** Clone from this snapshot of the source (its disks and machine state); default: the source's disks now (it must be shut off). */
  snapshot?: string;
}

/**
 * Makes VM `dst` from `src`: the same definition, with every writable disk a new qcow2 overlay
 * on the source's frozen state (a snapshot's images, or, for a shut-off source, its current
 * images, which the source then also leaves for an overlay of its own). From a snapshot the
 * clone's first start continues from the snapshot's machine state.
 */
export async function cloneVm(store: VmStore, src: string, dst: string, opts: CloneOptions = {}): Promise<VmConfig> {
  requireDefined(store, src);
  validateName(dst);
  return store.withLock(async () => {
    const s = store.read(src);
    if (store.exists(dst) || existsSync(store.dir(dst))) throw new VmOpError(`VM '${dst}' already exists`, "exists");
    let rec: SnapshotRecord | null = null;
    if (opts.snapshot !== undefined) {
      rec = readSnapshotRecord(store, src, opts.snapshot);
      await checkedMachine(store, src, rec, s);
      await checkSnapshotDisks(src, rec);
    } else {
      const st = await vmState(store, src);
      if (st.state !== "shut off") {
        throw new VmOpError(`VM '${src}' is ${st.state}: clone a shut-off VM, or clone from one of its snapshots (--snapshot SNAP)`, "state");
      }
      for (const [i, d] of s.disks.entries()) {
        const { missing } = await imageChain(d.path, d.format);
        if (missing !== null) throw new VmOpError(`VM '${src}': disk ${i} image ${missing} is missing`);
      }
    }
    const refusal = createRefusal(store.limits(), store.names().length, { ...s, name: dst });
    if (refusal !== null) throw new VmOpError(refusal, "limit");

    const made: string[] = [];
    let created = false;
    const cleanup = (): void => {
      for (const m of made) rmSync(m, { force: true });
      if (created) store.remove(dst);
    };
    try {
      let base: SnapshotRecord;
      if (rec !== null) base = rec;
      else {
        // The source's current images become the frozen base of both; the source moves onto an overlay too.
        base = {
          version: SNAPSHOT_RECORD_VERSION, name: "(current)", vm: src, createdAt: new Date().toISOString(), state: "running",
          machineFile: MACHINE_FILE, machineBytes: 0, ramPages: 0, pauseMs: 0,
          disks: s.disks.map((d, i) => ({ index: i, path: d.path, format: d.format, readonly: d.readonly, chain: [d.path] })),
        };
        const srcDisks = await disksFrom(store, src, s.disks, base, made);
        store.writeConfig({ ...s, disks: srcDisks });
      }
      // The definition first (its directory must not exist before), then its overlays in it.
      try { store.create({ ...s, name: dst }); } catch (e) { if (e instanceof VmExistsError) throw new VmOpError(e.message, "exists"); throw e; }
      created = true;
      // The clone's cards: MACs derived from its own name (a pinned one is kept); host forwards
      // dropped, as the source's ports would collide (give the clone its own with network-interfaces).
      const network = s.network.map((n, i) => ({ ...n, mac: n.mac === vmMac(s.name, i) ? vmMac(dst, i) : n.mac, hostfwd: [] }));
      const cfg: VmConfig = { ...s, name: dst, network, disks: await disksFrom(store, dst, s.disks, base, made) };
      store.writeConfig(cfg);
      if (rec !== null) setPendingRestore(store, dst, join(store.snapshotDir(src, rec.name), rec.machineFile), "running", `${src}/${rec.name}`);
      return cfg;
    } catch (e) {
      cleanup();
      if (rec === null) store.writeConfig(s);
      if (e instanceof VmOpError) throw e;
      throw new VmOpError(`cannot clone '${src}': ${(e as Error).message}`);
    }
  });
}

/** The other VMs whose disks (or snapshots) use images in VM `name`'s directory. */
export async function dependents(store: VmStore, name: string): Promise<string[]> {
  const out: string[] = [];
  for (const n of store.names()) {
    if (n === name) continue;
    const refs = await referencedImages(store, [n]);
    if ([...refs].some((p) => inside(store.dir(name), p))) out.push(n);
  }
  return out;
}

/** Every image the disks and snapshots of `names` refer to, their backing files included. */
async function referencedImages(store: VmStore, names: readonly string[]): Promise<Set<string>> {
  const refs = new Set<string>();
  const add = async (path: string, format: DiskFormat): Promise<void> => {
    for (const p of (await imageChain(path, format)).chain) refs.add(p);
    refs.add(resolve(path));
  };
  for (const n of names) {
    let cfg: VmConfig;
    try { cfg = store.read(n); } catch { continue; }
    for (const d of cfg.disks) await add(d.path, d.format);
    for (const e of listSnapshots(store, n)) for (const d of e.record?.disks ?? []) await add(d.path, d.format);
  }
  return refs;
}

/**
 * Deletes the images in vms/* /disks/ that no VM's disks and no snapshot refer to (through any
 * backing chain). The caller holds the host lock. Returns the files deleted.
 */
export async function collectImages(store: VmStore): Promise<string[]> {
  const names = store.names();
  const refs = await referencedImages(store, names);
  const gone: string[] = [];
  for (const n of names) {
    let files: string[];
    try { files = readdirSync(store.disksDir(n)); } catch { continue; }
    for (const f of files) {
      const p = resolve(store.disksDir(n), f);
      if (refs.has(p) || !statSync(p).isFile()) continue;
      rmSync(p, { force: true });
      gone.push(p);
    }
  }
  return gone;
}

/** Makes the images of `create --disk SIZE` disks in the (just created) VM's directory. */
export async function createVmDisks(specs: readonly { path: string; size: number; format: DiskFormat }[]): Promise<void> {
  for (const d of specs) {
    if (!isAbsolute(d.path)) throw new VmOpError(`disk image path ${d.path} is not absolute`);
    await createDiskImage(d.path, d.size, d.format);
  }
}

export { SnapshotRecordError };
