import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compressionFor, readSnapshotFile, writeSnapshotFile } from "./snapshot_file.js";

test("snapshot files round-trip, plain and gzip (chosen by .gz, detected by magic), written atomically", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rvisor-snapfile-"));
  const bytes = new Uint8Array(100_000).map((_, i) => (i % 7 === 0 ? i & 0xff : 0));
  assert.equal(compressionFor("a.snap"), "none");
  assert.equal(compressionFor("a.snap.gz"), "gzip");
  const n1 = await writeSnapshotFile(join(dir, "a.snap"), bytes);
  assert.equal(n1, bytes.length);
  const n2 = await writeSnapshotFile(join(dir, "a.snap.gz"), bytes);
  assert.ok(n2 < bytes.length / 4, `gzip shrinks it (${n2})`);
  assert.deepEqual(readFileSync(join(dir, "a.snap.gz")).subarray(0, 2), Buffer.from([0x1f, 0x8b]));
  assert.deepEqual(await readSnapshotFile(join(dir, "a.snap")), bytes);
  assert.deepEqual(await readSnapshotFile(join(dir, "a.snap.gz")), bytes);
  assert.deepEqual(readdirSync(dir).sort(), ["a.snap", "a.snap.gz"], "no temporary file is left behind");
});
