// The virt board's power button: a `gpio-keys` key with `linux,code = <KEY_POWER>` whose only
// wire is an interrupt line into the PLIC (an "interrupt-only" button, gpio-keys.yaml). QEMU's
// arm virt board wires its power key to GPIO 3 of a PL061; Linux/riscv cannot drive a PL061
// (GPIO_PL061 depends on ARM_AMBA), so the key has a PLIC line of its own and the guest sees
// the same input device (an evdev node reporting KEY_POWER) through the same driver.
//
// A press is momentary: the line goes high and stays high until a hart claims the interrupt,
// then drops, so the guest's gpio_keys_irq_isr runs once per press (with debounce-interval 0
// it reports the press and the release at once). The button holds no state of its own: the
// line's level and the claim live in the PLIC (and in its saved state).
import type { FdtBuilder } from "../fdt.js";
import type { Plic } from "./plic.js";

/** linux/input-event-codes.h */
export const KEY_POWER = 116;

export class PowerButton {
  constructor(private readonly plic: Plic, readonly irq: number) {}

  /** Presses the button (the guest decides what a power key means; rvisor's image powers off). */
  press(): void { this.plic.irq(this.irq).set(true); }

  /** Releases the line once the guest has claimed the interrupt (called between slices). */
  tick(): void {
    if (this.plic.claimedWhileAsserted(this.irq)) this.plic.irq(this.irq).set(false);
  }
}

/** The `gpio-keys` node at the root of the device tree, as QEMU's arm virt writes its power key. */
export function powerButtonFdt(fdt: FdtBuilder, irq: number, plicPhandle: number): void {
  fdt.beginNode("gpio-keys").propString("compatible", "gpio-keys");
  fdt.beginNode("poweroff")
    .propString("label", "GPIO Key Poweroff")
    .propU32("linux,code", KEY_POWER)
    .propCells("interrupts-extended", [plicPhandle, irq])
    .endNode();
  fdt.endNode();
}
