import { test } from "node:test";
import assert from "node:assert/strict";
import { Ram } from "../memory/ram.js";
import { AddressSpace, FrameAllocator, OUT_OF_MEMORY, PAGE, PROT_READ, PROT_WRITE, USER_TOP } from "./memory.js";

const RW = PROT_READ | PROT_WRITE;

test("a fork that runs out of frames fails cleanly and gives every frame back", () => {
  const frames = new FrameAllocator(new Ram(0x8000_0000, 64 * PAGE));
  const as = AddressSpace.create(frames);
  assert.ok(as !== null);
  as.map(0x10000, 40 * PAGE, RW, false, null, 0, "");
  for (let i = 0; i < 40; i++) assert.ok(as.fault(0x10000 + i * PAGE, 1) >= 0);
  const used = frames.used;
  assert.equal(as.fork(), null, "40 private pages cannot be copied into the 64 - 44 frames left");
  assert.equal(frames.used, used, "the partial copy was freed");
  as.unmap(0x10000, 30 * PAGE);
  const c = as.fork();
  assert.ok(c !== null, "with room, fork works");
  c.destroy(); as.destroy();
  assert.equal(frames.used, 0);
});

test("page faults report OUT_OF_MEMORY (frames or page tables) instead of throwing", () => {
  const frames = new FrameAllocator(new Ram(0x8000_0000, 8 * PAGE));
  const as = AddressSpace.create(frames);
  assert.ok(as !== null);
  as.map(0, USER_TOP, RW, false, null, 0, "");
  let r = 0, n = 0;
  // Pages 1 GiB apart: each needs two new page tables and a frame.
  for (; n < 8 && r >= 0; n++) r = as.fault(n * 2 ** 30, 1);
  assert.equal(r, OUT_OF_MEMORY);
  assert.equal(as.fault(-4096, 1), -1, "an address outside the user half is no page");
  assert.equal(as.phys(2 ** 40, false), -1);
  assert.equal(as.read(0, -1), null, "a negative length is EFAULT, not a RangeError");
  assert.equal(as.read(0, 2 ** 40), null);
  assert.equal(AddressSpace.create(frames), null, "no frame for a root table");
});
