import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FdtBuilder, parseFdt, fdtFind, fdtCells, fdtStrings, regCells } from "./fdt.js";

function sample(): { blob: Uint8Array; intc: number } {
  const fdt = new FdtBuilder();
  const intc = fdt.allocPhandle();
  fdt.beginNode("");
  fdt.propU32("#address-cells", 2).propU32("#size-cells", 2);
  fdt.propString("compatible", "riscv-virtio");
  fdt.propString("model", "riscv-virtio,qemu");
  fdt.beginNode("cpus");
  fdt.propU32("timebase-frequency", 10_000_000);
  fdt.beginNode("cpu@0");
  fdt.propString("device_type", "cpu").propU32("reg", 0);
  fdt.beginNode("interrupt-controller");
  fdt.propU32("#interrupt-cells", 1).propEmpty("interrupt-controller");
  fdt.propString("compatible", "riscv,cpu-intc").propU32("phandle", intc);
  fdt.endNode().endNode().endNode();
  fdt.beginNode("memory@80000000");
  fdt.propString("device_type", "memory").propCells("reg", regCells(0x8000_0000, 0x1_0000_0000));
  fdt.endNode();
  fdt.beginNode("soc");
  fdt.propStrings("compatible", ["simple-bus"]).propEmpty("ranges");
  fdt.beginNode("clint@2000000");
  fdt.propStrings("compatible", ["sifive,clint0", "riscv,clint0"]);
  fdt.propU64("linux,test-u64", 0x1_2345_6789);
  fdt.propBytes("bytes", new Uint8Array([1, 2, 3]));
  fdt.endNode();
  fdt.endNode();
  fdt.endNode();
  return { blob: fdt.finish(0), intc };
}

test("header: magic, version 17, alignment, empty reservation map", () => {
  const { blob } = sample();
  const v = new DataView(blob.buffer);
  assert.equal(v.getUint32(0), 0xd00dfeed);
  assert.equal(v.getUint32(4), blob.length);
  assert.equal(v.getUint32(20), 17);
  assert.equal(v.getUint32(24), 16);
  const rsv = v.getUint32(16);
  assert.equal(rsv % 8, 0);
  assert.equal(v.getBigUint64(rsv), 0n);
  assert.equal(v.getBigUint64(rsv + 8), 0n);
  assert.equal(v.getUint32(8) % 4, 0);
});

test("strings are deduplicated", () => {
  const { blob } = sample();
  const v = new DataView(blob.buffer);
  const strings = new TextDecoder().decode(blob.subarray(v.getUint32(12), v.getUint32(12) + v.getUint32(32)));
  assert.equal(strings.split("\0").filter((s) => s === "compatible").length, 1);
  assert.equal(strings.split("\0").filter((s) => s === "#address-cells").length, 1);
});

test("parseFdt round-trips nodes and properties", () => {
  const { blob, intc } = sample();
  const { root, version } = parseFdt(blob);
  assert.equal(version, 17);
  assert.deepEqual(fdtStrings(root, "compatible"), ["riscv-virtio"]);
  const intcNode = fdtFind(root, "/cpus/cpu@0/interrupt-controller");
  assert.ok(intcNode);
  assert.deepEqual(fdtCells(intcNode, "phandle"), [intc]);
  assert.equal(intcNode.props.get("interrupt-controller")?.length, 0);
  const mem = fdtFind(root, "/memory@80000000");
  assert.ok(mem);
  assert.deepEqual(fdtCells(mem, "reg"), [0, 0x8000_0000, 1, 0]);
  const clint = fdtFind(root, "/soc/clint@2000000");
  assert.ok(clint);
  assert.deepEqual(fdtStrings(clint, "compatible"), ["sifive,clint0", "riscv,clint0"]);
  assert.deepEqual(fdtCells(clint, "linux,test-u64"), [1, 0x2345_6789]);
  assert.deepEqual([...(clint.props.get("bytes") ?? [])], [1, 2, 3]);
  assert.equal(fdtFind(root, "/soc/nope"), null);
});

test("unbalanced trees are rejected", () => {
  const fdt = new FdtBuilder();
  fdt.beginNode("");
  assert.throws(() => fdt.finish());
  assert.throws(() => new FdtBuilder().propU32("x", 1));
  assert.throws(() => new FdtBuilder().beginNode("").propU32("x", -1));
});

test("dtc decompiles the blob", (t) => {
  const probe = spawnSync("dtc", ["--version"]);
  if (probe.status !== 0) { t.skip("dtc not installed"); return; }
  const dir = mkdtempSync(join(tmpdir(), "fdt-"));
  try {
    const file = join(dir, "t.dtb");
    writeFileSync(file, sample().blob);
    const r = spawnSync("dtc", ["-I", "dtb", "-O", "dts", file], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const dts = r.stdout;
    assert.match(dts, /\/dts-v1\/;/);
    assert.match(dts, /compatible = "riscv-virtio";/);
    assert.match(dts, /timebase-frequency = <0x989680>;/);
    assert.match(dts, /cpu@0 \{/);
    assert.match(dts, /interrupt-controller;/);
    assert.match(dts, /reg = <0x00 0x80000000 0x01 0x00>;/);
    assert.match(dts, /clint@2000000 \{\s*compatible = "sifive,clint0\\0riscv,clint0";/);
    assert.match(dts, /ranges;/);
    assert.doesNotMatch(r.stderr, /ERROR/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
