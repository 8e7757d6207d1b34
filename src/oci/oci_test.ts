import { test } from "node:test";
import assert from "node:assert/strict";
import { OciError, parseDigest } from "./digest.js";
import { familiarName, formatReference, parseReference } from "./reference.js";
import { MEDIA_DOCKER_LIST, MEDIA_OCI_CONFIG, MEDIA_OCI_LAYER_GZIP, MEDIA_OCI_MANIFEST, checkManifestConfig, parseImageConfig, parseManifestDocument, selectPlatform, type ImageIndex, type ImageManifest } from "./manifest.js";
import { ancestors, normaliseEntryName } from "./layer_index.js";

const D = (c: string): string => `sha256:${c.repeat(64)}`;

test("oci reference: Docker's normalisation (Hub, library/, registry hosts, tags, digests)", () => {
  assert.deepEqual(parseReference("busybox"), { registry: "docker.io", repository: "library/busybox", tag: "latest", digest: null });
  assert.deepEqual(parseReference("127.0.0.1:5000/a/b:v1"), { registry: "127.0.0.1:5000", repository: "a/b", tag: "v1", digest: null });
  assert.deepEqual(parseReference("localhost/x"), { registry: "localhost", repository: "x", tag: "latest", digest: null });
  assert.deepEqual(parseReference(`quay.io/x/y@${D("a")}`), { registry: "quay.io", repository: "x/y", tag: null, digest: D("a") });
  assert.equal(familiarName(parseReference("docker.io/library/busybox")), "busybox");
  assert.equal(familiarName(parseReference("docker.io/someone/app")), "someone/app");
  assert.equal(formatReference(parseReference("example.com:5000/app")), "example.com:5000/app:latest");
  assert.throws(() => parseReference("Busybox"), /invalid reference format/);
  assert.throws(() => parseReference("x:bad/tag"), /invalid reference format/);
  assert.throws(() => parseDigest("sha512:abcd"), /only sha256/);
  assert.throws(() => parseDigest("sha256:xyz"), /malformed/);
});

test("oci manifest: OCI and Docker documents, media type from the document or the transport", () => {
  const m = { schemaVersion: 2, config: { mediaType: MEDIA_OCI_CONFIG, digest: D("c"), size: 10 }, layers: [{ mediaType: MEDIA_OCI_LAYER_GZIP, digest: D("1"), size: 5 }] };
  const p = parseManifestDocument(m, null) as ImageManifest;
  assert.equal(p.kind, "manifest");
  assert.equal(p.mediaType, MEDIA_OCI_MANIFEST);
  assert.equal(p.layers[0].digest, D("1"));
  assert.throws(() => parseManifestDocument({ ...m, schemaVersion: 1 }, null), /schemaVersion 1/);
  assert.throws(() => parseManifestDocument({ ...m, layers: [{ mediaType: "text/plain", digest: D("1"), size: 1 }] }, null), /unsupported media type text\/plain/);
  assert.throws(() => parseManifestDocument({ ...m, config: { ...m.config, size: -1 } }, null), /bad size/);
  const list = parseManifestDocument({ schemaVersion: 2, manifests: [] }, MEDIA_DOCKER_LIST);
  assert.equal(list.kind, "index");
  assert.equal(list.mediaType, MEDIA_DOCKER_LIST);
});

test("oci index: linux/riscv64 is chosen; without it the error lists the platforms", () => {
  const entry = (architecture: string, c: string, variant?: string): object => ({ mediaType: MEDIA_OCI_MANIFEST, digest: D(c), size: 1, platform: { os: "linux", architecture, ...(variant !== undefined ? { variant } : {}) } });
  const idx = parseManifestDocument({ schemaVersion: 2, manifests: [entry("amd64", "a"), entry("arm64", "b", "v8"), entry("riscv64", "c"), { mediaType: MEDIA_OCI_MANIFEST, digest: D("d"), size: 1, platform: { os: "unknown", architecture: "unknown" } }] }, null) as ImageIndex;
  assert.equal(selectPlatform(idx).digest, D("c"));
  const noRv = { ...idx, manifests: idx.manifests.filter((m) => m.digest !== D("c")) };
  assert.throws(() => selectPlatform(noRv, undefined, "app"), (e: Error) => e instanceof OciError && e.message === "app has no linux/riscv64 image (it has: linux/amd64, linux/arm64/v8)");
});

test("oci config: the known fields are type-checked, unknown ones kept, diff_ids must match the layers", () => {
  const c = parseImageConfig({ architecture: "riscv64", os: "linux", config: { Entrypoint: ["/bin/sh"], Cmd: null, Env: ["A=1"], Extra: 5 }, rootfs: { type: "layers", diff_ids: [D("e")] } });
  assert.deepEqual(c.config.Entrypoint, ["/bin/sh"]);
  assert.equal(c.config.Cmd, null);
  assert.equal((c.config as Record<string, unknown>).Extra, 5);
  assert.throws(() => parseImageConfig({ architecture: "riscv64", os: "linux", config: { Env: "A=1" }, rootfs: { type: "layers", diff_ids: [] } }), /Env: not an array/);
  const m = parseManifestDocument({ schemaVersion: 2, config: { mediaType: MEDIA_OCI_CONFIG, digest: D("c"), size: 1 }, layers: [] }, null) as ImageManifest;
  assert.throws(() => checkManifestConfig(m, c), /0 layers but the config lists 1 diff_ids/);
});

test("oci tar names: normalised to guest paths; absolute names and '..' refused", () => {
  assert.equal(normaliseEntryName("./a//b/"), "/a/b");
  assert.equal(normaliseEntryName("./"), "/");
  assert.equal(normaliseEntryName("a/.wh.b"), "/a/.wh.b");
  assert.throws(() => normaliseEntryName("/etc/passwd"), /absolute path refused/);
  assert.throws(() => normaliseEntryName("a/../../etc"), /path traversal/);
  assert.throws(() => normaliseEntryName("a\0b"), /NUL/);
  assert.deepEqual(ancestors("/a/b/c"), ["/a", "/a/b"]);
  assert.deepEqual(ancestors("/a"), []);
});
