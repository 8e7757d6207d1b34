// Loading guest images into the board's RAM: corrupt ELF headers and images that cannot be a
// kernel or firmware are one LoadError line, never a RangeError or a copy from the wrong place.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Ram } from "../memory/ram.js";
import { checkImage, imageSize, loadElfPhysical, LoadError } from "./loader.js";
import { E_PHOFF, P_FILESZ, P_MEMSZ, P_OFFSET, P_PADDR, WFI_LOOP, phdrAt, poke64, tinyElf } from "../../test/lib/tiny_elf.js";

const BASE = 0x8000_0000;
const ram = new Ram(BASE, 1 << 20);
const good = (): Uint8Array => tinyElf({ base: BASE, code: WFI_LOOP, bss: 0x2000 });

function loadError(b: Uint8Array): string {
  try { loadElfPhysical(ram, b); } catch (e) { if (e instanceof LoadError) return e.message; throw e; }
  assert.fail("the corrupt ELF was loaded");
}

test("a tiny ELF loads at its physical address and returns its entry", () => {
  const b = good();
  assert.equal(loadElfPhysical(ram, b), BASE + 64 + 2 * 56);
  assert.equal(ram.read32(BASE + 64 + 2 * 56), WFI_LOOP[0]);
});

test("negative e_phoff, p_offset and p_filesz are LoadErrors (not DataView errors or copies from the file's end)", () => {
  for (const [off, v] of [[E_PHOFF, -64], [phdrAt(0) + P_OFFSET, -0x100], [phdrAt(0) + P_FILESZ, -1]] as const) {
    const b = good(); poke64(b, off, v);
    assert.match(loadError(b), /truncated|past the end of the file|filesz > memsz/);
  }
});

test("absurd p_memsz and a negative p_paddr are refused with unsigned hex in the message", () => {
  let b = good(); poke64(b, phdrAt(1) + P_MEMSZ, 2 ** 62);
  assert.match(loadError(b), /impossible size \(p_memsz 0x4000000000000000\)/);
  b = good(); poke64(b, phdrAt(1) + P_MEMSZ, 0x10_0000_0000);
  assert.match(loadError(b), /\+0x1000000000 bytes\) is outside RAM 0x80000000-0x80100000/);
  b = good(); poke64(b, phdrAt(0) + P_PADDR, -0x1000);
  assert.match(loadError(b), /ELF segment at 0xfffffffffffff000 /);
});

test("checkImage: empty, gzip and big-endian Linux Images are refused; raw code and a Linux Image header pass", () => {
  assert.throws(() => checkImage(new Uint8Array(0), "kernel"), /kernel image is empty/);
  assert.throws(() => checkImage(Uint8Array.of(0x1f, 0x8b, 8), "firmware"), /firmware image is gzip-compressed/);
  const image = new Uint8Array(4096);
  image.set([0x52, 0x53, 0x43, 0x05], 0x38); // magic2 "RSC\x05"
  poke64(image, 16, 0x10000); // image_size
  checkImage(image, "kernel");
  assert.equal(imageSize(image), 0x10000);
  image[0x18] = 1; // flags: big-endian
  assert.throws(() => checkImage(image, "kernel"), /big-endian/);
  checkImage(Uint8Array.of(0x13, 0, 0, 0), "firmware");
  const elf = good(); elf[18] = 62; // EM_X86_64
  assert.throws(() => checkImage(elf, "kernel"), /kernel: not a RISC-V ELF file/);
});
