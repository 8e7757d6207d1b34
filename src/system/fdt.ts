// Flattened device tree (DTB, version 17) writer and a small reader for tests.
// Layout per the Devicetree Specification v0.4 ch. 5: a 40-byte header, the memory
// reservation block (here empty: one terminating {0,0} entry), the structure block
// (FDT_BEGIN_NODE/FDT_PROP/FDT_END_NODE tokens, 4-byte aligned) and the strings block
// (property names, deduplicated). All values are big-endian.

const FDT_MAGIC = 0xd00dfeed;
const FDT_BEGIN_NODE = 1;
const FDT_END_NODE = 2;
const FDT_PROP = 3;
const FDT_NOP = 4;
const FDT_END = 9;
const HEADER_SIZE = 40;

const utf8 = new TextEncoder();

/** A growable big-endian byte buffer. */
class ByteWriter {
  bytes = new Uint8Array(1024);
  view = new DataView(this.bytes.buffer);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    let cap = this.bytes.length * 2;
    while (cap < this.length + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.bytes.subarray(0, this.length));
    this.bytes = next;
    this.view = new DataView(next.buffer);
  }
  u32(v: number): void { this.reserve(4); this.view.setUint32(this.length, v >>> 0); this.length += 4; }
  raw(b: Uint8Array): void { this.reserve(b.length); this.bytes.set(b, this.length); this.length += b.length; }
  /** NUL-terminated string. */
  cstr(s: string): void { this.raw(utf8.encode(s)); this.reserve(1); this.bytes[this.length++] = 0; }
  align4(): void { while (this.length % 4 !== 0) { this.reserve(1); this.bytes[this.length++] = 0; } }
  result(): Uint8Array { return this.bytes.slice(0, this.length); }
}

export class FdtBuilder {
  private struct = new ByteWriter();
  private strings = new ByteWriter();
  private stringOffsets = new Map<string, number>();
  private depth = 0;
  private nextPhandle = 1;

  /** Hands out unique phandles, starting at 1 (0 and 0xffffffff are reserved). */
  allocPhandle(): number { return this.nextPhandle++; }

  /** Opens a node; the root node's name is "". Node names look like `serial@10000000`. */
  beginNode(name: string): this {
    this.struct.u32(FDT_BEGIN_NODE);
    this.struct.cstr(name);
    this.struct.align4();
    this.depth++;
    return this;
  }

  endNode(): this {
    if (this.depth === 0) throw new Error("fdt: endNode without beginNode");
    this.struct.u32(FDT_END_NODE);
    this.depth--;
    return this;
  }

  propBytes(name: string, value: Uint8Array): this {
    if (this.depth === 0) throw new Error(`fdt: property ${name} outside a node`);
    this.struct.u32(FDT_PROP);
    this.struct.u32(value.length);
    this.struct.u32(this.nameOffset(name));
    this.struct.raw(value);
    this.struct.align4();
    return this;
  }

  propEmpty(name: string): this { return this.propBytes(name, new Uint8Array(0)); }

  /** One or more 32-bit cells (`<a b c>`). */
  propCells(name: string, cells: readonly number[]): this {
    const b = new Uint8Array(cells.length * 4);
    const v = new DataView(b.buffer);
    cells.forEach((c, i) => {
      if (!Number.isInteger(c) || c < 0 || c > 0xffffffff) throw new RangeError(`fdt: ${name} cell ${c} is not a u32`);
      v.setUint32(i * 4, c);
    });
    return this.propBytes(name, b);
  }

  propU32(name: string, value: number): this { return this.propCells(name, [value]); }

  /** A 64-bit value as two cells, high first (exact for integers below 2^53). */
  propU64(name: string, value: number): this { return this.propCells(name, u64Cells(value)); }

  propString(name: string, value: string): this { return this.propStrings(name, [value]); }

  /** A string list (`"a", "b"`): each string NUL-terminated. */
  propStrings(name: string, values: readonly string[]): this {
    const w = new ByteWriter();
    for (const s of values) w.cstr(s);
    return this.propBytes(name, w.result());
  }

  /** Closes the tree and returns the blob. `bootCpuid` is the header's boot_cpuid_phys. */
  finish(bootCpuid = 0): Uint8Array {
    if (this.depth !== 0) throw new Error(`fdt: ${this.depth} node(s) left open`);
    const struct = new ByteWriter();
    struct.raw(this.struct.result());
    struct.u32(FDT_END);
    const structBytes = struct.result();
    const stringBytes = this.strings.result();
    const rsvOff = HEADER_SIZE; // 8-byte aligned
    const structOff = rsvOff + 16; // one terminating reservation entry
    const stringsOff = structOff + structBytes.length;
    const total = stringsOff + stringBytes.length;
    const out = new Uint8Array(total);
    const v = new DataView(out.buffer);
    const header = [FDT_MAGIC, total, structOff, stringsOff, rsvOff, 17, 16, bootCpuid, stringBytes.length, structBytes.length];
    header.forEach((h, i) => v.setUint32(i * 4, h >>> 0));
    out.set(structBytes, structOff);
    out.set(stringBytes, stringsOff);
    return out;
  }

  private nameOffset(name: string): number {
    let off = this.stringOffsets.get(name);
    if (off === undefined) {
      off = this.strings.length;
      this.strings.cstr(name);
      this.stringOffsets.set(name, off);
    }
    return off;
  }
}

/** Splits a 64-bit value (a JS integer below 2^53) into two u32 cells, high first. */
export function u64Cells(value: number): [number, number] {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`fdt: ${value} is not a u64`);
  return [Math.floor(value / 0x100000000), value >>> 0];
}

/** `reg = <base size>` with #address-cells = #size-cells = 2, as QEMU virt's /soc uses. */
export function regCells(base: number, size: number): number[] {
  return [...u64Cells(base), ...u64Cells(size)];
}

// ---- Reader (for tests and for inspecting blobs) ----

export interface FdtNode {
  name: string;
  props: Map<string, Uint8Array>;
  children: FdtNode[];
}

export interface ParsedFdt {
  root: FdtNode;
  version: number;
  bootCpuid: number;
}

const utf8Decoder = new TextDecoder();

export function parseFdt(blob: Uint8Array): ParsedFdt {
  const v = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  if (v.getUint32(0) !== FDT_MAGIC) throw new Error("fdt: bad magic");
  const structOff = v.getUint32(8);
  const stringsOff = v.getUint32(12);
  const version = v.getUint32(20);
  const bootCpuid = v.getUint32(28);
  const cstrAt = (off: number): [string, number] => {
    let end = off;
    while (blob[end] !== 0) end++;
    return [utf8Decoder.decode(blob.subarray(off, end)), end + 1];
  };
  const stack: FdtNode[] = [];
  let root: FdtNode | null = null;
  let p = structOff;
  for (;;) {
    const token = v.getUint32(p);
    p += 4;
    if (token === FDT_BEGIN_NODE) {
      const [name, next] = cstrAt(p);
      p = (next + 3) & ~3;
      const node: FdtNode = { name, props: new Map(), children: [] };
      if (stack.length > 0) stack[stack.length - 1].children.push(node);
      else root = node;
      stack.push(node);
    } else if (token === FDT_PROP) {
      const len = v.getUint32(p);
      const [name] = cstrAt(stringsOff + v.getUint32(p + 4));
      stack[stack.length - 1].props.set(name, blob.slice(p + 8, p + 8 + len));
      p = (p + 8 + len + 3) & ~3;
    } else if (token === FDT_END_NODE) {
      stack.pop();
    } else if (token === FDT_NOP) {
      continue;
    } else if (token === FDT_END) {
      break;
    } else {
      throw new Error(`fdt: bad token ${token} at ${p - 4}`);
    }
  }
  if (root === null) throw new Error("fdt: no root node");
  return { root, version, bootCpuid };
}

/** Finds a node by path like "/soc/serial@10000000" ("/" is the root). */
export function fdtFind(root: FdtNode, path: string): FdtNode | null {
  let node: FdtNode | undefined = root;
  for (const part of path.split("/").filter((s) => s !== "")) {
    node = node.children.find((c): boolean => c.name === part);
    if (node === undefined) return null;
  }
  return node;
}

/** A property's value as u32 cells. */
export function fdtCells(node: FdtNode, prop: string): number[] {
  const b = node.props.get(prop);
  if (b === undefined) throw new Error(`fdt: ${node.name} has no ${prop}`);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: number[] = [];
  for (let i = 0; i + 4 <= b.length; i += 4) out.push(v.getUint32(i));
  return out;
}

/** A property's value as a string list. */
export function fdtStrings(node: FdtNode, prop: string): string[] {
  const b = node.props.get(prop);
  if (b === undefined) throw new Error(`fdt: ${node.name} has no ${prop}`);
  const s = utf8Decoder.decode(b);
  return s.endsWith("\0") ? s.slice(0, -1).split("\0") : [s];
}
