// `rvisor run --net user[,options] | switch=NAME[,options] | none`: the network card and its backend, with QEMU's
// -netdev user option names (net=, host=, dns=, dhcpstart=, restrict=, hostfwd=, guestfwd=) and
// its NIC's mac=.
// hostfwd=[tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport is repeatable; unlike QEMU (every
// address) an empty hostaddr listens on the host's loopback only, 127.0.0.1, and an empty
// guestaddr is the first DHCP address (as QEMU). guestfwd=[tcp]:server:port-tcp:hostaddr:hostport
// (repeatable) takes QEMU's form with a `tcp:` device only, one host connection per guest connection.
import { HOST_LOOPBACK, USER_NET_DEFAULTS, type GuestForward, type HostForward, type UserNetConfig } from "../net/user_net.js";
import { ip4, ip4String, type Ip4 } from "../net/packet.js";
import { parseMac } from "../system/devices/virtio_net.js";
import { PORT_NAME_PATTERN, SWITCH_NAME_PATTERN } from "../net/switch.js";

export interface UserNetOption { kind: "user"; mac?: Uint8Array; config: UserNetConfig }
/** `switch=NAME[,mac=..][,name=HOST]`: a port on the VM switch NAME; `name=` is the VM's `HOST.internal` there. */
export interface SwitchNetOption { kind: "switch"; mac?: Uint8Array; switchName: string; name: string }
export type NetOption = { kind: "none" } | UserNetOption | SwitchNetOption;

/** Thrown for a malformed --net; the CLI reports it as a usage error. */
export class NetOptionError extends Error {}

function addr(spec: string, key: string, v: string): Ip4 {
  try { return ip4(v); } catch { throw new NetOptionError(`--net '${spec}': ${key}= must be an IPv4 address (got '${v}')`); }
}

function port(spec: string, what: string, v: string, key = "hostfwd"): number {
  const n = /^\d{1,5}$/.test(v) ? Number(v) : NaN;
  if (!(n >= 1 && n <= 0xffff)) throw new NetOptionError(`--net '${spec}': ${key}= ${what} port must be 1 to 65535 (got '${v}')`);
  return n;
}

/** QEMU's guestfwd=[tcp]:server:port-dev, with dev `tcp:hostaddr:hostport`. */
export function parseGuestForward(spec: string, v: string): GuestForward {
  const m = /^(?:tcp:)?([^:]+):([^-:]*)-tcp:([^:]+):([^:,]*)$/.exec(v);
  if (m === null) throw new NetOptionError(`--net '${spec}': guestfwd= must be [tcp]:server:port-tcp:hostaddr:hostport (got '${v}'; other QEMU devices such as cmd: are not supported)`);
  const [, server, serverPort, hostAddr, hostPort] = m;
  addr(spec, "guestfwd host address", hostAddr);
  return { addr: addr(spec, "guestfwd server address", server), port: port(spec, "server", serverPort, "guestfwd"), hostAddr, hostPort: port(spec, "host", hostPort, "guestfwd") };
}

/** QEMU's hostfwd=[tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport. */
export function parseHostForward(spec: string, v: string): HostForward {
  const m = /^(?:(tcp|udp):)?([^:]*):([^-:]*)-([^:]*):(.*)$/.exec(v);
  if (m === null) throw new NetOptionError(`--net '${spec}': hostfwd= must be [tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport (got '${v}')`);
  const [, proto, hostAddr, hostPort, guestAddr, guestPort] = m;
  if (hostAddr !== "") addr(spec, "hostfwd host address", hostAddr);
  return {
    proto: proto === "udp" ? "udp" : "tcp",
    hostAddr: hostAddr === "" ? HOST_LOOPBACK : hostAddr, hostPort: port(spec, "host", hostPort),
    guestAddr: guestAddr === "" ? null : addr(spec, "hostfwd guest address", guestAddr), guestPort: port(spec, "guest", guestPort),
  };
}

function macOption(spec: string, v: string): Uint8Array {
  const m = parseMac(v);
  if (m === null) throw new NetOptionError(`--net '${spec}': mac= must be a unicast address like 52:54:00:12:34:56 (got '${v}')`);
  return m;
}

function parseSwitchOption(spec: string, parts: string[]): SwitchNetOption {
  const switchName = parts[0].slice("switch=".length);
  if (!SWITCH_NAME_PATTERN.test(switchName)) {
    throw new NetOptionError(`--net '${spec}': switch= needs a name of 1 to 63 letters, digits, '-', '_' or '.', starting with a letter or digit`);
  }
  const o: SwitchNetOption = { kind: "switch", switchName, name: "" };
  for (const part of parts.slice(1)) {
    const eq = part.indexOf("=");
    const key = eq < 0 ? part : part.slice(0, eq), v = eq < 0 ? "" : part.slice(eq + 1);
    if (key === "mac") o.mac = macOption(spec, v);
    else if (key === "name") {
      if (v === "" || !PORT_NAME_PATTERN.test(v)) throw new NetOptionError(`--net '${spec}': name= must be a host name of letters, digits, '-', '_' or '.' (got '${v}')`);
      o.name = v;
    } else throw new NetOptionError(`--net '${spec}': unknown option '${key}' for a switch (known: mac, name)`);
  }
  return o;
}

/** Parses one --net value. */
export function parseNetOption(spec: string): NetOption {
  const parts = spec.split(",");
  const kind = parts[0];
  if (kind === "none") {
    if (parts.length > 1) throw new NetOptionError(`--net '${spec}': none takes no options`);
    return { kind: "none" };
  }
  if (kind.startsWith("switch=")) return parseSwitchOption(spec, parts);
  if (kind !== "user") throw new NetOptionError(`--net '${spec}': the network must be 'user', 'switch=NAME' or 'none'`);
  const c: UserNetConfig = { ...USER_NET_DEFAULTS };
  const hostfwd: HostForward[] = [];
  const guestfwd: GuestForward[] = [];
  let mac: Uint8Array | undefined;
  for (const part of parts.slice(1)) {
    const eq = part.indexOf("=");
    const key = eq < 0 ? part : part.slice(0, eq), v = eq < 0 ? "" : part.slice(eq + 1);
    switch (key) {
      case "mac": mac = macOption(spec, v); break;
      case "net": {
        const [a, p] = v.split("/");
        const prefix = p === undefined ? 24 : Number(p);
        if (!Number.isInteger(prefix) || prefix < 8 || prefix > 30) throw new NetOptionError(`--net '${spec}': net= prefix must be 8 to 30 (got '${p ?? ""}')`);
        const mask = (0xffffffff << (32 - prefix)) >>> 0;
        const base = (addr(spec, key, a) & mask) >>> 0;
        // QEMU: host, dns and dhcpstart default to .2, .3 and .15 of the network.
        Object.assign(c, { net: base, prefix, host: (base | 2) >>> 0, dns: (base | 3) >>> 0, dhcpStart: (base | 15) >>> 0 });
        break;
      }
      case "host": c.host = addr(spec, key, v); break;
      case "dns": c.dns = addr(spec, key, v); break;
      case "dhcpstart": c.dhcpStart = addr(spec, key, v); break;
      case "restrict":
        // QEMU takes on|off and y|yes|n|no.
        if (["on", "y", "yes"].includes(v)) c.restrict = true;
        else if (["off", "n", "no"].includes(v)) c.restrict = false;
        else throw new NetOptionError(`--net '${spec}': restrict= must be on or off (got '${v}')`);
        break;
      case "hostfwd": hostfwd.push(parseHostForward(spec, v)); break;
      case "guestfwd": guestfwd.push(parseGuestForward(spec, v)); break;
      default: throw new NetOptionError(`--net '${spec}': unknown option '${key}' (known: mac, net, host, dns, dhcpstart, restrict, hostfwd, guestfwd)`);
    }
  }
  const mask = (0xffffffff << (32 - c.prefix)) >>> 0;
  for (const [k, a] of [["host", c.host], ["dns", c.dns], ["dhcpstart", c.dhcpStart]] as const) {
    if (((a & mask) >>> 0) !== c.net) throw new NetOptionError(`--net '${spec}': ${k}=${ip4String(a)} is not in ${ip4String(c.net)}/${c.prefix}`);
  }
  for (const f of hostfwd) {
    if (f.guestAddr !== null && ((f.guestAddr & mask) >>> 0) !== c.net) throw new NetOptionError(`--net '${spec}': hostfwd guest address ${ip4String(f.guestAddr)} is not in ${ip4String(c.net)}/${c.prefix}`);
  }
  const seen = new Set<string>();
  for (const f of hostfwd) {
    const k = `${f.proto}:${f.hostAddr}:${f.hostPort}`;
    if (seen.has(k)) throw new NetOptionError(`--net '${spec}': two hostfwd= for ${k}`);
    seen.add(k);
  }
  for (const g of guestfwd) {
    if (((g.addr & mask) >>> 0) !== c.net) throw new NetOptionError(`--net '${spec}': guestfwd server address ${ip4String(g.addr)} is not in ${ip4String(c.net)}/${c.prefix}`);
    if (g.addr === c.dns) throw new NetOptionError(`--net '${spec}': guestfwd server address ${ip4String(g.addr)} is the DNS address`);
  }
  c.hostfwd = hostfwd;
  c.guestfwd = guestfwd;
  return { kind: "user", mac, config: c };
}
