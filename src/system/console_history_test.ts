import { test } from "node:test";
import assert from "node:assert/strict";
import { ConsoleHistory, bytesToLatin1, latin1ToBytes } from "./console_history.js";

const text = (h: ConsoleHistory): string => new TextDecoder().decode(h.bytes());
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

test("console history: keeps the last N bytes, byte by byte or in chunks; latin1 round trip", () => {
  const h = new ConsoleHistory(8);
  assert.equal(text(h), "");
  for (const ch of "abcde") h.push(enc(ch));
  assert.equal(text(h), "abcde");
  h.push(enc("fgh"));
  assert.equal(text(h), "abcdefgh");
  h.push(enc("i"));
  assert.equal(text(h), "bcdefghi");
  h.push(enc("0123456789xyz"));
  assert.equal(text(h), "56789xyz");
  h.push(enc("AB"));
  assert.equal(text(h), "789xyzAB");
  h.set(enc("hello"));
  assert.equal(text(h), "hello");
  h.set(enc("0123456789"));
  assert.equal(text(h), "23456789");
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  const s = bytesToLatin1(all);
  assert.equal(s.length, 256);
  assert.deepEqual(latin1ToBytes(JSON.parse(JSON.stringify(s)) as string), all);
  assert.equal(latin1ToBytes("\u0100"), null);
});
