// Small RISC-V ELF executables built in memory, for loader tests and the ELF fuzz target (no
// toolchain needed). Layout as a linker makes it: the ELF header and program headers at the
// start of the first PT_LOAD (file offset 0 at `base`), code right after them, then an
// optional .bss-only PT_LOAD.
import { EM_RISCV, ET_DYN, ET_EXEC, PF_R, PF_W, PF_X, PT_LOAD } from "../../src/memory/elf.js";

export const EHDR_SIZE = 64, PHDR_SIZE = 56;
/** Byte offsets of the fields the fuzz target and tests aim at. */
export const E_ENTRY = 24, E_PHOFF = 32, E_PHENTSIZE = 54, E_PHNUM = 56;
export const P_TYPE = 0, P_FLAGS = 4, P_OFFSET = 8, P_VADDR = 16, P_PADDR = 24, P_FILESZ = 32, P_MEMSZ = 40, P_ALIGN = 48;

/** `li a0, 42; li a7, 93; ecall` (exit(42)) for the process VM. */
export const USER_EXIT_42 = [0x02a00513, 0x05d00893, 0x00000073];
/** `1: wfi; j 1b` for a bare machine. */
export const WFI_LOOP = [0x10500073, 0xffdff06f];
/**
 * A bare machine that echoes its serial console: polls the virt board's 16550 at 0x10000000 and
 * writes back every byte it receives (so console tests need no guest image).
 *     lui  t0, 0x10000        # the UART
 *  1: lbu  t1, 5(t0)          # LSR
 *     andi t1, t1, 1          # LSR_DR: a byte is waiting
 *     beqz t1, 1b
 *     lbu  t2, 0(t0)          # RBR
 *     sb   t2, 0(t0)          # THR
 *     j    1b
 */
export const UART_ECHO_LOOP = [0x100002b7, 0x0052c303, 0x00137313, 0xfe030ce3, 0x0002c383, 0x00728023, 0xfedff06f];

export interface TinyElfOptions {
  /** Virtual (and physical) address of the first byte of the file. */
  base: number;
  /** Instructions placed right after the program headers; e_entry points at the first. */
  code: readonly number[];
  type?: typeof ET_EXEC | typeof ET_DYN;
  /** Bytes of a second, zero-filled PT_LOAD (its own page above the code). */
  bss?: number;
}

export function tinyElf(o: TinyElfOptions): Uint8Array {
  const phnum = o.bss !== undefined ? 2 : 1;
  const codeOff = EHDR_SIZE + phnum * PHDR_SIZE;
  const size = codeOff + 4 * o.code.length;
  const b = new Uint8Array(size);
  const v = new DataView(b.buffer);
  const set64 = (off: number, x: number): void => { v.setUint32(off, x >>> 0, true); v.setUint32(off + 4, Math.floor(x / 4294967296) >>> 0, true); };
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]); // ELFCLASS64, ELFDATA2LSB, EV_CURRENT
  v.setUint16(16, o.type ?? ET_EXEC, true);
  v.setUint16(18, EM_RISCV, true);
  v.setUint32(20, 1, true);
  set64(E_ENTRY, o.base + codeOff);
  set64(E_PHOFF, EHDR_SIZE);
  v.setUint32(48, 0x5, true); // EF_RISCV_RVC | EF_RISCV_FLOAT_ABI_DOUBLE
  v.setUint16(52, EHDR_SIZE, true);
  v.setUint16(E_PHENTSIZE, PHDR_SIZE, true);
  v.setUint16(E_PHNUM, phnum, true);
  const phdr = (i: number, flags: number, offset: number, vaddr: number, filesz: number, memsz: number): void => {
    const p = EHDR_SIZE + i * PHDR_SIZE;
    v.setUint32(p + P_TYPE, PT_LOAD, true); v.setUint32(p + P_FLAGS, flags, true);
    set64(p + P_OFFSET, offset); set64(p + P_VADDR, vaddr); set64(p + P_PADDR, vaddr);
    set64(p + P_FILESZ, filesz); set64(p + P_MEMSZ, memsz); set64(p + P_ALIGN, 0x1000);
  };
  phdr(0, PF_R | PF_X, 0, o.base, size, size);
  if (o.bss !== undefined) {
    const at = Math.ceil((o.base + size) / 0x1000) * 0x1000 + (size % 0x1000); // p_vaddr ≡ p_offset (mod page)
    phdr(1, PF_R | PF_W, size, at, 0, o.bss);
  }
  o.code.forEach((w, i) => v.setUint32(codeOff + 4 * i, w >>> 0, true));
  return b;
}

/** Writes a 64-bit little-endian field of `b` (a copy is the caller's business). */
export function poke64(b: Uint8Array, off: number, x: number): void {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const hi = Math.floor(x / 4294967296);
  v.setUint32(off, (x - hi * 4294967296) >>> 0, true);
  v.setUint32(off + 4, hi >>> 0, true);
}

/** Program header `i`'s byte offset in a tinyElf file. */
export function phdrAt(i: number): number { return EHDR_SIZE + i * PHDR_SIZE; }
