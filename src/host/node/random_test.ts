import { test } from "node:test";
import assert from "node:assert/strict";
import { randomFill, randomHex } from "./random.js";

test("randomFill fills every byte, with fresh bytes each time", () => {
  for (const n of [0, 1, 16, 4096, 1 << 20]) {
    const a = new Uint8Array(n), b = new Uint8Array(n);
    randomFill(a); randomFill(b);
    if (n >= 16) assert.notDeepEqual(a, b, `${n} bytes twice`);
    if (n >= 4096) {
      // Every byte value turns up in a few KiB of random bytes; a buffer left (partly) zero would not.
      assert.equal(new Set(a).size, 256, `${n} bytes: all values`);
      assert.ok(a.subarray(n - 64).some((x) => x !== 0), `${n} bytes: the tail is filled`);
    }
  }
});

test("randomHex gives 2n hex digits", () => {
  const ids = new Set(Array.from({ length: 100 }, () => randomHex(32)));
  assert.equal(ids.size, 100);
  for (const id of ids) assert.match(id, /^[0-9a-f]{64}$/);
});
