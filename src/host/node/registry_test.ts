import { test } from "node:test";
import assert from "node:assert/strict";
import { RegistryClient, isLoopbackHost, parseChallenge } from "./registry.js";
import { parseReference } from "../../oci/reference.js";

test("registry: WWW-Authenticate challenges are parsed (quoted, unquoted, escaped values)", () => {
  assert.deepEqual(parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"'), {
    scheme: "bearer", params: { realm: "https://auth.docker.io/token", service: "registry.docker.io", scope: "repository:library/busybox:pull" },
  });
  assert.deepEqual(parseChallenge('Basic realm="a \\"b\\"", charset=UTF-8'), { scheme: "basic", params: { realm: 'a "b"', charset: "UTF-8" } });
  assert.equal(parseChallenge(""), null);
});

test("registry: loopback registries and --insecure use http, others https; Docker Hub's API host", () => {
  assert.equal(isLoopbackHost("127.0.0.1:5000"), true);
  assert.equal(isLoopbackHost("127.8.9.10"), true);
  assert.equal(isLoopbackHost("localhost:5000"), true);
  assert.equal(isLoopbackHost("[::1]:5000"), true);
  assert.equal(isLoopbackHost("128.0.0.1"), false);
  assert.equal(isLoopbackHost("registry.example.com"), false);
  assert.equal(new RegistryClient(parseReference("127.0.0.1:5000/a")).base, "http://127.0.0.1:5000/v2/");
  assert.equal(new RegistryClient(parseReference("quay.io/a/b")).base, "https://quay.io/v2/");
  assert.equal(new RegistryClient(parseReference("reg.lan:5000/a"), { insecure: true }).base, "http://reg.lan:5000/v2/");
  assert.equal(new RegistryClient(parseReference("busybox")).base, "https://registry-1.docker.io/v2/");
});
