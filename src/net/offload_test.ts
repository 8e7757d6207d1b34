import { test } from "node:test";
import assert from "node:assert/strict";
import { ETHERTYPE_IPV4, IPPROTO_TCP, IPPROTO_UDP, buildEth, buildIpv4, buildUdp, ip4, parseIpv4, parseUdp, readU16 } from "./packet.js";
import { TCP_ACK, TCP_FIN, parseTcp, writeTcpHeader } from "./tcp.js";
import { completeChecksum, partialChecksumSeed, segmentTcp4, transportChecksum } from "./offload.js";
import { GATEWAY_MAC } from "./user_net.js";
import { GUEST_MAC } from "./testing.js";

const A = ip4("10.0.2.15"), B = ip4("10.0.2.2");

function tcp(n: number, flags = TCP_ACK): Uint8Array {
  const t = new Uint8Array(20 + n).map((_, i) => (i < 20 ? 0 : i & 0xff));
  writeTcpHeader(t, 0, A, B, { srcPort: 1, dstPort: 2, seq: 5, ack: 9, flags, wnd: 100 }, n, true);
  return buildEth(GATEWAY_MAC, GUEST_MAC, ETHERTYPE_IPV4, buildIpv4(A, B, IPPROTO_TCP, 1, t));
}

test("completeChecksum: a partial TCP or UDP checksum becomes the full one; offsets past the end are refused", () => {
  const f = tcp(33);
  const tc = transportChecksum(f)!;
  assert.deepEqual(tc, { start: 34, offset: 16 });
  assert.ok(completeChecksum(f, tc.start, tc.offset));
  const ip = parseIpv4(f.subarray(14));
  assert.ok(typeof ip !== "string" && typeof parseTcp(ip.payload, A, B) !== "string");
  assert.equal(completeChecksum(f, f.length - 1, 0), false);
  // UDP: the seed, then the sum; the full checksum buildUdp computes is the same value.
  const u = buildUdp(A, B, 7, 8, Uint8Array.of(1, 2, 3));
  const full = readU16(u, 6);
  u[6] = partialChecksumSeed(A, B, IPPROTO_UDP, u.length) >>> 8; u[7] = partialChecksumSeed(A, B, IPPROTO_UDP, u.length) & 0xff;
  const uf = buildEth(GATEWAY_MAC, GUEST_MAC, ETHERTYPE_IPV4, buildIpv4(A, B, IPPROTO_UDP, 1, u));
  assert.deepEqual(transportChecksum(uf), { start: 34, offset: 6 });
  assert.ok(completeChecksum(uf, 34, 6));
  assert.equal(readU16(uf, 34 + 6), full);
  assert.ok(typeof parseUdp(uf.subarray(34), A, B) !== "string");
});

test("segmentTcp4: an exact multiple of the MSS, a segment no longer than one MSS, and frames that are no TCP/IPv4 segment", () => {
  const segs = segmentTcp4(tcp(3000, TCP_ACK | TCP_FIN), 1000)!;
  assert.deepEqual(segs.map((s) => s.length), [1054, 1054, 1054]);
  assert.deepEqual(segs.map((s) => s[34 + 13] & TCP_FIN), [0, 0, TCP_FIN]);
  const one = segmentTcp4(tcp(10), 1000)!;
  assert.equal(one.length, 1);
  const ip = parseIpv4(one[0].subarray(14));
  assert.ok(typeof ip !== "string" && typeof parseTcp(ip.payload, A, B) !== "string", "checksum filled in");
  assert.equal(segmentTcp4(tcp(10), 0), null);
  assert.equal(segmentTcp4(buildEth(GATEWAY_MAC, GUEST_MAC, ETHERTYPE_IPV4, buildIpv4(A, B, IPPROTO_UDP, 1, buildUdp(A, B, 1, 2, new Uint8Array(9)))), 1000), null);
  assert.equal(segmentTcp4(tcp(10).subarray(0, 40), 1000), null, "truncated");
});
