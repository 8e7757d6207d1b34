// Firecracker's resource shapes (machine-config, boot-source, drives) as views of a VmConfig and
// as changes to one. Pure functions: the REST handlers hand the result to Hypervisor.update, which
// validates the whole new definition (parseVmConfig) before anything is written.
import {
  DEFAULT_CMDLINE, VmConfigError, parseNetwork, type DiskConfig, type DiskFormat, type HostForwardConfig, type NetInterfaceConfig,
  type NetInterfaceType, type VmConfig,
} from "../hypervisor/config.js";
import { HypervisorError } from "../hypervisor/api.js";
import { DEFAULT_PROFILE } from "../cpu/isa.js";

/** The CPU quota of a VM that sets none: the whole of one host core. */
const QUOTA_UNLIMITED = 100;

export interface MachineConfiguration {
  vcpu_count: number;
  mem_size_mib: number;
  smt?: boolean;
  cpu_profile?: string;
  cpu_quota_percent?: number;
}

export interface BootSource {
  kernel_image_path: string | null;
  initrd_path?: string | null;
  boot_args?: string | null;
  firmware?: string;
}

export interface Drive {
  drive_id: string;
  path_on_host: string;
  is_read_only?: boolean;
  is_root_device?: boolean;
  format?: DiskFormat;
}

export type PartialDrive = Partial<Omit<Drive, "drive_id" | "is_root_device">> & { drive_id: string };

/**
 * Firecracker's NetworkInterface {iface_id, guest_mac, host_dev_name}. rvisor's cards need no host
 * device: `type` (rvisor) picks user-mode networking or a VM switch, with its options beside it.
 */
export interface NetworkInterface {
  iface_id: string;
  guest_mac?: string;
  host_dev_name?: string;
  type?: NetInterfaceType;
  switch?: string | null;
  hostfwd?: Partial<HostForwardConfig>[];
  restrict?: boolean;
}

export interface FullVmConfiguration {
  "machine-config": Required<MachineConfiguration>;
  "boot-source": Required<BootSource>;
  drives: Required<Drive>[];
  "network-interfaces": Required<Omit<NetworkInterface, "host_dev_name">>[];
}

export function machineConfigOf(c: VmConfig): Required<MachineConfiguration> {
  return { vcpu_count: c.cpus, mem_size_mib: c.memoryMib, smt: false, cpu_profile: c.cpu.profile, cpu_quota_percent: c.cpu.quotaPercent };
}

/**
 * The definition with a machine configuration applied: PUT (`replace`) sets every field, the
 * optional ones left out to their defaults; PATCH changes only the fields given.
 */
export function withMachineConfig(c: VmConfig, m: Partial<MachineConfiguration>, replace: boolean): VmConfig {
  // A RISC-V hart is one hardware thread; there is nothing for SMT to turn on.
  if (m.smt === true) throw new VmConfigError("smt", "simultaneous multithreading is not supported (each vCPU is one hart)");
  const profile = m.cpu_profile ?? (replace ? DEFAULT_PROFILE : c.cpu.profile);
  const quotaPercent = m.cpu_quota_percent ?? (replace ? QUOTA_UNLIMITED : c.cpu.quotaPercent);
  return {
    ...c, cpus: m.vcpu_count ?? c.cpus, memoryMib: m.mem_size_mib ?? c.memoryMib,
    cpu: { profile: profile as VmConfig["cpu"]["profile"], quotaPercent },
  };
}

export function bootSourceOf(c: VmConfig): Required<BootSource> {
  return { kernel_image_path: c.boot.kernel, initrd_path: c.boot.initrd, boot_args: c.boot.cmdline, firmware: c.boot.firmware };
}

/** PUT boot-source: every field set, those left out to their defaults (no initrd, console=ttyS0, the built-in SBI). */
export function withBootSource(c: VmConfig, b: BootSource): VmConfig {
  return {
    ...c,
    boot: { kernel: b.kernel_image_path, initrd: b.initrd_path ?? null, cmdline: b.boot_args ?? DEFAULT_CMDLINE, firmware: b.firmware ?? "builtin" },
  };
}

export function driveOf(d: DiskConfig): Required<Drive> {
  return { drive_id: d.id, path_on_host: d.path, is_read_only: d.readonly, is_root_device: false, format: d.format };
}

export function findDrive(c: VmConfig, id: string): DiskConfig {
  const d = c.disks.find((x) => x.id === id);
  if (d === undefined) throw new HypervisorError("not_found", `VM '${c.name}' has no drive '${id}'`);
  return d;
}

function sameId(pathId: string, bodyId: string, field = "drive_id"): void {
  if (pathId !== bodyId) throw new VmConfigError(field, `the body's ${field} '${bodyId}' differs from the path's '${pathId}'`);
}

export function networkInterfaceOf(n: NetInterfaceConfig): Required<Omit<NetworkInterface, "host_dev_name">> {
  return { iface_id: n.id, guest_mac: n.mac, type: n.type, switch: n.switch, hostfwd: n.hostfwd, restrict: n.restrict };
}

/**
 * PUT network-interfaces/{id}: replaces the card of that id in place or appends a new one (its
 * MAC, when not given, derived from the VM's name and the card's index). Validated as a whole.
 */
export function withNetworkInterface(c: VmConfig, id: string, n: NetworkInterface): VmConfig {
  sameId(id, n.iface_id, "iface_id");
  if (n.host_dev_name !== undefined) {
    throw new VmConfigError("host_dev_name", "not supported: rvisor's cards need no host TAP device; set type user (user-mode NAT) or switch (with switch: NAME)");
  }
  const entry = { id, type: n.type, mac: n.guest_mac, switch: n.switch, hostfwd: n.hostfwd, restrict: n.restrict };
  const i = c.network.findIndex((x) => x.id === id);
  const raw: unknown[] = i < 0 ? [...c.network, entry] : c.network.map((x, j) => j === i ? entry : x);
  return { ...c, network: parseNetwork(raw, c.name) };
}

export function withoutNetworkInterface(c: VmConfig, id: string): VmConfig {
  if (!c.network.some((x) => x.id === id)) throw new HypervisorError("not_found", `VM '${c.name}' has no network interface '${id}'`);
  return { ...c, network: c.network.filter((x) => x.id !== id) };
}

/** PUT drives/{id}: replaces the drive of that id in place, or appends a new one. */
export function withDrive(c: VmConfig, id: string, d: Drive): VmConfig {
  sameId(id, d.drive_id);
  if (d.is_root_device === true) {
    throw new VmConfigError("is_root_device", "not supported: rvisor's guest boots from its initramfs; to boot from this drive, name it in boot_args (root=/dev/vda)");
  }
  const disk: DiskConfig = { id, path: d.path_on_host, format: d.format ?? "raw", readonly: d.is_read_only ?? false };
  const i = c.disks.findIndex((x) => x.id === id);
  return { ...c, disks: i < 0 ? [...c.disks, disk] : c.disks.map((x, j) => j === i ? disk : x) };
}

/** PATCH drives/{id}: changes the fields given of an existing drive. */
export function withDrivePatch(c: VmConfig, id: string, p: PartialDrive): VmConfig {
  sameId(id, p.drive_id);
  const old = findDrive(c, id);
  const disk: DiskConfig = { id, path: p.path_on_host ?? old.path, format: p.format ?? old.format, readonly: p.is_read_only ?? old.readonly };
  return { ...c, disks: c.disks.map((x) => x.id === id ? disk : x) };
}

export function withoutDrive(c: VmConfig, id: string): VmConfig {
  findDrive(c, id);
  return { ...c, disks: c.disks.filter((x) => x.id !== id) };
}

export function fullConfigOf(c: VmConfig): FullVmConfiguration {
  return { "machine-config": machineConfigOf(c), "boot-source": bootSourceOf(c), drives: c.disks.map(driveOf), "network-interfaces": c.network.map(networkInterfaceOf) };
}
