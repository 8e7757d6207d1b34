// Guest physical address space: RAM plus MMIO windows. The hart's fast path reaches RAM
// through its own TLB; everything else comes here.
import type { AccessWidth, Device } from "./device.js";
import { Ram } from "./ram.js";

export interface Mapping { base: number; size: number; device: Device; name: string }

export class Bus {
  private maps: Mapping[] = [];
  // One-entry cache of the last MMIO window hit.
  private last: Mapping | null = null;

  constructor(readonly ram: Ram) {}

  map(name: string, base: number, size: number, device: Device): void {
    for (const m of this.maps) {
      if (base < m.base + m.size && m.base < base + size) throw new Error(`MMIO window ${name} overlaps ${m.name}`);
    }
    this.maps.push({ name, base, size, device });
  }

  mappings(): readonly Mapping[] { return this.maps; }

  find(addr: number): Mapping | null {
    const l = this.last;
    if (l !== null && addr >= l.base && addr < l.base + l.size) return l;
    for (const m of this.maps) {
      if (addr >= m.base && addr < m.base + m.size) { this.last = m; return m; }
    }
    return null;
  }

  /**
   * Called when a device model throws: the guest must never be able to crash the host, so the
   * access becomes an access fault for the guest and the host hears about it once per device.
   */
  onDeviceError: (name: string, err: unknown) => void = (name, err) => {
    if (this.reported.has(name)) return;
    this.reported.add(name);
    console.error(`rvisor: device ${name} failed on a guest access (${err instanceof Error ? err.message : String(err)}); the access faults`);
  };
  private readonly reported = new Set<string>();

  /** MMIO read of 1/2/4 bytes; returns null when nothing is mapped there (access fault). */
  read(addr: number, width: AccessWidth): number | null {
    const m = this.find(addr);
    if (m === null || addr + width > m.base + m.size) return null;
    try {
      return m.device.read(addr - m.base, width) >>> 0;
    } catch (e) {
      this.onDeviceError(m.name, e);
      return null;
    }
  }

  /** MMIO write of 1/2/4 bytes; returns false when nothing is mapped there (access fault). */
  write(addr: number, width: AccessWidth, value: number): boolean {
    const m = this.find(addr);
    if (m === null || addr + width > m.base + m.size) return false;
    try {
      m.device.write(addr - m.base, width, value);
    } catch (e) {
      this.onDeviceError(m.name, e);
      return false;
    }
    return true;
  }
}
