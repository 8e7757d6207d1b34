// execve's ELF loader on corrupt headers: every bad field is one ExecError with Linux's errno
// (load_elf_binary's checks), never a RangeError, a copy from the wrong place, or a hang.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Ram } from "../memory/ram.js";
import { ET_DYN } from "../memory/elf.js";
import { EINVAL, ENOENT, ENOEXEC, S_IFDIR, S_IFREG } from "../abi/linux.js";
import type { HostFs } from "./host.js";
import { ELF_ET_DYN_BASE, ExecError, loadProgram, type LoadedImage } from "./loader.js";
import { FrameAllocator, USER_TOP } from "./memory.js";
import { Vfs } from "./vfs.js";
import { E_ENTRY, E_PHNUM, E_PHOFF, P_MEMSZ, P_OFFSET, P_VADDR, USER_EXIT_42, phdrAt, poke64, tinyElf } from "../../test/lib/tiny_elf.js";

/** A host file system with nothing in it (the program comes as bytes). */
const emptyFs = new Proxy({} as HostFs, { get: () => () => -ENOENT });
const frames = new FrameAllocator(new Ram(0x8000_0000, 16 << 20));
const vfs = new Vfs(emptyFs, "/", true);

function load(bytes: Uint8Array): LoadedImage {
  return loadProgram({ vfs, frames, cwd: "/", path: "/prog", argv: ["prog"], env: [], uid: 0, gid: 0, random: (b) => b.fill(7), hostBytes: bytes });
}

function execError(bytes: Uint8Array): ExecError {
  const t0 = Date.now();
  try { load(bytes).as.destroy(); } catch (e) {
    assert.ok(Date.now() - t0 < 2000, "the loader took seconds");
    if (e instanceof ExecError) return e;
    throw e;
  }
  assert.fail("the corrupt ELF was accepted");
}

const BASE = 0x10000;
const good = (): Uint8Array => tinyElf({ base: BASE, code: USER_EXIT_42, bss: 0x3000 });

test("a well-formed tiny ELF loads: code at p_vaddr, .bss zeroed, entry after the headers", () => {
  const img = load(good());
  try {
    assert.equal(img.entry, BASE + 64 + 2 * 56);
    const code = img.as.read(img.entry, 4);
    assert.ok(code !== null);
    assert.equal(new DataView(code.buffer).getUint32(0, true), USER_EXIT_42[0]);
    const size = 64 + 2 * 56 + 4 * USER_EXIT_42.length;
    const bss = img.as.read(Math.ceil((BASE + size) / 4096) * 4096 + size, 0x3000 - size % 4096);
    assert.ok(bss !== null && bss.every((x) => x === 0), ".bss is mapped and zero");
  } finally { img.as.destroy(); }
});

test("negative e_phoff is 'not an ELF' (ENOEXEC), not a DataView RangeError", () => {
  const b = good(); poke64(b, E_PHOFF, -8);
  const e = execError(b);
  assert.equal(e.errno, -ENOEXEC);
  assert.match(e.message, /program headers are truncated/);
});

test("negative p_offset is refused instead of copying from the end of the file", () => {
  const b = good(); poke64(b, phdrAt(0) + P_OFFSET, -4096);
  assert.equal(execError(b).errno, -ENOEXEC);
});

test("p_offset and p_vaddr that disagree modulo the page size are refused (EINVAL, as mmap does)", () => {
  const b = good(); poke64(b, phdrAt(0) + P_VADDR, BASE + 0x10);
  assert.equal(execError(b).errno, -EINVAL);
});

test("absurd p_memsz is refused at once (ENOEXEC past 2^53, EINVAL past the user address space)", () => {
  for (const [memsz, errno] of [[2 ** 62, -ENOEXEC], [-1, -ENOEXEC], [USER_TOP, -EINVAL], [2 ** 52, -EINVAL]] as const) {
    const b = good(); poke64(b, phdrAt(1) + P_MEMSZ, memsz);
    assert.equal(execError(b).errno, errno, `p_memsz ${memsz}`);
  }
});

test("segments and entry points outside the user address space are EINVAL", () => {
  for (const va of [USER_TOP, -0x1000_0000, 2 ** 63 - 2 ** 12]) {
    const b = good(); poke64(b, phdrAt(1) + P_VADDR, va);
    assert.equal(execError(b).errno, -EINVAL, `p_vaddr ${va}`);
  }
  const b = good(); poke64(b, E_ENTRY, USER_TOP + 4);
  assert.equal(execError(b).errno, -EINVAL);
});

test("too many program headers (more than a page of them) is ENOEXEC, like load_elf_phdrs", () => {
  const big = new Uint8Array(128 * 56 + 64 + 4096); big.set(good());
  new DataView(big.buffer).setUint16(E_PHNUM, 128, true);
  assert.equal(execError(big).errno, -ENOEXEC);
});

test("a static-PIE (ET_DYN) is placed at ELF_ET_DYN_BASE", () => {
  const img = load(tinyElf({ base: 0, code: USER_EXIT_42, type: ET_DYN }));
  try { assert.equal(img.entry, ELF_ET_DYN_BASE + 64 + 56); } finally { img.as.destroy(); }
});

test("execve reads a program's pages when they are touched, and the file closes with its last mapping", () => {
  // A 1 MiB file whose one PT_LOAD covers only its first bytes; the rest is never needed.
  const prog = new Uint8Array(1 << 20);
  prog.set(good());
  let opened = 0, closed = 0, bytesRead = 0;
  const st = { dev: 1, ino: 2, mode: S_IFREG | 0o755, nlink: 1, uid: 0, gid: 0, rdev: 0, size: prog.length, blksize: 4096, blocks: prog.length / 512,
    atimeSec: 0, atimeNsec: 0, mtimeSec: 0, mtimeNsec: 0, ctimeSec: 0, ctimeNsec: 0 };
  const fs = new Proxy({} as HostFs, {
    get: (_t, name) => {
      if (name === "lstat" || name === "stat") return (p: string) => (p === "/prog" ? st : p === "/" ? { ...st, mode: S_IFDIR | 0o755 } : -ENOENT);
      if (name === "open") return (p: string) => (p === "/prog" ? (opened++, 3) : -ENOENT);
      if (name === "close") return () => { closed++; };
      if (name === "read") {
        return (_h: number, buf: Uint8Array, pos: number) => {
          const n = Math.max(0, Math.min(buf.length, prog.length - pos));
          buf.set(prog.subarray(pos, pos + n)); bytesRead += n; return n;
        };
      }
      return () => -ENOENT;
    },
  });
  const img = loadProgram({ vfs: new Vfs(fs, "/", true), frames, cwd: "/", path: "/prog", argv: ["prog"], env: [], uid: 0, gid: 0, random: (b) => b.fill(7) });
  try {
    assert.equal(opened, 1);
    assert.equal(closed, 0, "the mapping holds the file open");
    const code = img.as.read(img.entry, 4);
    assert.ok(code !== null);
    assert.equal(new DataView(code.buffer).getUint32(0, true), USER_EXIT_42[0]);
    assert.ok(bytesRead <= 3 * 4096, `${bytesRead} bytes read of a ${prog.length}-byte program`);
    const child = img.as.fork();
    assert.ok(child !== null);
    img.as.destroy();
    assert.equal(closed, 0, "the fork's copy still maps it");
    child.destroy();
    assert.equal(closed, 1, "closed with the last mapping");
  } catch (e) { img.as.destroy(); throw e; }
});
