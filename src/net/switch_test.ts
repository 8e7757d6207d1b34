import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ARP_OP_REPLY, ARP_OP_REQUEST, BROADCAST_MAC, ETHERTYPE_ARP, ETHERTYPE_IPV4, IPPROTO_UDP, buildArp, buildEth, buildIpv4,
  buildUdp, ip4, ip4String, parseArp, parseEth, parseIpv4, parseUdp, readU16, readU32, writeU32, type Ip4,
} from "./packet.js";
import {
  BOOTP_FIXED_LEN, BOOTREQUEST, DHCPACK, DHCPDISCOVER, DHCPOFFER, DHCPREQUEST, DHCP_MAGIC_COOKIE, OPT_DNS_SERVER,
  OPT_DOMAIN_NAME, OPT_END, OPT_HOST_NAME, OPT_MESSAGE_TYPE, OPT_REQUESTED_IP, OPT_ROUTER, OPT_SERVER_ID,
} from "./dhcp.js";
import { DNS_HEADER_LEN, DNS_RCODE_NOERROR, DNS_RCODE_NXDOMAIN, DNS_TYPE_A, DNS_TYPE_AAAA } from "./dns.js";
import { DNS_RCODE_REFUSED, MAC_AGEING_MS, MAC_TABLE_MAX, SwitchJoinError, VirtualSwitch, switchSubnet } from "./switch.js";
import { MessageDecoder, SWITCH_MESSAGE_MAX, SwitchWireError, encodeMessage, encodeJson, parseHello, parseWelcome } from "./switch_wire.js";

const MAC_A = "52:54:00:00:00:0a", MAC_B = "52:54:00:00:00:0b", MAC_C = "52:54:00:00:00:0c";
const mac = (s: string): Uint8Array => Uint8Array.from(s.split(":").map((x) => parseInt(x, 16)));

interface Sw { sw: VirtualSwitch; got: Map<string, Uint8Array[]>; ids: Map<string, number>; clock: { t: number } }

function setup(name = "lab", ports: [string, string][] = [["a", MAC_A], ["b", MAC_B], ["c", MAC_C]]): Sw {
  const clock = { t: 0 };
  const sw = new VirtualSwitch(name, () => clock.t);
  const got = new Map<string, Uint8Array[]>(), ids = new Map<string, number>();
  for (const [n, m] of ports) {
    got.set(n, []);
    ids.set(n, sw.join(n, m, (f) => got.get(n)!.push(f.slice())));
  }
  return { sw, got, ids, clock };
}

function take(s: Sw, n: string): Uint8Array[] { return s.got.get(n)!.splice(0); }

function frame(dst: Uint8Array, src: string, payload = new Uint8Array(46)): Uint8Array { return buildEth(dst, mac(src), 0x88b5, payload); }

test("switch subnets: 10.0.X.0/24 from the name, never 10.0.2.0, the same for the same name", () => {
  const seen = new Set<number>();
  for (let i = 0; i < 2000; i++) {
    const s = switchSubnet(`sw${i}`);
    assert.equal(s >>> 16, 0x0a00);
    assert.equal(s & 0xff, 0);
    const x = (s >>> 8) & 0xff;
    assert.ok(x >= 3 && x <= 253, `third octet ${x}`);
    seen.add(x);
  }
  assert.ok(seen.size > 200, "spread over the range");
  assert.equal(switchSubnet("lab"), switchSubnet("lab"));
  assert.equal(new VirtualSwitch("lab", () => 0).subnetString, `${ip4String(switchSubnet("lab"))}/24`);
});

test("learning: unknown unicast and broadcast flood to the other ports, a learned MAC gets its frames alone", () => {
  const s = setup();
  // b's MAC is known from its join (pinned): a → b goes to b only.
  s.sw.input(s.ids.get("a")!, frame(mac(MAC_B), MAC_A));
  assert.equal(take(s, "b").length, 1);
  assert.equal(take(s, "c").length, 0);
  assert.equal(take(s, "a").length, 0, "never back to the sender");
  // A MAC nobody has used: flooded to b and c.
  const stranger = "52:54:00:99:99:99";
  s.sw.input(s.ids.get("a")!, frame(mac(stranger), MAC_A));
  assert.deepEqual([take(s, "b").length, take(s, "c").length, take(s, "a").length], [1, 1, 0]);
  // c sends from a second MAC (a VM with a bridge inside): learned on c's port.
  s.sw.input(s.ids.get("c")!, frame(BROADCAST_MAC, stranger));
  assert.deepEqual([take(s, "a").length, take(s, "b").length, take(s, "c").length], [1, 1, 0]);
  s.sw.input(s.ids.get("a")!, frame(mac(stranger), MAC_A));
  assert.deepEqual([take(s, "b").length, take(s, "c").length], [0, 1]);
  // Multicast (IPv6 all-nodes, 33:33:00:00:00:01) floods.
  s.sw.input(s.ids.get("b")!, frame(Uint8Array.of(0x33, 0x33, 0, 0, 0, 1), MAC_B));
  assert.deepEqual([take(s, "a").length, take(s, "c").length, take(s, "b").length], [1, 1, 0]);
  // A frame for a MAC learned on the sender's own port is not sent anywhere.
  s.sw.input(s.ids.get("c")!, frame(mac(stranger), MAC_C));
  assert.deepEqual([take(s, "a").length, take(s, "b").length, take(s, "c").length], [0, 0, 0]);
  assert.equal(s.sw.stats.dropped["same-port"], 1);
  // After the ageing time an entry learned from traffic no longer directs frames: flooded again.
  s.clock.t += MAC_AGEING_MS + 1;
  s.sw.input(s.ids.get("a")!, frame(mac(stranger), MAC_A));
  assert.deepEqual([take(s, "b").length, take(s, "c").length], [1, 1]);
});

test("a port's own MAC is pinned: another port sending from it is dropped; leaving forgets its MACs", () => {
  const s = setup();
  s.sw.input(s.ids.get("c")!, frame(BROADCAST_MAC, MAC_A));
  assert.deepEqual([take(s, "a").length, take(s, "b").length], [0, 0]);
  assert.equal(s.sw.stats.dropped.spoofed, 1);
  s.sw.input(s.ids.get("b")!, frame(mac(MAC_A), MAC_B));
  assert.equal(take(s, "a").length, 1, "a still gets its frames");
  assert.equal(take(s, "c").length, 0);
  s.sw.leave(s.ids.get("a")!);
  assert.equal(s.sw.portCount, 2);
  s.sw.input(s.ids.get("b")!, frame(mac(MAC_A), MAC_B));
  assert.equal(take(s, "c").length, 1, "unknown now: flooded");
  assert.equal(take(s, "a").length, 0, "a left");
  // Frames from a port that left are ignored.
  s.sw.input(s.ids.get("a")!, frame(BROADCAST_MAC, MAC_A));
  assert.equal(take(s, "b").length + take(s, "c").length, 0);
});

test("join refuses bad names and MACs, and a name or MAC already on the switch", () => {
  const s = setup();
  for (const [n, m] of [["a", "52:54:00:00:01:01"], ["A", "52:54:00:00:01:01"], ["d", MAC_B], ["-x", "52:54:00:00:01:02"], ["d", "01:00:5e:00:00:01"], ["d", "00:00:00:00:00:00"], ["d", "zz"]]) {
    assert.throws(() => s.sw.join(n, m, () => undefined), SwitchJoinError, `${n} ${m}`);
  }
  assert.equal(s.sw.portCount, 3);
  // A nameless port (rvisor run without name=) is fine, more than one too.
  s.sw.join("", "52:54:00:00:01:03", () => undefined);
  s.sw.join("", "52:54:00:00:01:04", () => undefined);
  assert.equal(s.sw.portCount, 5);
});

test("malformed frames are dropped and counted; the other ports see nothing of them", () => {
  const s = setup();
  const a = s.ids.get("a")!;
  s.sw.input(a, new Uint8Array(0));
  s.sw.input(a, new Uint8Array(13));
  s.sw.input(a, frame(BROADCAST_MAC, MAC_A, new Uint8Array(1600)));
  s.sw.input(a, frame(BROADCAST_MAC, "53:54:00:00:00:0a")); // multicast source
  const zero = frame(BROADCAST_MAC, MAC_A); zero.fill(0, 6, 12);
  s.sw.input(a, zero);
  // An IPv4 datagram for the switch host with a broken header checksum, a truncated ARP.
  const bad = buildEth(s.sw.hostMac, mac(MAC_A), ETHERTYPE_IPV4, buildIpv4(ip4("10.0.0.9"), s.sw.hostIp, IPPROTO_UDP, 1, new Uint8Array(8)));
  bad[ETH_IP_CSUM] ^= 0xff;
  s.sw.input(a, bad);
  s.sw.input(a, buildEth(s.sw.hostMac, mac(MAC_A), ETHERTYPE_ARP, new Uint8Array(10)));
  assert.deepEqual([take(s, "a").length, take(s, "b").length, take(s, "c").length], [0, 0, 0]);
  assert.deepEqual(s.sw.stats.dropped, { short: 2, "too-long": 1, "source-multicast": 1, "source-zero": 1, "ip-malformed": 1, "arp-malformed": 1 });
});
const ETH_IP_CSUM = 14 + 10;

test("a flood of made-up source MACs cannot grow the table past its bound", () => {
  const s = setup();
  const a = s.ids.get("a")!;
  for (let i = 0; i < MAC_TABLE_MAX + 500; i++) {
    const m = `02:00:${((i >> 16) & 0xff).toString(16).padStart(2, "0")}:${((i >> 8) & 0xff).toString(16).padStart(2, "0")}:${(i & 0xff).toString(16).padStart(2, "0")}:01`;
    s.sw.input(a, frame(BROADCAST_MAC, m));
    s.clock.t++;
  }
  assert.ok(s.sw.learned <= MAC_TABLE_MAX, `${s.sw.learned}`);
  take(s, "b"); take(s, "c");
  // The pinned MACs survive: a → b still goes to b alone.
  s.sw.input(a, frame(mac(MAC_B), MAC_A));
  assert.deepEqual([take(s, "b").length, take(s, "c").length], [1, 0]);
});

// ---- the switch host: ARP, DHCP, DNS ----

function dhcpMsg(type: number, m: Uint8Array, xid: number, opts: number[] = []): Uint8Array {
  const all = [OPT_MESSAGE_TYPE, 1, type, ...opts, OPT_END];
  const p = new Uint8Array(BOOTP_FIXED_LEN + 4 + all.length);
  p[0] = BOOTREQUEST; p[1] = 1; p[2] = 6;
  writeU32(p, 4, xid); p.set(m, 28);
  writeU32(p, BOOTP_FIXED_LEN, DHCP_MAGIC_COOKIE);
  p.set(all, BOOTP_FIXED_LEN + 4);
  return p;
}

function options(p: Uint8Array): Map<number, Uint8Array> {
  const m = new Map<number, Uint8Array>();
  for (let i = BOOTP_FIXED_LEN + 4; i < p.length && p[i] !== OPT_END;) { m.set(p[i], p.slice(i + 2, i + 2 + p[i + 1])); i += 2 + p[i + 1]; }
  return m;
}

function udpFrom(src: string, srcIp: Ip4, dstMac: Uint8Array, dstIp: Ip4, sport: number, dport: number, data: Uint8Array): Uint8Array {
  return buildEth(dstMac, mac(src), ETHERTYPE_IPV4, buildIpv4(srcIp, dstIp, IPPROTO_UDP, 7, buildUdp(srcIp, dstIp, sport, dport, data)));
}

/** The UDP datagrams among frames (checked: IPv4 and UDP checksums). */
function udps(frames: Uint8Array[]): { ethDst: Uint8Array; src: Ip4; dst: Ip4; srcPort: number; dstPort: number; data: Uint8Array }[] {
  return frames.flatMap((f) => {
    const e = parseEth(f)!;
    if (e.type !== ETHERTYPE_IPV4) return [];
    const ip = parseIpv4(e.payload);
    assert.ok(typeof ip !== "string");
    const u = parseUdp(ip.payload, ip.src, ip.dst);
    assert.ok(typeof u !== "string");
    return [{ ethDst: e.dst.slice(), src: ip.src, dst: ip.dst, ...u }];
  });
}

function dhcp(s: Sw, who: string, m: string, hostName?: string): Ip4 {
  const id = s.ids.get(who)!;
  const hn = hostName === undefined ? [] : [OPT_HOST_NAME, hostName.length, ...Array.from(hostName, (c) => c.charCodeAt(0))];
  s.sw.input(id, udpFrom(m, 0, BROADCAST_MAC, 0xffffffff, 68, 67, dhcpMsg(DHCPDISCOVER, mac(m), 1, hn)));
  const [offer] = udps(take(s, who)).filter((u) => u.dstPort === 68);
  assert.equal(offer.data[0], 2);
  assert.deepEqual(offer.ethDst, mac(m), "to the client's MAC");
  assert.equal(options(offer.data).get(OPT_MESSAGE_TYPE)![0], DHCPOFFER);
  const yi = readU32(offer.data, 16);
  s.sw.input(id, udpFrom(m, 0, BROADCAST_MAC, 0xffffffff, 68, 67, dhcpMsg(DHCPREQUEST, mac(m), 2,
    [OPT_REQUESTED_IP, 4, ...be(yi), OPT_SERVER_ID, 4, ...be(s.sw.hostIp), ...hn])));
  const [ack] = udps(take(s, who)).filter((u) => u.dstPort === 68);
  const o = options(ack.data);
  assert.equal(o.get(OPT_MESSAGE_TYPE)![0], DHCPACK);
  assert.equal(readU32(ack.data, 16), yi);
  assert.equal(o.has(OPT_ROUTER), false, "a switch has no router");
  assert.equal(readU32(o.get(OPT_DNS_SERVER)!, 0), s.sw.hostIp);
  assert.equal(new TextDecoder().decode(o.get(OPT_DOMAIN_NAME)), "internal");
  return yi;
}
const be = (v: number): number[] => [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];

function dnsQuery(name: string, qtype: number, id = 0x1234): Uint8Array {
  const labels = name.split(".").flatMap((l) => [l.length, ...Array.from(l, (c) => c.charCodeAt(0))]);
  const q = new Uint8Array(DNS_HEADER_LEN + labels.length + 1 + 4);
  q[0] = id >> 8; q[1] = id & 0xff; q[2] = 1; q[5] = 1;
  q.set(labels, DNS_HEADER_LEN);
  const o = DNS_HEADER_LEN + labels.length + 1;
  q[o + 1] = qtype; q[o + 3] = 1;
  return q;
}

function ask(s: Sw, who: string, m: string, ip: Ip4, name: string, qtype = DNS_TYPE_A): { rcode: number; answers: Ip4[] } {
  s.sw.input(s.ids.get(who)!, udpFrom(m, ip, s.sw.hostMac, s.sw.hostIp, 40000, 53, dnsQuery(name, qtype)));
  const [r] = udps(take(s, who));
  assert.deepEqual([r.src, r.dst, r.srcPort, r.dstPort], [s.sw.hostIp, ip, 53, 40000]);
  assert.equal(readU16(r.data, 0), 0x1234);
  const n = readU16(r.data, 6);
  const answers: Ip4[] = [];
  // Each answer: a 2-byte name pointer, type, class, ttl (4), rdlength, rdata.
  let o = DNS_HEADER_LEN + (dnsQuery(name, qtype).length - DNS_HEADER_LEN);
  for (let i = 0; i < n; i++) { answers.push(readU32(r.data, o + 12)); o += 16; }
  return { rcode: r.data[3] & 0xf, answers };
}

test("the switch host answers ARP for .1, leases .15 upward without a router, and DNS answers NAME.internal", () => {
  const s = setup("lab");
  const base = s.sw.subnet;
  // ARP for the switch host's address.
  s.sw.input(s.ids.get("a")!, buildEth(BROADCAST_MAC, mac(MAC_A), ETHERTYPE_ARP,
    buildArp({ op: ARP_OP_REQUEST, sha: mac(MAC_A), spa: 0, tha: new Uint8Array(6), tpa: (base | 1) >>> 0 })));
  const [arp] = take(s, "a");
  const a = parseArp(parseEth(arp)!.payload)!;
  assert.equal(a.op, ARP_OP_REPLY);
  assert.deepEqual(a.sha, s.sw.hostMac);
  assert.equal(a.spa, (base | 1) >>> 0);
  assert.equal(take(s, "b").length, 1, "the broadcast request itself is flooded to the others");
  take(s, "c");

  const ipA = dhcp(s, "a", MAC_A);
  const ipB = dhcp(s, "b", MAC_B, "webserver");
  assert.equal(ipA, (base | 15) >>> 0);
  assert.equal(ipB, (base | 16) >>> 0);
  take(s, "a"); take(s, "b"); take(s, "c"); // the broadcast DHCP requests flooded to the others

  assert.deepEqual(ask(s, "c", MAC_C, ip4("10.9.9.9"), "a.internal"), { rcode: DNS_RCODE_NOERROR, answers: [ipA] });
  assert.deepEqual(ask(s, "c", MAC_C, ip4("10.9.9.9"), "B.Internal"), { rcode: DNS_RCODE_NOERROR, answers: [ipB] });
  assert.deepEqual(ask(s, "c", MAC_C, ip4("10.9.9.9"), "webserver.internal"), { rcode: DNS_RCODE_NOERROR, answers: [ipB] }, "by DHCP host name");
  assert.deepEqual(ask(s, "a", MAC_A, ipA, "b.internal", DNS_TYPE_AAAA), { rcode: DNS_RCODE_NOERROR, answers: [] });
  assert.deepEqual(ask(s, "a", MAC_A, ipA, "c.internal"), { rcode: DNS_RCODE_NXDOMAIN, answers: [] }, "c has no lease");
  assert.deepEqual(ask(s, "a", MAC_A, ipA, "nobody.internal"), { rcode: DNS_RCODE_NXDOMAIN, answers: [] });
  assert.deepEqual(ask(s, "a", MAC_A, ipA, "example.com"), { rcode: DNS_RCODE_REFUSED, answers: [] });
  // Once b leaves its names are gone.
  s.sw.leave(s.ids.get("b")!);
  assert.deepEqual(ask(s, "a", MAC_A, ipA, "b.internal"), { rcode: DNS_RCODE_NXDOMAIN, answers: [] });
  assert.deepEqual(ask(s, "a", MAC_A, ipA, "webserver.internal"), { rcode: DNS_RCODE_NXDOMAIN, answers: [] });
  // A DNS datagram that is not a query is dropped.
  s.sw.input(s.ids.get("a")!, udpFrom(MAC_A, ipA, s.sw.hostMac, s.sw.hostIp, 40000, 53, new Uint8Array(5)));
  assert.equal(take(s, "a").length, 0);
  assert.equal(s.sw.stats.dropped["dns-malformed"], 1);
});

test("two switches share nothing: a lease or name on one is unknown on the other", () => {
  const one = setup("one", [["a", MAC_A]]);
  const two = setup("two", [["b", MAC_B]]);
  assert.notEqual(one.sw.subnet, two.sw.subnet);
  dhcp(one, "a", MAC_A);
  dhcp(two, "b", MAC_B);
  assert.deepEqual(ask(two, "b", MAC_B, (two.sw.subnet | 15) >>> 0, "a.internal"), { rcode: DNS_RCODE_NXDOMAIN, answers: [] });
});

test("switch wire: length-prefixed messages in any chunking; a bad length is an error; handshakes parse", () => {
  const msgs = [Uint8Array.of(1), new Uint8Array(1514).fill(7), Uint8Array.of(2, 3)];
  const stream = new Uint8Array(msgs.reduce((n, m) => n + 4 + m.length, 0));
  let o = 0;
  for (const m of msgs) { stream.set(encodeMessage(m), o); o += 4 + m.length; }
  assert.deepEqual([...stream.subarray(0, 5)], [0, 0, 0, 1, 1], "4-byte big-endian length");
  for (const step of [1, 3, 7, 1000, stream.length]) {
    const d = new MessageDecoder();
    const got: Uint8Array[] = [];
    for (let i = 0; i < stream.length; i += step) got.push(...d.push(stream.subarray(i, i + step)));
    assert.deepEqual(got, msgs, `chunks of ${step}`);
    assert.equal(d.pending, 0);
  }
  assert.throws(() => new MessageDecoder().push(Uint8Array.of(0, 0, 0, 0)), SwitchWireError);
  const big = new Uint8Array(4); writeU32(big, 0, SWITCH_MESSAGE_MAX + 1);
  assert.throws(() => new MessageDecoder().push(big), SwitchWireError);
  const hello = encodeJson({ rvisorSwitch: 1, name: "web", mac: MAC_A }).subarray(4);
  assert.deepEqual(parseHello(hello), { rvisorSwitch: 1, name: "web", mac: MAC_A });
  for (const bad of ["{", "[]", '{"rvisorSwitch":2,"name":"a","mac":"x"}', '{"rvisorSwitch":1,"name":3,"mac":"x"}', "\xff"]) {
    assert.throws(() => parseHello(new TextEncoder().encode(bad)), SwitchWireError, bad);
  }
  assert.deepEqual(parseWelcome(new TextEncoder().encode('{"rvisorSwitch":1,"error":"full"}')), { rvisorSwitch: 1, error: "full" });
  assert.throws(() => parseWelcome(new TextEncoder().encode('{"rvisorSwitch":1}')), SwitchWireError);
});
