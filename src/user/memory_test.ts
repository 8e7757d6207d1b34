import { test } from "node:test";
import assert from "node:assert/strict";
import { Ram } from "../memory/ram.js";
import { AddressSpace, FrameAllocator, OUT_OF_MEMORY, PAGE, PROT_READ, PROT_WRITE, USER_TOP } from "./memory.js";

const RW = PROT_READ | PROT_WRITE;

test("fork is copy-on-write: no page is copied until a write, and each write copies one page", () => {
  const frames = new FrameAllocator(new Ram(0x8000_0000, 64 * PAGE));
  const as = AddressSpace.create(frames);
  assert.ok(as !== null);
  as.map(0x10000, 40 * PAGE, RW, false, null, 0, "");
  for (let i = 0; i < 40; i++) assert.ok(as.write(0x10000 + i * PAGE, new Uint8Array([i + 1])));
  const used = frames.used;
  const c = as.fork();
  assert.ok(c !== null, "40 private pages fork within the 64 - 44 frames left: nothing is copied");
  const afterFork = frames.used;
  assert.ok(afterFork - used <= 3, `fork took ${afterFork - used} frames (page tables only)`);
  assert.deepEqual(c.read(0x10000 + 5 * PAGE, 1), new Uint8Array([6]), "the child reads the parent's data");
  assert.ok(c.write(0x10000 + 5 * PAGE, new Uint8Array([99])));
  assert.equal(frames.used, afterFork + 1, "one write copies one page");
  assert.deepEqual(as.read(0x10000 + 5 * PAGE, 1), new Uint8Array([6]), "the parent keeps its copy");
  assert.deepEqual(c.read(0x10000 + 5 * PAGE, 1), new Uint8Array([99]));
  // The parent's page is its own again (one holder): writing it copies nothing.
  assert.ok(as.write(0x10000 + 5 * PAGE, new Uint8Array([7])));
  assert.equal(frames.used, afterFork + 1);
  // Writing every page in the child runs out of frames: a clean OUT_OF_MEMORY, not an exception.
  let r = 0;
  for (let i = 0; i < 40 && r >= 0; i++) r = c.fault(0x10000 + i * PAGE, 1);
  assert.equal(r, OUT_OF_MEMORY);
  c.destroy(); as.destroy();
  assert.equal(frames.used, 0, "every frame given back");
});

test("a fork that runs out of frames for its page tables fails cleanly and gives every frame back", () => {
  const frames = new FrameAllocator(new Ram(0x8000_0000, 8 * PAGE));
  const as = AddressSpace.create(frames);
  assert.ok(as !== null);
  as.map(0, USER_TOP, RW, false, null, 0, "");
  // Pages 1 GiB apart need their own page tables in the child.
  for (let i = 0; i < 2; i++) assert.ok(as.fault(i * 2 ** 30, 1) >= 0);
  const used = frames.used;
  assert.equal(as.fork(), null);
  assert.equal(frames.used, used, "the partial copy was freed");
  assert.deepEqual(as.read(2 ** 30, 1), new Uint8Array([0]));
  assert.ok(as.write(2 ** 30, new Uint8Array([1])), "the parent still writes its page");
  as.destroy();
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
