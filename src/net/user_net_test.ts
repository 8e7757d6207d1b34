import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ARP_OP_REPLY, ARP_OP_REQUEST, BROADCAST_MAC, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST, IPPROTO_ICMP, IPPROTO_TCP, IPV4_FLAG_MF, buildArp, buildEth, buildIpv4, checksum, finishChecksum, ip4,
  onesSum, parseArp, parseEth, parseIpv4, parseUdp, pseudoSum, readU16, readU32, writeU16, writeU32, type Ip4,
} from "./packet.js";
import {
  BOOTP_FIXED_LEN, BOOTREPLY, BOOTREQUEST, DHCPACK, DHCPDISCOVER, DHCPNAK, DHCPOFFER, DHCPRELEASE, DHCPREQUEST,
  DHCP_MAGIC_COOKIE, OPT_DNS_SERVER, OPT_END, OPT_LEASE_TIME, OPT_MESSAGE_TYPE, OPT_REQUESTED_IP, OPT_ROUTER,
  OPT_SERVER_ID, OPT_SUBNET_MASK, parseDhcp,
} from "./dhcp.js";
import { DNS_RCODE_NOTIMP, DNS_RCODE_NXDOMAIN, DNS_TYPE_A, DNS_TYPE_AAAA, addressBytes } from "./dns.js";
import { DNS_MAX_ANSWERS, GATEWAY_MAC, MAX_QUEUED_FRAMES, UDP_IDLE_MS, UserNet } from "./user_net.js";
import { FakeFrontend, FakeNetHost, GUEST_MAC, guestUdp } from "./testing.js";

const GW = ip4("10.0.2.2"), DNS = ip4("10.0.2.3"), GUEST = ip4("10.0.2.15");
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

function setup(): { net: UserNet; host: FakeNetHost; fe: FakeFrontend; wakes: () => number } {
  const host = new FakeNetHost();
  let wakes = 0;
  const net = new UserNet(host, { onAsyncFrame: () => { wakes++; } });
  const fe = new FakeFrontend();
  net.attach(fe);
  return { net, host, fe, wakes: () => wakes };
}

/** The IPv4 packet and UDP datagram of a frame to the guest (asserting the checksums are right). */
function udpOf(frame: Uint8Array): { src: Ip4; dst: Ip4; srcPort: number; dstPort: number; data: Uint8Array; ethDst: Uint8Array } {
  const eth = parseEth(frame);
  assert.ok(eth !== null && eth.type === ETHERTYPE_IPV4);
  assert.deepEqual(eth.src, GATEWAY_MAC);
  const ip = parseIpv4(eth.payload);
  assert.ok(typeof ip !== "string", `bad IPv4: ${String(ip)}`);
  const u = parseUdp(ip.payload, ip.src, ip.dst);
  assert.ok(typeof u !== "string", `bad UDP: ${String(u)}`);
  assert.notEqual(readU16(ip.payload, 6), 0, "UDP checksum present");
  return { src: ip.src, dst: ip.dst, ...u, ethDst: eth.dst.slice() };
}

function arpRequest(spa: Ip4, tpa: Ip4): Uint8Array {
  return buildEth(BROADCAST_MAC, GUEST_MAC, ETHERTYPE_ARP,
    buildArp({ op: ARP_OP_REQUEST, sha: GUEST_MAC, spa, tha: new Uint8Array(6), tpa }));
}

test("ARP: the gateway and DNS addresses are answered with the gateway MAC; probes for other addresses are not", () => {
  const { net, fe } = setup();
  for (const tpa of [GW, DNS]) {
    net.transmit(arpRequest(GUEST, tpa));
    const [f] = fe.take();
    const eth = parseEth(f)!;
    assert.equal(eth.type, ETHERTYPE_ARP);
    assert.deepEqual(eth.dst, GUEST_MAC);
    const a = parseArp(eth.payload)!;
    assert.equal(a.op, ARP_OP_REPLY);
    assert.deepEqual(a.sha, GATEWAY_MAC);
    assert.equal(a.spa, tpa);
    assert.deepEqual(a.tha, GUEST_MAC);
    assert.equal(a.tpa, GUEST);
  }
  // udhcpc's conflict probe for its offered address (sender 0.0.0.0) must go unanswered.
  net.transmit(arpRequest(0, GUEST));
  net.transmit(arpRequest(GUEST, ip4("10.0.2.77")));
  assert.equal(fe.take().length, 0);
});

function dhcpMsg(type: number, mac: Uint8Array, xid: number, opts: number[] = [], ciaddr = 0): Uint8Array {
  const all = [OPT_MESSAGE_TYPE, 1, type, ...opts, OPT_END];
  const p = new Uint8Array(BOOTP_FIXED_LEN + 4 + all.length);
  p[0] = BOOTREQUEST; p[1] = 1; p[2] = 6;
  writeU32(p, 4, xid); writeU32(p, 12, ciaddr); p.set(mac, 28);
  writeU32(p, BOOTP_FIXED_LEN, DHCP_MAGIC_COOKIE);
  p.set(all, BOOTP_FIXED_LEN + 4);
  return p;
}

function ipOpt(code: number, a: Ip4): number[] { return [code, 4, a >>> 24, (a >>> 16) & 0xff, (a >>> 8) & 0xff, a & 0xff]; }

/** Options of a DHCP reply: code → value bytes. */
function dhcpOptions(p: Uint8Array): Map<number, Uint8Array> {
  const m = new Map<number, Uint8Array>();
  for (let i = BOOTP_FIXED_LEN + 4; i < p.length && p[i] !== OPT_END;) { m.set(p[i], p.slice(i + 2, i + 2 + p[i + 1])); i += 2 + p[i + 1]; }
  return m;
}

function dhcpExchange(net: UserNet, fe: FakeFrontend, type: number, mac: Uint8Array, xid: number, opts: number[] = []): { yiaddr: Ip4; type: number; opts: Map<number, Uint8Array>; raw: Uint8Array } | null {
  const frame = guestUdp(0, 68, 0xffffffff, 67, dhcpMsg(type, mac, xid, opts));
  frame.set(mac, 6);
  net.transmit(frame);
  const out = fe.take();
  if (out.length === 0) return null;
  assert.equal(out.length, 1);
  const u = udpOf(out[0]);
  assert.deepEqual([u.src, u.dst, u.srcPort, u.dstPort], [GW, 0xffffffff, 67, 68]);
  assert.deepEqual(u.ethDst, BROADCAST_MAC);
  assert.equal(u.data[0], BOOTREPLY);
  assert.equal(readU32(u.data, 4), xid);
  assert.deepEqual(u.data.slice(28, 34), mac);
  const o = dhcpOptions(u.data);
  return { yiaddr: readU32(u.data, 16), type: o.get(OPT_MESSAGE_TYPE)![0], opts: o, raw: u.data };
}

test("DHCP: DISCOVER/OFFER/REQUEST/ACK hands out 10.0.2.15 with mask, router, DNS and a 24 h lease; next client .16; NAK; RELEASE", () => {
  const { net, fe } = setup();
  const offer = dhcpExchange(net, fe, DHCPDISCOVER, GUEST_MAC, 0x1234)!;
  assert.equal(offer.type, DHCPOFFER);
  assert.equal(offer.yiaddr, GUEST);
  assert.deepEqual(offer.opts.get(OPT_SUBNET_MASK), Uint8Array.of(255, 255, 255, 0));
  assert.deepEqual(offer.opts.get(OPT_ROUTER), Uint8Array.of(10, 0, 2, 2));
  assert.deepEqual(offer.opts.get(OPT_DNS_SERVER), Uint8Array.of(10, 0, 2, 3));
  assert.deepEqual(offer.opts.get(OPT_SERVER_ID), Uint8Array.of(10, 0, 2, 2));
  assert.equal(readU32(offer.opts.get(OPT_LEASE_TIME)!, 0), 86400);
  const ack = dhcpExchange(net, fe, DHCPREQUEST, GUEST_MAC, 0x1235, [...ipOpt(OPT_REQUESTED_IP, GUEST), ...ipOpt(OPT_SERVER_ID, GW)])!;
  assert.equal(ack.type, DHCPACK);
  assert.equal(ack.yiaddr, GUEST);
  // The same client asking again keeps its address; another MAC gets the next one.
  assert.equal(dhcpExchange(net, fe, DHCPDISCOVER, GUEST_MAC, 1)!.yiaddr, GUEST);
  const other = Uint8Array.of(0x52, 0x54, 0, 0, 0, 2);
  assert.equal(dhcpExchange(net, fe, DHCPDISCOVER, other, 2)!.yiaddr, ip4("10.0.2.16"));
  // Asking for an address that is not yours: NAK. A REQUEST for another server: silence.
  assert.equal(dhcpExchange(net, fe, DHCPREQUEST, other, 3, ipOpt(OPT_REQUESTED_IP, GUEST))!.type, DHCPNAK);
  assert.equal(dhcpExchange(net, fe, DHCPREQUEST, other, 4, [...ipOpt(OPT_REQUESTED_IP, GUEST), ...ipOpt(OPT_SERVER_ID, ip4("10.0.2.9"))]), null);
  // RELEASE frees .15: a third client gets it.
  const rel = guestUdp(GUEST, 68, GW, 67, dhcpMsg(DHCPRELEASE, GUEST_MAC, 5, ipOpt(OPT_SERVER_ID, GW), GUEST));
  net.transmit(rel);
  assert.equal(fe.take().length, 0);
  assert.equal(dhcpExchange(net, fe, DHCPDISCOVER, Uint8Array.of(0x52, 0x54, 0, 0, 0, 3), 6)!.yiaddr, GUEST);
  // Truncated or cookie-less messages are dropped and counted.
  const bad = dhcpMsg(DHCPDISCOVER, GUEST_MAC, 7);
  net.transmit(guestUdp(0, 68, 0xffffffff, 67, bad.subarray(0, 200)));
  writeU32(bad, BOOTP_FIXED_LEN, 0);
  net.transmit(guestUdp(0, 68, 0xffffffff, 67, bad));
  assert.equal(fe.take().length, 0);
  assert.equal(net.stats.dropped["dhcp-malformed"], 2);
  // The lease table round-trips.
  const saved = JSON.parse(JSON.stringify(net.dhcp.saveState())) as ReturnType<UserNet["dhcp"]["saveState"]>;
  const net2 = new UserNet(new FakeNetHost());
  net2.dhcp.loadState(saved);
  assert.equal(net2.dhcp.leaseOf(other), ip4("10.0.2.16"));
  assert.equal(parseDhcp(offer.raw)?.type, DHCPOFFER);
});

function icmpEcho(id: number, seq: number, data: Uint8Array): Uint8Array {
  const p = new Uint8Array(8 + data.length);
  p[0] = ICMP_ECHO_REQUEST; writeU16(p, 4, id); writeU16(p, 6, seq); p.set(data, 8);
  writeU16(p, 2, checksum(p, 0, p.length));
  return p;
}

test("ICMP: echo to the gateway and DNS answered with id, sequence and data; bad checksum or other hosts dropped", () => {
  const { net, fe } = setup();
  for (const dst of [GW, DNS]) {
    net.transmit(buildEth(GATEWAY_MAC, GUEST_MAC, ETHERTYPE_IPV4, buildIpv4(GUEST, dst, IPPROTO_ICMP, 9, icmpEcho(0x77, 3, enc("ping-data")))));
    const [f] = fe.take();
    const ip = parseIpv4(parseEth(f)!.payload);
    assert.ok(typeof ip !== "string");
    assert.deepEqual([ip.src, ip.dst, ip.proto], [dst, GUEST, IPPROTO_ICMP]);
    assert.equal(ip.payload[0], ICMP_ECHO_REPLY);
    assert.equal(checksum(ip.payload, 0, ip.payload.length), 0);
    assert.deepEqual([readU16(ip.payload, 4), readU16(ip.payload, 6)], [0x77, 3]);
    assert.equal(new TextDecoder().decode(ip.payload.subarray(8)), "ping-data");
  }
  const bad = icmpEcho(1, 1, enc("x"));
  bad[8] ^= 1;
  net.transmit(buildEth(GATEWAY_MAC, GUEST_MAC, ETHERTYPE_IPV4, buildIpv4(GUEST, GW, IPPROTO_ICMP, 1, bad)));
  net.transmit(buildEth(GATEWAY_MAC, GUEST_MAC, ETHERTYPE_IPV4, buildIpv4(GUEST, ip4("192.0.2.1"), IPPROTO_ICMP, 1, icmpEcho(1, 1, enc("x")))));
  assert.equal(fe.take().length, 0);
  assert.equal(net.stats.dropped["icmp-checksum"], 1);
  assert.equal(net.stats.dropped["icmp-unsupported"], 1);
});

test("UDP: the guest reaches 10.0.2.2 as the host's 127.0.0.1 and other addresses as themselves; replies come back; sessions expire", () => {
  const { net, host, fe, wakes } = setup();
  net.transmit(guestUdp(GUEST, 5000, GW, 7777, enc("hello")));
  assert.equal(host.sockets.length, 1);
  const s = host.sockets[0];
  assert.deepEqual(s.sent.map((x) => [new TextDecoder().decode(x.data), x.address, x.port]), [["hello", "127.0.0.1", 7777]]);
  // The same guest port uses the same host socket, also toward another destination.
  net.transmit(guestUdp(GUEST, 5000, ip4("192.0.2.10"), 53, enc("x")));
  assert.equal(host.sockets.length, 1);
  assert.deepEqual([s.sent[1].address, s.sent[1].port], ["192.0.2.10", 53]);
  s.receive(enc("HELLO"), "127.0.0.1", 7777);
  s.receive(enc("from-outside"), "192.0.2.10", 53);
  const [a, b] = fe.take().map(udpOf);
  assert.deepEqual([a.src, a.srcPort, a.dst, a.dstPort, new TextDecoder().decode(a.data)], [GW, 7777, GUEST, 5000, "HELLO"]);
  assert.deepEqual(a.ethDst, GUEST_MAC);
  assert.deepEqual([b.src, b.srcPort], [ip4("192.0.2.10"), 53]);
  assert.equal(wakes(), 2);
  // A datagram too big for one frame is dropped (no fragmentation toward the guest).
  s.receive(new Uint8Array(1473), "127.0.0.1", 7777);
  assert.equal(fe.take().length, 0);
  assert.equal(net.stats.dropped["udp-too-big"], 1);
  // Broadcasts and other addresses of the virtual network do not leave it.
  net.transmit(guestUdp(GUEST, 5001, 0xffffffff, 9999, enc("b")));
  net.transmit(guestUdp(GUEST, 5001, ip4("10.0.2.99"), 9999, enc("b")));
  assert.equal(net.stats.dropped["udp-destination"], 2);
  // After UDP_IDLE_MS without traffic a session is closed when the next one opens.
  host.time += UDP_IDLE_MS + 1;
  net.transmit(guestUdp(GUEST, 5002, GW, 7777, enc("later")));
  assert.equal(s.closed, true);
  assert.equal(net.udpSessions, 1);
  net.close();
  assert.ok(host.sockets.every((x) => x.closed));
});

function dnsQuery(id: number, name: string, qtype: number): Uint8Array {
  const labels = name.split(".").flatMap((l) => [l.length, ...enc(l)]);
  const p = new Uint8Array(12 + labels.length + 5);
  writeU16(p, 0, id); writeU16(p, 2, 0x0100); writeU16(p, 4, 1);
  p.set(labels, 12); writeU16(p, 12 + labels.length + 1, qtype); writeU16(p, 12 + labels.length + 3, 1);
  return p;
}

test("DNS: 10.0.2.3:53 answers A and AAAA from the host resolver, NXDOMAIN for unknown names, NOTIMP for other types", async () => {
  const { net, host, fe } = setup();
  host.names.set("localhost", { v4: ["127.0.0.1"], v6: ["::1"] });
  host.names.set("v4only.test", { v4: ["192.0.2.7", "192.0.2.8"], v6: [] });
  host.names.set("many.test", { v4: Array.from({ length: 40 }, (_, i) => `192.0.2.${i}`), v6: [] });
  const ask = async (name: string, qtype: number): Promise<{ rcode: number; answers: Uint8Array[]; id: number }> => {
    net.transmit(guestUdp(GUEST, 40000, DNS, 53, dnsQuery(0xbeef, name, qtype)));
    await new Promise((r) => setImmediate(r));
    const [f] = fe.take();
    const u = udpOf(f);
    assert.deepEqual([u.src, u.srcPort, u.dst, u.dstPort], [DNS, 53, GUEST, 40000]);
    const d = u.data;
    assert.ok((readU16(d, 2) & 0x8000) !== 0, "QR set");
    let o = 12;
    while (d[o] !== 0) o += d[o] + 1;
    o += 5;
    const answers: Uint8Array[] = [];
    for (let i = 0; i < readU16(d, 6); i++) {
      assert.equal(readU16(d, o), 0xc00c);
      assert.equal(readU16(d, o + 2), qtype);
      const len = readU16(d, o + 10);
      answers.push(d.slice(o + 12, o + 12 + len));
      o += 12 + len;
    }
    assert.equal(o, d.length);
    return { rcode: readU16(d, 2) & 0xf, answers, id: readU16(d, 0) };
  };
  const a = await ask("localhost", DNS_TYPE_A);
  assert.deepEqual([a.id, a.rcode, a.answers], [0xbeef, 0, [Uint8Array.of(127, 0, 0, 1)]]);
  assert.deepEqual((await ask("localhost", DNS_TYPE_AAAA)).answers, [addressBytes("::1")]);
  assert.equal((await ask("v4only.test", DNS_TYPE_A)).answers.length, 2);
  assert.equal((await ask("many.test", DNS_TYPE_A)).answers.length, DNS_MAX_ANSWERS, "answers fit a 512-byte message");
  const noAAAA = await ask("v4only.test", DNS_TYPE_AAAA);
  assert.deepEqual([noAAAA.rcode, noAAAA.answers.length], [0, 0]);
  assert.equal((await ask("nowhere.invalid", DNS_TYPE_A)).rcode, DNS_RCODE_NXDOMAIN);
  assert.equal((await ask("localhost", 15 /* MX */)).rcode, DNS_RCODE_NOTIMP);
  assert.deepEqual(host.lookups, ["localhost/4", "localhost/6", "v4only.test/4", "many.test/4", "v4only.test/6", "nowhere.invalid/4"]);
  // A truncated query gets no answer.
  net.transmit(guestUdp(GUEST, 40000, DNS, 53, dnsQuery(1, "localhost", DNS_TYPE_A).subarray(0, 15)));
  await new Promise((r) => setImmediate(r));
  assert.equal(fe.take().length, 0);
  assert.equal(net.stats.dropped["dns-malformed"], 1);
});

test("TCP to a host port that refuses: RST|ACK acknowledging the SYN once the host connect fails; a RST is never answered", () => {
  const { net, host, fe } = setup();
  const syn = new Uint8Array(20);
  writeU16(syn, 0, 40001); writeU16(syn, 2, 80); writeU32(syn, 4, 0xfffffff0); syn[12] = 5 << 4; syn[13] = 0x02;
  writeU16(syn, 16, finishChecksum(onesSum(syn, 0, 20, pseudoSum(GUEST, GW, IPPROTO_TCP, 20))));
  net.transmit(buildEth(GATEWAY_MAC, GUEST_MAC, ETHERTYPE_IPV4, buildIpv4(GUEST, GW, IPPROTO_TCP, 1, syn)));
  assert.equal(fe.take().length, 0, "no answer before the host connection resolves");
  assert.deepEqual(host.tcpSockets.map((s) => `${s.address}:${s.port}`), ["127.0.0.1:80"], "10.0.2.2 is the host's loopback");
  host.tcpSockets[0].ev!.closed(true);
  const [f] = fe.take();
  const ip = parseIpv4(parseEth(f)!.payload);
  assert.ok(typeof ip !== "string");
  const t = ip.payload;
  assert.deepEqual([ip.src, ip.dst, readU16(t, 0), readU16(t, 2)], [GW, GUEST, 80, 40001]);
  assert.equal(t[13], 0x14, "RST|ACK");
  assert.equal(readU32(t, 8), 0xfffffff1);
  assert.equal(finishChecksum(onesSum(t, 0, t.length, pseudoSum(GW, GUEST, IPPROTO_TCP, t.length))), 0);
  assert.equal(net.tcp.connections, 0);
  const rst = syn.slice(); rst[13] = 0x04;
  writeU16(rst, 16, 0); writeU16(rst, 16, finishChecksum(onesSum(rst, 0, 20, pseudoSum(GUEST, GW, IPPROTO_TCP, 20))));
  net.transmit(buildEth(GATEWAY_MAC, GUEST_MAC, ETHERTYPE_IPV4, buildIpv4(GUEST, GW, IPPROTO_TCP, 2, rst)));
  assert.equal(fe.take().length, 0);
});

test("bad frames: every truncation, wrong checksums, fragments, foreign MACs, IPv6 are dropped and counted without throwing", () => {
  const { net, host, fe } = setup();
  const good = guestUdp(GUEST, 5000, GW, 7, enc("payload!"));
  for (let n = 0; n < good.length; n++) net.transmit(good.subarray(0, n));
  assert.equal(host.sockets.length, 0, "no truncated frame got through");
  assert.equal(fe.take().length, 0);
  const d = net.stats.dropped;
  assert.equal(d["eth-short"], 14);
  assert.ok((d["ip-short"] ?? 0) + (d["ip-total-length"] ?? 0) === good.length - 14);
  const withIpSum = good.slice(); withIpSum[14 + 10] ^= 0x40;
  net.transmit(withIpSum);
  assert.equal(d["ip-checksum"], 1);
  const withUdpSum = good.slice(); withUdpSum[good.length - 1] ^= 1;
  net.transmit(withUdpSum);
  assert.equal(d["udp-checksum"], 1);
  const frag = good.slice();
  writeU16(frag, 14 + 6, IPV4_FLAG_MF);
  writeU16(frag, 14 + 10, 0); writeU16(frag, 14 + 10, checksum(frag, 14, 20));
  net.transmit(frag);
  assert.equal(d.fragment, 1);
  const foreign = good.slice(); foreign[0] = 0x02;
  net.transmit(foreign);
  assert.equal(d["not-for-us"], 1);
  net.transmit(buildEth(GATEWAY_MAC, GUEST_MAC, ETHERTYPE_IPV6, new Uint8Array(40)));
  assert.equal(d.ethertype, 1);
  // A source outside the network is refused.
  net.transmit(guestUdp(ip4("192.168.1.5"), 5000, GW, 7, enc("spoof")));
  assert.equal(d["ip-source"], 1);
  // Ethernet padding after the datagram is ignored: the good frame padded still works.
  const padded = new Uint8Array(good.length + 10); padded.set(good);
  net.transmit(padded);
  assert.equal(host.sockets[0].sent.length, 1);
  assert.equal(new TextDecoder().decode(host.sockets[0].sent[0].data), "payload!");
});

test("backpressure: frames wait until the NIC has room, in order, bounded by MAX_QUEUED_FRAMES", () => {
  const { net, fe } = setup();
  fe.room = 0;
  for (let i = 0; i < 3; i++) net.transmit(arpRequest(GUEST, GW));
  assert.equal(fe.frames.length, 0);
  fe.room = 2;
  net.rxReady();
  assert.equal(fe.take().length, 2);
  fe.room = Infinity;
  net.rxReady();
  assert.equal(fe.take().length, 1);
  fe.room = 0;
  for (let i = 0; i < MAX_QUEUED_FRAMES + 5; i++) net.transmit(arpRequest(GUEST, GW));
  assert.equal(net.stats.dropped["rx-queue-full"], 5);
  fe.room = Infinity;
  net.rxReady();
  assert.equal(fe.take().length, MAX_QUEUED_FRAMES);
});

test("addressBytes parses IPv4 and IPv6 text forms", () => {
  assert.deepEqual(addressBytes("10.0.2.3"), Uint8Array.of(10, 0, 2, 3));
  assert.equal(addressBytes("256.0.0.1"), null);
  assert.deepEqual(addressBytes("2001:db8::5")?.[15], 5);
  assert.deepEqual(addressBytes("2001:db8::5")?.slice(0, 4), Uint8Array.of(0x20, 0x01, 0x0d, 0xb8));
  assert.equal(addressBytes("1::2::3"), null);
  assert.equal(addressBytes("hello"), null);
});
