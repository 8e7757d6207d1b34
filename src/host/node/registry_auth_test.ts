import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { authFiles, basicAuthorization, credentialsInFile, findCredentials, parseCreds } from "./registry_auth.js";

const b64 = (s: string): string => Buffer.from(s).toString("base64");

test("registry auth: --creds USER:PASS (a password may hold ':'), and its Basic header", () => {
  assert.deepEqual(parseCreds("alice:pa:ss"), { username: "alice", password: "pa:ss" });
  assert.throws(() => parseCreds("alice"), /USER:PASS/);
  assert.throws(() => parseCreds(":x"), /USER:PASS/);
  assert.equal(basicAuthorization({ username: "Aladdin", password: "open sesame" }), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="); // RFC 7617's example
});

test("registry auth: auth files' entries by registry (scheme and path ignored; Docker Hub's keys); order of the files", () => {
  const dir = mkdtempSync(join(tmpdir(), "rvisor-auth-"));
  try {
    const f = join(dir, "config.json");
    writeFileSync(f, JSON.stringify({ auths: {
      "https://index.docker.io/v1/": { auth: b64("hub:h") }, "reg.lan:5000": { auth: b64("lan:l") }, "http://Other.example/": { auth: b64("o:o") },
      "empty.example": {},
    } }));
    assert.deepEqual(credentialsInFile(f, "docker.io"), { username: "hub", password: "h" });
    assert.deepEqual(credentialsInFile(f, "reg.lan:5000"), { username: "lan", password: "l" });
    assert.equal(credentialsInFile(f, "reg.lan"), null, "the port is part of the name");
    assert.deepEqual(credentialsInFile(f, "other.example"), { username: "o", password: "o" });
    assert.equal(credentialsInFile(f, "empty.example"), null);
    assert.equal(credentialsInFile(join(dir, "none.json"), "docker.io"), null);
    writeFileSync(join(dir, "bad.json"), "{");
    assert.throws(() => credentialsInFile(join(dir, "bad.json"), "x"), /not JSON/);
    const podman = join(dir, "auth.json");
    writeFileSync(podman, JSON.stringify({ auths: { "reg.lan:5000": { auth: b64("podman:p") } } }));
    const env = { REGISTRY_AUTH_FILE: podman, DOCKER_CONFIG: dir };
    assert.deepEqual(authFiles(env), [podman, f]);
    assert.deepEqual(findCredentials("reg.lan:5000", null, env), { username: "podman", password: "p" });
    assert.deepEqual(findCredentials("docker.io", null, env), { username: "hub", password: "h" });
    assert.deepEqual(findCredentials("reg.lan:5000", { username: "flag", password: "f" }, env), { username: "flag", password: "f" });
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
