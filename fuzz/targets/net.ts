// User-mode network fuzzing: mutated Ethernet frames from the guest into the stack
// (src/net/user_net.ts) on an in-memory host — ARP, DHCP, ICMP echo, UDP to the host, DNS
// queries, TCP segments as seeds; bit flips, byte runs, boundary values in length/offset
// fields, truncation and extension; half of the mutated inputs get their IPv4 header (and UDP)
// checksums fixed up so the parsers behind the checksum checks run too. Host sockets now and
// then answer with random datagrams.
// One batch in four goes through the virtio-net device instead (a driver on test RAM, with or
// without MRG_RXBUF, posting receive buffers of random sizes), checking the used lengths.
// Findings: an exception out of transmit(), an input slower than HANG_MS, host sockets or
// queued frames beyond their bounds, a frame to the guest with a wrong IPv4 header checksum.
import { Rng, type FuzzFinding, type FuzzTarget } from "../lib.js";
import { UserNet, MAX_QUEUED_FRAMES, MAX_UDP_SESSIONS, GATEWAY_MAC } from "../../src/net/user_net.js";
import { FakeFrontend, FakeNetHost, GUEST_MAC, guestUdp } from "../../src/net/testing.js";
import {
  ARP_OP_REQUEST, BROADCAST_MAC, ETHERTYPE_ARP, ETHERTYPE_IPV4, ICMP_ECHO_REQUEST, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP,
  buildArp, buildEth, buildIpv4, checksum, finishChecksum, ip4, onesSum, parseEth, pseudoSum, readU16, readU32, writeU16,
} from "../../src/net/packet.js";
import { VIRTIO_F_VERSION_1, VIRTIO_STATUS_DEVICE_NEEDS_RESET, featureBit } from "../../src/system/devices/virtio_mmio.js";
import { RX_QUEUE, TX_QUEUE, VIRTIO_NET_F_MRG_RXBUF, VIRTIO_NET_HDR_SIZE, VirtioNet } from "../../src/system/devices/virtio_net.js";
import { TestDriver } from "../../src/system/devices/virtio_testing.js";
import { BOOTP_FIXED_LEN, DHCP_MAGIC_COOKIE, DHCPDISCOVER, OPT_END, OPT_MESSAGE_TYPE } from "../../src/net/dhcp.js";

const INPUTS_PER_BATCH = 400;
const HANG_MS = 200;
const GUEST = ip4("10.0.2.15"), GW = ip4("10.0.2.2"), DNS = ip4("10.0.2.3");
const ETH = 14;

function seeds(): Uint8Array[] {
  const arp = buildEth(BROADCAST_MAC, GUEST_MAC, ETHERTYPE_ARP, buildArp({ op: ARP_OP_REQUEST, sha: GUEST_MAC, spa: GUEST, tha: new Uint8Array(6), tpa: GW }));
  const dhcp = new Uint8Array(BOOTP_FIXED_LEN + 4 + 4);
  dhcp[0] = 1; dhcp[1] = 1; dhcp[2] = 6; dhcp.set(GUEST_MAC, 28);
  dhcp.set([DHCP_MAGIC_COOKIE >>> 24, 0x82, 0x53, 0x63, OPT_MESSAGE_TYPE, 1, DHCPDISCOVER, OPT_END], BOOTP_FIXED_LEN);
  const echo = new Uint8Array(16); echo[0] = ICMP_ECHO_REQUEST; writeU16(echo, 2, checksum(echo, 0, 16));
  const dnsq = Uint8Array.of(0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 9, ...new TextEncoder().encode("localhost"), 0, 0, 1, 0, 1);
  const syn = new Uint8Array(20); writeU16(syn, 0, 40000); writeU16(syn, 2, 80); syn[12] = 0x50; syn[13] = 2;
  writeU16(syn, 16, finishChecksum(onesSum(syn, 0, 20, pseudoSum(GUEST, GW, IPPROTO_TCP, 20))));
  return [
    arp,
    guestUdp(0, 68, 0xffffffff, 67, dhcp),
    buildEth(GATEWAY_MAC, GUEST_MAC, ETHERTYPE_IPV4, buildIpv4(GUEST, GW, IPPROTO_ICMP, 1, echo)),
    guestUdp(GUEST, 5000, GW, 7, new TextEncoder().encode("hello")),
    guestUdp(GUEST, 5001, DNS, 53, dnsq),
    buildEth(GATEWAY_MAC, GUEST_MAC, ETHERTYPE_IPV4, buildIpv4(GUEST, GW, IPPROTO_TCP, 2, syn)),
  ];
}

const BOUNDARY = [0, 1, 0x7f, 0x80, 0xff, 0x00, 0x14, 0x45, 0x4f, 0x40];

function mutate(rng: Rng, seed: Uint8Array): Uint8Array {
  let f = seed.slice();
  for (let k = rng.below(4) + 1; k > 0; k--) {
    switch (rng.below(6)) {
      case 0: { const i = rng.below(f.length); f[i] ^= 1 << rng.below(8); break; }
      case 1: { const i = rng.below(f.length); f[i] = rng.pick(BOUNDARY); break; }
      case 2: f = f.slice(0, rng.below(f.length + 1)); break;
      case 3: { const g = new Uint8Array(f.length + rng.below(64)); g.set(f); g.set(rng.bytes(g.length - f.length), f.length); f = g; break; }
      case 4: { // a length or offset field of the IPv4/UDP headers
        const at = rng.pick([ETH + 2, ETH + 6, ETH + 20 + 4, ETH + 20 + 2]);
        if (at + 1 < f.length) writeU16(f, at, rng.pick([0, 1, 7, 8, 19, 20, 0xffff, f.length - ETH, f.length - ETH + 1, rng.below(0x10000)]));
        break;
      }
      default: { const i = rng.below(f.length); f.set(rng.bytes(Math.min(8, f.length - i)), i); break; }
    }
  }
  if (rng.chance(0.5)) fixChecksums(f);
  return f;
}

/** Recomputes the IPv4 header checksum and, for UDP, the datagram's, where the lengths allow. */
function fixChecksums(f: Uint8Array): void {
  if (f.length < ETH + 20 || readU16(f, 12) !== ETHERTYPE_IPV4) return;
  const ihl = (f[ETH] & 0xf) * 4;
  if (ihl < 20 || ETH + ihl > f.length) return;
  writeU16(f, ETH + 10, 0); writeU16(f, ETH + 10, checksum(f, ETH, ihl));
  const total = readU16(f, ETH + 2);
  if (f[ETH + 9] !== IPPROTO_UDP || total > f.length - ETH || total < ihl + 8) return;
  const u = ETH + ihl, len = readU16(f, u + 4);
  if (len < 8 || u + len > f.length) return;
  writeU16(f, u + 6, 0);
  writeU16(f, u + 6, finishChecksum(onesSum(f, u, len, pseudoSum(readU32(f, ETH + 12), readU32(f, ETH + 16), IPPROTO_UDP, len))) || 0xffff);
}

let SEEDS: Uint8Array[] | null = null;

/** Frames through a VirtioNet on the stack; the device must never need a reset or overfill a buffer. */
function deviceBatch(rng: Rng, report: (f: FuzzFinding) => void): void {
  const net = new UserNet(new FakeNetHost());
  const dev = new VirtioNet(net);
  const d = new TestDriver(dev, 2 << 20);
  const mrg = rng.chance(0.5);
  d.init(featureBit(VIRTIO_F_VERSION_1) | (mrg ? featureBit(VIRTIO_NET_F_MRG_RXBUF) : 0n), [16, 16]);
  const mark = d.mark();
  const posted = new Map<number, number>();
  for (let i = 0; i < INPUTS_PER_BATCH / 8; i++) {
    const input = `seed ${rng.seed} device #${i} (mrg ${mrg})`;
    try {
      d.release(mark);
      while (posted.size < 8) {
        // Without MRG_RXBUF a driver posts buffers for the largest frame (Linux: header + 1518);
        // a smaller one would wait forever for a frame it fits, and its descriptor be reused here.
        const len = mrg ? rng.pick([1, VIRTIO_NET_HDR_SIZE, 64, 600, 1526, 2048, rng.below(3000) + 1]) : rng.pick([1530, 2048, 4096]);
        posted.set(d.submit(RX_QUEUE, [{ writeLen: len }], { notify: rng.chance(0.5) }).head, len);
      }
      const f = mutate(rng, rng.pick(SEEDS!));
      d.submit(TX_QUEUE, [{ data: new Uint8Array(VIRTIO_NET_HDR_SIZE) }, { data: f }]);
      d.takeUsed(TX_QUEUE);
      for (const u of d.takeUsed(RX_QUEUE)) {
        const cap = posted.get(u.id);
        if (cap === undefined || u.len > cap || u.len < (mrg ? 1 : VIRTIO_NET_HDR_SIZE + 14)) report({ target: "net", input, error: `used ${JSON.stringify(u)} for a ${String(cap)}-byte buffer` });
        posted.delete(u.id);
      }
      if (d.status() & VIRTIO_STATUS_DEVICE_NEEDS_RESET) { report({ target: "net", input, error: `device needs reset: ${d.mmio.lastError}` }); return; }
    } catch (e) {
      report({ target: "net", input, error: e instanceof Error ? e.stack ?? e.message : String(e) });
      return;
    }
  }
}

export const target: FuzzTarget = {
  name: "net",
  description: "mutated guest frames into the user-mode network stack; finding = exception, hang, unbounded host sockets/queues, bad outgoing IPv4 checksum",
  async batch(rng: Rng, report: (f: FuzzFinding) => void): Promise<number> {
    SEEDS ??= seeds();
    if (rng.chance(0.25)) { deviceBatch(rng, report); return INPUTS_PER_BATCH / 8; }
    const host = new FakeNetHost();
    const net = new UserNet(host);
    const fe = new FakeFrontend();
    fe.room = rng.chance(0.2) ? 0 : Infinity;
    net.attach(fe);
    for (let i = 0; i < INPUTS_PER_BATCH; i++) {
      const f = mutate(rng, rng.pick(SEEDS));
      const input = `seed ${rng.seed} #${i}: ${Array.from(f.subarray(0, 64), (b) => b.toString(16).padStart(2, "0")).join("")}`;
      const t0 = Date.now();
      try {
        net.transmit(f);
        if (rng.chance(0.05) && host.sockets.length > 0) rng.pick(host.sockets).receive(rng.bytes(rng.below(1600)), rng.pick(["127.0.0.1", "192.0.2.1", "::1", "bogus"]), rng.below(0x10000));
      } catch (e) {
        report({ target: "net", input, error: e instanceof Error ? e.stack ?? e.message : String(e) });
      }
      const ms = Date.now() - t0;
      if (ms > HANG_MS) report({ target: "net", input, error: `hang: ${ms} ms` });
      if (net.udpSessions > MAX_UDP_SESSIONS) report({ target: "net", input, error: `${net.udpSessions} host UDP sockets` });
      for (const out of fe.take()) {
        const eth = parseEth(out);
        if (eth !== null && eth.type === ETHERTYPE_IPV4 && checksum(eth.payload, 0, 20) !== 0) report({ target: "net", input, error: "frame to the guest with a bad IPv4 header checksum" });
      }
    }
    await new Promise((r) => setImmediate(r)); // DNS answers
    const queued = net.queuedFrames;
    if (queued > MAX_QUEUED_FRAMES) report({ target: "net", input: `seed ${rng.seed}`, error: `${queued} frames queued` });
    net.close();
    return INPUTS_PER_BATCH;
  },
};
