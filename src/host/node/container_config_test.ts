import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ContainerError, DEFAULT_PATH, commandLine, containerEnv, hostsFile, parseEnvFile, parseGroup, parsePasswd, resolvConf, resolveUser,
} from "./container_config.js";

test("container command: Entrypoint + Cmd as Docker combines them", () => {
  const img = { Entrypoint: ["/entry", "-x"], Cmd: ["default"] };
  assert.deepEqual(commandLine(img, { entrypoint: null, cmd: [] }), ["/entry", "-x", "default"]);
  assert.deepEqual(commandLine(img, { entrypoint: null, cmd: ["a", "b"] }), ["/entry", "-x", "a", "b"]);
  // --entrypoint replaces the image's and drops its Cmd.
  assert.deepEqual(commandLine(img, { entrypoint: "/other", cmd: [] }), ["/other"]);
  assert.deepEqual(commandLine(img, { entrypoint: "/other", cmd: ["c"] }), ["/other", "c"]);
  assert.deepEqual(commandLine(img, { entrypoint: "", cmd: ["sh"] }), ["sh"]);
  assert.deepEqual(commandLine({ Cmd: ["sh"] }, { entrypoint: null, cmd: [] }), ["sh"]);
  assert.throws(() => commandLine({}, { entrypoint: null, cmd: [] }), (e: unknown) => e instanceof ContainerError && e.status === 125);
  assert.throws(() => commandLine(img, { entrypoint: "", cmd: [] }), ContainerError);
});

test("container env: default PATH, HOSTNAME, image Env, flags override, bare K from the host, TERM with -t, HOME", () => {
  const env = containerEnv({ Env: ["A=1", "B=2"] }, ["B=3", "C", "D"], { C: "host" }, "h1", "/root", false);
  assert.deepEqual(env, [`PATH=${DEFAULT_PATH}`, "HOSTNAME=h1", "A=1", "B=3", "C=host", "HOME=/root"]);
  const withPath = containerEnv({ Env: ["PATH=/bin", "HOME=/x"] }, [], {}, "h", "/root", true);
  assert.deepEqual(withPath, ["PATH=/bin", "HOSTNAME=h", "HOME=/x", "TERM=xterm"]);
});

test("container env-file: comments and blank lines skipped; bad names refused with the line", () => {
  assert.deepEqual(parseEnvFile("# c\n\nA=1\n  B=x y\nC\n", "f"), ["A=1", "B=x y", "C"]);
  assert.throws(() => parseEnvFile("A=1\nBAD NAME=2\n", "f"), /f:2:/);
});

test("container user: names and numbers against passwd and group, as runc resolves them", () => {
  const pw = parsePasswd("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:app:/home/app:/bin/sh\nbroken line\n");
  const gr = parseGroup("root:x:0:\nstaff:x:50:\n");
  assert.deepEqual(resolveUser("", pw, gr), { uid: 0, gid: 0, home: "/root" });
  assert.deepEqual(resolveUser("app", pw, gr), { uid: 1000, gid: 1001, home: "/home/app" });
  assert.deepEqual(resolveUser("1000", pw, gr), { uid: 1000, gid: 1001, home: "/home/app" });
  assert.deepEqual(resolveUser("4242", pw, gr), { uid: 4242, gid: 0, home: "/" });
  assert.deepEqual(resolveUser("app:staff", pw, gr), { uid: 1000, gid: 50, home: "/home/app" });
  assert.deepEqual(resolveUser("7:8", pw, gr), { uid: 7, gid: 8, home: "/" });
  assert.throws(() => resolveUser("nobody", pw, gr), /unable to find user nobody/);
  assert.throws(() => resolveUser("app:nogroup", pw, gr), /unable to find group nogroup/);
  assert.throws(() => resolveUser("99999999999", pw, gr), /out of range/);
});

test("container /etc files: hosts names the container; resolv.conf drops the host's loopback resolvers", () => {
  assert.match(hostsFile("box"), /^127\.0\.0\.1\tlocalhost\n/);
  assert.match(hostsFile("box"), /\n127\.0\.1\.1\tbox\n$/);
  assert.equal(resolvConf("# x\nnameserver 127.0.0.53\noptions edns0\nsearch lan\n"), "options edns0\nsearch lan\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n");
  assert.equal(resolvConf("nameserver 10.0.0.1\nnameserver ::1\n"), "nameserver 10.0.0.1\n");
});
