// SiFive test finisher ("sifive,test0", a syscon) as on QEMU's virt board at 0x0010_0000.
// A write to offset 0: low 16 bits select the action, high 16 bits carry the exit code.
//   0x5555 FINISHER_PASS  -> power off, code 0
//   0x3333 FINISHER_FAIL  -> power off, code = value >> 16
//   0x7777 FINISHER_RESET -> reset
import type { AccessWidth, Device } from "../../memory/device.js";
import type { FdtBuilder } from "../fdt.js";
import { regCells } from "../fdt.js";

export const TEST_BASE = 0x0010_0000;
export const TEST_SIZE = 0x1000;
export const FINISHER_FAIL = 0x3333;
export const FINISHER_PASS = 0x5555;
export const FINISHER_RESET = 0x7777;

export interface PowerEvent { kind: "poweroff" | "reset"; code: number }

export class SifiveTest implements Device {
  constructor(private readonly onPowerEvent: (e: PowerEvent) => void) {}

  read(_offset: number, _width: AccessWidth): number { return 0; }

  write(offset: number, width: AccessWidth, value: number): void {
    if (offset !== 0 || width === 1) return;
    const status = value & 0xffff;
    const code = width === 4 ? value >>> 16 : 0;
    if (status === FINISHER_PASS) this.onPowerEvent({ kind: "poweroff", code: 0 });
    else if (status === FINISHER_FAIL) this.onPowerEvent({ kind: "poweroff", code });
    else if (status === FINISHER_RESET) this.onPowerEvent({ kind: "reset", code: 0 });
  }
}

/** Writes `test@<base>` (inside /soc), as QEMU virt does; `phandle` is what testPowerFdt's regmap names. */
export function testFdt(fdt: FdtBuilder, base: number, size: number, phandle: number): void {
  fdt.beginNode(`test@${base.toString(16)}`);
  fdt.propStrings("compatible", ["sifive,test1", "sifive,test0", "syscon"]);
  fdt.propCells("reg", regCells(base, size));
  fdt.propU32("phandle", phandle);
  fdt.endNode();
}

/** Writes the `poweroff` and `reboot` syscon nodes (QEMU puts them at the root). */
export function testPowerFdt(fdt: FdtBuilder, testPhandle: number): void {
  const node = (name: string, compatible: string, value: number): void => {
    fdt.beginNode(name);
    fdt.propString("compatible", compatible);
    fdt.propU32("regmap", testPhandle);
    fdt.propU32("offset", 0);
    fdt.propU32("value", value);
    fdt.endNode();
  };
  node("poweroff", "syscon-poweroff", FINISHER_PASS);
  node("reboot", "syscon-reboot", FINISHER_RESET);
}
