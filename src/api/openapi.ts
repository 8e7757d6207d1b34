// The REST API's contract: an OpenAPI 3.1 document (served at /v1/openapi.json) built from one
// table of operations and the JSON Schemas of their bodies. The server validates every request
// body against these schemas (ajv) before it acts, and the tests validate every response against
// them, so the document cannot drift from what the server does.
//
// Shapes follow Firecracker's API (src/firecracker/swagger/firecracker.yaml) where the two do the
// same thing — machine-config, boot-source, drives/{drive_id}, actions, PATCH vm {state}, errors
// as {"fault_message": ...} — under a collection /v1/vms/{name}, since one rvisor serves many VMs
// where Firecracker serves one per process. The collection's bodies are rvisor's VmConfig.
import {
  CPUS_MAX, CPUS_MIN, DISK_FORMATS, DRIVE_ID_PATTERN, IFACE_ID_PATTERN, MEMORY_MIB_MAX, MEMORY_MIB_MIN, NAME_PATTERN, NET_INTERFACES_MAX,
  NET_INTERFACE_TYPES,
} from "../hypervisor/config.js";
import { SWITCH_NAME_PATTERN } from "../net/switch.js";
import { PROFILES } from "../cpu/isa.js";

export type JsonSchema = { [key: string]: unknown };

/** The size of a terminal, as the console WebSocket's resize message gives it (TIOCSWINSZ's u16 fields). */
export const WINSIZE_MAX = 0xffff;

/** A $ref to a component schema (ajv refuses to compile a $ref that resolves to nothing). */
const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
/** A schema that also admits null: a union type where the schema has a type, else oneOf (for a $ref). */
const nullable = (s: JsonSchema): JsonSchema => typeof s.type === "string" ? { ...s, type: [s.type, "null"] } : { oneOf: [s, { type: "null" }] };
const firmware: JsonSchema = { type: "string", pattern: "^(?:builtin|none|/.+)$", description: "builtin (rvisor's SBI, the default), none (bare metal in M-mode), or an absolute firmware path" };
const absPath: JsonSchema = { type: "string", pattern: "^/", minLength: 1, description: "an absolute host path" };
const obj = (properties: Record<string, JsonSchema>, required: string[] = [], extra: JsonSchema = {}): JsonSchema =>
  ({ type: "object", properties, required, additionalProperties: false, ...extra });

const snapshotName: JsonSchema = { type: "string", pattern: NAME_PATTERN.source, description: "a snapshot name: as a VM name" };
const vmName: JsonSchema = { type: "string", pattern: NAME_PATTERN.source, description: "1 to 63 letters, digits, '-', '_' or '.', starting with a letter or digit" };
const driveId: JsonSchema = { type: "string", pattern: DRIVE_ID_PATTERN.source };
const cpuCount: JsonSchema = { type: "integer", minimum: CPUS_MIN, maximum: CPUS_MAX };
const memMib: JsonSchema = { type: "integer", minimum: MEMORY_MIB_MIN, maximum: MEMORY_MIB_MAX };
const profile: JsonSchema = { type: "string", enum: Object.keys(PROFILES) };
const quota: JsonSchema = { type: "integer", minimum: 1, maximum: 100, description: "share of one host core, percent" };
const format: JsonSchema = { type: "string", enum: [...DISK_FORMATS] };
const ifaceId: JsonSchema = { type: "string", pattern: IFACE_ID_PATTERN.source };
const macAddr: JsonSchema = { type: "string", pattern: "^[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}$", description: "a unicast MAC address, 52:54:00:12:34:56" };
const switchName: JsonSchema = { type: "string", pattern: SWITCH_NAME_PATTERN.source, description: "a VM switch's name: VMs on one switch reach each other" };
const port: JsonSchema = { type: "integer", minimum: 1, maximum: 0xffff };
const hostForward = (required: string[]): JsonSchema => obj({
  proto: { type: "string", enum: ["tcp", "udp"] }, hostAddr: { type: "string", description: "IPv4 address to listen on (default 127.0.0.1)" }, hostPort: port,
  guestAddr: nullable({ type: "string", description: "in 10.0.2.0/24; null: the guest's DHCP address 10.0.2.15" }), guestPort: port,
}, required, { description: "QEMU's hostfwd=[tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport" });
const netInterface = (required: string[]): JsonSchema => obj({
  id: ifaceId, type: { type: "string", enum: [...NET_INTERFACE_TYPES] }, mac: macAddr,
  hostfwd: { type: "array", items: hostForward(required.length > 0 ? ["proto", "hostAddr", "hostPort", "guestAddr", "guestPort"] : ["hostPort", "guestPort"]) },
  restrict: { type: "boolean" }, switch: nullable(switchName),
}, required);
const crashReason: JsonSchema = { type: "string", description: "why it crashed (state \"crashed\" only)" };
const vmState: JsonSchema = { type: "string", enum: ["running", "paused", "shut off", "crashed"] };

export const SCHEMAS = {
  Error: obj({ fault_message: { type: "string" } }, ["fault_message"]),
  VmConfigInput: obj({
    name: vmName,
    cpus: cpuCount,
    memory: { oneOf: [{ type: "string", pattern: "^\\s*\\d+\\s*(?:[KMGkmg](?:i?[Bb])?)?\\s*$" }, { type: "integer", minimum: 0 }], description: "\"512M\", \"2G\", or MiB" },
    memoryMib: memMib,
    cpu: obj({ profile, quotaPercent: quota }),
    boot: obj({ firmware: nullable(firmware), kernel: nullable(absPath), initrd: nullable(absPath), cmdline: nullable({ type: "string" }) }),
    disks: { type: "array", items: obj({ id: driveId, path: absPath, format, readonly: { type: "boolean" } }, ["path"]) },
    shares: { type: "array", items: obj({ path: absPath, tag: { type: "string", minLength: 1 }, readonly: { type: "boolean" } }, ["path"]) },
    network: { type: "array", maxItems: NET_INTERFACES_MAX, items: netInterface([]), description: "left out: one user-mode interface; []: none" },
  }, ["name"], { description: "A VM definition; fields left out take their defaults (1 vCPU, 256 MiB, rvisor's guest image)." }),
  VmConfig: obj({
    version: { type: "integer", const: 1 },
    name: vmName, cpus: cpuCount, memoryMib: memMib,
    cpu: obj({ profile, quotaPercent: quota }, ["profile", "quotaPercent"]),
    boot: obj({ firmware: { type: "string" }, kernel: nullable({ type: "string" }), initrd: nullable({ type: "string" }), cmdline: { type: "string" } },
      ["firmware", "kernel", "initrd", "cmdline"]),
    disks: { type: "array", items: obj({ id: driveId, path: { type: "string" }, format, readonly: { type: "boolean" } }, ["id", "path", "format", "readonly"]) },
    shares: { type: "array", items: obj({ path: { type: "string" }, tag: { type: "string" }, readonly: { type: "boolean" } }, ["path", "tag", "readonly"]) },
    network: { type: "array", maxItems: NET_INTERFACES_MAX, items: netInterface(["id", "type", "mac", "hostfwd", "restrict", "switch"]) },
  }, ["version", "name", "cpus", "memoryMib", "cpu", "boot", "disks", "shares", "network"]),
  VmSummary: obj({ name: vmName, state: vmState, cpus: cpuCount, memoryMib: memMib, pid: nullable({ type: "integer" }), crash: crashReason }, ["name", "state", "cpus", "memoryMib", "pid"]),
  VmList: { type: "array", items: ref("VmSummary") },
  VmStatus: obj({
    state: { type: "string", enum: ["running", "paused"] }, pid: { type: "integer" }, cpus: { type: "integer" }, memoryMib: { type: "integer" },
    executed: { type: "number", description: "instructions retired since start" }, guestMs: { type: "number", description: "guest run time, pauses excluded" },
  }, ["state", "pid", "cpus", "memoryMib", "executed", "guestMs"]),
  VmExit: obj({ reason: { type: "string", enum: ["poweroff", "stop", "halted", "error"] }, code: { type: "integer" }, at: { type: "string" }, message: { type: "string" } }, ["reason", "code", "at"]),
  VmInfo: obj({
    name: vmName, state: vmState, pid: nullable({ type: "integer" }), status: nullable(ref("VmStatus")), config: ref("VmConfig"),
    lastExit: nullable(ref("VmExit")), crash: crashReason, consoleLog: { type: "string" },
    snapshots: { type: "array", items: { type: "string" }, description: "its snapshots' names, oldest first" },
    restoreFrom: nullable({ type: "string", description: "the snapshot the next start continues from" }),
  }, ["name", "state", "pid", "status", "config", "lastExit", "consoleLog", "snapshots", "restoreFrom"]),
  MachineConfiguration: obj({
    vcpu_count: cpuCount, mem_size_mib: memMib,
    smt: { type: "boolean", description: "simultaneous multithreading: always false (a RISC-V hart is one thread)" },
    cpu_profile: { ...profile, description: "rvisor: the harts' ISA profile" },
    cpu_quota_percent: { ...quota, description: "rvisor: the VM's share of one host core" },
  }, ["vcpu_count", "mem_size_mib"], { description: "Firecracker's MachineConfiguration; cpu_profile and cpu_quota_percent are rvisor's." }),
  MachineConfigurationPatch: obj({ vcpu_count: cpuCount, mem_size_mib: memMib, smt: { type: "boolean" }, cpu_profile: profile, cpu_quota_percent: quota }, [], { minProperties: 1 }),
  BootSource: obj({
    kernel_image_path: nullable(absPath), initrd_path: nullable(absPath), boot_args: nullable({ type: "string" }),
    firmware: { ...firmware, description: `rvisor: ${String(firmware.description)}` },
  }, ["kernel_image_path"], { description: "Firecracker's BootSource. kernel_image_path null boots rvisor's own guest image." }),
  Drive: obj({
    drive_id: driveId, path_on_host: absPath, is_read_only: { type: "boolean" },
    is_root_device: { type: "boolean", description: "always false: rvisor's guest boots from its initramfs (name a root in boot_args)" },
    format: { ...format, description: "rvisor: the image format (default raw)" },
  }, ["drive_id", "path_on_host"], { description: "Firecracker's Drive, as a virtio-blk disk." }),
  DriveList: { type: "array", items: ref("Drive") },
  NetworkInterface: obj({
    iface_id: ifaceId, guest_mac: { ...macAddr, description: "default: derived from the VM's name and the card's index (52:54:00 prefix)" },
    host_dev_name: { type: "string", description: "Firecracker's TAP device: refused, rvisor's cards need none (see type)" },
    type: { type: "string", enum: [...NET_INTERFACE_TYPES], description: "rvisor: user (user-mode NAT, 10.0.2.0/24, the default) or switch (a port on the VM switch named by switch)" },
    switch: nullable(switchName),
    hostfwd: { type: "array", items: hostForward(["hostPort", "guestPort"]), description: "rvisor, type user: ports forwarded from the host" },
    restrict: { type: "boolean", description: "rvisor, type user: the guest reaches only DHCP, DNS, the gateway's echo and the forwards" },
  }, ["iface_id"], { description: "Firecracker's NetworkInterface, as a virtio-net card" }),
  NetworkInterfaceInfo: obj({
    iface_id: ifaceId, guest_mac: macAddr, type: { type: "string", enum: [...NET_INTERFACE_TYPES] }, switch: nullable(switchName),
    hostfwd: { type: "array", items: hostForward(["proto", "hostAddr", "hostPort", "guestAddr", "guestPort"]) }, restrict: { type: "boolean" },
  }, ["iface_id", "guest_mac", "type", "switch", "hostfwd", "restrict"]),
  NetworkInterfaceList: { type: "array", items: ref("NetworkInterfaceInfo") },
  PartialDrive: obj({ drive_id: driveId, path_on_host: absPath, is_read_only: { type: "boolean" }, format }, ["drive_id"]),
  SnapshotDisk: obj({
    index: { type: "integer", minimum: 0 }, path: { type: "string" }, format, readonly: { type: "boolean" },
    chain: { type: "array", items: { type: "string" }, description: "the image and its backing files, top first" },
  }, ["index", "path", "format", "readonly", "chain"]),
  SnapshotInfo: obj({
    version: { type: "integer" }, name: snapshotName, vm: vmName, createdAt: { type: "string" }, state: { type: "string", enum: ["running", "paused"] },
    machineFile: { type: "string" }, machineBytes: { type: "integer" }, ramPages: { type: "integer" }, pauseMs: { type: "number" },
    disks: { type: "array", items: ref("SnapshotDisk") },
  }, ["version", "name", "vm", "createdAt", "state", "machineFile", "machineBytes", "ramPages", "pauseMs", "disks"],
  { description: "rvisor: a snapshot of a managed VM (machine state + the disks frozen in the same pause)" }),
  SnapshotList: {
    type: "array",
    items: obj({ name: snapshotName, snapshot: nullable(ref("SnapshotInfo")), error: nullable({ type: "string" }) }, ["name", "snapshot", "error"],
      { description: "a snapshot, or why its record cannot be read (snapshot null)" }),
  },
  SnapshotCreateParams: obj({ snapshot_name: snapshotName }, [], { description: "rvisor: snapshot_name defaults to snap-YYYYMMDD-HHMMSS (UTC)" }),
  SnapshotLoadParams: obj({
    snapshot_name: snapshotName,
    resume_vm: { type: "boolean", description: "true: running after the load, false: paused; absent: the state the snapshot was taken in" },
  }, ["snapshot_name"], { description: "rvisor: the VM (running or not) is restarted from the snapshot, its disks back at the snapshot's point" }),
  CloneParams: obj({ name: vmName, snapshot_name: snapshotName }, ["name"],
    { description: "rvisor: the new VM gets copy-on-write overlays on the source's disks (the source shut off) or on a snapshot's, and then starts from that snapshot" }),
  InstanceActionInfo: obj({
    action_type: {
      type: "string", enum: ["InstanceStart", "SendCtrlAltDel", "InstanceStop", "InstanceKill"],
      description: "InstanceStart boots the VM in its own process; SendCtrlAltDel presses the board's power button and returns at once " +
        "(rvisor's guest image powers off; as in Firecracker the guest decides); InstanceStop (rvisor) is the graceful stop: the power " +
        "button, then after timeout_s (default 30) the host stops the harts and flushes the disks; InstanceKill (rvisor) kills its process at once",
    },
    timeout_s: { type: "integer", minimum: 0, maximum: 3600, description: "rvisor, InstanceStop only: seconds the guest has to power off (0: the host stops it at once)" },
  }, ["action_type"]),
  Vm: obj({ state: { type: "string", enum: ["Paused", "Resumed"] } }, ["state"]),
  FullVmConfiguration: obj({ "machine-config": ref("MachineConfiguration"), "boot-source": ref("BootSource"), drives: ref("DriveList"), "network-interfaces": ref("NetworkInterfaceList") },
    ["machine-config", "boot-source", "drives", "network-interfaces"]),
  ConsoleControl: obj({ type: { type: "string", const: "resize" }, cols: { type: "integer", minimum: 1, maximum: WINSIZE_MAX }, rows: { type: "integer", minimum: 1, maximum: WINSIZE_MAX } },
    ["type", "cols", "rows"], { description: "A text frame on the console WebSocket. The serial console has no window size, so a valid resize is accepted and has no effect." }),
  ConsoleTicket: obj({
    ticket: { type: "string", pattern: "^[0-9a-f]{64}$", description: "pass it as ?ticket= on the console WebSocket's URL" },
    expires_in_s: { type: "integer", minimum: 1, description: "seconds the ticket stays good" },
  }, ["ticket", "expires_in_s"], { description: "rvisor: a single-use ticket that opens one VM's console WebSocket without an Authorization header (browsers cannot send one on a WebSocket)" }),
  ConsoleError: obj({ type: { type: "string", const: "error" }, fault_message: { type: "string" } }, ["type", "fault_message"],
    { description: "What the server sends as a text frame when a client's text frame is not a valid control message (the connection stays open)." }),
} satisfies Record<string, JsonSchema>;

export type SchemaName = keyof typeof SCHEMAS;

export type Method = "GET" | "PUT" | "PATCH" | "POST" | "DELETE";

export interface QueryParam { name: string; type: "boolean" | "integer" | "string"; description: string }

/** A response: a JSON body of a schema, no body (204), plain text, bytes (a file), or a WebSocket upgrade (101). */
export type ResponseSpec = { status: number; description: string } & ({ schema: SchemaName } | { text: true } | { binary: true } | { empty: true });

export interface Operation {
  operationId: string;
  method: Method;
  /** With {name} and {drive_id} path parameters. */
  path: string;
  summary: string;
  body?: SchemaName;
  query?: QueryParam[];
  responses: ResponseSpec[];
}

const noContent = (description: string): ResponseSpec => ({ status: 204, description, empty: true });

export const OPERATIONS = [
  { operationId: "getOpenApi", method: "GET", path: "/v1/openapi.json", summary: "This document", responses: [{ status: 200, description: "the OpenAPI document", text: true }] },
  { operationId: "listVms", method: "GET", path: "/v1/vms", summary: "Every defined VM, sorted by name", responses: [{ status: 200, description: "the VMs", schema: "VmList" }] },
  { operationId: "createVm", method: "POST", path: "/v1/vms", summary: "Define a VM", body: "VmConfigInput",
    responses: [{ status: 201, description: "created (Location: /v1/vms/{name})", schema: "VmInfo" }] },
  { operationId: "getVm", method: "GET", path: "/v1/vms/{name}", summary: "A VM's definition and state", responses: [{ status: 200, description: "the VM", schema: "VmInfo" }] },
  { operationId: "deleteVm", method: "DELETE", path: "/v1/vms/{name}", summary: "Delete a VM (refused while it runs unless force=true, which kills it first)",
    query: [{ name: "force", type: "boolean", description: "kill a running or paused VM first" }], responses: [noContent("deleted")] },
  { operationId: "getMachineConfiguration", method: "GET", path: "/v1/vms/{name}/machine-config", summary: "vCPUs and memory", responses: [{ status: 200, description: "the machine configuration", schema: "MachineConfiguration" }] },
  { operationId: "putMachineConfiguration", method: "PUT", path: "/v1/vms/{name}/machine-config", summary: "Set vCPUs and memory (the VM must be shut off)", body: "MachineConfiguration",
    responses: [noContent("updated; unset optional fields return to their defaults")] },
  { operationId: "patchMachineConfiguration", method: "PATCH", path: "/v1/vms/{name}/machine-config", summary: "Change some of vCPUs and memory (the VM must be shut off)", body: "MachineConfigurationPatch",
    responses: [noContent("updated")] },
  { operationId: "getBootSource", method: "GET", path: "/v1/vms/{name}/boot-source", summary: "What the VM boots", responses: [{ status: 200, description: "the boot source", schema: "BootSource" }] },
  { operationId: "putBootSource", method: "PUT", path: "/v1/vms/{name}/boot-source", summary: "Set what the VM boots (the VM must be shut off)", body: "BootSource",
    responses: [noContent("updated; unset optional fields return to their defaults")] },
  { operationId: "listDrives", method: "GET", path: "/v1/vms/{name}/drives", summary: "The VM's drives", responses: [{ status: 200, description: "the drives", schema: "DriveList" }] },
  { operationId: "getDrive", method: "GET", path: "/v1/vms/{name}/drives/{drive_id}", summary: "One drive", responses: [{ status: 200, description: "the drive", schema: "Drive" }] },
  { operationId: "putDrive", method: "PUT", path: "/v1/vms/{name}/drives/{drive_id}", summary: "Add or replace a drive (the VM must be shut off)", body: "Drive",
    responses: [noContent("added or replaced")] },
  { operationId: "patchDrive", method: "PATCH", path: "/v1/vms/{name}/drives/{drive_id}", summary: "Change a drive's image or flags (the VM must be shut off)", body: "PartialDrive",
    responses: [noContent("updated")] },
  { operationId: "deleteDrive", method: "DELETE", path: "/v1/vms/{name}/drives/{drive_id}", summary: "Remove a drive (the VM must be shut off)", responses: [noContent("removed")] },
  { operationId: "listNetworkInterfaces", method: "GET", path: "/v1/vms/{name}/network-interfaces", summary: "The VM's network cards",
    responses: [{ status: 200, description: "the cards", schema: "NetworkInterfaceList" }] },
  { operationId: "putNetworkInterface", method: "PUT", path: "/v1/vms/{name}/network-interfaces/{iface_id}", summary: "Add or replace a network card (the VM must be shut off)",
    body: "NetworkInterface", responses: [noContent("added or replaced")] },
  { operationId: "deleteNetworkInterface", method: "DELETE", path: "/v1/vms/{name}/network-interfaces/{iface_id}", summary: "Remove a network card (the VM must be shut off)",
    responses: [noContent("removed")] },
  { operationId: "createSyncAction", method: "PUT", path: "/v1/vms/{name}/actions", summary: "Start, stop or kill the VM", body: "InstanceActionInfo",
    responses: [noContent("done: the VM process serves its control socket (start) or is gone (stop, kill)")] },
  { operationId: "patchVm", method: "PATCH", path: "/v1/vms/{name}/vm", summary: "Pause or resume the VM's vCPUs", body: "Vm", responses: [noContent("the VM is in the requested state")] },
  { operationId: "getVmConfig", method: "GET", path: "/v1/vms/{name}/vm/config", summary: "The whole configuration in Firecracker's shape", responses: [{ status: 200, description: "the configuration", schema: "FullVmConfiguration" }] },
  { operationId: "getLogs", method: "GET", path: "/v1/vms/{name}/logs", summary: "The kept console output; with follow=true, then the output as the VM writes it",
    query: [{ name: "tail", type: "integer", description: "only the last N lines" },
      { name: "follow", type: "boolean", description: "keep the response open (chunked) and send console output as it is written, across the VM's stops and starts, until the client closes the connection (docker logs -f)" }],
    responses: [{ status: 200, description: "the console output", text: true }] },
  { operationId: "getConsole", method: "GET", path: "/v1/vms/{name}/console",
    summary: "The serial console as a WebSocket: binary frames carry serial bytes both ways; a text frame is a JSON ConsoleControl message (an invalid one is answered with a ConsoleError text frame); the server closes with 1000 when the VM stops",
    query: [{ name: "ticket", type: "string", description: "on TCP, instead of the Authorization header: a ticket from POST /v1/vms/{name}/console/ticket (single use, this VM only)" }],
    responses: [{ status: 101, description: "switching to the WebSocket protocol", empty: true }, { status: 426, description: "not a WebSocket upgrade request", schema: "Error" }] },
  { operationId: "createConsoleTicket", method: "POST", path: "/v1/vms/{name}/console/ticket",
    summary: "A single-use ticket for the console WebSocket, for clients that cannot set headers on a WebSocket (browsers)",
    responses: [{ status: 201, description: "the ticket", schema: "ConsoleTicket" }] },
  { operationId: "listSnapshots", method: "GET", path: "/v1/vms/{name}/snapshots", summary: "The VM's snapshots, oldest first",
    responses: [{ status: 200, description: "the snapshots", schema: "SnapshotList" }] },
  { operationId: "getSnapshot", method: "GET", path: "/v1/vms/{name}/snapshots/{snapshot_name}", summary: "One snapshot",
    responses: [{ status: 200, description: "the snapshot", schema: "SnapshotInfo" }] },
  { operationId: "getSnapshotFile", method: "GET", path: "/v1/vms/{name}/snapshots/{snapshot_name}/file",
    summary: "The snapshot's machine file (harts, devices, RAM; the versioned format of docs/snapshot.md): `rvisor run --restore FILE` runs it on any host, given the snapshot's disk images as --drive and a --net for each network card",
    responses: [{ status: 200, description: "the machine file (Content-Disposition: attachment; filename=NAME-SNAPSHOT.rvsnap)", binary: true }] },
  { operationId: "deleteSnapshot", method: "DELETE", path: "/v1/vms/{name}/snapshots/{snapshot_name}", summary: "Delete a snapshot (its images go once nothing refers to them)",
    responses: [noContent("deleted")] },
  { operationId: "createSnapshot", method: "PUT", path: "/v1/vms/{name}/snapshot/create", summary: "Snapshot the running or paused VM (Firecracker's snapshot/create, by name)",
    body: "SnapshotCreateParams", responses: [{ status: 201, description: "taken (Location: /v1/vms/{name}/snapshots/{snapshot_name})", schema: "SnapshotInfo" }] },
  { operationId: "loadSnapshot", method: "PUT", path: "/v1/vms/{name}/snapshot/load", summary: "Return the VM to a snapshot (Firecracker's snapshot/load, by name)",
    body: "SnapshotLoadParams", responses: [noContent("the VM process runs (or stands paused) at the snapshot")] },
  { operationId: "cloneVm", method: "PUT", path: "/v1/vms/{name}/clone", summary: "Define a new VM as a copy-on-write clone of this one", body: "CloneParams",
    responses: [{ status: 201, description: "created (Location: /v1/vms/{new name})", schema: "VmInfo" }] },
] as const satisfies readonly Operation[];

export type OperationId = typeof OPERATIONS[number]["operationId"];

const ERROR_RESPONSE = { description: "the request was refused; nothing changed", content: { "application/json": { schema: ref("Error") } } };

/** The OpenAPI 3.1 document. */
export function openApiDocument(version: string): JsonSchema {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS as readonly Operation[]) {
    const params: unknown[] = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
      name: m[1], in: "path", required: true, schema: m[1] === "name" ? vmName : m[1] === "snapshot_name" ? snapshotName : driveId,
    }));
    for (const q of op.query ?? []) params.push({ name: q.name, in: "query", required: false, description: q.description, schema: { type: q.type } });
    const responses: Record<string, unknown> = {};
    for (const r of op.responses) {
      responses[String(r.status)] = "schema" in r ? { description: r.description, content: { "application/json": { schema: ref(r.schema) } } }
        : "text" in r ? { description: r.description, content: { [op.operationId === "getOpenApi" ? "application/json" : "text/plain"]: { schema: { type: "string" } } } }
        : "binary" in r ? { description: r.description, content: { "application/octet-stream": { schema: { type: "string", contentMediaType: "application/octet-stream" } } } }
        : { description: r.description };
    }
    responses["4XX"] = ERROR_RESPONSE;
    responses["5XX"] = { ...ERROR_RESPONSE, description: "the operation failed (the VM process did not start or answer)" };
    (paths[op.path] ??= {})[op.method.toLowerCase()] = {
      operationId: op.operationId, summary: op.summary, ...(params.length > 0 ? { parameters: params } : {}),
      ...(op.body !== undefined ? { requestBody: { required: true, content: { "application/json": { schema: ref(op.body) } } } } : {}),
      responses,
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "rvisor", version,
      description: "Manage rvisor VMs. Served on a Unix socket (no authentication: the socket is mode 0600) or on TCP with a bearer token " +
        "(Authorization: Bearer TOKEN); the console WebSocket also takes a single-use ticket from POST /v1/vms/{name}/console/ticket, " +
        "since a browser cannot set that header on a WebSocket. The web console (a page, no data in it) is at /ui/. Errors are {\"fault_message\": ...} with a 4xx status, as Firecracker's: 400 invalid request, " +
        "401 missing or wrong token, 403 a host limit refused it, 404 no such VM or drive, 405 method not allowed, 409 wrong state or name taken, " +
        "413 body too large, 415 not JSON.",
    },
    paths,
    components: {
      schemas: SCHEMAS,
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "TCP only" } },
    },
  };
}
