// The DNS forwarder's wire side (RFC 1035): parses the guest's query (one question), and builds
// the answer from what the host resolver returned. Names are looked up through the host
// (NetHost.lookup: node:dns lookup, i.e. getaddrinfo with /etc/hosts), so the guest never
// needs the host's nameserver address — which may be systemd-resolved's 127.0.0.53, unreachable
// from a guest.
import { readU16, writeU16, writeU32 } from "./packet.js";

export const DNS_PORT = 53;
export const DNS_HEADER_LEN = 12;
export const DNS_TYPE_A = 1;
export const DNS_TYPE_AAAA = 28;
export const DNS_CLASS_IN = 1;
export const DNS_FLAG_QR = 0x8000;
export const DNS_FLAG_RD = 0x0100;
export const DNS_FLAG_RA = 0x0080;
export const DNS_OPCODE_MASK = 0x7800;
export const DNS_RCODE_NOERROR = 0;
export const DNS_RCODE_FORMERR = 1;
export const DNS_RCODE_SERVFAIL = 2;
export const DNS_RCODE_NXDOMAIN = 3;
export const DNS_RCODE_NOTIMP = 4;
/** TTL of forwarded answers (slirp's host resolver answers carry none; a minute keeps caches fresh). */
export const DNS_ANSWER_TTL = 60;
const MAX_NAME = 255;
const LABEL_MAX = 63;

export interface DnsQuery {
  id: number; flags: number;
  /** Dotted name, lower case as given. */
  name: string; qtype: number; qclass: number;
  /** The question section as it came (copied into the answer). */
  question: Uint8Array;
}

/** Parses a standard query with exactly one question; null for anything else (no answer is sent). */
export function parseDnsQuery(p: Uint8Array): DnsQuery | null {
  if (p.length < DNS_HEADER_LEN) return null;
  const flags = readU16(p, 2);
  if ((flags & DNS_FLAG_QR) !== 0 || (flags & DNS_OPCODE_MASK) !== 0 || readU16(p, 4) !== 1) return null;
  const labels: string[] = [];
  let i = DNS_HEADER_LEN, total = 0;
  for (;;) {
    if (i >= p.length) return null;
    const n = p[i];
    if (n === 0) { i++; break; }
    if (n > LABEL_MAX || i + 1 + n > p.length) return null; // compression pointers do not occur in a question
    total += n + 1;
    if (total > MAX_NAME) return null;
    labels.push(String.fromCharCode(...p.subarray(i + 1, i + 1 + n)));
    i += 1 + n;
  }
  if (i + 4 > p.length) return null;
  return { id: readU16(p, 0), flags, name: labels.join("."), qtype: readU16(p, i), qclass: readU16(p, i + 2), question: p.slice(DNS_HEADER_LEN, i + 4) };
}

/** A name the resolver may be asked for: LDH labels (and '_'), no empty labels. */
export function isPlausibleName(name: string): boolean {
  return name.length > 0 && name.split(".").every((l) => /^[A-Za-z0-9_-]{1,63}$/.test(l));
}

/** An answer: `rcode`, and for NOERROR the address records (4 or 16 bytes each) of the query's type. */
export function buildDnsResponse(q: DnsQuery, rcode: number, addresses: readonly Uint8Array[] = []): Uint8Array {
  const answers = rcode === DNS_RCODE_NOERROR ? addresses : [];
  const ans = answers.reduce((s, a) => s + 12 + a.length, 0);
  const p = new Uint8Array(DNS_HEADER_LEN + q.question.length + ans);
  writeU16(p, 0, q.id);
  writeU16(p, 2, DNS_FLAG_QR | (q.flags & (DNS_OPCODE_MASK | DNS_FLAG_RD)) | DNS_FLAG_RA | rcode);
  writeU16(p, 4, 1); writeU16(p, 6, answers.length);
  p.set(q.question, DNS_HEADER_LEN);
  let o = DNS_HEADER_LEN + q.question.length;
  for (const a of answers) {
    writeU16(p, o, 0xc000 | DNS_HEADER_LEN); // name: a pointer to the question's
    writeU16(p, o + 2, a.length === 4 ? DNS_TYPE_A : DNS_TYPE_AAAA); writeU16(p, o + 4, DNS_CLASS_IN);
    writeU32(p, o + 6, DNS_ANSWER_TTL); writeU16(p, o + 10, a.length);
    p.set(a, o + 12);
    o += 12 + a.length;
  }
  return p;
}

/** "1.2.3.4" → 4 bytes; "::1", "2001:db8::5" → 16 bytes; null if neither. */
export function addressBytes(s: string): Uint8Array | null {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (v4 !== null) {
    const b = v4.slice(1).map(Number);
    return b.every((x) => x <= 255) ? Uint8Array.from(b) : null;
  }
  if (!/^[0-9a-f:]+$/i.test(s) || s.split("::").length > 2) return null;
  const [head, tail] = s.includes("::") ? s.split("::") : [s, undefined];
  const h = head === "" ? [] : head.split(":");
  const t = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t];
  if (groups.length !== 8 || groups.some((g) => g.length === 0 || g.length > 4)) return null;
  const out = new Uint8Array(16);
  groups.forEach((g, i) => writeU16(out, 2 * i, parseInt(g, 16)));
  return out;
}
