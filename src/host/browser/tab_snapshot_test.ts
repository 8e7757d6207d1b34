import { test } from "node:test";
import assert from "node:assert/strict";
import { tabNicCount, tabRestoreProblem, tabSnapshotProblem } from "./tab_snapshot.js";
import type { BoardConfig } from "../../system/machine.js";

const board = (virtio: BoardConfig["virtio"]): BoardConfig =>
  ({ memBytes: 256 << 20, ramBase: 0x80000000, harts: 1, firmware: "builtin", isa: "rv64gc", extensions: ["i"], virtio });

test("the in-tab VM restores machines with only rng, console and network cards, and snapshots while its disk is unwritten", () => {
  assert.equal(tabRestoreProblem(board([{ deviceId: 4 }, { deviceId: 3 }])), null);
  // Network cards restore unplugged: one UnpluggedNet each.
  const nicBoard = board([{ deviceId: 1 }, { deviceId: 4 }, { deviceId: 1 }, { deviceId: 3 }]);
  assert.equal(tabRestoreProblem(nicBoard), null);
  assert.equal(tabNicCount(nicBoard), 2);
  assert.equal(tabNicCount(board([{ deviceId: 4 }, { deviceId: 3 }])), 0);

  assert.match(tabRestoreProblem(board([{ deviceId: 2, disk: { capacitySectors: 2048, readonly: false } }, { deviceId: 4 }, { deviceId: 3 }])) ?? "",
    /^this snapshot's machine has virtio0: a disk of 2048 sectors\. The in-tab VM restores only machines without disks/);
  assert.match(tabRestoreProblem(board([{ deviceId: 9, tag: "host0" }, { deviceId: 1 }, { deviceId: 4 }, { deviceId: 3 }])) ?? "",
    /virtio0: a shared folder \(9P\) 'host0'\. The in-tab VM restores only machines without disks or shares/);
  assert.equal(tabSnapshotProblem(null), null);
  assert.equal(tabSnapshotProblem(0), null);
  assert.match(tabSnapshotProblem(65536) ?? "", /^the root disk has 64 KiB of writes kept only in this tab/);
});
