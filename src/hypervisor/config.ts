// VmConfig: the one definition of a virtual machine that the CLI, the REST API and the Node API
// all build and validate (as Firecracker's api_server turns every request into one VmmAction
// vocabulary). Plain JSON-serialisable data with a version, so `vms/NAME/config.json` is this
// object as written. Validation is hand-written and typed, free of Node APIs (it runs in a
// browser too): `parseVmConfig` takes anything (JSON from disk, a REST body, CLI options folded
// into an object) and returns a complete config with defaults filled in, or throws a
// VmConfigError naming the offending field.
import { DEFAULT_PROFILE, PROFILES, type CpuProfile } from "../cpu/isa.js";
import { SWITCH_NAME_PATTERN } from "../net/switch.js";

export const VM_CONFIG_VERSION = 1;

/** vCPUs per VM: the virt board's CLINT/PLIC are built for up to 8 harts. */
export const CPUS_MIN = 1, CPUS_MAX = 8;
/** Guest RAM in MiB: 16 MiB to 2 GiB (the virt board's DRAM window as rvisor maps it). */
export const MEMORY_MIB_MIN = 16, MEMORY_MIB_MAX = 2048;
export const DEFAULT_CPUS = 1, DEFAULT_MEMORY_MIB = 256;
/** The kernel command line when none is given: the console on the 16550 UART. */
export const DEFAULT_CMDLINE = "console=ttyS0";
/** A VM name: as libvirt/Multipass accept — a letter or digit first, then letters, digits, '-', '_', '.'; at most 63 chars. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
/** A drive id, as Firecracker's drive_id: letters, digits, '_' and '-', 1 to 64 of them. */
export const DRIVE_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** The virtio-9p mount tag is tag_len (le16) + bytes. */
const TAG_MAX_BYTES = 0xffff;

export type DiskFormat = "raw" | "qcow2";
export const DISK_FORMATS: readonly DiskFormat[] = ["raw", "qcow2"];

export interface DiskConfig {
  /** The drive's name (Firecracker's drive_id): unique within the VM; default disk0, disk1, ... */
  id: string;
  /** Host path of the image (absolute once resolved by the host layer). */
  path: string;
  format: DiskFormat;
  readonly: boolean;
}

export interface ShareConfig {
  /** Host directory exported over virtio-9p. */
  path: string;
  /** Mount tag the guest uses (`mount -t 9p TAG /mnt`). */
  tag: string;
  readonly: boolean;
}

/** What the machine boots. null means rvisor's own guest image (resolved when the VM starts). */
export interface BootConfig {
  /** "builtin" (rvisor's SBI), "none" (bare metal in M-mode) or a firmware image path. */
  firmware: string;
  kernel: string | null;
  initrd: string | null;
  cmdline: string;
}

export interface VmConfig {
  version: typeof VM_CONFIG_VERSION;
  name: string;
  cpus: number;
  /** Guest RAM in MiB (Firecracker's mem_size_mib). */
  memoryMib: number;
  cpu: {
    profile: CpuProfile;
    /** Share of one host core the VM's run loop may use, 1–100 (percent). */
    quotaPercent: number;
  };
  boot: BootConfig;
  disks: DiskConfig[];
  shares: ShareConfig[];
  /** Network interfaces (virtio-net cards eth0, eth1, ... in this order). */
  network: NetInterfaceConfig[];
}

export type NetInterfaceType = "user" | "switch";
export const NET_INTERFACE_TYPES: readonly NetInterfaceType[] = ["user", "switch"];
/** An interface id, as Firecracker's iface_id: letters, digits, '_' and '-', 1 to 64 of them. */
export const IFACE_ID_PATTERN = DRIVE_ID_PATTERN;
/** Interfaces per VM at most (each is a virtio-mmio slot of the board). */
export const NET_INTERFACES_MAX = 4;
/** User-mode networking's guest network (QEMU's default): a hostfwd guest address must be in it. */
const USER_NET_PREFIX = "10.0.2.";
/** The host's loopback: where hostfwd listens unless given an address (QEMU listens on every address). */
export const HOSTFWD_DEFAULT_ADDR = "127.0.0.1";

/** QEMU's hostfwd=[tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport, as data. */
export interface HostForwardConfig {
  proto: "tcp" | "udp";
  hostAddr: string; hostPort: number;
  /** null: the guest's first DHCP address (10.0.2.15). */
  guestAddr: string | null; guestPort: number;
}

export interface NetInterfaceConfig {
  /** Firecracker's iface_id: unique within the VM; default net0, net1, ... */
  id: string;
  /** user: user-mode NAT (10.0.2.0/24, as QEMU's -netdev user); switch: a port on the VM switch `switch`. */
  type: NetInterfaceType;
  /** The guest's MAC; default derived from the VM's name and the card's index (52:54:00 prefix). */
  mac: string;
  /** user only: ports forwarded from the host. */
  hostfwd: HostForwardConfig[];
  /** user only: restrict=on (the guest reaches only DHCP, DNS, the gateway's echo and the forwards). */
  restrict: boolean;
  /** switch only: the switch's name. */
  switch: string | null;
}

/** A network card as `rvisor list` and `info` show it (virtio-net on virtio-mmio: eth0, eth1, ... in the guest). */
export interface NicSummary { id: string; model: "virtio-net"; mode: NetInterfaceType; mac: string; switch?: string; hostfwd?: string[]; restrict?: boolean }

export function nicSummary(n: NetInterfaceConfig): NicSummary {
  const base = { id: n.id, model: "virtio-net" as const, mode: n.type, mac: n.mac };
  if (n.type === "switch") return { ...base, switch: n.switch ?? "" };
  // QEMU's hostfwd syntax: proto:hostaddr:hostport-guestaddr:guestport (no guest address: the first DHCP address).
  return { ...base, hostfwd: n.hostfwd.map((f) => `${f.proto}:${f.hostAddr}:${f.hostPort}-${f.guestAddr ?? ""}:${f.guestPort}`), restrict: n.restrict };
}

/**
 * The default MAC of card `index` of VM `name`: QEMU's 52:54:00 prefix and 24 bits of FNV-1a
 * over "name#index", so it is stable across runs and differs between VMs (a clone gets its own).
 */
export function vmMac(name: string, index: number): string {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(`${name}#${index}`)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  const tail = [(h >>> 16) & 0xff, (h >>> 8) & 0xff, h & 0xff];
  return ["52", "54", "00", ...tail.map((x) => x.toString(16).padStart(2, "0"))].join(":");
}

export class VmConfigError extends Error {
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`);
  }
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") return `'${v}'`;
  if (typeof v === "object") return "an object";
  return String(v);
}

function checkKeys(o: Obj, field: string, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw new VmConfigError(field === "" ? k : `${field}.${k}`, `unknown field (valid: ${allowed.join(", ")})`);
  }
}

function str(o: Obj, key: string, field: string, dflt?: string): string {
  const v = o[key];
  if (v === undefined && dflt !== undefined) return dflt;
  if (typeof v !== "string") throw new VmConfigError(field, `must be a string (got ${describe(v)})`);
  return v;
}

function bool(o: Obj, key: string, field: string): boolean {
  const v = o[key];
  if (v === undefined) return false;
  if (typeof v !== "boolean") throw new VmConfigError(field, `must be true or false (got ${describe(v)})`);
  return v;
}

function path(o: Obj, key: string, field: string, nullable: true): string | null;
function path(o: Obj, key: string, field: string, nullable: false): string;
function path(o: Obj, key: string, field: string, nullable: boolean): string | null {
  const v = o[key];
  if (nullable && (v === undefined || v === null)) return null;
  const s = str(o, key, field);
  if (s === "") throw new VmConfigError(field, "must not be empty");
  if (s.includes("\0")) throw new VmConfigError(field, "must not contain a NUL byte");
  return s;
}

const SIZE_UNITS: Record<string, number> = { K: 1 / 1024, M: 1, G: 1024 };

/**
 * A size in MiB: a number is MiB (as QEMU's -m and Firecracker's mem_size_mib); a string takes a
 * unit, "512M", "2G", "2GiB", "262144K" (a bare number string is MiB). No range check.
 */
export function parseSizeMib(v: unknown, field: string): number {
  let mib: number;
  if (typeof v === "number") mib = v;
  else if (typeof v === "string") {
    const m = /^\s*(\d+)\s*(?:([KMG])(?:i?B)?)?\s*$/i.exec(v);
    if (m === null) throw new VmConfigError(field, `bad size ${describe(v)} (use e.g. 512M or 2G)`);
    mib = Number(m[1]) * (m[2] === undefined ? 1 : SIZE_UNITS[m[2].toUpperCase()]);
  } else throw new VmConfigError(field, `must be a size such as "512M" or a number of MiB (got ${describe(v)})`);
  if (!Number.isInteger(mib) || mib < 0) throw new VmConfigError(field, `must be a whole number of MiB (got ${describe(v)})`);
  return mib;
}

/** Guest memory: a size (see parseSizeMib) from 16M to 2G. */
export function parseMemoryMib(v: unknown, field = "memory"): number {
  const mib = parseSizeMib(v, field);
  if (mib < MEMORY_MIB_MIN || mib > MEMORY_MIB_MAX) {
    throw new VmConfigError(field, `must be between ${MEMORY_MIB_MIN}M and ${MEMORY_MIB_MAX / 1024}G (got ${describe(v)})`);
  }
  return mib;
}

export function validateName(v: unknown, field = "name"): string {
  if (typeof v !== "string") throw new VmConfigError(field, `must be a string (got ${describe(v)})`);
  if (!NAME_PATTERN.test(v)) {
    throw new VmConfigError(field, `invalid VM name ${describe(v)}: use 1 to 63 letters, digits, '-', '_' or '.', starting with a letter or digit`);
  }
  return v;
}

function intIn(v: unknown, field: string, min: number, max: number, what: string): number {
  const n = typeof v === "string" && /^\s*\d+\s*$/.test(v) ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
    throw new VmConfigError(field, `must be ${what} from ${min} to ${max} (got ${describe(v)})`);
  }
  return n;
}

/** "50", 50 or "50%" → 50. */
export function parseQuotaPercent(v: unknown, field = "cpu.quotaPercent"): number {
  const s = typeof v === "string" ? v.replace(/%\s*$/, "") : v;
  return intIn(s, field, 1, 100, "a percentage");
}

function parseDisk(v: unknown, field: string, index: number): DiskConfig {
  if (typeof v === "string") v = { path: v };
  if (!isObj(v)) throw new VmConfigError(field, `must be an object {id, path, format, readonly} (got ${describe(v)})`);
  checkKeys(v, field, ["id", "path", "format", "readonly"]);
  const id = str(v, "id", `${field}.id`, `disk${index}`);
  if (!DRIVE_ID_PATTERN.test(id)) throw new VmConfigError(`${field}.id`, `invalid drive id ${describe(id)}: use 1 to 64 letters, digits, '_' or '-'`);
  const format = str(v, "format", `${field}.format`, "raw");
  if (!(DISK_FORMATS as readonly string[]).includes(format)) {
    throw new VmConfigError(`${field}.format`, `unknown disk format '${format}' (valid: ${DISK_FORMATS.join(", ")})`);
  }
  return { id, path: path(v, "path", `${field}.path`, false), format: format as DiskFormat, readonly: bool(v, "readonly", `${field}.readonly`) };
}

function parseShare(v: unknown, field: string, index: number): ShareConfig {
  if (typeof v === "string") v = { path: v };
  if (!isObj(v)) throw new VmConfigError(field, `must be an object {path, tag, readonly} (got ${describe(v)})`);
  checkKeys(v, field, ["path", "tag", "readonly"]);
  const tag = str(v, "tag", `${field}.tag`, `host${index}`);
  const bytes = new TextEncoder().encode(tag).length;
  if (bytes === 0 || bytes > TAG_MAX_BYTES) throw new VmConfigError(`${field}.tag`, `must be 1 to ${TAG_MAX_BYTES} bytes`);
  return { path: path(v, "path", `${field}.path`, false), tag, readonly: bool(v, "readonly", `${field}.readonly`) };
}

const MAC_PATTERN = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/i;
const IPV4_PATTERN = /^(25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

function portNumber(v: unknown, field: string): number { return intIn(v, field, 1, 0xffff, "a port number"); }

function parseHostForwardConfig(v: unknown, field: string): HostForwardConfig {
  if (!isObj(v)) throw new VmConfigError(field, `must be an object {proto, hostAddr, hostPort, guestAddr, guestPort} (got ${describe(v)})`);
  checkKeys(v, field, ["proto", "hostAddr", "hostPort", "guestAddr", "guestPort"]);
  const proto = str(v, "proto", `${field}.proto`, "tcp");
  if (proto !== "tcp" && proto !== "udp") throw new VmConfigError(`${field}.proto`, `must be tcp or udp (got '${proto}')`);
  const hostAddr = str(v, "hostAddr", `${field}.hostAddr`, HOSTFWD_DEFAULT_ADDR);
  if (!IPV4_PATTERN.test(hostAddr)) throw new VmConfigError(`${field}.hostAddr`, `must be an IPv4 address (got '${hostAddr}')`);
  const guestAddr = v.guestAddr === undefined || v.guestAddr === null ? null : str(v, "guestAddr", `${field}.guestAddr`);
  if (guestAddr !== null && (!IPV4_PATTERN.test(guestAddr) || !guestAddr.startsWith(USER_NET_PREFIX))) {
    throw new VmConfigError(`${field}.guestAddr`, `must be an address of the guest network 10.0.2.0/24 (got '${guestAddr}')`);
  }
  return { proto, hostAddr, hostPort: portNumber(v.hostPort, `${field}.hostPort`), guestAddr, guestPort: portNumber(v.guestPort, `${field}.guestPort`) };
}

function parseNetInterface(v: unknown, field: string, index: number, vm: string): NetInterfaceConfig {
  if (!isObj(v)) throw new VmConfigError(field, `must be an object {id, type, mac, hostfwd, restrict, switch} (got ${describe(v)})`);
  checkKeys(v, field, ["id", "type", "mac", "hostfwd", "restrict", "switch"]);
  const id = str(v, "id", `${field}.id`, `net${index}`);
  if (!IFACE_ID_PATTERN.test(id)) throw new VmConfigError(`${field}.id`, `invalid interface id ${describe(id)}: use 1 to 64 letters, digits, '_' or '-'`);
  const type = str(v, "type", `${field}.type`, v.switch !== undefined && v.switch !== null ? "switch" : "user");
  if (!(NET_INTERFACE_TYPES as readonly string[]).includes(type)) throw new VmConfigError(`${field}.type`, `unknown interface type '${type}' (valid: ${NET_INTERFACE_TYPES.join(", ")})`);
  const mac = (v.mac === undefined || v.mac === null ? vmMac(vm, index) : str(v, "mac", `${field}.mac`)).toLowerCase();
  if (!MAC_PATTERN.test(mac) || (parseInt(mac.slice(0, 2), 16) & 1) !== 0 || mac === "00:00:00:00:00:00") {
    throw new VmConfigError(`${field}.mac`, `must be a unicast MAC address such as 52:54:00:12:34:56 (got ${describe(v.mac)})`);
  }
  const hostfwd = list(v, "hostfwd", (x, f) => parseHostForwardConfig(x, `${field}.${f}`));
  const restrict = bool(v, "restrict", `${field}.restrict`);
  if (type === "user") {
    if (v.switch !== undefined && v.switch !== null) throw new VmConfigError(`${field}.switch`, "only a switch interface names a switch");
    return { id, type: "user", mac, hostfwd, restrict, switch: null };
  }
  const sw = str(v, "switch", `${field}.switch`);
  if (!SWITCH_NAME_PATTERN.test(sw)) throw new VmConfigError(`${field}.switch`, `invalid switch name ${describe(sw)}: use 1 to 63 letters, digits, '-', '_' or '.', starting with a letter or digit`);
  if (hostfwd.length > 0) throw new VmConfigError(`${field}.hostfwd`, "port forwards are for user-mode interfaces (type user)");
  if (restrict) throw new VmConfigError(`${field}.restrict`, "restrict is for user-mode interfaces (type user)");
  return { id, type: "switch", mac, hostfwd, restrict, switch: sw };
}

/** The interfaces of VM `vm`: absent means one user-mode card (the default for a managed VM), [] none. */
export function parseNetwork(v: unknown, vm: string): NetInterfaceConfig[] {
  const network = v === undefined ? [{}] : v;
  const nics = list({ network }, "network", (x, f, i) => parseNetInterface(x, f, i, vm));
  if (nics.length > NET_INTERFACES_MAX) throw new VmConfigError("network", `at most ${NET_INTERFACES_MAX} interfaces (got ${nics.length})`);
  const ids = new Set<string>(), macs = new Set<string>(), fwd = new Set<string>();
  nics.forEach((n, i) => {
    if (ids.has(n.id)) throw new VmConfigError(`network[${i}].id`, `interface id '${n.id}' is used twice`);
    if (macs.has(n.mac)) throw new VmConfigError(`network[${i}].mac`, `MAC ${n.mac} is used twice`);
    ids.add(n.id); macs.add(n.mac);
    n.hostfwd.forEach((f, j) => {
      const k = `${f.proto}:${f.hostAddr}:${f.hostPort}`;
      if (fwd.has(k)) throw new VmConfigError(`network[${i}].hostfwd[${j}]`, `host port ${k} is forwarded twice`);
      fwd.add(k);
    });
  });
  return nics;
}

function list<T>(o: Obj, key: string, each: (v: unknown, field: string, i: number) => T): T[] {
  const v = o[key];
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new VmConfigError(key, `must be an array (got ${describe(v)})`);
  return v.map((x, i) => each(x, `${key}[${i}]`, i));
}

/**
 * Validates and completes a VM definition. Accepts the stored shape (version, memoryMib) and
 * the friendlier input shape (`memory: "512M"`, a disk or share as a bare path string); fields
 * left out take their defaults. Throws VmConfigError naming the first bad field.
 */
export function parseVmConfig(input: unknown): VmConfig {
  if (!isObj(input)) throw new VmConfigError("config", `must be an object (got ${describe(input)})`);
  checkKeys(input, "", ["version", "name", "cpus", "memory", "memoryMib", "cpu", "boot", "disks", "shares", "network"]);
  if (input.version !== undefined && input.version !== VM_CONFIG_VERSION) {
    throw new VmConfigError("version", `unsupported config version ${describe(input.version)} (this rvisor reads version ${VM_CONFIG_VERSION})`);
  }
  const name = validateName(input.name);
  const cpus = input.cpus === undefined ? DEFAULT_CPUS : intIn(input.cpus, "cpus", CPUS_MIN, CPUS_MAX, "an integer");
  if (input.memory !== undefined && input.memoryMib !== undefined) throw new VmConfigError("memory", "give memory or memoryMib, not both");
  const memoryMib = input.memoryMib !== undefined ? parseMemoryMib(input.memoryMib, "memoryMib")
    : input.memory !== undefined ? parseMemoryMib(input.memory) : DEFAULT_MEMORY_MIB;

  const cpuIn = input.cpu === undefined ? {} : input.cpu;
  if (!isObj(cpuIn)) throw new VmConfigError("cpu", `must be an object {profile, quotaPercent} (got ${describe(cpuIn)})`);
  checkKeys(cpuIn, "cpu", ["profile", "quotaPercent"]);
  const profile = str(cpuIn, "profile", "cpu.profile", DEFAULT_PROFILE);
  if (!Object.hasOwn(PROFILES, profile)) {
    throw new VmConfigError("cpu.profile", `unknown CPU profile '${profile}' (valid: ${Object.keys(PROFILES).join(", ")})`);
  }
  const quotaPercent = cpuIn.quotaPercent === undefined ? 100 : parseQuotaPercent(cpuIn.quotaPercent);

  const bootIn = input.boot === undefined ? {} : input.boot;
  if (!isObj(bootIn)) throw new VmConfigError("boot", `must be an object {firmware, kernel, initrd, cmdline} (got ${describe(bootIn)})`);
  checkKeys(bootIn, "boot", ["firmware", "kernel", "initrd", "cmdline"]);
  const boot: BootConfig = {
    firmware: bootIn.firmware === undefined || bootIn.firmware === null ? "builtin" : path(bootIn, "firmware", "boot.firmware", false),
    kernel: path(bootIn, "kernel", "boot.kernel", true),
    initrd: path(bootIn, "initrd", "boot.initrd", true),
    cmdline: bootIn.cmdline === undefined || bootIn.cmdline === null ? DEFAULT_CMDLINE : str(bootIn, "cmdline", "boot.cmdline"),
  };
  if (boot.firmware === "none" && boot.kernel === null) throw new VmConfigError("boot.kernel", "firmware 'none' (bare metal) needs a kernel");
  if (boot.kernel === null && boot.initrd !== null) throw new VmConfigError("boot.initrd", "an initrd needs a kernel (the default image brings its own)");

  const disks = list(input, "disks", (v, f, i) => parseDisk(v, f, i));
  const seen = new Set<string>(), ids = new Set<string>();
  disks.forEach((d, i) => {
    if (seen.has(d.path)) throw new VmConfigError(`disks[${i}].path`, `'${d.path}' is already disk ${[...seen].indexOf(d.path)}`);
    if (ids.has(d.id)) throw new VmConfigError(`disks[${i}].id`, `drive id '${d.id}' is used twice`);
    seen.add(d.path);
    ids.add(d.id);
  });
  const shares = list(input, "shares", (v, f, i) => parseShare(v, f, i));
  const tags = new Set<string>();
  shares.forEach((s, i) => {
    if (tags.has(s.tag)) throw new VmConfigError(`shares[${i}].tag`, `tag '${s.tag}' is used twice`);
    tags.add(s.tag);
  });
  const network = parseNetwork(input.network, name);

  return { version: VM_CONFIG_VERSION, name, cpus, memoryMib, cpu: { profile: profile as CpuProfile, quotaPercent }, boot, disks, shares, network };
}

/** "256M", "2G" for a size in MiB (as list/info print it). */
export function formatMib(mib: number): string {
  return mib % 1024 === 0 ? `${mib / 1024}G` : `${mib}M`;
}
