import { test } from "node:test";
import assert from "node:assert/strict";
import { VmConfigError } from "./config.js";
import { parseControlRequest } from "./control.js";
import { defaultSnapshotName, parseDiskSize, parseSnapshotRecord, SnapshotRecordError, validateSnapshotName, type SnapshotRecord } from "./snapshots.js";

const good: SnapshotRecord = {
  version: 1, name: "s1", vm: "vm1", createdAt: "2026-12-02T04:00:00.000Z", state: "running", machineFile: "machine.rvsnap",
  machineBytes: 12582912, ramPages: 3000, pauseMs: 880,
  disks: [
    { index: 0, path: "/h/base.img", format: "raw", readonly: false, chain: ["/h/base.img"] },
    { index: 1, path: "/h/iso.img", format: "raw", readonly: true, chain: ["/h/iso.img"] },
  ],
};

test("snapshot record: a good record round-trips through JSON", () => {
  assert.deepEqual(parseSnapshotRecord(JSON.parse(JSON.stringify(good))), good);
});

test("snapshot record: every bad field is named", () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ version: 2 }, /version 2 is not supported/],
    [{ name: "bad/name" }, /invalid snapshot name 'bad\/name'/],
    [{ vm: "" }, /vm must be a VM name/],
    [{ createdAt: "yesterday" }, /createdAt must be a time/],
    [{ state: "shut off" }, /state must be running or paused/],
    [{ machineFile: "../x" }, /machineFile must be a file name/],
    [{ machineBytes: -1 }, /machineBytes, ramPages and pauseMs/],
    [{ disks: {} }, /disks must be an array/],
    [{ disks: [{ ...good.disks[0], format: "vmdk" }] }, /disks\[0\]\.format must be raw or qcow2/],
    [{ disks: [{ ...good.disks[0], chain: [1] }] }, /disks\[0\]\.chain must be a list of paths/],
    [{ disks: [good.disks[1], good.disks[0]] }, /index order/],
  ];
  for (const [change, msg] of cases) {
    assert.throws(() => parseSnapshotRecord({ ...good, ...change }), (e: unknown) => e instanceof SnapshotRecordError && msg.test(e.message), JSON.stringify(change));
  }
  assert.throws(() => parseSnapshotRecord([]), SnapshotRecordError);
});

test("snapshot names and default names", () => {
  assert.equal(validateSnapshotName("before-upgrade.1"), "before-upgrade.1");
  assert.throws(() => validateSnapshotName(".hidden"), SnapshotRecordError);
  assert.throws(() => validateSnapshotName(7), SnapshotRecordError);
  assert.equal(defaultSnapshotName(new Date("2026-12-02T04:05:06.789Z")), "snap-20261202-040506");
});

test("disk sizes for create --disk SIZE", () => {
  assert.equal(parseDiskSize("10G"), 10 * 2 ** 30);
  assert.equal(parseDiskSize("512M"), 512 * 2 ** 20);
  assert.equal(parseDiskSize("100GiB"), 100 * 2 ** 30);
  assert.equal(parseDiskSize("1.5k"), 1536);
  assert.equal(parseDiskSize("1T"), 2 ** 40);
  assert.equal(parseDiskSize("0.7K"), 1024, "rounded up to whole sectors");
  for (const path of ["disk.img", "10", "/tmp/10G", "10 G", "G"]) assert.equal(parseDiskSize(path), null, path);
  assert.throws(() => parseDiskSize("0M", "disks[2]"), (e: unknown) => e instanceof VmConfigError && e.message === "disks[2]: disk size 0M is out of range (1 sector to 1024T)");
  assert.throws(() => parseDiskSize("2000T"), VmConfigError);
});

test("control requests: snapshot carries a checked name; powerdown is a command", () => {
  assert.deepEqual(parseControlRequest('{"cmd":"snapshot","snapshot":"s1"}'), { cmd: "snapshot", snapshot: "s1" });
  assert.deepEqual(parseControlRequest('{"cmd":"powerdown"}'), { cmd: "powerdown" });
  assert.match((parseControlRequest('{"cmd":"snapshot"}') as { error: string }).error, /invalid snapshot name undefined/);
  assert.match((parseControlRequest('{"cmd":"snapshot","snapshot":"../x"}') as { error: string }).error, /invalid snapshot name '..\/x'/);
});

test("control requests: restore carries the machine file, one disk per slot (null: read-only) and the state", () => {
  assert.deepEqual(parseControlRequest('{"cmd":"restore","machine":"/s/m.rvsnap","disks":["/d/a.qcow2",null],"state":"paused"}'),
    { cmd: "restore", machine: "/s/m.rvsnap", disks: ["/d/a.qcow2", null], state: "paused" });
  const err = (line: string): string => (parseControlRequest(line) as { error: string }).error;
  assert.equal(err('{"cmd":"restore","disks":[],"state":"running"}'), "restore: machine must be a file path");
  assert.equal(err('{"cmd":"restore","machine":"m","disks":[1],"state":"running"}'), "restore: disks must be an array of paths (or null for a read-only disk)");
  assert.equal(err('{"cmd":"restore","machine":"m","disks":"x","state":"running"}'), "restore: disks must be an array of paths (or null for a read-only disk)");
  assert.equal(err('{"cmd":"restore","machine":"m","disks":[],"state":"off"}'), 'restore: state must be "running" or "paused"');
});
