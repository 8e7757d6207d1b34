// The one small interface every memory-mapped device implements (Firecracker's BusDevice,
// TinyEMU's cpu_register_device). A device sees offsets inside its own window only.
// Accesses are 1, 2 or 4 bytes wide; the bus splits an 8-byte access into two 4-byte
// accesses (low word first), so devices never deal with 64-bit numbers.

export type AccessWidth = 1 | 2 | 4;

export interface Device {
  /** Returns the value (zero-extended, as an unsigned number) at `offset`. */
  read(offset: number, width: AccessWidth): number;
  write(offset: number, width: AccessWidth, value: number): void;
}

/** An interrupt line wired by the machine; devices only raise or lower it. */
export interface IrqLine {
  set(level: boolean): void;
}

/** Every stateful object that can be snapshotted implements this (v86 get_state/set_state). */
export interface Stateful {
  saveState(): unknown;
  loadState(state: unknown): void;
}
