// Loading guest images into RAM: ELF segments at their physical addresses, and the size a
// raw Linux Image needs. Shared by the virt board and the bare-metal runner.
import type { Ram } from "../memory/ram.js";
import { ElfError, PT_LOAD, isElf, parseElf } from "../memory/elf.js";
import { hex64 } from "../memory/hex.js";

/** A guest image that cannot be loaded (one clear line for the user). */
export class LoadError extends Error {}

/** Loads PT_LOAD segments at their physical addresses; returns the entry point. */
export function loadElfPhysical(ram: Ram, bytes: Uint8Array): number {
  let elf;
  try { elf = parseElf(bytes); } catch (e) { throw new LoadError(e instanceof ElfError ? e.message : String(e)); }
  for (const seg of elf.segments) {
    if (seg.type !== PT_LOAD || seg.memsz === 0) continue;
    if (!ram.contains(seg.paddr, seg.memsz)) {
      throw new LoadError(`ELF segment at ${hex64(seg.paddr)} (+${hex64(seg.memsz)} bytes) is outside RAM ` +
        `${hex64(ram.base)}-${hex64(ram.base + ram.size)}`);
    }
    ram.write(seg.paddr, bytes.subarray(seg.offset, seg.offset + seg.filesz));
    ram.u8.fill(0, seg.paddr - ram.base + seg.filesz, seg.paddr - ram.base + seg.memsz);
  }
  return elf.entry;
}

/** The RISC-V Linux Image header (Documentation/riscv/boot-image-header.rst): magic2 "RSC\x05" at 0x38. */
const IMAGE_MAGIC2_OFFSET = 0x38, IMAGE_MAGIC2 = [0x52, 0x53, 0x43, 0x05];
const IMAGE_FLAGS_OFFSET = 0x18, IMAGE_FLAG_BE = 1;

function hasImageHeader(k: Uint8Array): boolean {
  return k.length >= 64 && IMAGE_MAGIC2.every((b, i) => k[IMAGE_MAGIC2_OFFSET + i] === b);
}

/**
 * Refuses what cannot be a kernel or firmware before the machine runs it: an empty file, an
 * ELF that is not RV64 (or is corrupt), a compressed image, a big-endian Linux Image. Any
 * other raw blob is taken as code; a blob that is not is caught at run time (the hart only
 * traps: VirtMachine's `stuck` exit).
 */
export function checkImage(b: Uint8Array, what: "kernel" | "firmware"): void {
  if (b.length === 0) throw new LoadError(`${what} image is empty (0 bytes)`);
  if (isElf(b)) {
    try { parseElf(b); } catch (e) { if (e instanceof ElfError) throw new LoadError(`${what}: ${e.message}`); throw e; }
    return;
  }
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) {
    throw new LoadError(`${what} image is gzip-compressed; decompress it first (e.g. gunzip Image.gz)`);
  }
  if (hasImageHeader(b) && (b[IMAGE_FLAGS_OFFSET] & IMAGE_FLAG_BE) !== 0) throw new LoadError(`${what} is a big-endian Linux Image`);
}

/** Memory a raw Linux Image needs: image_size from its header when present (Documentation/riscv/boot-image-header.rst). */
export function imageSize(k: Uint8Array): number {
  if (hasImageHeader(k)) {
    const v = new DataView(k.buffer, k.byteOffset, k.byteLength);
    const size = v.getUint32(16, true) + v.getUint32(20, true) * 4294967296;
    if (size >= k.length) return size;
  }
  return k.length;
}
