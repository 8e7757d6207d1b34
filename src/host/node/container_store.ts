// Containers in the state directory (docs/containers.md):
//   <home>/containers/<id>/container.json   the record (written by write + rename)
//   <home>/containers/<id>/upper/           the container's writable layer (over the image's layers)
//   <home>/containers/<id>/container.log    what its processes wrote to stdout and stderr
//   <home>/containers/<id>/control.sock     the running container's control socket (exec, signals)
// As with VMs, no daemon owns this: the process running a container (the CLI for an attached
// run, `rvisor container __run ID` for -d) records its state here, and every command reads it.
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Digest } from "../../oci/digest.js";
import type { PortMapping } from "./container_net.js";
import { defaultHome, pidAlive, VmStore, writeFileAtomic } from "./vm_store.js";
import { randomFill, randomHex } from "./random.js";

export const CONTAINER_RECORD_VERSION = 1;
/** Docker's rule for container names. */
export const CONTAINER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
/** sun_path is 108 bytes on Linux, NUL included. */
const SUN_PATH_MAX = 107;
/** Hex digits of the ID naming a control socket under the temp dir. */
const SOCKET_ID_HEX = 32;
/** Exit status of a container whose runner died without saying how (SIGKILL: 128 + 9). */
export const EXIT_KILLED = 137;

/**
 * Writes a record by write + rename, so that readers see the old one or the new one whole. A
 * --rm container's record is not made durable (no fsync: 3 of them were ~9 ms of `run --rm`'s
 * start-to-exit): it is removed when the container exits, and after a host crash a lost or
 * truncated record only loses a container that was to vanish anyway (list() skips unreadable ones).
 */
function writeRecord(file: string, r: ContainerRecord): void {
  const text = JSON.stringify(r, null, 1) + "\n";
  if (!r.spec.autoRemove) { writeFileAtomic(file, text); return; }
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode: 0o644 });
  try { renameSync(tmp, file); } catch (e) { rmSync(tmp, { force: true }); throw e; }
}

export interface VolumeSpec { host: string; guest: string; readonly: boolean }

/** What `container run` was asked for (kept for start, inspect and exec). */
export interface ContainerSpec {
  /** The image as named on the command line, and what it resolved to. */
  imageRef: string;
  manifest: Digest;
  /** The image ID (its config's digest). */
  imageId: Digest;
  entrypoint: string | null;
  cmd: string[];
  /** -e and --env-file entries, in order (resolved against the host's environment at create). */
  env: string[];
  workdir: string | null;
  user: string | null;
  hostname: string;
  tty: boolean;
  interactive: boolean;
  detach: boolean;
  autoRemove: boolean;
  volumes: VolumeSpec[];
  ports: PortMapping[];
  /** Guest memory in bytes. */
  memory: number;
  /** Share of one host CPU (--cpus), null: no throttle. */
  cpus: number | null;
  pidsLimit: number | null;
}

export type ContainerStatus = "created" | "running" | "exited";

export interface ContainerState {
  status: ContainerStatus;
  /** The host process running the container (while running). */
  pid: number | null;
  startedAt: string | null;
  finishedAt: string | null;
  exitCode: number | null;
  /** Why it could not start (Docker's State.Error). */
  error: string | null;
  /** What the container runs after the image's config was applied (recorded at start). */
  argv: string[] | null;
  envResolved: string[] | null;
  cwd: string | null;
  uid: number | null;
  gid: number | null;
}

export interface ContainerRecord {
  version: number;
  id: string;
  name: string;
  created: string;
  spec: ContainerSpec;
  state: ContainerState;
}

const ADJECTIVES = ["brave", "calm", "eager", "fond", "gentle", "happy", "jolly", "keen", "lucid", "merry", "nifty", "quiet", "sharp", "tender", "vivid", "witty"];
const NAMES = ["babbage", "curie", "dijkstra", "euler", "gauss", "hopper", "knuth", "lamport", "lovelace", "noether", "ritchie", "shannon", "thompson", "turing", "wirth", "zuse"];

export function emptyState(): ContainerState {
  return { status: "created", pid: null, startedAt: null, finishedAt: null, exitCode: null, error: null, argv: null, envResolved: null, cwd: null, uid: null, gid: null };
}

export class ContainerStore {
  readonly dir: string;
  private readonly lockStore: VmStore;
  constructor(readonly home: string = defaultHome()) {
    this.dir = join(home, "containers");
    this.lockStore = new VmStore(home);
  }

  containerDir(id: string): string { return join(this.dir, id); }
  recordPath(id: string): string { return join(this.containerDir(id), "container.json"); }
  upperDir(id: string): string { return join(this.containerDir(id), "upper"); }
  logPath(id: string): string { return join(this.containerDir(id), "container.log"); }
  /**
   * The control socket: in the container's directory, or under the temp dir when that path is
   * too long for sun_path, named by the ID's first 128 bits (IDs are random: no two containers
   * of any state directory share them).
   */
  socketPath(id: string): string {
    const p = join(this.containerDir(id), "control.sock");
    if (Buffer.byteLength(p) <= SUN_PATH_MAX) return p;
    const h = id.slice(0, SOCKET_ID_HEX);
    const d = join(tmpdir(), `rvisor-${process.getuid?.() ?? "u"}`);
    mkdirSync(d, { recursive: true, mode: 0o700 });
    return join(d, `${h}.sock`);
  }

  ids(): string[] {
    try { return readdirSync(this.dir).filter((n) => /^[0-9a-f]{64}$/.test(n) && existsSync(this.recordPath(n))); } catch { return []; }
  }

  read(id: string): ContainerRecord | null {
    try {
      const r = JSON.parse(readFileSync(this.recordPath(id), "utf8")) as ContainerRecord;
      return r.version === CONTAINER_RECORD_VERSION ? this.reconcile(r) : null;
    } catch { return null; }
  }

  /** A record that says running while its runner is gone (killed, crashed) ended as if SIGKILLed. */
  private reconcile(r: ContainerRecord): ContainerRecord {
    if (r.state.status === "running" && (r.state.pid === null || !pidAlive(r.state.pid))) {
      r.state = { ...r.state, status: "exited", pid: null, exitCode: r.state.exitCode ?? EXIT_KILLED, finishedAt: r.state.finishedAt ?? new Date().toISOString() };
    }
    return r;
  }

  /** Every container, newest first. */
  list(): ContainerRecord[] {
    return this.ids().map((id) => this.read(id)).filter((r): r is ContainerRecord => r !== null).sort((a, b) => (a.created < b.created ? 1 : -1));
  }

  /** By full name, full ID or a unique ID prefix, as Docker finds containers. */
  find(ref: string): ContainerRecord | null {
    const all = this.list();
    const byName = all.find((r) => r.name === ref || r.name === ref.replace(/^\//, ""));
    if (byName !== undefined) return byName;
    if (!/^[0-9a-f]+$/.test(ref)) return null;
    const hits = all.filter((r) => r.id.startsWith(ref));
    if (hits.length > 1) throw new Error(`multiple containers found with provided prefix: ${ref}`);
    return hits[0] ?? null;
  }

  write(r: ContainerRecord): void { writeRecord(this.recordPath(r.id), r); }

  /** Changes the state under the lock (the runner and `stop`/`kill` may write at once). */
  async update(id: string, f: (s: ContainerState) => ContainerState): Promise<ContainerRecord | null> {
    return this.lockStore.withLock(() => {
      const r = this.read(id);
      if (r === null) return null;
      r.state = f(r.state);
      this.write(r);
      return r;
    });
  }

  private randomName(taken: Set<string>): string {
    for (;;) {
      const b = new Uint8Array(3);
      randomFill(b);
      const n = `${ADJECTIVES[b[0] % ADJECTIVES.length]}_${NAMES[b[1] % NAMES.length]}`;
      const name = taken.has(n) ? `${n}${b[2]}` : n;
      if (!taken.has(name)) return name;
    }
  }

  /** Makes a container (its directory and upper layer); the name must be free. */
  async create(name: string | null, spec: ContainerSpec): Promise<ContainerRecord> {
    return this.lockStore.withLock(() => {
      const taken = new Set(this.list().map((r) => r.name));
      if (name !== null && taken.has(name)) {
        const other = this.list().find((r) => r.name === name);
        throw new Error(`Conflict. The container name "/${name}" is already in use by container "${other?.id ?? ""}". You have to remove (or rename) that container to be able to reuse that name.`);
      }
      const id = randomHex(32);
      const rec: ContainerRecord = {
        version: CONTAINER_RECORD_VERSION, id, name: name ?? this.randomName(taken), created: new Date().toISOString(), spec, state: emptyState(),
      };
      mkdirSync(this.dir, { recursive: true });
      const tmp = join(this.dir, `.new-${id}`);
      mkdirSync(join(tmp, "upper"), { recursive: true });
      writeRecord(join(tmp, "container.json"), rec);
      renameSync(tmp, this.containerDir(id));
      return rec;
    });
  }

  /** Deletes a container's directory (its upper layer, log and record). */
  remove(id: string): void {
    const gone = join(this.dir, `.rm-${id}-${process.pid}`);
    try { renameSync(this.containerDir(id), gone); } catch { return; }
    rmSync(gone, { recursive: true, force: true });
    rmSync(this.socketPath(id), { force: true });
  }

  /** Manifest digests of images that containers use (an image in use must not be removed). */
  imagesInUse(): Set<string> { return new Set(this.list().map((r) => r.spec.manifest)); }
}
