import { test } from "node:test";
import assert from "node:assert/strict";
import { NetOptionError, parseNetOption } from "./net_option.js";
import { ip4 } from "../net/packet.js";
import { USER_NET_DEFAULTS } from "../net/user_net.js";

test("--net: user with QEMU's defaults, mac=, net= moving host/dns/dhcpstart, none", () => {
  assert.deepEqual(parseNetOption("none"), { kind: "none" });
  assert.deepEqual(parseNetOption("user"), { kind: "user", mac: undefined, config: USER_NET_DEFAULTS });
  const m = parseNetOption("user,mac=52:54:00:AB:cd:01");
  assert.ok(m.kind === "user");
  assert.deepEqual(Array.from(m.mac!), [0x52, 0x54, 0, 0xab, 0xcd, 1]);
  const n = parseNetOption("user,net=192.168.76.0/24,dns=192.168.76.53");
  assert.ok(n.kind === "user");
  assert.deepEqual(n.config, { net: ip4("192.168.76.0"), prefix: 24, host: ip4("192.168.76.2"), dns: ip4("192.168.76.53"), dhcpStart: ip4("192.168.76.15"), restrict: false, hostfwd: [], guestfwd: [] });
});

test("--net: hostfwd= (repeatable, tcp by default, loopback by default, guest address by default the DHCP one) and restrict=", () => {
  const n = parseNetOption("user,hostfwd=tcp:127.0.0.1:8080-:80,hostfwd=udp::5353-10.0.2.16:53,hostfwd=:2222-:22,restrict=on");
  assert.ok(n.kind === "user");
  assert.equal(n.config.restrict, true);
  assert.deepEqual(n.config.hostfwd, [
    { proto: "tcp", hostAddr: "127.0.0.1", hostPort: 8080, guestAddr: null, guestPort: 80 },
    { proto: "udp", hostAddr: "127.0.0.1", hostPort: 5353, guestAddr: ip4("10.0.2.16"), guestPort: 53 },
    { proto: "tcp", hostAddr: "127.0.0.1", hostPort: 2222, guestAddr: null, guestPort: 22 },
  ]);
  const all = parseNetOption("user,hostfwd=tcp:0.0.0.0:8080-:80,restrict=off");
  assert.ok(all.kind === "user");
  assert.equal(all.config.hostfwd[0].hostAddr, "0.0.0.0");
  assert.equal(all.config.restrict, false);
  const g = parseNetOption("user,guestfwd=tcp:10.0.2.100:80-tcp:127.0.0.1:8080,guestfwd=10.0.2.101:25-tcp:192.0.2.5:2525");
  assert.ok(g.kind === "user");
  assert.deepEqual(g.config.guestfwd, [
    { addr: ip4("10.0.2.100"), port: 80, hostAddr: "127.0.0.1", hostPort: 8080 },
    { addr: ip4("10.0.2.101"), port: 25, hostAddr: "192.0.2.5", hostPort: 2525 },
  ]);
});

test("--net: switch=NAME with mac= and name=", () => {
  assert.deepEqual(parseNetOption("switch=lab"), { kind: "switch", switchName: "lab", name: "" });
  const s = parseNetOption("switch=lab.1,mac=52:54:00:00:00:07,name=web");
  assert.ok(s.kind === "switch");
  assert.deepEqual([s.switchName, s.name, Array.from(s.mac!)], ["lab.1", "web", [0x52, 0x54, 0, 0, 0, 7]]);
});

test("--net: clear errors for unknown networks and options, bad MACs, addresses outside the network", () => {
  const bad: [string, RegExp][] = [
    ["tap", /must be 'user', 'switch=NAME' or 'none'/],
    ["switch=", /switch= needs a name/],
    ["switch=../x", /switch= needs a name/],
    ["switch=lab,mac=01:00:5e:00:00:01", /unicast/],
    ["switch=lab,hostfwd=tcp::80-:80", /unknown option 'hostfwd' for a switch/],
    ["switch=lab,name=", /name= must be/],
    ["none,mac=52:54:00:00:00:01", /none takes no options/],
    ["user,mac=01:00:5e:00:00:01", /unicast/],
    ["user,mac=52:54", /mac=/],
    ["user,guestfwd=tcp:10.0.2.100:80-cmd:true", /cmd: are not supported/],
    ["user,guestfwd=tcp:10.0.3.100:80-tcp:127.0.0.1:8080", /10\.0\.3\.100 is not in 10\.0\.2\.0\/24/],
    ["user,guestfwd=tcp:10.0.2.3:80-tcp:127.0.0.1:8080", /is the DNS address/],
    ["user,guestfwd=tcp:10.0.2.100:0-tcp:127.0.0.1:8080", /guestfwd= server port must be/],
    ["user,weird=1", /unknown option 'weird'/],
    ["user,hostfwd=sctp::8080-:80", /hostfwd= must be/],
    ["user,hostfwd=tcp::8080", /hostfwd= must be/],
    ["user,hostfwd=tcp::0-:80", /host port must be 1 to 65535/],
    ["user,hostfwd=tcp::80-:70000", /guest port must be 1 to 65535/],
    ["user,hostfwd=tcp:localhost:80-:80", /IPv4 address/],
    ["user,hostfwd=tcp::8080-10.0.3.15:80", /10\.0\.3\.15 is not in 10\.0\.2\.0\/24/],
    ["user,hostfwd=tcp::8080-:80,hostfwd=tcp::8080-:81", /two hostfwd= for tcp:127\.0\.0\.1:8080/],
    ["user,restrict=maybe", /restrict= must be on or off/],
    ["user,host=10.0.3.2", /host=10\.0\.3\.2 is not in 10\.0\.2\.0\/24/],
    ["user,net=10.0.0.0/31", /prefix/],
    ["user,dns=ten", /IPv4 address/],
  ];
  for (const [spec, re] of bad) assert.throws(() => parseNetOption(spec), (e: unknown) => e instanceof NetOptionError && re.test(e.message), spec);
});
