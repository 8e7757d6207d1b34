// The REST API without a guest image: an in-process ApiServer on a Unix socket (and on loopback
// TCP for the token checks) over a state directory in a temporary directory. VMs that run are
// bare machines whose one program echoes the serial console (UART_ECHO_LOOP), each in its own
// process as every managed VM. Every response is checked against the served OpenAPI document.
import { test } from "node:test";
import { spawn } from "node:child_process";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hypervisor } from "../src/host/node/hypervisor.js";
import { ApiServer, MAX_BODY_BYTES } from "../src/api/server.js";
import { OPERATIONS } from "../src/api/openapi.js";
import { vmMac } from "../src/hypervisor/config.js";
import { ApiClient, WsConsole, type ApiResponse } from "./lib/api_client.js";
import { echoHome, echoVmDefinition } from "./lib/echo_vm.js";
import { RVISOR_BIN } from "./lib/guest.js";
import { scaled } from "./lib/time_scale.js";

const WS_NORMAL = 1000;

/** Every client the tests made, for the coverage check at the end. */
const clients: ApiClient[] = [];

interface Env { home: string; hv: Hypervisor; server: ApiServer; api: ApiClient; kernel: string; disk1: string; disk2: string }

async function setup(): Promise<Env> {
  const { home, env, kernel } = echoHome("api");
  const disk1 = join(home, "d1.img"), disk2 = join(home, "d2.img");
  writeFileSync(disk1, Buffer.alloc(1 << 20));
  writeFileSync(disk2, Buffer.alloc(1 << 20));
  const hv = new Hypervisor({ home, env });
  const server = new ApiServer({ hypervisor: hv, version: "test" });
  const socketPath = join(home, "api.sock");
  await server.listenUnix(socketPath);
  const api = new ApiClient({ socketPath });
  clients.push(api);
  return { home, hv, server, api, kernel, disk1, disk2 };
}

async function teardown(e: Env): Promise<void> {
  for (const v of await e.hv.list()) if (v.pid !== null) await e.hv.kill(v.name).catch(() => undefined);
  await e.server.close();
  rmSync(e.home, { recursive: true, force: true });
}

function echoVm(e: Env, name: string): Record<string, unknown> {
  return echoVmDefinition(name, e.kernel);
}

function fault(r: ApiResponse): string {
  assert.ok(typeof r.json === "object" && r.json !== null && "fault_message" in r.json, `no fault_message in ${r.text}`);
  return (r.json as { fault_message: string }).fault_message;
}

/** What a bad request must leave alone: the VMs' states, pids and stored definitions. */
async function snapshot(e: Env): Promise<string> {
  const rows = await e.hv.list();
  return JSON.stringify(rows.map((r) => ({ ...r, config: readFileSync(e.hv.store.configPath(r.name), "utf8") })));
}

test("REST: every endpoint on a shut-off VM; responses match the OpenAPI document", { timeout: scaled(60_000) }, async () => {
  const e = await setup();
  const { api } = e;
  try {
    const doc = await api.document();
    // The document lists exactly the server's operations.
    const ops = Object.values(doc.paths).flatMap((p) => Object.values(p).map((o) => o.operationId)).sort();
    assert.deepEqual(ops, OPERATIONS.map((o) => o.operationId).sort());

    assert.deepEqual((await api.call("GET", "/v1/vms", "/v1/vms")).json, []);
    const created = await api.call("POST", "/v1/vms", "/v1/vms",
      { name: "vm1", cpus: 2, memory: "64M", boot: { firmware: "none", kernel: e.kernel }, disks: [{ id: "root", path: e.disk1 }] });
    assert.equal(created.status, 201);
    assert.equal(created.headers.location, "/v1/vms/vm1");
    const info = created.json as { name: string; state: string; config: { cpus: number; memoryMib: number; disks: unknown[] } };
    assert.deepEqual([info.name, info.state, info.config.cpus, info.config.memoryMib], ["vm1", "shut off", 2, 64]);
    assert.deepEqual(info.config.disks, [{ id: "root", path: e.disk1, format: "raw", readonly: false }]);
    assert.deepEqual((await api.call("GET", "/v1/vms", "/v1/vms")).json, [{ name: "vm1", state: "shut off", cpus: 2, memoryMib: 64, pid: null }]);
    assert.equal(((await api.call("GET", "/v1/vms/{name}", "/v1/vms/vm1")).json as { name: string }).name, "vm1");

    const mc = "/v1/vms/{name}/machine-config", mcPath = "/v1/vms/vm1/machine-config";
    assert.deepEqual((await api.call("GET", mc, mcPath)).json, { vcpu_count: 2, mem_size_mib: 64, smt: false, cpu_profile: "max", cpu_quota_percent: 100 });
    assert.equal((await api.call("PATCH", mc, mcPath, { cpu_quota_percent: 50, cpu_profile: "rva22" })).status, 204);
    assert.deepEqual((await api.call("GET", mc, mcPath)).json, { vcpu_count: 2, mem_size_mib: 64, smt: false, cpu_profile: "rva22", cpu_quota_percent: 50 });
    // PUT sets the whole resource: the optional fields left out return to their defaults.
    assert.equal((await api.call("PUT", mc, mcPath, { vcpu_count: 1, mem_size_mib: 32, smt: false })).status, 204);
    assert.deepEqual((await api.call("GET", mc, mcPath)).json, { vcpu_count: 1, mem_size_mib: 32, smt: false, cpu_profile: "max", cpu_quota_percent: 100 });
    assert.equal(e.hv.config("vm1").memoryMib, 32, "the stored definition changed");

    const bs = "/v1/vms/{name}/boot-source", bsPath = "/v1/vms/vm1/boot-source";
    assert.deepEqual((await api.call("GET", bs, bsPath)).json, { kernel_image_path: e.kernel, initrd_path: null, boot_args: "console=ttyS0", firmware: "none" });
    assert.equal((await api.call("PUT", bs, bsPath, { kernel_image_path: e.kernel, initrd_path: e.disk2, boot_args: "quiet", firmware: "none" })).status, 204);
    assert.deepEqual((await api.call("GET", bs, bsPath)).json, { kernel_image_path: e.kernel, initrd_path: e.disk2, boot_args: "quiet", firmware: "none" });
    assert.equal((await api.call("PUT", bs, bsPath, { kernel_image_path: e.kernel, firmware: "none" })).status, 204);
    assert.deepEqual((await api.call("GET", bs, bsPath)).json, { kernel_image_path: e.kernel, initrd_path: null, boot_args: "console=ttyS0", firmware: "none" });

    const dr = "/v1/vms/{name}/drives/{drive_id}";
    assert.deepEqual((await api.call("GET", "/v1/vms/{name}/drives", "/v1/vms/vm1/drives")).json,
      [{ drive_id: "root", path_on_host: e.disk1, is_read_only: false, is_root_device: false, format: "raw" }]);
    assert.deepEqual((await api.call("GET", dr, "/v1/vms/vm1/drives/root")).json,
      { drive_id: "root", path_on_host: e.disk1, is_read_only: false, is_root_device: false, format: "raw" });
    assert.equal((await api.call("PUT", dr, "/v1/vms/vm1/drives/data", { drive_id: "data", path_on_host: e.disk2, is_read_only: true, is_root_device: false })).status, 204);
    assert.deepEqual(e.hv.config("vm1").disks.map((d) => [d.id, d.readonly]), [["root", false], ["data", true]]);
    assert.equal((await api.call("PATCH", dr, "/v1/vms/vm1/drives/data", { drive_id: "data", is_read_only: false })).status, 204);
    assert.deepEqual((await api.call("GET", dr, "/v1/vms/vm1/drives/data")).json,
      { drive_id: "data", path_on_host: e.disk2, is_read_only: false, is_root_device: false, format: "raw" });
    // PUT of an existing id replaces it in place.
    assert.equal((await api.call("PUT", dr, "/v1/vms/vm1/drives/root", { drive_id: "root", path_on_host: e.disk1, is_read_only: true })).status, 204);
    assert.deepEqual(e.hv.config("vm1").disks.map((d) => [d.id, d.readonly]), [["root", true], ["data", false]]);
    assert.equal((await api.call("DELETE", dr, "/v1/vms/vm1/drives/data")).status, 204);
    assert.equal((await api.call("GET", dr, "/v1/vms/vm1/drives/data")).status, 404);

    // Network cards: one user-mode card by default, its MAC derived from the VM's name; PUT adds or replaces, DELETE removes.
    const ni = "/v1/vms/{name}/network-interfaces/{iface_id}", nis = "/v1/vms/{name}/network-interfaces";
    const mac0 = vmMac("vm1", 0);
    assert.deepEqual((await api.call("GET", nis, "/v1/vms/vm1/network-interfaces")).json,
      [{ iface_id: "net0", guest_mac: mac0, type: "user", switch: null, hostfwd: [], restrict: false }]);
    assert.equal((await api.call("PUT", ni, "/v1/vms/vm1/network-interfaces/lan", { iface_id: "lan", type: "switch", switch: "lab", guest_mac: "52:54:00:00:00:42" })).status, 204);
    assert.equal((await api.call("PUT", ni, "/v1/vms/vm1/network-interfaces/net0", { iface_id: "net0", hostfwd: [{ hostPort: 18080, guestPort: 80 }] })).status, 204);
    const nets = [
      { iface_id: "net0", guest_mac: mac0, type: "user", switch: null, hostfwd: [{ proto: "tcp", hostAddr: "127.0.0.1", hostPort: 18080, guestAddr: null, guestPort: 80 }], restrict: false },
      { iface_id: "lan", guest_mac: "52:54:00:00:00:42", type: "switch", switch: "lab", hostfwd: [], restrict: false },
    ];
    assert.deepEqual((await api.call("GET", nis, "/v1/vms/vm1/network-interfaces")).json, nets);
    assert.equal((await api.call("DELETE", ni, "/v1/vms/vm1/network-interfaces/lan")).status, 204);
    assert.deepEqual(e.hv.config("vm1").network.map((n) => n.id), ["net0"]);

    assert.deepEqual((await api.call("GET", "/v1/vms/{name}/vm/config", "/v1/vms/vm1/vm/config")).json, {
      "machine-config": { vcpu_count: 1, mem_size_mib: 32, smt: false, cpu_profile: "max", cpu_quota_percent: 100 },
      "boot-source": { kernel_image_path: e.kernel, initrd_path: null, boot_args: "console=ttyS0", firmware: "none" },
      drives: [{ drive_id: "root", path_on_host: e.disk1, is_read_only: true, is_root_device: false, format: "raw" }],
      "network-interfaces": [nets[0]],
    });
    const logs = await api.call("GET", "/v1/vms/{name}/logs", "/v1/vms/vm1/logs?tail=5");
    assert.deepEqual([logs.status, logs.text], [200, ""]);
    const plain = await api.call("GET", "/v1/vms/{name}/console", "/v1/vms/vm1/console");
    assert.equal(plain.status, 426);
    assert.equal(plain.headers.upgrade, "websocket");
    assert.equal((await api.call("DELETE", "/v1/vms/{name}", "/v1/vms/vm1")).status, 204);
    assert.equal((await api.call("GET", "/v1/vms/{name}", "/v1/vms/vm1")).status, 404);
    assert.deepEqual((await api.call("GET", "/v1/vms", "/v1/vms")).json, []);
  } finally { await teardown(e); }
});

test("REST: every bad request is a 4xx with a fault_message and changes nothing", { timeout: scaled(60_000) }, async () => {
  const e = await setup();
  const { api } = e;
  try {
    assert.equal((await api.call("POST", "/v1/vms", "/v1/vms", { ...echoVm(e, "vm1"), disks: [{ id: "root", path: e.disk1 }] })).status, 201);
    const before = await snapshot(e);
    const T = { vms: "/v1/vms", vm: "/v1/vms/{name}", mc: "/v1/vms/{name}/machine-config", bs: "/v1/vms/{name}/boot-source",
      drive: "/v1/vms/{name}/drives/{drive_id}", actions: "/v1/vms/{name}/actions", vmState: "/v1/vms/{name}/vm", logs: "/v1/vms/{name}/logs" };
    type Case = [method: string, template: string | null, path: string, body: unknown, status: number, message: RegExp, headers?: Record<string, string>];
    const cases: Case[] = [
      ["POST", T.vms, "/v1/vms", "{", 400, /^malformed JSON/],
      ["POST", T.vms, "/v1/vms", "[1]", 400, /^body: must be object/],
      ["POST", T.vms, "/v1/vms", "null", 400, /^body: must be object/],
      ["POST", T.vms, "/v1/vms", "", 400, /needs a JSON body/],
      ["POST", T.vms, "/v1/vms", { cpus: 1 }, 400, /^name: missing field/],
      ["POST", T.vms, "/v1/vms", { name: "x", cpus: "2" }, 400, /^cpus: must be integer/],
      ["POST", T.vms, "/v1/vms", { name: "x", cpus: 9 }, 400, /^cpus: must be <= 8/],
      ["POST", T.vms, "/v1/vms", { name: "x", bogus: 1 }, 400, /^bogus: unknown field/],
      ["POST", T.vms, "/v1/vms", { name: "x", boot: { kernal: "/k" } }, 400, /^boot\.kernal: unknown field/],
      ["POST", T.vms, "/v1/vms", { name: "bad/name" }, 400, /^name: must match pattern/],
      ["POST", T.vms, "/v1/vms", { name: "x", memory: "4G" }, 400, /^memory: must be between 16M and 2G/],
      ["POST", T.vms, "/v1/vms", { name: "x", memory: true }, 400, /^memory: must be string/],
      ["POST", T.vms, "/v1/vms", { name: "x", disks: [{ path: "relative.img" }] }, 400, /^disks\[0\]\.path: must match pattern "\^\/"/],
      ["POST", T.vms, "/v1/vms", { name: "x", disks: [{ path: join(e.home, "missing.img") }] }, 400, /^disks\[0\]\.path: cannot use .*ENOENT/],
      ["POST", T.vms, "/v1/vms", { name: "x", disks: [{ path: e.disk1, format: "vmdk" }] }, 400, /^disks\[0\]\.format: must be one of "raw", "qcow2"/],
      ["POST", T.vms, "/v1/vms", { name: "x", boot: { initrd: e.disk1 } }, 400, /^boot\.initrd: an initrd needs a kernel/],
      ["POST", T.vms, "/v1/vms", { name: "vm1" }, 409, /^VM 'vm1' already exists$/],
      ["POST", T.vms, "/v1/vms", { name: "x" }, 415, /must be application\/json/, { "content-type": "text/plain" }],
      ["POST", T.vms, "/v1/vms", JSON.stringify({ name: "x", cmdline: "a".repeat(MAX_BODY_BYTES) }), 413, /larger than 65536 bytes/],
      ["GET", T.vms, "/v1/vms?all=1", undefined, 400, /^unknown query parameter 'all'$/],
      ["GET", T.vms, "/v1/vms", "{}", 400, /takes no body/],
      ["GET", T.vm, "/v1/vms/nosuch", undefined, 404, /^VM 'nosuch' does not exist$/],
      ["GET", T.vm, "/v1/vms/-bad", undefined, 400, /^name: invalid VM name '-bad'/],
      ["GET", T.vm, "/v1/vms/%ZZ", undefined, 400, /bad percent-encoding/],
      ["DELETE", T.vm, "/v1/vms/nosuch", undefined, 404, /does not exist/],
      ["DELETE", T.vm, "/v1/vms/vm1?force=maybe", undefined, 400, /'force' must be true or false/],
      ["DELETE", T.vm, "/v1/vms/vm1?force=true&force=true", undefined, 400, /'force' is given twice/],
      ["GET", T.mc, "/v1/vms/nosuch/machine-config", undefined, 404, /does not exist/],
      ["PUT", T.mc, "/v1/vms/nosuch/machine-config", { vcpu_count: 1, mem_size_mib: 64 }, 404, /does not exist/],
      ["PUT", T.mc, "/v1/vms/vm1/machine-config", { vcpu_count: 1 }, 400, /^mem_size_mib: missing field/],
      ["PUT", T.mc, "/v1/vms/vm1/machine-config", { vcpu_count: 1, mem_size_mib: 8 }, 400, /^mem_size_mib: must be >= 16/],
      ["PUT", T.mc, "/v1/vms/vm1/machine-config", { vcpu_count: 1.5, mem_size_mib: 64 }, 400, /^vcpu_count: must be integer/],
      ["PUT", T.mc, "/v1/vms/vm1/machine-config", { vcpu_count: 1, mem_size_mib: 64, smt: true }, 400, /^smt: simultaneous multithreading is not supported/],
      ["PUT", T.mc, "/v1/vms/vm1/machine-config", { vcpu_count: 1, mem_size_mib: 64, track_dirty_pages: true }, 400, /^track_dirty_pages: unknown field/],
      ["PATCH", T.mc, "/v1/vms/vm1/machine-config", {}, 400, /^body: must NOT have fewer than 1 properties/],
      ["PATCH", T.mc, "/v1/vms/vm1/machine-config", { cpu_profile: "rv32" }, 400, /^cpu_profile: must be one of/],
      ["PUT", T.bs, "/v1/vms/vm1/boot-source", {}, 400, /^kernel_image_path: missing field/],
      ["PUT", T.bs, "/v1/vms/vm1/boot-source", { kernel_image_path: 5 }, 400, /^kernel_image_path: must be string or null/],
      ["PUT", T.bs, "/v1/vms/vm1/boot-source", { kernel_image_path: null, initrd_path: e.disk1 }, 400, /an initrd needs a kernel/],
      ["PUT", T.bs, "/v1/vms/vm1/boot-source", { kernel_image_path: join(e.home, "nokernel") }, 400, /^boot\.kernel: cannot use .*ENOENT/],
      ["PUT", T.bs, "/v1/vms/vm1/boot-source", { kernel_image_path: e.kernel, firmware: "uefi" }, 400, /^firmware: must match pattern/],
      ["PUT", T.drive, "/v1/vms/vm1/drives/a", { drive_id: "b", path_on_host: e.disk2 }, 400, /the body's drive_id 'b' differs from the path's 'a'/],
      ["PUT", T.drive, "/v1/vms/vm1/drives/a", { drive_id: "a", path_on_host: e.disk2, is_root_device: true }, 400, /^is_root_device: not supported/],
      ["PUT", T.drive, "/v1/vms/vm1/drives/a", { drive_id: "a", path_on_host: e.disk1 }, 400, /is already disk 0/],
      ["PUT", T.drive, "/v1/vms/vm1/drives/a", { drive_id: "a", path_on_host: e.disk2, cache_type: "Unsafe" }, 400, /^cache_type: unknown field/],
      ["PUT", T.drive, "/v1/vms/vm1/drives/a.b", { drive_id: "a.b", path_on_host: e.disk2 }, 400, /^drive_id: invalid drive id 'a\.b'/],
      ["GET", T.drive, "/v1/vms/vm1/drives/nosuch", undefined, 404, /^VM 'vm1' has no drive 'nosuch'$/],
      ["PATCH", T.drive, "/v1/vms/vm1/drives/nosuch", { drive_id: "nosuch", is_read_only: true }, 404, /has no drive 'nosuch'/],
      ["DELETE", T.drive, "/v1/vms/vm1/drives/nosuch", undefined, 404, /has no drive 'nosuch'/],
      ["PUT", T.actions, "/v1/vms/vm1/actions", { action_type: "FlushMetrics" }, 400, /^action_type: must be one of "InstanceStart", "SendCtrlAltDel", "InstanceStop", "InstanceKill"$/],
      ["PUT", T.actions, "/v1/vms/vm1/actions", { action_type: "InstanceStop", timeout_s: -1 }, 400, /^timeout_s: /],
      ["PUT", T.actions, "/v1/vms/vm1/actions", { action_type: "InstanceKill", timeout_s: 1 }, 400, /^timeout_s: is an InstanceStop option$/],
      ["PUT", T.actions, "/v1/vms/vm1/actions", { action_type: "InstanceStop" }, 409, /^VM 'vm1' is not running$/],
      ["PUT", T.actions, "/v1/vms/vm1/actions", { action_type: "SendCtrlAltDel" }, 409, /^VM 'vm1' is not running$/],
      ["PUT", T.actions, "/v1/vms/vm1/actions", { action_type: "InstanceKill" }, 409, /^VM 'vm1' is not running$/],
      ["PUT", T.actions, "/v1/vms/nosuch/actions", { action_type: "InstanceStart" }, 404, /does not exist/],
      ["PATCH", T.vmState, "/v1/vms/vm1/vm", { state: "Running" }, 400, /^state: must be one of "Paused", "Resumed"$/],
      ["PATCH", T.vmState, "/v1/vms/vm1/vm", { state: "Paused" }, 409, /^VM 'vm1' is not running$/],
      ["PATCH", T.vmState, "/v1/vms/vm1/vm", { state: "Resumed" }, 409, /^VM 'vm1' is not running$/],
      ["GET", T.logs, "/v1/vms/vm1/logs?tail=-1", undefined, 400, /'tail' must be a whole number/],
      ["GET", T.logs, "/v1/vms/nosuch/logs", undefined, 404, /does not exist/],
      ["GET", T.logs, "/v1/vms/vm1/logs?follow=yes", undefined, 400, /'follow' must be true or false/],
      ["GET", "/v1/vms/{name}/drives", "/v1/vms/nosuch/drives", undefined, 404, /does not exist/],
      ["GET", T.bs, "/v1/vms/nosuch/boot-source", undefined, 404, /does not exist/],
      ["GET", "/v1/vms/{name}/vm/config", "/v1/vms/nosuch/vm/config", undefined, 404, /does not exist/],
      ["POST", null, "/v1/vms/vm1", {}, 405, /^POST is not allowed on \/v1\/vms\/vm1 \(allowed: GET, DELETE\)$/],
      ["GET", null, "/v2/vms", undefined, 404, /^no such resource: \/v2\/vms$/],
      ["GET", null, "/v1/vms/vm1/network-interfaces/eth0", undefined, 405, /^GET is not allowed on .* \(allowed: PUT, DELETE\)$/],
      ["PUT", "/v1/vms/{name}/network-interfaces/{iface_id}", "/v1/vms/vm1/network-interfaces/a", { iface_id: "b" }, 400, /the body's iface_id 'b' differs from the path's 'a'/],
      ["PUT", "/v1/vms/{name}/network-interfaces/{iface_id}", "/v1/vms/vm1/network-interfaces/a", { iface_id: "a", host_dev_name: "tap0" }, 400, /^host_dev_name: not supported/],
      ["PUT", "/v1/vms/{name}/network-interfaces/{iface_id}", "/v1/vms/vm1/network-interfaces/a", { iface_id: "a", type: "switch" }, 400, /^network\[1\]\.switch: must be a string/],
      ["PUT", "/v1/vms/{name}/network-interfaces/{iface_id}", "/v1/vms/vm1/network-interfaces/a", { iface_id: "a", guest_mac: "01:00:5e:00:00:01" }, 400, /^network\[1\]\.mac: must be a unicast MAC/],
      ["PUT", "/v1/vms/{name}/network-interfaces/{iface_id}", "/v1/vms/vm1/network-interfaces/a", { iface_id: "a", guest_mac: "nope" }, 400, /^guest_mac: must match pattern/],
      ["PUT", "/v1/vms/{name}/network-interfaces/{iface_id}", "/v1/vms/vm1/network-interfaces/a.b", { iface_id: "a.b" }, 400, /^iface_id: invalid interface id 'a\.b'/],
      ["PUT", "/v1/vms/{name}/network-interfaces/{iface_id}", "/v1/vms/nosuch/network-interfaces/a", { iface_id: "a" }, 404, /does not exist/],
      ["DELETE", "/v1/vms/{name}/network-interfaces/{iface_id}", "/v1/vms/vm1/network-interfaces/nosuch", undefined, 404, /^VM 'vm1' has no network interface 'nosuch'$/],
      ["GET", "/v1/vms/{name}/network-interfaces", "/v1/vms/nosuch/network-interfaces", undefined, 404, /does not exist/],
      ["GET", null, "/v1/vms/vm1/snapshot/create", undefined, 405, /^GET is not allowed on \/v1\/vms\/vm1\/snapshot\/create \(allowed: PUT\)$/],
    ];
    for (const [method, template, path, body, status, message, headers] of cases) {
      const r = template === null ? await api.raw(method, path, body, headers) : await api.call(method, template, path, body, headers);
      assert.equal(r.status, status, `${method} ${path} ${JSON.stringify(body)}: ${r.text}`);
      assert.ok(await api.matches("Error", r.json), `${method} ${path}: ${r.text}`);
      assert.match(fault(r), message, `${method} ${path} ${JSON.stringify(body)}`);
      if (status === 405) assert.equal(r.headers.allow, /snapshot\/create$/.test(path) ? "PUT" : /network-interfaces\//.test(path) ? "PUT, DELETE" : "GET, DELETE");
    }
    // A host limit: creating a second VM would exceed limits.instances=1.
    writeFileSync(join(e.home, "config.json"), JSON.stringify({ "limits.instances": 1 }));
    const lim = await api.call("POST", T.vms, "/v1/vms", { name: "x" });
    assert.deepEqual([lim.status, fault(lim)], [403, "creating VM 'x' would exceed limits.instances=1 (1 VMs defined)"]);
    writeFileSync(join(e.home, "config.json"), JSON.stringify({ "limits.memory": "16M" }));
    const limMc = await api.call("PATCH", T.mc, "/v1/vms/vm1/machine-config", { mem_size_mib: 32 });
    assert.deepEqual([limMc.status, fault(limMc)], [403, "VM 'vm1' has 32M of memory, more than limits.memory=16M"]);
    // limits.instances is checked when a VM is defined, not when it changes: even lowered below the
    // count of VMs, it lets a change within the other limits pass.
    writeFileSync(join(e.home, "config.json"), JSON.stringify({ "limits.instances": 0 }));
    const within = await api.call("PATCH", T.mc, "/v1/vms/vm1/machine-config", { cpu_quota_percent: 100 });
    assert.equal(within.status, 204, within.text);
    rmSync(join(e.home, "config.json"));
    assert.equal(await snapshot(e), before, "a refused request changed a VM");
  } finally { await teardown(e); }
});

test("REST: a running VM — start, console WebSocket, pause holds its input, wrong states refused, stop, kill, delete", { timeout: scaled(120_000) }, async () => {
  const e = await setup();
  const { api } = e;
  const A = "/v1/vms/{name}/actions", V = "/v1/vms/{name}/vm";
  let ws: WsConsole | null = null;
  try {
    assert.equal((await api.call("POST", "/v1/vms", "/v1/vms", echoVm(e, "echo"))).status, 201);
    assert.equal((await api.call("PUT", A, "/v1/vms/echo/actions", { action_type: "InstanceStart" })).status, 204);
    const running = (await api.call("GET", "/v1/vms/{name}", "/v1/vms/echo")).json as { state: string; pid: number; status: { state: string } };
    assert.equal(running.state, "running");
    assert.ok(running.pid > 0);
    assert.equal(running.status.state, "running");
    const refusals: [string, string, string, unknown, RegExp][] = [
      ["PUT", A, "/v1/vms/echo/actions", { action_type: "InstanceStart" }, /^VM 'echo' is already running$/],
      ["PUT", "/v1/vms/{name}/machine-config", "/v1/vms/echo/machine-config", { vcpu_count: 2, mem_size_mib: 16 }, /is running: its definition can change only while it is shut off/],
      ["PUT", "/v1/vms/{name}/drives/{drive_id}", "/v1/vms/echo/drives/d", { drive_id: "d", path_on_host: e.disk1 }, /can change only while it is shut off/],
      ["PATCH", V, "/v1/vms/echo/vm", { state: "Resumed" }, /^VM 'echo' is not paused$/],
      ["DELETE", "/v1/vms/{name}", "/v1/vms/echo", undefined, /^VM 'echo' is running \(stop it first, or rm --force\)$/],
    ];
    for (const [m, t, p, b, msg] of refusals) {
      const r = await api.call(m, t, p, b);
      assert.equal(r.status, 409, `${m} ${p}: ${r.text}`);
      assert.match(fault(r), msg);
    }
    assert.equal(e.hv.config("echo").cpus, 1);

    ws = new WsConsole(await api.console("echo"));
    ws.send("ping-1\r");
    await ws.waitText("ping-1\r", 20_000);
    // A resize is accepted (and has no effect on a serial console); an invalid control message
    // is answered with an error frame. Text frames are handled in order, before the echo that follows.
    ws.ws.send(JSON.stringify({ type: "resize", cols: 120, rows: 40 }));
    ws.send("after-resize");
    await ws.waitText("after-resize", 20_000);
    assert.deepEqual(ws.texts, []);
    const bad = ["{", "[1]", JSON.stringify({ type: "resize", cols: 0, rows: 24 }), JSON.stringify({ type: "bogus", cols: 80, rows: 24 }), JSON.stringify({ type: "resize", cols: 80, rows: 24, x: 1 })];
    for (const b of bad) ws.ws.send(b);
    await ws.waitFor(() => ws !== null && ws.texts.length === bad.length, "error frames", 10_000);
    const errors = ws.texts.map((t) => JSON.parse(t) as { type: string; fault_message: string });
    for (const er of errors) assert.ok(await api.matches("ConsoleError", er), JSON.stringify(er));
    assert.deepEqual(errors.map((er) => er.fault_message.replace(/:.*/s, "")), ["malformed JSON", "body", "cols", "type", "x"]);

    // Pause: the vCPU stops, so input waits in the UART until resume.
    assert.equal((await api.call("PATCH", V, "/v1/vms/echo/vm", { state: "Paused" })).status, 204);
    assert.equal(((await api.call("GET", "/v1/vms/{name}", "/v1/vms/echo")).json as { state: string }).state, "paused");
    const again = await api.call("PATCH", V, "/v1/vms/echo/vm", { state: "Paused" });
    assert.deepEqual([again.status, fault(again)], [409, "VM 'echo' is already paused"]);
    ws.send("held");
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(ws.output.includes("held"), false, "a paused VM echoed");
    assert.equal((await api.call("PATCH", V, "/v1/vms/echo/vm", { state: "Resumed" })).status, 204);
    await ws.waitText("held", 20_000);
    const logs = await api.call("GET", "/v1/vms/{name}/logs", "/v1/vms/echo/logs");
    assert.match(logs.text, /ping-1\r(?:after-resize)?/);
    // logs?follow=true: the kept output, then what the VM writes, chunked, until the client closes.
    const followed = await api.open("/v1/vms/{name}/logs", "/v1/vms/echo/logs?follow=true&tail=1000");
    assert.deepEqual([followed.status, followed.headers["transfer-encoding"]], [200, "chunked"]);
    let live = "";
    followed.res.on("data", (d: Buffer) => { live += d.toString("latin1"); });
    ws.send("followed-1\r");
    const deadline = performance.now() + 20_000;
    while (!(live.includes("ping-1\r") && live.includes("followed-1\r"))) {
      assert.ok(performance.now() < deadline, `the followed log did not show the new output: ${JSON.stringify(live.slice(-300))}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(live.indexOf("ping-1\r") < live.indexOf("followed-1\r"), "the kept output comes first");
    followed.res.destroy();

    // SendCtrlAltDel only presses the power button: this bare-metal guest ignores it and runs on.
    assert.equal((await api.call("PUT", A, "/v1/vms/echo/actions", { action_type: "SendCtrlAltDel" })).status, 204);
    assert.equal(((await api.call("GET", "/v1/vms/{name}", "/v1/vms/echo")).json as { state: string }).state, "running");
    // InstanceStop with timeout_s 0 stops it from the host at once; the console WebSocket is closed with 1000.
    assert.equal((await api.call("PUT", A, "/v1/vms/echo/actions", { action_type: "InstanceStop", timeout_s: 0 })).status, 204);
    await ws.waitFor(() => ws?.closed !== null, "the console to close", 10_000);
    assert.deepEqual(ws.closed, { code: WS_NORMAL, reason: "VM stopped" });
    const off = (await api.call("GET", "/v1/vms/{name}", "/v1/vms/echo")).json as { state: string; pid: null; lastExit: { reason: string } };
    assert.deepEqual([off.state, off.pid, off.lastExit.reason], ["shut off", null, "stop"]);
    await assert.rejects(api.console("echo"), (err: Error & { status?: number; body?: string }) => {
      assert.equal(err.status, 409);
      assert.deepEqual(JSON.parse(err.body ?? ""), { fault_message: "VM 'echo' is not running" });
      return true;
    });
    await assert.rejects(api.console("nosuch"), (err: Error & { status?: number }) => err.status === 404);

    // A start refused by a host limit; then InstanceKill; then delete with force.
    assert.equal((await api.call("POST", "/v1/vms", "/v1/vms", echoVm(e, "second"))).status, 201);
    writeFileSync(join(e.home, "config.json"), JSON.stringify({ "limits.memory": "20M" }));
    assert.equal((await api.call("PUT", A, "/v1/vms/echo/actions", { action_type: "InstanceStart" })).status, 204);
    const lim = await api.call("PUT", A, "/v1/vms/second/actions", { action_type: "InstanceStart" });
    assert.deepEqual([lim.status, fault(lim)], [403, "starting VM 'second' would exceed limits.memory=20M (16M in use, 16M requested)"]);
    rmSync(join(e.home, "config.json"));
    assert.equal((await api.call("PUT", A, "/v1/vms/echo/actions", { action_type: "InstanceKill" })).status, 204);
    assert.equal(((await api.call("GET", "/v1/vms/{name}", "/v1/vms/echo")).json as { state: string }).state, "shut off");
    assert.equal((await api.call("PUT", A, "/v1/vms/echo/actions", { action_type: "InstanceStart" })).status, 204);
    assert.equal((await api.call("DELETE", "/v1/vms/{name}", "/v1/vms/echo?force=true")).status, 204);
    assert.equal((await api.call("GET", "/v1/vms/{name}", "/v1/vms/echo")).status, 404);
    assert.deepEqual(((await api.call("GET", "/v1/vms", "/v1/vms")).json as { name: string }[]).map((v) => v.name), ["second"]);
  } finally {
    ws?.ws.terminate();
    await teardown(e);
  }
});

test("REST over TCP: every request needs the bearer token", { timeout: scaled(30_000) }, async () => {
  const e = await setup();
  const token = "t0ken-for-the-test-0123456789";
  try {
    const addr = await e.server.listenTcp("127.0.0.1", 0, token);
    await assert.rejects(e.server.listenTcp("127.0.0.1", 0, ""), /needs a bearer token/);
    const target = { host: "127.0.0.1", port: addr.port };
    const good = new ApiClient(target, token);
    clients.push(good);
    assert.equal((await good.call("GET", "/v1/vms", "/v1/vms")).status, 200);
    for (const [client, header] of [[new ApiClient(target), undefined], [new ApiClient(target, "wrong-token-wrong-token"), undefined],
      [new ApiClient(target), `Basic ${Buffer.from(`u:${token}`).toString("base64")}`], [new ApiClient(target), `Bearer ${token}x`]] as const) {
      const r = await client.raw("POST", "/v1/vms", { name: "x" }, header === undefined ? {} : { authorization: header });
      await good.check("POST", "/v1/vms", r);
      assert.equal(r.status, 401);
      assert.equal(r.headers["www-authenticate"], 'Bearer realm="rvisor"');
      assert.match(fault(r), /missing or wrong bearer token/);
      await assert.rejects(client.console("x", header === undefined ? {} : { authorization: header }), (err: Error & { status?: number }) => err.status === 401);
    }
    assert.deepEqual(await e.hv.list(), [], "an unauthenticated request created a VM");
    assert.equal((await good.call("POST", "/v1/vms", "/v1/vms", { name: "x" })).status, 201);

    // Console tickets (the web console's way in: a browser cannot set headers on a WebSocket).
    const TK = "/v1/vms/{name}/console/ticket";
    const anon = new ApiClient(target);
    const noToken = await anon.raw("POST", "/v1/vms/x/console/ticket");
    await good.check("POST", TK, noToken);
    assert.equal(noToken.status, 401);
    assert.equal((await good.call("POST", TK, "/v1/vms/nosuch/console/ticket")).status, 404);
    const ticketOf = async (vm: string): Promise<string> => {
      const r = await good.call("POST", TK, `/v1/vms/${vm}/console/ticket`);
      assert.equal(r.status, 201, r.text);
      const t = r.json as { ticket: string; expires_in_s: number };
      assert.ok(t.expires_in_s > 0 && t.expires_in_s <= 30, r.text);
      return t.ticket;
    };
    const t1 = await ticketOf("x");
    const refused = (status: number) => (err: Error & { status?: number; body?: string }): boolean => {
      assert.equal(err.status, status, err.body);
      return true;
    };
    // A ticket on a request that is no upgrade does nothing.
    const plain = await anon.raw("GET", `/v1/vms/x?ticket=${t1}`);
    assert.equal(plain.status, 401);
    // The ticket authenticates the upgrade: x is shut off, so the answer is the state refusal (409), not 401.
    await assert.rejects(anon.console("x", {}, `ticket=${t1}`), refused(409));
    await assert.rejects(anon.console("x", {}, `ticket=${t1}`), refused(401)); // used up
    const t2 = await ticketOf("x");
    await assert.rejects(anon.console("y", {}, `ticket=${t2}`), refused(401)); // another VM's ticket
    await assert.rejects(anon.console("x", {}, `ticket=${t2}`), refused(401)); // spent at the wrong door
    await assert.rejects(anon.console("x", {}, `ticket=${"0".repeat(64)}`), refused(401));
    await assert.rejects(anon.console("x"), refused(401));
  } finally { await teardown(e); }
});

test("REST: the web console's files are served at /ui/ without the token, API data never is", { timeout: scaled(30_000) }, async () => {
  const home = mkdtempSync(join(tmpdir(), "rvisor-ui-"));
  const webRoot = join(home, "ui");
  mkdirSync(webRoot);
  writeFileSync(join(webRoot, "index.html"), "<!doctype html><title>ui</title>");
  writeFileSync(join(webRoot, "console.js"), "void 0;");
  writeFileSync(join(webRoot, "secret.txt"), "not a served type");
  const hv = new Hypervisor({ home, env: { ...process.env, RVISOR_HOME: home } });
  const server = new ApiServer({ hypervisor: hv, version: "test", webRoot });
  try {
    const addr = await server.listenTcp("127.0.0.1", 0, "ui-test-token-0123456789");
    const anon = new ApiClient({ host: "127.0.0.1", port: addr.port });
    const root = await anon.raw("GET", "/");
    assert.deepEqual([root.status, root.headers.location], [302, "/ui/"]);
    const page = await anon.raw("GET", "/ui/");
    assert.equal(page.status, 200);
    assert.equal(page.text, "<!doctype html><title>ui</title>");
    assert.match(String(page.headers["content-type"]), /^text\/html/);
    assert.match(String(page.headers["content-security-policy"]), /script-src 'self'.*connect-src 'self'.*frame-ancestors 'none'/);
    assert.equal(page.headers["x-frame-options"], "DENY");
    assert.equal((await anon.raw("GET", "/ui/console.js")).text, "void 0;");
    for (const p of ["/ui/secret.txt", "/ui/../api.sock", "/ui/%2e%2e/x", "/ui/nosuch.js"]) assert.equal((await anon.raw("GET", p)).status, 404, p);
    assert.equal((await anon.raw("POST", "/ui/", "x")).status, 405);
    assert.equal((await anon.raw("GET", "/v1/vms")).status, 401);
    const none = new ApiServer({ hypervisor: hv, version: "test", webRoot: join(home, "missing") });
    assert.equal(none.hasWebConsole, false);
    assert.equal(server.hasWebConsole, true);
  } finally {
    await server.close();
    rmSync(home, { recursive: true, force: true });
  }
});

/** A small deterministic generator (mulberry32), so a failing fuzz case can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test("REST fuzz: 400 malformed requests, each refused with a 4xx, no crash, no state change", { timeout: scaled(120_000) }, async () => {
  const e = await setup();
  const { api } = e;
  const FUZZ_CASES = 400, SEED = 0x5eed;
  try {
    await api.call("POST", "/v1/vms", "/v1/vms", { ...echoVm(e, "idle"), disks: [{ id: "root", path: e.disk1 }] });
    await api.call("POST", "/v1/vms", "/v1/vms", echoVm(e, "live"));
    await api.call("PUT", "/v1/vms/{name}/actions", "/v1/vms/live/actions", { action_type: "InstanceStart" });
    const before = await snapshot(e);
    const rand = rng(SEED);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
    // Valid bodies for each endpoint (on the VM "idle"); each case breaks one so it cannot be valid.
    const targets: [string, string, string, Record<string, unknown>][] = [
      ["POST", "/v1/vms", "/v1/vms", { name: "fresh", cpus: 1, memory: "32M", boot: { firmware: "none", kernel: e.kernel } }],
      ["PUT", "/v1/vms/{name}/machine-config", "/v1/vms/idle/machine-config", { vcpu_count: 2, mem_size_mib: 64, smt: false }],
      ["PATCH", "/v1/vms/{name}/machine-config", "/v1/vms/idle/machine-config", { vcpu_count: 3, cpu_quota_percent: 20 }],
      ["PUT", "/v1/vms/{name}/boot-source", "/v1/vms/idle/boot-source", { kernel_image_path: e.kernel, boot_args: "x", firmware: "none" }],
      ["PUT", "/v1/vms/{name}/drives/{drive_id}", "/v1/vms/idle/drives/extra", { drive_id: "extra", path_on_host: e.disk2, is_read_only: true }],
      ["PATCH", "/v1/vms/{name}/drives/{drive_id}", "/v1/vms/idle/drives/root", { drive_id: "root", is_read_only: true }],
      ["PUT", "/v1/vms/{name}/actions", "/v1/vms/idle/actions", { action_type: "InstanceStart" }],
      ["PATCH", "/v1/vms/{name}/vm", "/v1/vms/live/vm", { state: "Paused" }],
    ];
    // (null is no wrong type for a string: boot_args and kernel_image_path are nullable.)
    const wrongTypeOf = (v: unknown): unknown => pick(typeof v === "string" ? [5, true, [], {}] : typeof v === "number" ? ["7", true, null, [1], 1.5e300] : typeof v === "boolean" ? ["true", 0, null, {}] : [0, "s", false]);
    const counts = new Map<number, number>();
    for (let i = 0; i < FUZZ_CASES; i++) {
      const [method, template, path, valid] = pick(targets);
      const json = JSON.stringify(valid);
      const kind = Math.floor(rand() * 6);
      let body: string | Uint8Array, p = path, t: string | null = template, headers: Record<string, string> = {};
      switch (kind) {
        case 0: body = json.slice(0, 1 + Math.floor(rand() * (json.length - 1))); break; // truncated
        case 1: { // one field of the wrong type
          const k = pick(Object.keys(valid));
          body = JSON.stringify({ ...valid, [k]: wrongTypeOf(valid[k]) });
          break;
        }
        case 2: body = JSON.stringify({ ...valid, [`x_${Math.floor(rand() * 1e6)}`]: rand() }); break; // unknown field
        case 3: body = Uint8Array.from({ length: 1 + Math.floor(rand() * 64) }, () => Math.floor(rand() * 256)); break; // random bytes
        case 4: { // a valid body at a VM that does not exist, or with a broken name
          body = json;
          const bad = pick(["nosuch", "-x", "%2e%2e", "a%2Fb", "x".repeat(64), "%00"]);
          if (template === "/v1/vms") { body = JSON.stringify({ ...valid, name: bad === "nosuch" ? "" : decodeURIComponent(bad.replace("%00", "")) || "-" }); break; }
          p = path.replace(/\/v1\/vms\/(idle|live)/, `/v1/vms/${bad}`);
          if (bad !== "nosuch") t = null;
          break;
        }
        default: // a valid JSON body with a wrong method or content type
          body = json;
          if (rand() < 0.5) headers = { "content-type": pick(["text/plain", "application/xml", "multipart/form-data"]) };
          else { t = null; p = path; }
          break;
      }
      const m = kind === 5 && t === null ? pick(["POST", "OPTIONS", "HEAD", "TRACE"].filter((x) => x !== method)) : method;
      const r = t === null ? await api.raw(m, p, body, headers) : await api.call(m, t, p, body, headers);
      assert.ok(r.status >= 400 && r.status < 500, `case ${i} (kind ${kind}) ${m} ${p} ${Buffer.from(body).toString("latin1")}: ${r.status} ${r.text}`);
      if (m !== "HEAD") assert.ok(await api.matches("Error", r.json), `case ${i}: ${r.text}`);
      counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
    }
    process.stderr.write(`REST fuzz: ${FUZZ_CASES} requests, statuses ${JSON.stringify(Object.fromEntries([...counts].sort()))}\n`);
    assert.equal(await snapshot(e), before, "a malformed request changed a VM");
    assert.equal((await api.call("GET", "/v1/vms", "/v1/vms")).status, 200);
  } finally { await teardown(e); }
});

test("REST: snapshots of a running VM — create, list, get, load (the VM restarts from it), clone from it, delete; refusals change nothing", { timeout: scaled(120_000) }, async () => {
  const e = await setup();
  const { api } = e;
  const A = "/v1/vms/{name}/actions", SC = "/v1/vms/{name}/snapshot/create", SL = "/v1/vms/{name}/snapshot/load";
  const S = "/v1/vms/{name}/snapshots", S1 = "/v1/vms/{name}/snapshots/{snapshot_name}", CL = "/v1/vms/{name}/clone";
  let ws: WsConsole | null = null;
  try {
    assert.equal((await api.call("POST", "/v1/vms", "/v1/vms", echoVm(e, "src"))).status, 201);
    // A shut-off VM has no machine state to capture.
    const off = await api.call("PUT", SC, "/v1/vms/src/snapshot/create", { snapshot_name: "s0" });
    assert.deepEqual([off.status, fault(off)], [409, "VM 'src' is shut off: a snapshot captures a running or paused machine (start it first)"]);
    assert.equal((await api.call("PUT", A, "/v1/vms/src/actions", { action_type: "InstanceStart" })).status, 204);
    const pid0 = ((await api.call("GET", "/v1/vms/{name}", "/v1/vms/src")).json as { pid: number }).pid;

    const made = await api.call("PUT", SC, "/v1/vms/src/snapshot/create", { snapshot_name: "s1" });
    assert.equal(made.status, 201, made.text);
    assert.equal(made.headers.location, "/v1/vms/src/snapshots/s1");
    const rec = made.json as { name: string; vm: string; state: string; machineBytes: number };
    assert.deepEqual([rec.name, rec.vm, rec.state], ["s1", "src", "running"]);
    assert.ok(rec.machineBytes > 0);
    const again = await api.call("PUT", SC, "/v1/vms/src/snapshot/create", { snapshot_name: "s1" });
    assert.deepEqual([again.status, fault(again)], [409, "VM 'src' already has a snapshot 's1'"]);
    const badName = await api.call("PUT", SC, "/v1/vms/src/snapshot/create", { snapshot_name: "../x" });
    assert.equal(badName.status, 400, badName.text);
    assert.deepEqual(((await api.call("GET", S, "/v1/vms/src/snapshots")).json as { name: string; error: null }[]).map((x) => [x.name, x.error]), [["s1", null]]);
    assert.equal((await api.call("GET", S, "/v1/vms/nosuch/snapshots")).status, 404);
    assert.equal(((await api.call("GET", S1, "/v1/vms/src/snapshots/s1")).json as { name: string }).name, "s1");
    assert.equal((await api.call("GET", S1, "/v1/vms/src/snapshots/nope")).status, 404);
    assert.equal(((await api.call("GET", "/v1/vms/{name}", "/v1/vms/src")).json as { snapshots: string[] }).snapshots.join(), "s1");

    // The machine file, downloaded, runs on its own: `rvisor run --restore FILE` (with a card for the
    // VM's default one) continues the guest.
    const SF = "/v1/vms/{name}/snapshots/{snapshot_name}/file";
    const file = await api.call("GET", SF, "/v1/vms/src/snapshots/s1/file");
    assert.equal(file.status, 200, file.text);
    assert.deepEqual([file.body.length, file.headers["content-length"], file.headers["content-disposition"]],
      [rec.machineBytes, String(rec.machineBytes), 'attachment; filename="src-s1.rvsnap"']);
    assert.equal((await api.call("GET", SF, "/v1/vms/src/snapshots/nope/file")).status, 404);
    assert.equal((await api.call("GET", SF, "/v1/vms/nosuch/snapshots/s1/file")).status, 404);
    const downloaded = join(e.home, "downloaded.rvsnap");
    writeFileSync(downloaded, file.body);
    const run = spawn(process.execPath, [RVISOR_BIN, "run", "--restore", downloaded, "--net", "user"], { stdio: ["pipe", "pipe", "pipe"] });
    try {
      let out = "";
      run.stdout.on("data", (d: Buffer) => { out += d.toString("latin1"); });
      run.stderr.on("data", (d: Buffer) => { out += d.toString("latin1"); });
      const runDeadline = performance.now() + 20_000;
      while (!out.includes("restored-echo")) {
        assert.ok(performance.now() < runDeadline && run.exitCode === null, `rvisor run --restore did not echo: ${out}`);
        run.stdin.write("restored-echo\r");
        await new Promise((r) => setTimeout(r, 250));
      }
    } finally { run.kill("SIGKILL"); }

    // load: the running VM is restored in its own process (no new process), paused at the
    // snapshot as asked; the console works after resume.
    const none = await api.call("PUT", SL, "/v1/vms/src/snapshot/load", { snapshot_name: "nope" });
    assert.deepEqual([none.status, fault(none)], [404, "VM 'src' has no snapshot 'nope'"]);
    assert.equal((await api.call("PUT", SL, "/v1/vms/src/snapshot/load", { snapshot_name: "s1", resume_vm: false })).status, 204);
    const loaded = (await api.call("GET", "/v1/vms/{name}", "/v1/vms/src")).json as { state: string; pid: number };
    assert.equal(loaded.state, "paused");
    assert.equal(loaded.pid, pid0);
    assert.equal((await api.call("PATCH", "/v1/vms/{name}/vm", "/v1/vms/src/vm", { state: "Resumed" })).status, 204);
    ws = new WsConsole(await api.console("src"));
    ws.send("after-load\r");
    await ws.waitText("after-load\r", 20_000);
    ws.ws.terminate();
    ws = null;

    // clone from the snapshot: a new VM whose first start continues from it.
    const cl = await api.call("PUT", CL, "/v1/vms/src/clone", { name: "c1", snapshot_name: "s1" });
    assert.equal(cl.status, 201, cl.text);
    assert.equal((cl.json as { restoreFrom: string | null }).restoreFrom, "src/s1");
    const dup = await api.call("PUT", CL, "/v1/vms/src/clone", { name: "c1", snapshot_name: "s1" });
    assert.equal(dup.status, 409, dup.text);
    const live = await api.call("PUT", CL, "/v1/vms/src/clone", { name: "c2" });
    assert.equal(live.status, 409, live.text); // without a snapshot the source must be shut off
    assert.equal((await api.call("PUT", A, "/v1/vms/c1/actions", { action_type: "InstanceStart" })).status, 204);
    assert.equal(((await api.call("GET", "/v1/vms/{name}", "/v1/vms/c1")).json as { state: string }).state, "running");

    const before = await snapshot(e);
    assert.equal((await api.call("DELETE", S1, "/v1/vms/src/snapshots/nope")).status, 404);
    assert.equal(await snapshot(e), before);
    assert.equal((await api.call("DELETE", S1, "/v1/vms/src/snapshots/s1")).status, 204);
    assert.deepEqual((await api.call("GET", S, "/v1/vms/src/snapshots")).json, []);
  } finally {
    ws?.ws.terminate();
    await teardown(e);
  }
});

test("REST: the tests above called every operation, each with a success and a refusal", () => {
  const seen = new Map<string, Set<number>>();
  for (const c of clients) for (const [op, st] of c.seen) for (const s of st) seen.set(op, (seen.get(op) ?? new Set()).add(s));
  for (const op of OPERATIONS) {
    const st = [...(seen.get(op.operationId) ?? [])];
    assert.ok(st.some((s) => s < 400), `${op.operationId}: no success (${st.join(", ")})`);
    if (op.operationId !== "getOpenApi") assert.ok(st.some((s) => s >= 400 && s < 500), `${op.operationId}: no refusal (${st.join(", ")})`);
  }
});
