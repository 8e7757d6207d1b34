// Loading guest images into RAM: ELF segments at their physical addresses, and the size a
// raw Linux Image needs. Shared by the virt board and the bare-metal runner.
import type { Ram } from "../memory/ram.js";
import { ElfError, PT_LOAD, parseElf } from "../memory/elf.js";

/** A guest image that cannot be loaded (one clear line for the user). */
export class LoadError extends Error {}

/** Loads PT_LOAD segments at their physical addresses; returns the entry point. */
export function loadElfPhysical(ram: Ram, bytes: Uint8Array): number {
  let elf;
  try { elf = parseElf(bytes); } catch (e) { throw new LoadError(e instanceof ElfError ? e.message : String(e)); }
  for (const seg of elf.segments) {
    if (seg.type !== PT_LOAD || seg.memsz === 0) continue;
    if (!ram.contains(seg.paddr, seg.memsz)) {
      throw new LoadError(`ELF segment at 0x${seg.paddr.toString(16)} (+0x${seg.memsz.toString(16)} bytes) is outside RAM ` +
        `0x${ram.base.toString(16)}-0x${(ram.base + ram.size).toString(16)}`);
    }
    ram.write(seg.paddr, bytes.subarray(seg.offset, seg.offset + seg.filesz));
    ram.u8.fill(0, seg.paddr - ram.base + seg.filesz, seg.paddr - ram.base + seg.memsz);
  }
  return elf.entry;
}

/** Memory a raw Linux Image needs: image_size from its header when present (Documentation/riscv/boot-image-header.rst). */
export function imageSize(k: Uint8Array): number {
  if (k.length >= 64 && k[56] === 0x52 && k[57] === 0x53 && k[58] === 0x43 && k[59] === 0x05) {
    const v = new DataView(k.buffer, k.byteOffset, k.byteLength);
    const size = v.getUint32(16, true) + v.getUint32(20, true) * 4294967296;
    if (size >= k.length) return size;
  }
  return k.length;
}
