import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_CMDLINE, formatMib, parseMemoryMib, parseVmConfig, vmMac, VM_CONFIG_VERSION, VmConfigError } from "./config.js";
import { createRefusal, parseLimits, startRefusal } from "./limits.js";
import { parseControlRequest } from "./control.js";

/** Asserts that parsing `input` fails on `field` with a message matching `msg`. */
function rejects(input: unknown, field: string, msg: RegExp): void {
  assert.throws(() => parseVmConfig(input), (e: unknown) => {
    assert.ok(e instanceof VmConfigError, `expected VmConfigError, got ${String(e)}`);
    assert.equal(e.field, field);
    assert.match(e.message, msg);
    assert.ok(e.message.startsWith(`${field}: `), e.message);
    return true;
  });
}

test("VmConfig: defaults for a bare name; the result round-trips through JSON", () => {
  const c = parseVmConfig({ name: "web-1" });
  assert.deepEqual(c, {
    version: VM_CONFIG_VERSION, name: "web-1", cpus: 1, memoryMib: 256, cpu: { profile: "max", quotaPercent: 100 },
    boot: { firmware: "builtin", kernel: null, initrd: null, cmdline: DEFAULT_CMDLINE }, disks: [], shares: [],
    // A managed VM gets one user-mode card by default, its MAC derived from the VM's name.
    network: [{ id: "net0", type: "user", mac: vmMac("web-1", 0), hostfwd: [], restrict: false, switch: null }],
  });
  assert.deepEqual(parseVmConfig(JSON.parse(JSON.stringify(c))), c);
});

test("VmConfig: every field in its input shapes", () => {
  const c = parseVmConfig({
    name: "a.b_c", cpus: "4", memory: "2G", cpu: { profile: "rva22", quotaPercent: "50%" },
    boot: { firmware: "/fw.bin", kernel: "/k", initrd: "/i", cmdline: "console=ttyS0 quiet" },
    disks: ["/d0.img", { path: "/d1.qcow2", format: "qcow2", readonly: true }],
    shares: ["/src", { path: "/data", tag: "data", readonly: true }],
  });
  assert.equal(c.cpus, 4);
  assert.equal(c.memoryMib, 2048);
  assert.deepEqual(c.cpu, { profile: "rva22", quotaPercent: 50 });
  assert.deepEqual(c.disks, [{ id: "disk0", path: "/d0.img", format: "raw", readonly: false }, { id: "disk1", path: "/d1.qcow2", format: "qcow2", readonly: true }]);
  assert.deepEqual(c.shares, [{ path: "/src", tag: "host0", readonly: false }, { path: "/data", tag: "data", readonly: true }]);
  assert.equal(parseVmConfig({ name: "x", memoryMib: 64 }).memoryMib, 64);
});

test("VmConfig: memory sizes and units", () => {
  assert.equal(parseMemoryMib("512M"), 512);
  assert.equal(parseMemoryMib("512MiB"), 512);
  assert.equal(parseMemoryMib("1g"), 1024);
  assert.equal(parseMemoryMib("65536K"), 64);
  assert.equal(parseMemoryMib("300"), 300);
  assert.equal(parseMemoryMib(16), 16);
  assert.equal(formatMib(2048), "2G");
  assert.equal(formatMib(384), "384M");
});

test("VmConfig: each field's error names the field", () => {
  rejects(null, "config", /must be an object/);
  rejects([], "config", /must be an object/);
  rejects({ name: "x", color: "red" }, "color", /unknown field/);
  rejects({ name: "x", version: 2 }, "version", /unsupported config version 2/);
  rejects({}, "name", /must be a string/);
  rejects({ name: "" }, "name", /invalid VM name/);
  rejects({ name: "-x" }, "name", /invalid VM name/);
  rejects({ name: "a/b" }, "name", /invalid VM name/);
  rejects({ name: "x".repeat(64) }, "name", /invalid VM name/);
  rejects({ name: "x", cpus: 0 }, "cpus", /from 1 to 8 \(got 0\)/);
  rejects({ name: "x", cpus: 9 }, "cpus", /from 1 to 8/);
  rejects({ name: "x", cpus: 1.5 }, "cpus", /integer/);
  rejects({ name: "x", cpus: "two" }, "cpus", /integer/);
  rejects({ name: "x", memory: "15M" }, "memory", /between 16M and 2G/);
  rejects({ name: "x", memory: "3G" }, "memory", /between 16M and 2G/);
  rejects({ name: "x", memory: "lots" }, "memory", /bad size 'lots'/);
  rejects({ name: "x", memory: "1000K" }, "memory", /whole number of MiB/);
  rejects({ name: "x", memory: true }, "memory", /must be a size/);
  rejects({ name: "x", memoryMib: 4096 }, "memoryMib", /between/);
  rejects({ name: "x", memory: "1G", memoryMib: 1024 }, "memory", /not both/);
  rejects({ name: "x", cpu: "max" }, "cpu", /must be an object/);
  rejects({ name: "x", cpu: { profile: "rv32i" } }, "cpu.profile", /unknown CPU profile 'rv32i' \(valid: rv64gc, rva22, max\)/);
  rejects({ name: "x", cpu: { quotaPercent: 0 } }, "cpu.quotaPercent", /from 1 to 100/);
  rejects({ name: "x", cpu: { quotaPercent: "150%" } }, "cpu.quotaPercent", /from 1 to 100/);
  rejects({ name: "x", cpu: { smt: true } }, "cpu.smt", /unknown field/);
  rejects({ name: "x", boot: "linux" }, "boot", /must be an object/);
  rejects({ name: "x", boot: { kernel: "" } }, "boot.kernel", /must not be empty/);
  rejects({ name: "x", boot: { kernel: 5 } }, "boot.kernel", /must be a string/);
  rejects({ name: "x", boot: { kernel: "/k", initrd: "a\0b" } }, "boot.initrd", /NUL/);
  rejects({ name: "x", boot: { initrd: "/i" } }, "boot.initrd", /needs a kernel/);
  rejects({ name: "x", boot: { firmware: "none" } }, "boot.kernel", /bare metal/);
  rejects({ name: "x", boot: { firmware: "" } }, "boot.firmware", /must not be empty/);
  rejects({ name: "x", boot: { cmdline: 1 } }, "boot.cmdline", /must be a string/);
  rejects({ name: "x", disks: "/d" }, "disks", /must be an array/);
  rejects({ name: "x", disks: [42] }, "disks[0]", /must be an object/);
  rejects({ name: "x", disks: [{}] }, "disks[0].path", /must be a string/);
  rejects({ name: "x", disks: [{ path: "/d", format: "vmdk" }] }, "disks[0].format", /unknown disk format 'vmdk' \(valid: raw, qcow2\)/);
  rejects({ name: "x", disks: [{ path: "/d", readonly: "yes" }] }, "disks[0].readonly", /true or false/);
  rejects({ name: "x", disks: [{ path: "/d", cache: "none" }] }, "disks[0].cache", /unknown field/);
  rejects({ name: "x", disks: ["/d", "/e", "/d"] }, "disks[2].path", /already disk 0/);
  rejects({ name: "x", disks: [{ id: "root", path: "/d" }, { id: "root", path: "/e" }] }, "disks[1].id", /drive id 'root' is used twice/);
  rejects({ name: "x", disks: [{ id: "a/b", path: "/d" }] }, "disks[0].id", /invalid drive id 'a\/b'/);
  rejects({ name: "x", shares: [{ path: "/s", tag: "" }] }, "shares[0].tag", /1 to 65535 bytes/);
  rejects({ name: "x", shares: ["/a", { path: "/b", tag: "host0" }] }, "shares[1].tag", /used twice/);
  rejects({ name: "x", shares: [{ tag: "t" }] }, "shares[0].path", /must be a string/);
  rejects({ name: "x", network: {} }, "network", /must be an array/);
  rejects({ name: "x", network: ["user"] }, "network[0]", /must be an object/);
  rejects({ name: "x", network: [{ type: "tap" }] }, "network[0].type", /unknown interface type 'tap' \(valid: user, switch\)/);
  rejects({ name: "x", network: [{ id: "a b" }] }, "network[0].id", /invalid interface id/);
  rejects({ name: "x", network: [{ mac: "01:00:5e:00:00:01" }] }, "network[0].mac", /unicast MAC/);
  rejects({ name: "x", network: [{ mac: "52:54" }] }, "network[0].mac", /unicast MAC/);
  rejects({ name: "x", network: [{}, { id: "net0" }] }, "network[1].id", /used twice/);
  rejects({ name: "x", network: [{ mac: "52:54:00:00:00:01" }, { mac: "52:54:00:00:00:01" }] }, "network[1].mac", /used twice/);
  rejects({ name: "x", network: [{ type: "switch" }] }, "network[0].switch", /must be a string/);
  rejects({ name: "x", network: [{ type: "switch", switch: "../s" }] }, "network[0].switch", /invalid switch name/);
  rejects({ name: "x", network: [{ type: "user", switch: "s" }] }, "network[0].switch", /only a switch interface/);
  rejects({ name: "x", network: [{ switch: "s", hostfwd: [{ hostPort: 80, guestPort: 80 }] }] }, "network[0].hostfwd", /user-mode interfaces/);
  rejects({ name: "x", network: [{ hostfwd: [{ hostPort: 0, guestPort: 80 }] }] }, "network[0].hostfwd[0].hostPort", /port number from 1 to 65535/);
  rejects({ name: "x", network: [{ hostfwd: [{ proto: "sctp", hostPort: 1, guestPort: 80 }] }] }, "network[0].hostfwd[0].proto", /tcp or udp/);
  rejects({ name: "x", network: [{ hostfwd: [{ hostAddr: "localhost", hostPort: 1, guestPort: 80 }] }] }, "network[0].hostfwd[0].hostAddr", /IPv4/);
  rejects({ name: "x", network: [{ hostfwd: [{ hostPort: 1, guestAddr: "10.0.3.15", guestPort: 80 }] }] }, "network[0].hostfwd[0].guestAddr", /10\.0\.2\.0\/24/);
  rejects({ name: "x", network: [{ hostfwd: [{ hostPort: 8080, guestPort: 80 }] }, { hostfwd: [{ hostPort: 8080, guestPort: 81 }] }] }, "network[1].hostfwd[0]", /forwarded twice/);
  rejects({ name: "x", network: [{}, {}, {}, {}, {}] }, "network", /at most 4/);
});

test("VmConfig network: none, user with forwards, switch; MACs stable per name and different between names", () => {
  assert.deepEqual(parseVmConfig({ name: "a", network: [] }).network, []);
  const c = parseVmConfig({ name: "a", network: [{ hostfwd: [{ hostPort: 8080, guestPort: 80 }, { proto: "udp", hostAddr: "0.0.0.0", hostPort: 5353, guestAddr: "10.0.2.16", guestPort: 53 }], restrict: true }, { switch: "lab", mac: "52:54:00:AA:BB:CC" }] });
  assert.deepEqual(c.network, [
    { id: "net0", type: "user", mac: vmMac("a", 0), restrict: true, switch: null, hostfwd: [
      { proto: "tcp", hostAddr: "127.0.0.1", hostPort: 8080, guestAddr: null, guestPort: 80 },
      { proto: "udp", hostAddr: "0.0.0.0", hostPort: 5353, guestAddr: "10.0.2.16", guestPort: 53 }] },
    { id: "net1", type: "switch", mac: "52:54:00:aa:bb:cc", hostfwd: [], restrict: false, switch: "lab" },
  ]);
  assert.deepEqual(parseVmConfig(JSON.parse(JSON.stringify(c))), c);
  assert.match(vmMac("a", 0), /^52:54:00(:[0-9a-f]{2}){3}$/);
  assert.equal(vmMac("a", 0), vmMac("a", 0));
  assert.notEqual(vmMac("a", 0), vmMac("b", 0));
  assert.notEqual(vmMac("a", 0), vmMac("a", 1));
});

test("limits: from the host config and the environment (which wins); refusals name the limit and its value", () => {
  const l = parseLimits({ "limits.instances": 2, "limits.cpu": 4, "limits.memory": "1G" }, { RVISOR_LIMITS_CPU: "3" });
  assert.deepEqual(l, { instances: 2, cpu: 3, memoryMib: 1024 });
  assert.deepEqual(parseLimits(null, {}), { instances: null, cpu: null, memoryMib: null });
  assert.throws(() => parseLimits({ "limits.cpu": -1 }, {}), /limits.cpu: must be a whole number/);
  assert.throws(() => parseLimits({}, { RVISOR_LIMITS_MEMORY: "lots" }), /RVISOR_LIMITS_MEMORY: bad size/);
  const vm = parseVmConfig({ name: "v", cpus: 2, memory: "512M" });
  assert.equal(createRefusal(l, 1, vm), null);
  assert.equal(createRefusal(l, 2, vm), "creating VM 'v' would exceed limits.instances=2 (2 VMs defined)");
  assert.match(createRefusal({ ...l, cpu: 1 }, 0, vm) ?? "", /2 vCPUs, more than limits.cpu=1/);
  assert.match(createRefusal({ ...l, memoryMib: 256 }, 0, vm) ?? "", /512M of memory, more than limits.memory=256M/);
  assert.equal(startRefusal(l, [parseVmConfig({ name: "a" })], vm), null);
  assert.equal(startRefusal(l, [parseVmConfig({ name: "a", cpus: 2 })], vm),
    "starting VM 'v' would exceed limits.cpu=3 (2 vCPUs in use, 2 requested)");
  assert.equal(startRefusal(l, [parseVmConfig({ name: "a", memory: "768M" })], vm),
    "starting VM 'v' would exceed limits.memory=1G (768M in use, 512M requested)");
});

test("control requests: commands parse, everything else is a named error", () => {
  assert.deepEqual(parseControlRequest('{"cmd":"pause"}'), { cmd: "pause" });
  assert.deepEqual(parseControlRequest("{"), { error: "malformed JSON" });
  assert.deepEqual(parseControlRequest("[1]"), { error: "a request is a JSON object" });
  assert.match((parseControlRequest('{"cmd":"reboot"}') as { error: string }).error, /unknown command "reboot"/);
  assert.match((parseControlRequest("{}") as { error: string }).error, /unknown command \(none\)/);
});

test("memory cap: guest RAM plus the bounded host overhead; VM processes get a capped heap", async () => {
  const { memoryCapBytes, vmNodeOptions, VM_HOST_OVERHEAD_MIB, VM_HEAP_LIMIT_MIB } = await import("./memory.js");
  assert.equal(memoryCapBytes(64), (64 + VM_HOST_OVERHEAD_MIB) * 2 ** 20);
  assert.ok(VM_HEAP_LIMIT_MIB < VM_HOST_OVERHEAD_MIB, "the heap fits in the overhead");
  assert.ok(vmNodeOptions().includes(`--max-old-space-size=${VM_HEAP_LIMIT_MIB}`));
});
