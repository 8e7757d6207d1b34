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
  assert.deepEqual(n.config, { net: ip4("192.168.76.0"), prefix: 24, host: ip4("192.168.76.2"), dns: ip4("192.168.76.53"), dhcpStart: ip4("192.168.76.15") });
});

test("--net: clear errors for unknown networks and options, bad MACs, addresses outside the network", () => {
  const bad: [string, RegExp][] = [
    ["tap", /must be 'user' or 'none'/],
    ["none,mac=52:54:00:00:00:01", /none takes no options/],
    ["user,mac=01:00:5e:00:00:01", /unicast/],
    ["user,mac=52:54", /mac=/],
    ["user,hostfwd=tcp::8080-:80", /unknown option 'hostfwd'/],
    ["user,host=10.0.3.2", /host=10\.0\.3\.2 is not in 10\.0\.2\.0\/24/],
    ["user,net=10.0.0.0/31", /prefix/],
    ["user,dns=ten", /IPv4 address/],
  ];
  for (const [spec, re] of bad) assert.throws(() => parseNetOption(spec), (e: unknown) => e instanceof NetOptionError && re.test(e.message), spec);
});
