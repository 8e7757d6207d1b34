import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { imageMain, timeAgo } from "./image.js";
import { ImageStore } from "../host/node/image_store.js";

test("image cli: CREATED as docker images shows it", () => {
  const now = Date.parse("2026-01-10T00:00:00Z");
  assert.equal(timeAgo("2026-01-09T23:59:30Z", now), "Less than a minute ago");
  assert.equal(timeAgo("2026-01-09T23:00:00Z", now), "1 hour ago");
  assert.equal(timeAgo("2026-01-07T00:00:00Z", now), "3 days ago");
  assert.equal(timeAgo("2025-01-01T00:00:00Z", now), "1 year ago");
  assert.equal(timeAgo(null, now), "N/A");
});

test("image cli: usage errors exit 2, store errors exit 1 with one line", async () => {
  const home = mkdtempSync(join(tmpdir(), "rvisor-image-cli-"));
  const errs: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((s: string) => { errs.push(s); return true; }) as typeof process.stderr.write;
  try {
    const store = new ImageStore(home);
    assert.equal(await imageMain(["frobnicate"], store), 2);
    assert.equal(await imageMain(["pull"], store), 2);
    assert.equal(await imageMain(["pull", "Bad_Name"], store), 1);
    assert.equal(await imageMain(["import", join(home, "nothing.tar")], store), 1);
    assert.equal(await imageMain(["rm", "nosuch:1"], store), 1);
  } finally {
    process.stderr.write = write;
    rmSync(home, { recursive: true, force: true });
  }
  assert.match(errs[0], /unknown image command 'frobnicate'/);
  assert.match(errs[1], /pull takes one REF/);
  assert.match(errs[2], /invalid reference format/);
  assert.match(errs[3], /nothing\.tar: no such file or directory/);
  assert.match(errs[4], /No such image: nosuch:1/);
});
