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

/**
 * Every stateful object that can be snapshotted implements this (v86 get_state/set_state,
 * Firecracker's `Persist`): a typed, versioned state `S` that survives JSON. `loadState`
 * throws on a state it cannot take (wrong version or shape) and then changes nothing.
 */
export interface Stateful<S> {
  saveState(): S;
  loadState(state: S): void;
}

/** A state as it comes back from a snapshot file: through JSON (tests check states survive it). */
export function viaJson<S>(state: S): S {
  return JSON.parse(JSON.stringify(state)) as S;
}
