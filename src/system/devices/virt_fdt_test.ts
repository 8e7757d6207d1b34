// Builds a QEMU-virt-shaped tree from every device's *Fdt function and has dtc check it
// (dtc's semantic checks cover interrupts-extended, phandles, unit addresses and reg).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FdtBuilder } from "../fdt.js";
import { CLINT_BASE, CLINT_SIZE, clintFdt } from "./clint.js";
import { PLIC_BASE, PLIC_SIZE, plicFdt } from "./plic.js";
import { UART0_BASE, UART0_IRQ, UART0_SIZE, uartFdt } from "./uart16550.js";
import { RTC_BASE, RTC_IRQ, RTC_SIZE, rtcFdt } from "./goldfish_rtc.js";
import { TEST_BASE, TEST_SIZE, testFdt, testPowerFdt } from "./sifive_test.js";

function virtTree(harts: number): Uint8Array {
  const fdt = new FdtBuilder();
  const intc = Array.from({ length: harts }, () => fdt.allocPhandle());
  const plic = fdt.allocPhandle();
  const testPh = fdt.allocPhandle();
  fdt.beginNode("");
  fdt.propU32("#address-cells", 2).propU32("#size-cells", 2);
  fdt.propString("compatible", "riscv-virtio").propString("model", "riscv-virtio,qemu");
  testPowerFdt(fdt, testPh);
  fdt.beginNode("chosen").propString("stdout-path", "/soc/serial@10000000").endNode();
  fdt.beginNode("cpus").propU32("#address-cells", 1).propU32("#size-cells", 0).propU32("timebase-frequency", 10_000_000);
  for (let h = 0; h < harts; h++) {
    fdt.beginNode(`cpu@${h}`).propString("device_type", "cpu").propU32("reg", h).propString("status", "okay");
    fdt.propString("compatible", "riscv").propString("riscv,isa", "rv64imafdc").propString("mmu-type", "riscv,sv39");
    fdt.beginNode("interrupt-controller").propU32("#address-cells", 0).propU32("#interrupt-cells", 1).propEmpty("interrupt-controller");
    fdt.propString("compatible", "riscv,cpu-intc").propU32("phandle", intc[h]).endNode();
    fdt.endNode();
  }
  fdt.endNode();
  fdt.beginNode("memory@80000000").propString("device_type", "memory").propCells("reg", [0, 0x8000_0000, 0, 0x800_0000]).endNode();
  fdt.beginNode("soc").propU32("#address-cells", 2).propU32("#size-cells", 2);
  fdt.propString("compatible", "simple-bus").propEmpty("ranges");
  rtcFdt(fdt, RTC_BASE, RTC_SIZE, RTC_IRQ, plic);
  uartFdt(fdt, UART0_BASE, UART0_SIZE, UART0_IRQ, plic);
  testFdt(fdt, TEST_BASE, TEST_SIZE, testPh);
  plicFdt(fdt, PLIC_BASE, PLIC_SIZE, plic, intc);
  clintFdt(fdt, CLINT_BASE, CLINT_SIZE, intc);
  fdt.endNode();
  fdt.endNode();
  return fdt.finish();
}

test("a virt tree of all devices passes dtc's checks", (t) => {
  if (spawnSync("dtc", ["--version"]).status !== 0) { t.skip("dtc not installed"); return; }
  const dir = mkdtempSync(join(tmpdir(), "virt-fdt-"));
  try {
    const file = join(dir, "virt.dtb");
    writeFileSync(file, virtTree(2));
    const r = spawnSync("dtc", ["-I", "dtb", "-O", "dts", file], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), "", `dtc warnings:\n${r.stderr}`);
    const dts = r.stdout;
    assert.match(dts, /plic@c000000 \{/);
    assert.match(dts, /riscv,ndev = <0x5f>;/);
    assert.match(dts, /interrupts-extended = <0x01 0x0b 0x01 0x09 0x02 0x0b 0x02 0x09>;/);
    assert.match(dts, /clint@2000000 \{/);
    assert.match(dts, /interrupts-extended = <0x01 0x03 0x01 0x07 0x02 0x03 0x02 0x07>;/);
    assert.match(dts, /serial@10000000 \{/);
    assert.match(dts, /rtc@101000 \{/);
    assert.match(dts, /test@100000 \{/);
    assert.match(dts, /poweroff \{/);
    assert.match(dts, /reboot \{/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
