// execve's loader: ELF (static, static-PIE, dynamic through PT_INTERP), #! scripts, and the
// initial stack with argv, envp and the auxiliary vector laid out as Linux builds them.
import {
  EM_RISCV, ElfError, ET_DYN, PF_R, PF_W, PF_X, PT_INTERP, PT_LOAD, PT_PHDR, isElf, parseElf, programHeaderRange, type ElfFile,
} from "../memory/elf.js";
import { hex64 } from "../memory/hex.js";
import { E2BIG, EACCES, EINVAL, EISDIR, ENOENT, ENOEXEC, ENOMEM, O_RDONLY, S_IFDIR, S_IFMT, S_IFREG, S_IXUGO } from "../abi/linux.js";
import {
  AddressSpace, PAGE, PROT_EXEC, PROT_READ, PROT_WRITE, STACK_TOP, USER_TOP, bytesSource, type FrameAllocator, type PageSource,
} from "./memory.js";
import type { Vfs } from "./vfs.js";

export const ELF_ET_DYN_BASE = 0x2a_aaaa_a000;
export const STACK_SIZE = 8 << 20;
/** One page above the stack holding the signal-return trampoline (`li a7, 139; ecall`). */
export const SIGRETURN_TRAMPOLINE = STACK_TOP;
const TRAMPOLINE = new Uint8Array([0x93, 0x08, 0xb0, 0x08, 0x73, 0x00, 0x00, 0x00]);

export class ExecError extends Error {
  constructor(readonly errno: number, message: string) { super(message); }
}

export interface LoadedImage {
  as: AddressSpace; entry: number; sp: number; exe: string; argv: string[];
}

export interface ExecRequest {
  vfs: Vfs; frames: FrameAllocator; cwd: string; path: string; argv: string[]; env: string[];
  uid: number; gid: number; random: (b: Uint8Array) => void;
  /** The program's bytes when it was read from outside the guest root (top level only). */
  hostBytes?: Uint8Array;
  /**
   * An ELF for another machine is a host-native program (unconfined execve, as qemu-riscv64
   * hands such a file to the host kernel): loadImage returns it as a HostProgram instead of
   * failing with ENOEXEC.
   */
  hostNative?: boolean;
  /** As execve(2): the program and its #! interpreters must be executable (the first program, as qemu's, need not). */
  execve?: boolean;
}

/** A host-native program execve found (after #! interpreters): what the host is to run. */
export class HostProgram {
  /** `path`: its guest path, every symlink resolved; `argv` as binfmt_script rewrote it. */
  constructor(readonly path: string, readonly argv: string[]) {}
}

/** e_machine (ELF header offset 18, the same in ELFCLASS32 and ELFCLASS64), little or big endian by EI_DATA. */
const EI_DATA = 5, ELFDATA2MSB = 2, E_MACHINE = 18;
function elfMachine(b: Uint8Array): number | null {
  if (!isElf(b) || b.length < E_MACHINE + 2) return null;
  return new DataView(b.buffer, b.byteOffset, b.length).getUint16(E_MACHINE, b[EI_DATA] !== ELFDATA2MSB);
}

/**
 * How much of a program execve reads before it maps anything: the ELF header and, in Linux's
 * layout, the program headers (load_elf_phdrs wants them within ELF_MIN_ALIGN), or a #! line.
 */
const HEAD_BYTES = PAGE;
/** PT_INTERP longer than PATH_MAX (or shorter than 2) is ENOEXEC (load_elf_binary). */
const PATH_MAX = 4096;

/**
 * A program opened for execve: its first bytes, its size, and its pages read from the file when
 * they are first touched (binfmt_elf maps segments from the file; nothing is read up front).
 * The loader holds one reference to `src` while it loads; each area mapping it holds another,
 * and the file closes with the last (PageSource.hold/release).
 */
interface ExecFile { guest: string; size: number; head: Uint8Array; src: PageSource }

/** Reads up to dst.length bytes at `off` from src into dst (zeros past the end of file). */
function readInto(src: PageSource, off: number, dst: Uint8Array): Uint8Array { src.readAt(off, dst); return dst; }

/** A file's pages through an open host handle, closed when the last reference is released. */
function handleSource(vfs: Vfs, h: number, size: number, name: string): PageSource {
  let refs = 1;
  return {
    name,
    readAt(off: number, dst: Uint8Array): void {
      let done = 0;
      const n = Math.max(0, Math.min(dst.length, size - off));
      while (done < n) {
        const got = vfs.host.read(h, dst.subarray(done, n), off + done);
        if (got <= 0) break;
        done += got;
      }
      dst.fill(0, done);
    },
    hold: () => { refs++; },
    release: () => { if (--refs === 0) vfs.host.close(h); },
  };
}

/** The program at a guest path (resolved, symlinks followed), opened for execve. */
function openGuestFile(vfs: Vfs, cwd: string, path: string, exec = false): ExecFile | number {
  const g = vfs.resolve(cwd, path, true);
  if (typeof g === "number") return g;
  const hp = vfs.toHost(g);
  const st = vfs.host.stat(hp);
  if (typeof st === "number") return st;
  if ((st.mode & S_IFMT) === S_IFDIR) return -EISDIR;
  if ((st.mode & S_IFMT) !== S_IFREG) return -EACCES;
  // do_open_execat (with `exec`): a file no one may execute is EACCES (the permission check proper is the host's or the layer's).
  if (exec && (st.mode & S_IXUGO) === 0) return -EACCES;
  const h = vfs.host.open(hp, O_RDONLY, 0);
  if (h < 0) return h;
  const src = handleSource(vfs, h, st.size, g);
  return { guest: g, size: st.size, head: readInto(src, 0, new Uint8Array(Math.min(st.size, HEAD_BYTES))), src };
}

/** The bytes of a program read from outside the guest root (the first program only). */
function bytesFile(guest: string, bytes: Uint8Array): ExecFile {
  return { guest, size: bytes.length, head: bytes.subarray(0, HEAD_BYTES), src: bytesSource(bytes, guest) };
}

function segProt(flags: number): number {
  return (flags & PF_R ? PROT_READ : 0) | (flags & PF_W ? PROT_WRITE : 0) | (flags & PF_X ? PROT_EXEC : 0);
}

function loadSegments(as: AddressSpace, elf: ElfFile, bias: number, src: PageSource, name: string): number {
  let end = 0;
  for (const s of elf.segments) {
    if (s.type !== PT_LOAD || s.memsz === 0) continue;
    const va = bias + s.vaddr;
    const start = Math.floor(va / PAGE) * PAGE;
    const fileEnd = va + s.filesz, memEnd = va + s.memsz;
    const prot = segProt(s.flags);
    const mapEnd = Math.ceil(fileEnd / PAGE) * PAGE;
    if (mapEnd > start) { src.hold?.(); as.map(start, mapEnd - start, prot, false, src, s.offset - (va - start), name); }
    if (s.memsz > s.filesz) {
      // Zero the tail of the last file page, then anonymous pages for the rest of .bss.
      if (fileEnd % PAGE !== 0) as.write(fileEnd, new Uint8Array(mapEnd - fileEnd), true);
      const bssEnd = Math.ceil(memEnd / PAGE) * PAGE;
      if (bssEnd > mapEnd) as.map(mapEnd, bssEnd - mapEnd, prot, false, null, 0, "");
    }
    end = Math.max(end, Math.ceil(memEnd / PAGE) * PAGE);
  }
  return end;
}

function span(elf: ElfFile): { lo: number; hi: number } {
  let lo = Infinity, hi = 0;
  for (const s of elf.segments) {
    if (s.type !== PT_LOAD) continue;
    lo = Math.min(lo, Math.floor(s.vaddr / PAGE) * PAGE);
    hi = Math.max(hi, Math.ceil((s.vaddr + s.memsz) / PAGE) * PAGE);
  }
  return { lo, hi };
}

/** Linux's load_elf_phdrs: e_phentsize must be sizeof(struct elf_phdr) and the table fit in ELF_MIN_ALIGN (a page). */
const ELF_PHDR_SIZE = 56;

/** The ELF headers of `f` (its program headers read as well when they lie past its first bytes). */
function parse(f: ExecFile, what: string): ElfFile {
  const h = f.head;
  const t = programHeaderRange(h);
  // A table past the first page (load_elf_phdrs reads it from e_phoff; at most a page is valid).
  const end = t === null ? 0 : t.offset + t.length;
  const phdrs = t !== null && end > h.length && end <= f.size && t.length <= PAGE ? readInto(f.src, t.offset, new Uint8Array(t.length)) : undefined;
  let elf: ElfFile;
  try { elf = parseElf(h, f.size, phdrs); } catch (e) {
    if (e instanceof ElfError) throw new ExecError(-ENOEXEC, `${what}: ${e.message}`);
    throw e;
  }
  if (elf.phentsize !== ELF_PHDR_SIZE || elf.phnum * ELF_PHDR_SIZE > PAGE) {
    throw new ExecError(-ENOEXEC, `${what}: bad program header table (e_phentsize ${elf.phentsize}, e_phnum ${elf.phnum})`);
  }
  return elf;
}

/**
 * What load_elf_binary checks before it maps anything: every PT_LOAD lies inside the user
 * address space once relocated ("BAD_ADDR(k) || p_memsz > TASK_SIZE || TASK_SIZE - p_memsz < k"
 * → EINVAL), its file offset and address agree modulo the page size (else mmap fails with
 * EINVAL), and so does the entry point.
 */
function checkLayout(elf: ElfFile, bias: number, what: string): void {
  let loads = 0;
  elf.segments.forEach((s, i) => {
    if (s.type !== PT_LOAD) return;
    loads++;
    const va = bias + s.vaddr;
    if (va < 0 || s.memsz > USER_TOP || va > USER_TOP - s.memsz) {
      throw new ExecError(-EINVAL, `${what}: segment ${i} at ${hex64(va)} (+${hex64(s.memsz)} bytes) is outside the user address space`);
    }
    if (s.filesz > 0 && (((s.offset - va) % PAGE) + PAGE) % PAGE !== 0) {
      throw new ExecError(-EINVAL, `${what}: segment ${i} p_offset ${hex64(s.offset)} and p_vaddr ${hex64(s.vaddr)} differ modulo the page size`);
    }
  });
  if (loads === 0) throw new ExecError(-ENOEXEC, `${what}: no loadable segment`);
  const entry = bias + elf.entry;
  if (entry < 0 || entry >= USER_TOP) throw new ExecError(-EINVAL, `${what}: entry point ${hex64(entry)} is outside the user address space`);
}

/** Loads a program into a fresh address space. Throws ExecError (with an errno) on failure. */
export function loadProgram(req: ExecRequest): LoadedImage {
  const r = loadImage({ ...req, hostNative: false });
  if (r instanceof HostProgram) throw new ExecError(-ENOEXEC, `${req.path}: not a RISC-V program`);
  return r;
}

/** loadProgram, or (with req.hostNative) the host-native program the path names. */
export function loadImage(req: ExecRequest, depth = 0): LoadedImage | HostProgram {
  const f = req.hostBytes !== undefined && depth === 0 ? bytesFile(req.path, req.hostBytes) : openGuestFile(req.vfs, req.cwd, req.path, req.execve === true);
  if (typeof f === "number") throw new ExecError(f, `${req.path}: ${f === -ENOENT ? "no such file" : f === -EISDIR ? "is a directory" : `cannot open (errno ${-f})`}`);
  // The loader's own reference: areas mapping the file hold theirs.
  try { return loadFile(req, f, depth); } finally { f.src.release?.(); }
}

function loadFile(req: ExecRequest, f: ExecFile, depth: number): LoadedImage | HostProgram {
  const b = f.head;
  if (b.length >= 2 && b[0] === 0x23 && b[1] === 0x21) {
    if (depth > 4) throw new ExecError(-ELOOP_, `${req.path}: too many levels of #! interpreters`);
    let nl = b.indexOf(10);
    if (nl < 0) nl = Math.min(b.length, 256);
    const line = new TextDecoder().decode(b.subarray(2, nl)).trim();
    const sp = line.search(/[ \t]/);
    const interp = sp < 0 ? line : line.slice(0, sp);
    const arg = sp < 0 ? "" : line.slice(sp).trim();
    if (interp === "") throw new ExecError(-ENOEXEC, `${req.path}: empty #! line`);
    const argv = [interp, ...(arg !== "" ? [arg] : []), req.path, ...req.argv.slice(1)];
    return loadImage({ ...req, path: interp, argv, hostBytes: undefined }, depth + 1);
  }
  if (req.hostNative === true) {
    const m = elfMachine(b);
    if (m !== null && m !== EM_RISCV) return new HostProgram(f.guest, req.argv);
  }
  const elf = parse(f, req.path);
  if ((elf.flags & 0x6) !== 0x4 && depth === 0 && (elf.flags & 0x6) !== 0) { /* float ABI other than double: still try */ }
  const as = AddressSpace.create(req.frames);
  if (as === null) throw new ExecError(-ENOMEM, `${req.path}: out of guest memory`);
  try {
    const bias = elf.type === ET_DYN ? ELF_ET_DYN_BASE - span(elf).lo : 0;
    checkLayout(elf, bias, req.path);
    const end = loadSegments(as, elf, bias, f.src, f.guest);
    as.brkStart = as.brk = end;
    let interpBias = 0, entry = bias + elf.entry;
    const pi = elf.segments.find((s) => s.type === PT_INTERP);
    if (pi !== undefined) {
      if (pi.filesz > PATH_MAX || pi.filesz < 2) throw new ExecError(-ENOEXEC, `${req.path}: bad PT_INTERP (${pi.filesz} bytes)`);
      let ip = new TextDecoder().decode(readInto(f.src, pi.offset, new Uint8Array(pi.filesz)));
      ip = ip.replace(/\0.*$/s, "");
      const fi = openGuestFile(req.vfs, "/", ip);
      if (typeof fi === "number") {
        throw new ExecError(-ENOENT, `${req.path}: interpreter ${ip} not found${!req.vfs.confined ? " (use --root DIR, e.g. --root /usr/riscv64-linux-gnu)" : req.vfs.root === "/" ? " in the guest's filesystem" : ` under ${req.vfs.root}`}`);
      }
      try {
        const ie = parse(fi, ip);
        checkLayout(ie, 0, ip);
        const sp = span(ie);
        const at = as.findFree(sp.hi - sp.lo);
        if (at < 0) throw new ExecError(-ENOMEM, "no room for the interpreter");
        interpBias = at - sp.lo;
        checkLayout(ie, interpBias, ip);
        loadSegments(as, ie, interpBias, fi.src, fi.guest);
        entry = interpBias + ie.entry;
      } finally { fi.src.release?.(); }
    }
    as.map(SIGRETURN_TRAMPOLINE, PAGE, PROT_READ | PROT_EXEC, false, bytesSource(TRAMPOLINE, "[vdso]"), 0, "[vdso]");
    as.map(STACK_TOP - STACK_SIZE, STACK_SIZE, PROT_READ | PROT_WRITE, false, null, 0, "[stack]");
    let phdr = 0;
    const pp = elf.segments.find((s) => s.type === PT_PHDR);
    if (pp !== undefined) phdr = bias + pp.vaddr;
    else {
      const first = elf.segments.find((s) => s.type === PT_LOAD && s.offset <= elf.phoff && elf.phoff < s.offset + s.filesz);
      if (first !== undefined) phdr = bias + first.vaddr + (elf.phoff - first.offset);
    }
    const sp = buildStack(as, req, f.guest, {
      phdr, phnum: elf.phnum, base: interpBias, entry: bias + elf.entry,
    });
    return { as, entry, sp, exe: f.guest, argv: req.argv };
  } catch (e) {
    as.destroy();
    throw e;
  }
}
const ELOOP_ = 40;

export const AT_NULL = 0, AT_PHDR = 3, AT_PHENT = 4, AT_PHNUM = 5, AT_PAGESZ = 6, AT_BASE = 7, AT_FLAGS = 8, AT_ENTRY = 9,
  AT_UID = 11, AT_EUID = 12, AT_GID = 13, AT_EGID = 14, AT_HWCAP = 16, AT_CLKTCK = 17, AT_SECURE = 23, AT_RANDOM = 25,
  AT_HWCAP2 = 26, AT_EXECFN = 31, AT_MINSIGSTKSZ = 51;
/** I M A F D C */
export const HWCAP = (1 << 8) | (1 << 12) | (1 << 0) | (1 << 5) | (1 << 3) | (1 << 2);

function buildStack(as: AddressSpace, req: ExecRequest, execfn: string, img: { phdr: number; phnum: number; base: number; entry: number }): number {
  const enc = new TextEncoder();
  let sp = STACK_TOP;
  const push = (bytes: Uint8Array): number => { sp -= bytes.length; if (!as.write(sp, bytes)) throw new ExecError(-E2BIG, "stack overflow"); return sp; };
  const cstr = (s: string): number => { const e = enc.encode(s); const b = new Uint8Array(e.length + 1); b.set(e); return push(b); };
  const execfnAddr = cstr(execfn);
  const envAddrs = req.env.map(cstr).reverse().reverse();
  const argAddrs = req.argv.map(cstr);
  const rnd = new Uint8Array(16); req.random(rnd);
  sp = Math.floor(sp / 16) * 16;
  const randomAddr = push(rnd);
  const aux: [number, number][] = [
    [AT_PHDR, img.phdr], [AT_PHENT, 56], [AT_PHNUM, img.phnum], [AT_PAGESZ, PAGE], [AT_BASE, img.base], [AT_FLAGS, 0],
    [AT_ENTRY, img.entry], [AT_UID, req.uid], [AT_EUID, req.uid], [AT_GID, req.gid], [AT_EGID, req.gid],
    [AT_HWCAP, HWCAP], [AT_CLKTCK, 100], [AT_SECURE, 0], [AT_RANDOM, randomAddr], [AT_HWCAP2, 0],
    [AT_EXECFN, execfnAddr], [AT_MINSIGSTKSZ, 2048], [AT_NULL, 0],
  ];
  const words: number[] = [req.argv.length, ...argAddrs, 0, ...envAddrs, 0];
  for (const [k, v] of aux) words.push(k, v);
  sp -= words.length * 8;
  sp = Math.floor(sp / 16) * 16;
  const buf = new Uint8Array(words.length * 8);
  const dv = new DataView(buf.buffer);
  words.forEach((w, i) => { dv.setUint32(i * 8, w >>> 0, true); dv.setUint32(i * 8 + 4, Math.floor(w / 4294967296) >>> 0, true); });
  if (!as.write(sp, buf)) throw new ExecError(-E2BIG, "stack overflow");
  return sp;
}
