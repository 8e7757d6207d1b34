// A small ELF64 (little-endian, RISC-V) reader: header, program headers and symbols.
// Shared by the bare-metal loader (system/) and the process VM (user/). Every offset is
// bounds-checked: a corrupt file gets a clear error, never an exception from a typed array.

import { hex64 } from "./hex.js";

export const PT_LOAD = 1, PT_DYNAMIC = 2, PT_INTERP = 3, PT_PHDR = 6, PT_TLS = 7, PT_GNU_STACK = 0x6474e551;
export const ET_EXEC = 2, ET_DYN = 3;
export const EM_RISCV = 243;
export const PF_X = 1, PF_W = 2, PF_R = 4;

export interface ElfSegment {
  type: number; flags: number; offset: number; vaddr: number; paddr: number; filesz: number; memsz: number; align: number;
}

export interface ElfFile {
  type: number;
  entry: number;
  phoff: number;
  phentsize: number;
  phnum: number;
  segments: ElfSegment[];
  bytes: Uint8Array;
  /** e_flags (RVC, float ABI). */
  flags: number;
}

export class ElfError extends Error {}

/** True when the bytes start with the ELF magic (whatever the class or machine). */
export function isElf(b: Uint8Array): boolean {
  return b.length >= 4 && b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46;
}

/** A 64-bit address field (sign-extended above 2^53: only negative addresses are meaningful there). */
function u64(v: DataView, off: number): number {
  const lo = v.getUint32(off, true), hi = v.getUint32(off + 4, true);
  if (hi >= 0x200000) {
    // Beyond 2^53: only sign-extended (negative) addresses are meaningful to us.
    return (hi | 0) * 4294967296 + lo;
  }
  return hi * 4294967296 + lo;
}

/**
 * A 64-bit offset or size field as an unsigned number; Infinity when it is 2^53 or more (no
 * file or memory is that large, and a sign-extended reading would turn it negative and let it
 * pass every `offset + size <= length` check).
 */
function size64(v: DataView, off: number): number {
  const lo = v.getUint32(off, true), hi = v.getUint32(off + 4, true);
  return hi >= 0x200000 ? Infinity : hi * 4294967296 + lo;
}

/** ELF64 header size and the offsets of e_phoff, e_phentsize and e_phnum in it. */
const ELF64_EHDR_SIZE = 64, E_PHOFF = 32, E_PHENTSIZE = 54, E_PHNUM = 56;

/** Where the program header table of the ELF header in `bytes` lies (null: no full ELF header there). */
export function programHeaderRange(bytes: Uint8Array): { offset: number; length: number } | null {
  if (!isElf(bytes) || bytes.length < ELF64_EHDR_SIZE) return null;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { offset: size64(v, E_PHOFF), length: v.getUint16(E_PHNUM, true) * v.getUint16(E_PHENTSIZE, true) };
}

/**
 * Parses an ELF64 RISC-V executable's headers; throws ElfError with a one-line reason when it is
 * not one. `bytes` is the whole file, or (with `fileSize`)
 * its first bytes; `phdrs`, when given, is the program header table read from e_phoff (for a
 * file whose table lies past `bytes`). Segment bounds are checked against `fileSize`.
 */
export function parseElf(bytes: Uint8Array, fileSize = bytes.length, phdrs?: Uint8Array): ElfFile {
  if (bytes.length < 64 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    throw new ElfError("not an ELF file");
  }
  if (bytes[4] !== 2) throw new ElfError("not a 64-bit ELF file (RV64 is required)");
  if (bytes[5] !== 1) throw new ElfError("not a little-endian ELF file");
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const machine = v.getUint16(18, true);
  if (machine !== EM_RISCV) throw new ElfError(`not a RISC-V ELF file (e_machine ${machine})`);
  const type = v.getUint16(16, true);
  if (type !== ET_EXEC && type !== ET_DYN) throw new ElfError(`not an executable ELF file (e_type ${type})`);
  const entry = u64(v, 24), phoff = size64(v, E_PHOFF);
  const flags = v.getUint32(48, true);
  const phentsize = v.getUint16(E_PHENTSIZE, true), phnum = v.getUint16(E_PHNUM, true);
  if (phnum === 0) throw new ElfError("ELF file has no program headers");
  const tableBytes = phnum * phentsize;
  if (phentsize < 56 || phoff + tableBytes > fileSize) throw new ElfError("ELF program headers are truncated");
  const table = phdrs ?? bytes, tableAt = phdrs === undefined ? phoff : 0;
  if (tableAt + tableBytes > table.length) throw new ElfError("ELF program headers are truncated");
  const t = table === bytes ? v : new DataView(table.buffer, table.byteOffset, table.byteLength);
  const segments: ElfSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = tableAt + i * phentsize;
    const seg: ElfSegment = {
      type: t.getUint32(o, true), flags: t.getUint32(o + 4, true), offset: size64(t, o + 8), vaddr: u64(t, o + 16),
      paddr: u64(t, o + 24), filesz: size64(t, o + 32), memsz: size64(t, o + 40), align: size64(t, o + 48),
    };
    if (seg.type === PT_LOAD || seg.type === PT_INTERP) {
      if (seg.offset + seg.filesz > fileSize) throw new ElfError(`ELF segment ${i} extends past the end of the file`);
      if (seg.type === PT_LOAD && seg.filesz > seg.memsz) throw new ElfError(`ELF segment ${i} has filesz > memsz`);
      // p_vaddr + p_memsz must not wrap around the 64-bit address space (Linux: "p_memsz > TASK_SIZE").
      if (seg.type === PT_LOAD && (seg.memsz === Infinity || seg.vaddr + seg.memsz > 2 ** 64)) {
        const memsz = `0x${t.getUint32(o + 44, true).toString(16)}${t.getUint32(o + 40, true).toString(16).padStart(8, "0")}`.replace(/^0x0+(?=.)/, "0x");
        throw new ElfError(`ELF segment ${i} has an impossible size (p_memsz ${seg.memsz === Infinity ? memsz : hex64(seg.memsz)})`);
      }
    }
    segments.push(seg);
  }
  return { type, entry, phoff, phentsize, phnum, segments, bytes, flags };
}

/** Looks up symbols by name in .symtab (absent → empty map). */
export function elfSymbols(elf: ElfFile, names: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  const b = elf.bytes;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const shoff = size64(v, 40), shentsize = v.getUint16(58, true), shnum = v.getUint16(60, true);
  if (shoff === 0 || shentsize < 64 || shoff + shnum * shentsize > b.length) return out;
  const want = new Set(names);
  for (let i = 0; i < shnum; i++) {
    const sh = shoff + i * shentsize;
    if (v.getUint32(sh + 4, true) !== 2) continue; // SHT_SYMTAB
    const off = size64(v, sh + 24), size = size64(v, sh + 32), link = v.getUint32(sh + 40, true), entsize = Math.max(size64(v, sh + 56), 24);
    if (link >= shnum || off + size > b.length) continue;
    const strsh = shoff + link * shentsize;
    const stroff = size64(v, strsh + 24), strsize = size64(v, strsh + 32);
    if (stroff + strsize > b.length) continue;
    for (let s = off; s + 24 <= off + size; s += entsize) {
      const nameOff = v.getUint32(s, true);
      if (nameOff >= strsize) continue;
      let end = stroff + nameOff;
      while (end < stroff + strsize && b[end] !== 0) end++;
      const name = new TextDecoder().decode(b.subarray(stroff + nameOff, end));
      if (want.has(name)) out.set(name, u64(v, s + 8));
    }
  }
  return out;
}
