import { test } from "node:test";
import assert from "node:assert/strict";
import { accessOk, argValue, int, MAX_RW_COUNT, ptr, rwCount, SIZE_HUGE, sizeT, uint } from "./args.js";
import { USER_TOP } from "./memory.js";

test("argValue: exact below 2^53, saturated beyond with the sign and low 32 bits kept", () => {
  assert.equal(argValue(-1, -1), -1); // (size_t)-1
  assert.equal(argValue(5, 0), 5);
  assert.equal(argValue(7, 0x1f_ffff), 0x1f_ffff * 2 ** 32 + 7);
  for (const [lo, hi] of [[3, 0x1234_5678], [0, 0x8000_0000 | 0], [-100, 0x4000_0000], [0x7fff_ffff, -0x20_0000]]) {
    const v = argValue(lo, hi);
    assert.ok(Number.isSafeInteger(v), `${lo},${hi} → ${v}`);
    assert.equal(Math.sign(v), hi < 0 ? -1 : 1);
    assert.ok(Math.abs(v) >= 2 ** 52);
    assert.equal(int(v), lo | 0, "the low 32 bits are the C int");
    assert.equal(uint(v), lo >>> 0);
  }
});

test("sizes and pointers: 2^63 and more is past every limit, counts clamp to MAX_RW_COUNT", () => {
  const minusOne = argValue(-1, -1), top = argValue(0, 0x8000_0000 | 0);
  assert.equal(sizeT(minusOne), SIZE_HUGE);
  assert.equal(sizeT(top), SIZE_HUGE);
  assert.equal(rwCount(minusOne), MAX_RW_COUNT);
  assert.equal(rwCount(100), 100);
  assert.equal(ptr(argValue(0, -1)), SIZE_HUGE, "a kernel-half address is no user address");
  assert.equal(accessOk(0x1000, 4096), true);
  assert.equal(accessOk(0x1000, sizeT(minusOne)), false);
  assert.equal(accessOk(USER_TOP - 4096, 4096), true);
  assert.equal(accessOk(USER_TOP - 4096, 4097), false);
  assert.equal(accessOk(ptr(minusOne), 1), false);
});
