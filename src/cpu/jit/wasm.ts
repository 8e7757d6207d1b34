// A small WebAssembly binary encoder for the JIT (issue 8): modules with imported memory and
// functions, typed functions with locals, and the instructions translated RV64 code needs
// (i64/i32 arithmetic, loads and stores, structured control flow, calls). No BigInt: i64
// constants are given as int32 lo/hi pairs, as the hart keeps its registers.
//
// Layout follows the WebAssembly core specification 2.0, chapter 5 ("Binary Format"): a module
// is the magic and version, then sections in id order (type 1, import 2, function 3, export 7,
// code 10), each a section id, its byte size as u32 LEB128, and its contents; vectors are a u32
// LEB128 count followed by the elements.

/** Value types (spec 5.3.1). */
export const enum ValType { I32 = 0x7f, I64 = 0x7e, F32 = 0x7d, F64 = 0x7c }

/** The empty block type (spec 5.3.6: blocktype 0x40). */
export const BLOCK_VOID = 0x40;

/** Opcodes (spec 5.4), named as the text format names them. */
export const Op = {
  unreachable: 0x00, nop: 0x01, block: 0x02, loop: 0x03, if: 0x04, else: 0x05, end: 0x0b,
  br: 0x0c, br_if: 0x0d, br_table: 0x0e, return: 0x0f, call: 0x10, call_indirect: 0x11,
  drop: 0x1a, select: 0x1b,
  local_get: 0x20, local_set: 0x21, local_tee: 0x22, global_get: 0x23, global_set: 0x24,
  i32_load: 0x28, i64_load: 0x29, f32_load: 0x2a, f64_load: 0x2b,
  i32_load8_s: 0x2c, i32_load8_u: 0x2d, i32_load16_s: 0x2e, i32_load16_u: 0x2f,
  i64_load8_s: 0x30, i64_load8_u: 0x31, i64_load16_s: 0x32, i64_load16_u: 0x33, i64_load32_s: 0x34, i64_load32_u: 0x35,
  i32_store: 0x36, i64_store: 0x37, f32_store: 0x38, f64_store: 0x39,
  i32_store8: 0x3a, i32_store16: 0x3b, i64_store8: 0x3c, i64_store16: 0x3d, i64_store32: 0x3e,
  i32_const: 0x41, i64_const: 0x42, f64_const: 0x44,
  i32_eqz: 0x45, i32_eq: 0x46, i32_ne: 0x47, i32_lt_s: 0x48, i32_lt_u: 0x49, i32_gt_s: 0x4a, i32_gt_u: 0x4b,
  i32_le_s: 0x4c, i32_le_u: 0x4d, i32_ge_s: 0x4e, i32_ge_u: 0x4f,
  i64_eqz: 0x50, i64_eq: 0x51, i64_ne: 0x52, i64_lt_s: 0x53, i64_lt_u: 0x54, i64_gt_s: 0x55, i64_gt_u: 0x56,
  i64_le_s: 0x57, i64_le_u: 0x58, i64_ge_s: 0x59, i64_ge_u: 0x5a,
  i32_clz: 0x67, i32_ctz: 0x68, i32_popcnt: 0x69, i32_add: 0x6a, i32_sub: 0x6b, i32_mul: 0x6c,
  i32_div_s: 0x6d, i32_div_u: 0x6e, i32_rem_s: 0x6f, i32_rem_u: 0x70, i32_and: 0x71, i32_or: 0x72, i32_xor: 0x73,
  i32_shl: 0x74, i32_shr_s: 0x75, i32_shr_u: 0x76, i32_rotl: 0x77, i32_rotr: 0x78,
  i64_clz: 0x79, i64_ctz: 0x7a, i64_popcnt: 0x7b, i64_add: 0x7c, i64_sub: 0x7d, i64_mul: 0x7e,
  i64_div_s: 0x7f, i64_div_u: 0x80, i64_rem_s: 0x81, i64_rem_u: 0x82, i64_and: 0x83, i64_or: 0x84, i64_xor: 0x85,
  i64_shl: 0x86, i64_shr_s: 0x87, i64_shr_u: 0x88, i64_rotl: 0x89, i64_rotr: 0x8a,
  f64_eq: 0x61, f64_ne: 0x62, f64_lt: 0x63, f64_gt: 0x64, f64_le: 0x65, f64_ge: 0x66,
  f64_abs: 0x99, f64_neg: 0x9a, f64_trunc: 0x9d, f64_nearest: 0x9e,
  f64_add: 0xa0, f64_sub: 0xa1, f64_mul: 0xa2, f64_div: 0xa3,
  i32_wrap_i64: 0xa7, i32_trunc_f64_s: 0xaa, i32_trunc_f64_u: 0xab,
  i64_extend_i32_s: 0xac, i64_extend_i32_u: 0xad, i64_trunc_f64_s: 0xb0, i64_trunc_f64_u: 0xb1,
  f64_convert_i32_s: 0xb7, f64_convert_i32_u: 0xb8, f64_convert_i64_s: 0xb9, f64_convert_i64_u: 0xba,
  i64_reinterpret_f64: 0xbd, f64_reinterpret_i64: 0xbf,
  i32_extend8_s: 0xc0, i32_extend16_s: 0xc1, i64_extend8_s: 0xc2, i64_extend16_s: 0xc3, i64_extend32_s: 0xc4,
} as const;

const MAGIC = [0x00, 0x61, 0x73, 0x6d], VERSION = [0x01, 0x00, 0x00, 0x00];
const SEC_TYPE = 1, SEC_IMPORT = 2, SEC_FUNCTION = 3, SEC_EXPORT = 7, SEC_CODE = 10;
const FUNC_TYPE = 0x60;
const EXTERN_FUNC = 0x00, EXTERN_TABLE = 0x01, EXTERN_MEMORY = 0x02;
/** The funcref reference type (spec 5.3.3). */
const FUNCREF = 0x70;
/** Memory limits flags (spec 5.3.4, threads proposal for the shared bit). */
const LIMITS_MIN = 0x00, LIMITS_MIN_MAX = 0x01, LIMITS_SHARED = 0x03;

/** A growable byte buffer with the LEB128 encodings of spec 5.2.2. */
export class ByteWriter {
  private buf = new Uint8Array(256);
  length = 0;

  byte(b: number): this {
    if (this.length === this.buf.length) {
      const grown = new Uint8Array(this.buf.length * 2);
      grown.set(this.buf);
      this.buf = grown;
    }
    this.buf[this.length++] = b & 0xff;
    return this;
  }

  bytes(b: ArrayLike<number>): this {
    for (let i = 0; i < b.length; i++) this.byte(b[i] as number);
    return this;
  }

  /** Unsigned LEB128 of a 32-bit value. */
  u32(v: number): this {
    let x = v >>> 0;
    do {
      const b = x & 0x7f;
      x >>>= 7;
      this.byte(x !== 0 ? b | 0x80 : b);
    } while (x !== 0);
    return this;
  }

  /** Signed LEB128 of an int32. */
  s32(v: number): this {
    let x = v | 0;
    for (;;) {
      const b = x & 0x7f;
      x >>= 7;
      if ((x === 0 && (b & 0x40) === 0) || (x === -1 && (b & 0x40) !== 0)) { this.byte(b); return this; }
      this.byte(b | 0x80);
    }
  }

  /** Signed LEB128 of the 64-bit value hi:lo (two int32 halves). */
  s64(lo: number, hi: number): this {
    let l = lo | 0, h = hi | 0;
    for (;;) {
      const b = l & 0x7f;
      // arithmetic shift of the 64-bit pair right by 7
      l = (l >>> 7) | (h << 25);
      h >>= 7;
      const rest0 = l === 0 && h === 0, restM1 = l === -1 && h === -1;
      if ((rest0 && (b & 0x40) === 0) || (restM1 && (b & 0x40) !== 0)) { this.byte(b); return this; }
      this.byte(b | 0x80);
    }
  }

  name(s: string): this {
    const utf8 = new TextEncoder().encode(s);
    return this.u32(utf8.length).bytes(utf8);
  }

  /** Appends another writer's bytes, preceded by their length (a section or function body). */
  sized(w: ByteWriter): this {
    this.u32(w.length);
    for (let i = 0; i < w.length; i++) this.byte(w.buf[i] as number);
    return this;
  }

  finish(): Uint8Array { return this.buf.slice(0, this.length); }
}

const F64_BITS = new Float64Array(1);
/** The bytes of F64_BITS in memory order (little-endian on every WebAssembly host's typed arrays we rely on). */
const F64_BYTES = new Uint8Array(F64_BITS.buffer);

/** A function body's instruction stream (the locals are declared by `Module.addFunction`). */
export class Code extends ByteWriter {
  op(o: number): this { return this.byte(o); }
  i32Const(v: number): this { return this.byte(Op.i32_const).s32(v); }
  i64Const(lo: number, hi: number): this { return this.byte(Op.i64_const).s64(lo, hi); }
  /** An f64 constant (its IEEE 754 bits, little-endian: spec 5.2.3). */
  f64Const(v: number): this {
    F64_BITS[0] = v;
    this.byte(Op.f64_const);
    for (let k = 0; k < 8; k++) this.byte(F64_BYTES[k] as number);
    return this;
  }
  localGet(i: number): this { return this.byte(Op.local_get).u32(i); }
  localSet(i: number): this { return this.byte(Op.local_set).u32(i); }
  localTee(i: number): this { return this.byte(Op.local_tee).u32(i); }
  call(funcIndex: number): this { return this.byte(Op.call).u32(funcIndex); }
  /** call_indirect through table `table` with function type `typeIndex` (the table index on the stack). */
  callIndirect(typeIndex: number, table = 0): this { return this.byte(Op.call_indirect).u32(typeIndex).u32(table); }
  br(depth: number): this { return this.byte(Op.br).u32(depth); }
  brIf(depth: number): this { return this.byte(Op.br_if).u32(depth); }
  /** br_table: the label depths by index, then the default (spec 5.4.1). */
  brTable(depths: readonly number[], otherwise: number): this {
    this.byte(Op.br_table).u32(depths.length);
    for (const d of depths) this.u32(d);
    return this.u32(otherwise);
  }
  /** block/loop/if with a block type: BLOCK_VOID or one result ValType. */
  begin(o: typeof Op.block | typeof Op.loop | typeof Op.if, type: number = BLOCK_VOID): this { return this.byte(o).byte(type); }
  end(): this { return this.byte(Op.end); }
  /** A load or store with its memarg: log2 of the alignment and a constant offset (spec 5.4.6). */
  mem(o: number, alignLog2: number, offset = 0): this { return this.byte(o).u32(alignLog2).u32(offset); }
}

export interface FuncType { params: readonly ValType[]; results: readonly ValType[] }

export interface MemoryImport {
  module: string;
  name: string;
  /** Pages of 64 KiB. */
  min: number;
  max?: number;
  /** A shared memory (needs max); the module then requires the threads feature. */
  shared?: boolean;
}

interface FuncImport { module: string; name: string; type: number }
/** An imported table of function references (its size in elements). */
export interface TableImport { module: string; name: string; min: number; max?: number }
interface FuncDef { type: number; locals: readonly ValType[]; body: Code }

/**
 * A module under construction. Function indices count imported functions first (spec 2.5.1),
 * so import every function before adding definitions; `addFunction` returns the index to call.
 */
export class Module {
  private readonly types: FuncType[] = [];
  private readonly funcImports: FuncImport[] = [];
  private memory: MemoryImport | null = null;
  private table: TableImport | null = null;
  private readonly funcs: FuncDef[] = [];
  private readonly exports: { name: string; index: number }[] = [];

  /** The index of a function type, added once. */
  type(params: readonly ValType[], results: readonly ValType[]): number {
    const i = this.types.findIndex((t) => sameTypes(t.params, params) && sameTypes(t.results, results));
    if (i >= 0) return i;
    this.types.push({ params: [...params], results: [...results] });
    return this.types.length - 1;
  }

  importMemory(m: MemoryImport): void {
    if (m.shared === true && m.max === undefined) throw new Error("a shared memory needs a maximum size");
    this.memory = m;
  }

  /** Imports table 0 (funcref). */
  importTable(t: TableImport): void { this.table = t; }

  importFunction(module: string, name: string, type: number): number {
    if (this.funcs.length > 0) throw new Error("import functions before defining any");
    this.funcImports.push({ module, name, type });
    return this.funcImports.length - 1;
  }

  addFunction(type: number, locals: readonly ValType[], body: Code): number {
    this.funcs.push({ type, locals, body });
    return this.funcImports.length + this.funcs.length - 1;
  }

  exportFunction(name: string, index: number): void { this.exports.push({ name, index }); }

  /** The module's bytes. */
  encode(): Uint8Array {
    const out = new ByteWriter().bytes(MAGIC).bytes(VERSION);
    const section = (id: number, w: ByteWriter): void => { out.byte(id).sized(w); };

    const types = new ByteWriter().u32(this.types.length);
    for (const t of this.types) {
      types.byte(FUNC_TYPE).u32(t.params.length).bytes(t.params).u32(t.results.length).bytes(t.results);
    }
    section(SEC_TYPE, types);

    const imports = new ByteWriter().u32(this.funcImports.length + (this.memory !== null ? 1 : 0) + (this.table !== null ? 1 : 0));
    for (const f of this.funcImports) imports.name(f.module).name(f.name).byte(EXTERN_FUNC).u32(f.type);
    if (this.table !== null) {
      const t = this.table;
      imports.name(t.module).name(t.name).byte(EXTERN_TABLE).byte(FUNCREF);
      if (t.max !== undefined) imports.byte(LIMITS_MIN_MAX).u32(t.min).u32(t.max);
      else imports.byte(LIMITS_MIN).u32(t.min);
    }
    if (this.memory !== null) {
      const m = this.memory;
      imports.name(m.module).name(m.name).byte(EXTERN_MEMORY);
      if (m.shared === true) imports.byte(LIMITS_SHARED).u32(m.min).u32(m.max as number);
      else if (m.max !== undefined) imports.byte(LIMITS_MIN_MAX).u32(m.min).u32(m.max);
      else imports.byte(LIMITS_MIN).u32(m.min);
    }
    section(SEC_IMPORT, imports);

    const funcs = new ByteWriter().u32(this.funcs.length);
    for (const f of this.funcs) funcs.u32(f.type);
    section(SEC_FUNCTION, funcs);

    const exports = new ByteWriter().u32(this.exports.length);
    for (const e of this.exports) exports.name(e.name).byte(EXTERN_FUNC).u32(e.index);
    section(SEC_EXPORT, exports);

    const code = new ByteWriter().u32(this.funcs.length);
    for (const f of this.funcs) {
      const body = new ByteWriter();
      // locals as runs of equal types (spec 5.5.13)
      const runs: [number, ValType][] = [];
      for (const t of f.locals) {
        const last = runs[runs.length - 1];
        if (last !== undefined && last[1] === t) last[0]++;
        else runs.push([1, t]);
      }
      body.u32(runs.length);
      for (const [n, t] of runs) body.u32(n).byte(t);
      body.bytes(f.body.finish()).byte(Op.end);
      code.sized(body);
    }
    section(SEC_CODE, code);
    return out.finish();
  }
}

function sameTypes(a: readonly ValType[], b: readonly ValType[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i]);
}
