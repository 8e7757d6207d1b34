// The translator: a region of decoded blocks (region.ts: a hot block and blocks of its page it
// reaches) becomes one WebAssembly function
//   (func (param $st i32) (param $pc i64) (param $budget i32) (result i32))
// where $st is the byte offset of the running hart's state slot in the shared memory and $pc
// the virtual address of the entry block's first instruction (blocks are keyed by physical
// address and a region stays in one page, so one translation serves every virtual mapping of
// it). Guest x registers live in i64 locals: loaded from the slot on entry, the ones the region
// writes stored back at its one exit; f registers, fflags, frm and FS are read and written in
// the slot. The function adds the instructions it retired to ST_COUNT and returns -1 with the
// next pc at ST_PC (the dispatcher in jit.ts chains on it), or, when instruction k of a block
// trapped, adds k, leaves that block's pc at ST_PC and returns k's byte offset in the block: the
// slow-path helper recorded the exception in the hart and nothing of that instruction took
// effect, so the run loop reports exactly what the interpreter would (epc, tval, minstret).
//
// Control stays inside the function between the region's blocks while fewer than $budget
// instructions retired (so interrupt latency stays bounded) and no helper asked to stop.
//
// A region of one block may translate only a prefix of it: the first instruction without an
// emitter here (CSRs, xRET, ecall...) ends it, and the run loop interprets the rest.
//
// Memory safety. Generated code addresses the shared memory only (a wasm memory access outside
// it traps in the engine), and within it only: the state slot (fixed ST_* offsets from $st, all
// inside HART_STATE_BYTES), the TLB entry selected by the address (ST_RTLB/ST_WTLB point at one
// of the slot's TLBs, the index is masked to TLB_SIZE entries), and guest RAM at
// `entry.ramOffset + (address & 0xfff)` for an access whose tag matched. Entries are only ever
// filled by Hart.tlbFill with a page-aligned RAM offset below Ram.size (it checks the physical
// address lies in RAM), and the tag compare includes the alignment bits, so an access of N bytes
// is N-aligned and cannot run past the end of its 4 KiB page: it stays in RAM. Every other
// access (a miss, MMIO, misalignment, a fault) goes through the hart's own slow path. The state
// region lies past RAM, so no guest address reaches registers or TLBs.
import { BLOCK_VOID, Code, Op, ValType } from "./wasm.js";
import type { Insn, InsnDef } from "../insn.js";
import { ST_COUNT, ST_F, ST_FFLAGS, ST_FRM, ST_FS, ST_PC, ST_STOP, ST_RTLB, ST_SCRATCH, ST_WTLB, ST_X, TLB_SIZE } from "../hart.js";
import { RNE, RTZ, NX, RMM, pow2 } from "../fpu/bits.js";
import { rv64f } from "../insns/rv64f.js";
import { rv64d } from "../insns/rv64d.js";
import { rv64a } from "../insns/rv64a.js";
import { zfh, zfhmin, zfhminD } from "../insns/zfh.js";
import { zfa, zfaD, zfaH } from "../insns/zfa.js";
import { zbc, zbkc } from "../insns/zbc.js";
import { zbkb, zbkx } from "../insns/zbk.js";

const TWO32 = 4294967296;
/** Bytes of one TLB entry (tagLo, tagHi, ramOffset). */
const TLB_ENTRY_BYTES = 12;
const PAGE_OFFSET_MASK = 0xfff;

// The parameters, then the fixed locals.
const L_ST = 0, L_PC = 1, L_MAX = 2;
const L_VA = 3, L_T0 = 4, L_T1 = 5, L_T2 = 6, L_T3 = 7;
const L_E = 8, L_RES = 9, L_RTLB = 10, L_WTLB = 11, L_W0 = 12, L_W1 = 13;
/** The instructions retired so far (local 14 is unused). */
const L_CNT = 15;
/** FP: the accrued exception flags (i32), a fast-path condition (i32), then f64 temporaries. */
const L_FL = 16, L_OK = 17;
const L_FA = 18, L_FB = 19, L_FC = 20, L_FP = 21, L_FE = 22, L_FS = 23, L_FT = 24, L_FU = 25, L_FV = 26;
const L_FR = 27, L_FW = 28, L_FX = 29, L_AH = 30, L_AL = 31, L_BH = 32, L_BL = 33;
const F64_LOCALS = 16;
/** The pc ST_PC receives at the exit (i64). */
const L_NEXT = 34;
const FIXED_LOCALS: readonly ValType[] = [
  ValType.I64, ValType.I64, ValType.I64, ValType.I64, ValType.I64,
  ValType.I32, ValType.I32, ValType.I32, ValType.I32, ValType.I32, ValType.I32, ValType.I32, ValType.I32,
  ValType.I32, ValType.I32,
  ...new Array<ValType>(F64_LOCALS).fill(ValType.F64),
  ValType.I64,
];
/** The parameters: $st, $pc, $max. */
const PARAMS = 3;
const FIRST_REG_LOCAL = PARAMS + FIXED_LOCALS.length;

/** Function indices of the imported slow-path helpers (imported before any definition). */
export const FN_LOAD = 0, FN_STORE = 1, FN_INTERP = 2;

/** Emits instruction `d`, the k-th of its block (k is what a trap in it reports). */
type Emitter = (t: Translation, d: Insn, k: number) => void;

/** The block function's type: (state slot, pc, budget) → -1 or a trapping instruction's offset. */
export const BLOCK_PARAMS: readonly ValType[] = [ValType.I32, ValType.I64, ValType.I32];

/** One block's function under construction. */
export class Translation {
  readonly c = new Code();
  /**
   * Instructions this function runs through the interpreter helper (FN_INTERP's argument is an
   * index into this list, shared by every function of the module).
   */
  readonly interps: Insn[];
  /** An FP instruction before this point (straight-line code) established mstatus.FS != 0. */
  private fsChecked = false;
  /** ... and set FS to dirty. */
  private fsDirty = false;
  private usesFlags = false;
  /** Labels opened around the instruction being emitted (by `fp`), below its own. */
  private nest = 0;
  constructor(interps: Insn[] = []) { this.interps = interps; }
  private readonly regLocal = new Int32Array(32).fill(-1);
  private readonly regs: number[] = [];
  private readonly written = new Uint8Array(32);
  usesLoads = false;
  usesStores = false;
  /** Labels between the code of the block being emitted and the function body's block. */
  private depth = 0;
  /** Byte offset of the block being emitted from the function's entry pc. */
  private base = 0;

  /** Pushes x[r] (an i64). */
  get(r2: number): this {
    const r = r2 >>> 1;
    if (r === 0 || r === 32) this.c.i64Const(0, 0);
    else this.c.localGet(this.local(r));
    return this;
  }

  /** Pops an i64 into x[rd] (dropped for x0). */
  set(rd2: number): this {
    const r = rd2 >>> 1;
    if (r === 0 || r === 32) { this.c.op(Op.drop); return this; }
    this.c.localSet(this.local(r));
    this.written[r] = 1;
    return this;
  }

  /** Pushes the 64-bit constant `v` (a signed value exact in a double). */
  num(v: number): this {
    this.c.i64Const(v | 0, Math.floor(v / TWO32) | 0);
    return this;
  }

  /** Pushes the sign-extended int32 `v` as an i64. */
  imm(v: number): this { this.c.i64Const(v, v >> 31); return this; }

  /** Pushes pc + `delta`, the address of something at a byte offset from the start of the block being emitted. */
  pcPlus(delta: number): this {
    this.c.localGet(L_PC);
    if (delta + this.base !== 0) this.num(delta + this.base).c.op(Op.i64_add);
    return this;
  }

  op(o: number): this { this.c.op(o); return this; }

  private local(r: number): number {
    let l = this.regLocal[r];
    if (l < 0) { l = FIRST_REG_LOCAL + this.regs.length; this.regLocal[r] = l; this.regs.push(r); }
    return l;
  }

  /**
   * Emits the blocks of a region (region.ts): one function whose entry is block 0. A loop
   * dispatches on the pc to run (L_NEXT; the entry pc at first): a `br_table` indexed by its
   * halfword distance from the region's lowest block reaches the code of the block starting
   * there, any other pc leaves the function (the dispatcher goes on from ST_PC). After a whole
   * block, while fewer than $budget instructions retired (the interpreter's rule: another block
   * while executed < budget) and no slow-path helper asked for a return to the run loop
   * (ST_STOP: an interrupt, a store into cached code), the loop goes on with the next pc, so
   * branches, fall-throughs and indirect jumps (returns) between the region's blocks stay in wasm.
   */
  emitRegion(blocks: readonly RegionBlock[]): void {
    const c = this.c, n = blocks.length;
    let lo = 0, hi = 0;
    for (const b of blocks) { lo = Math.min(lo, b.delta); hi = Math.max(hi, b.delta); }
    const entries = (hi - lo) / 2 + 1;
    // table[h]: the label (block index) of the block starting at lo + 2h, else the exit (n + 1).
    const table = new Array<number>(entries).fill(n + 1);
    blocks.forEach((b, j) => { table[(b.delta - lo) / 2] = j; });
    c.localGet(L_PC).localSet(L_NEXT);
    c.begin(Op.loop);
    for (let j = 0; j < n; j++) c.begin(Op.block);
    // d = next - (pc + lo); index = d < 2 * entries ? d >> 1 : entries (the default)
    c.localGet(L_NEXT).localGet(L_PC).op(Op.i64_sub);
    if (lo !== 0) this.num(-lo).c.op(Op.i64_add);
    c.localTee(L_T0).op(Op.i32_wrap_i64).i32Const(1).op(Op.i32_shr_u).i32Const(entries);
    c.localGet(L_T0);
    this.num(2 * entries).c.op(Op.i64_lt_u).op(Op.select);
    c.brTable(table, n + 1);
    blocks.forEach((b, j) => {
      c.end(); // block j's label: its code follows, in a loop of its own (a branch back to its start)
      c.begin(Op.loop);
      // Labels from here: this loop, the blocks of later code (n - 1 - j), the dispatch loop, the body.
      const exit = n - j + 1;
      this.depth = exit;
      this.base = b.delta;
      this.fsChecked = false;
      this.fsDirty = false;
      for (let k = 0; k < b.count; k++) (EMITTERS[b.insns[k].name] as Emitter)(this, b.insns[k], k);
      c.localGet(L_CNT).i32Const(b.count).op(Op.i32_add).localSet(L_CNT);
      if (b.count < b.insns.length) { c.br(exit).end(); return; } // a translated prefix: the run loop interprets the rest
      if (!b.insns[b.count - 1].setsPc) this.pcPlus(b.bytes).setNextPc();
      c.localGet(L_CNT).localGet(L_MAX).op(Op.i32_lt_s).localGet(L_ST).mem(Op.i32_load, 2, ST_STOP).op(Op.i32_eqz).op(Op.i32_and);
      c.begin(Op.if);
      if (successorOffsets(b.insns, b.bytes).includes(0)) {
        c.localGet(L_NEXT); this.pcPlus(0); c.op(Op.i64_eq).brIf(1);
      }
      c.br(exit); // (inside the if: the dispatch loop)
      c.end();
      c.br(exit);
      c.end();
    });
    c.end(); // loop
  }

  /**
   * The finished function: its locals and its body (prologue, the code emitted so far, epilogue).
   */
  finish(): { locals: ValType[]; body: Code } {
    const p = new Code();
    if (this.usesLoads) p.localGet(L_ST).mem(Op.i32_load, 2, ST_RTLB).localSet(L_RTLB);
    if (this.usesStores) p.localGet(L_ST).mem(Op.i32_load, 2, ST_WTLB).localSet(L_WTLB);
    for (const r of this.regs) p.localGet(L_ST).mem(Op.i64_load, 3, ST_X + 8 * r).localSet(this.regLocal[r]);
    p.i32Const(-1).localSet(L_RES);
    p.begin(Op.block, BLOCK_VOID).bytes(this.c.finish()).end();
    for (const r of this.regs) if (this.written[r] !== 0) p.localGet(L_ST).localGet(this.regLocal[r]).mem(Op.i64_store, 3, ST_X + 8 * r);
    if (this.usesFlags) {
      // fflags |= the accrued flags; setting any flag makes FS dirty.
      p.localGet(L_FL).begin(Op.if);
      p.localGet(L_ST).localGet(L_ST).mem(Op.i32_load, 2, ST_FFLAGS).localGet(L_FL).op(Op.i32_or).mem(Op.i32_store, 2, ST_FFLAGS);
      p.localGet(L_ST).i32Const(FS_DIRTY).mem(Op.i32_store, 2, ST_FS);
      p.end();
    }
    // The next pc, or after a trap the trapping block's start; ST_COUNT += the instructions retired.
    p.localGet(L_ST).localGet(L_NEXT).mem(Op.i64_store, 3, ST_PC);
    p.localGet(L_ST).localGet(L_ST).mem(Op.i32_load, 2, ST_COUNT).localGet(L_CNT).op(Op.i32_add).mem(Op.i32_store, 2, ST_COUNT);
    p.localGet(L_RES);
    const locals = [...FIXED_LOCALS];
    for (let k = 0; k < this.regs.length; k++) locals.push(ValType.I64);
    return { locals, body: p };
  }

  /** Takes the i64 on the stack as the block's next pc (L_NEXT, stored to ST_PC at the exit). */
  setNextPc(): void {
    this.c.localSet(L_NEXT);
  }

  // ---- memory accesses ----

  /**
   * L_VA = x[rs1] + imm and L_E = the address of its TLB entry in `tlbLocal`'s TLB; leaves on the
   * stack whether the entry's tag matches the page with the access `size`-aligned.
   */
  private tlbHit(d: Insn, size: number, tlbLocal: number): void {
    const c = this.c;
    this.get(d.rs1).imm(d.imm).op(Op.i64_add).c.localSet(L_VA);
    c.localGet(tlbLocal).localGet(L_VA).op(Op.i32_wrap_i64).i32Const(12).op(Op.i32_shr_u).i32Const(TLB_SIZE - 1).op(Op.i32_and)
      .i32Const(TLB_ENTRY_BYTES).op(Op.i32_mul).op(Op.i32_add).localTee(L_E);
    c.mem(Op.i64_load, 2, 0).localGet(L_VA).i64Const(~PAGE_OFFSET_MASK | (size - 1), -1).op(Op.i64_and).op(Op.i64_eq);
  }

  /** Pushes the RAM address of a hit: entry.ramOffset + (va & 0xfff). */
  private hitAddress(): void {
    this.c.localGet(L_E).mem(Op.i32_load, 2, 8).localGet(L_VA).op(Op.i32_wrap_i64).i32Const(PAGE_OFFSET_MASK).op(Op.i32_and).op(Op.i32_add);
  }

  /** Pushes the address halves (lo, hi) for a helper call. */
  private vaHalves(): void {
    this.c.localGet(L_VA).op(Op.i32_wrap_i64).localGet(L_VA).i64Const(32, 0).op(Op.i64_shr_u).op(Op.i32_wrap_i64);
  }

  /** After a helper call (its status on the stack): on a trap, leave the function reporting instruction `d`, the k-th. */
  private trapExit(d: Insn, k: number, depth: number): void {
    const c = this.c;
    c.begin(Op.if).i32Const(d.off).localSet(L_RES).localGet(L_CNT).i32Const(k).op(Op.i32_add).localSet(L_CNT);
    this.pcPlus(0).c.localSet(L_NEXT);
    c.br(depth + this.depth + this.nest).end();
  }

  /** A load with funct3 `f3` (lb lh lw ld lbu lhu lwu) into x[rd]. */
  load(d: Insn, k: number, f3: number): void {
    this.loadValue(d, k, f3);
    this.set(d.rd);
  }

  /** fld (f3 3) or flw (f3 6: NaN-boxed) into f[rd]. */
  loadF(d: Insn, k: number, f3: number): void {
    this.fp(d, k, null, () => {
      this.loadValue(d, k, f3);
      if (f3 !== 3) this.c.i64Const(0, -1).op(Op.i64_or);
      this.c.localSet(L_T0);
      this.fsetFrom(d, L_T0, ValType.I64);
    });
  }

  /** Pushes the value loaded by a load with funct3 `f3` (an i64). */
  private loadValue(d: Insn, k: number, f3: number): void {
    this.usesLoads = true;
    const size = 1 << (f3 & 3);
    const c = this.c;
    this.tlbHit(d, size, L_RTLB);
    c.begin(Op.if, ValType.I64);
    this.hitAddress();
    c.mem(LOAD_OPS[f3], f3 & 3, 0);
    c.op(Op.else);
    this.vaHalves();
    c.i32Const(f3).call(FN_LOAD);
    // depth: 0 this if, 1 the if/else, 2 the body block
    this.trapExit(d, k, 2);
    c.localGet(L_ST).mem(Op.i64_load, 3, ST_SCRATCH);
    c.end();
  }

  /** A store of 1 << f3 bytes (sb sh sw sd) of x[rs2], or with `fp` of f[rs2] (fsw fsd). */
  store(d: Insn, k: number, f3: number, fp = false): void {
    if (fp) {
      this.fp(d, k, null, () => {
        this.c.localGet(L_ST).mem(Op.i64_load, 3, fOff(d.rs2)).localSet(L_T1);
        this.storeValue(d, k, f3, () => { this.c.localGet(L_T1); });
      });
      return;
    }
    this.storeValue(d, k, f3, () => { this.get(d.rs2); });
  }

  private storeValue(d: Insn, k: number, f3: number, value: () => void): void {
    this.usesStores = true;
    const size = 1 << f3;
    const c = this.c;
    this.tlbHit(d, size, L_WTLB);
    c.begin(Op.if);
    this.hitAddress();
    value();
    c.mem(STORE_OPS[f3], f3, 0);
    c.op(Op.else);
    this.vaHalves();
    c.i32Const(size);
    value(); c.op(Op.i32_wrap_i64);
    value(); c.i64Const(32, 0).op(Op.i64_shr_u).op(Op.i32_wrap_i64);
    c.call(FN_STORE);
    this.trapExit(d, k, 2);
    c.end();
  }

  // ---- the interpreter helper and floating point ----

  /**
   * Runs instruction `d` (the k-th) through the interpreter helper: the x registers it may read
   * or write are written back to the state slot first and rd is reloaded after it, a trap leaves
   * the function. `depth`: the labels the call sits in, counting the trap exit's own `if`.
   */
  slowCall(d: Insn, k: number, depth = 1): void {
    const c = this.c;
    // Every operand field, as an x register (in a region a register's local may be written by a
    // block emitted later that ran before this one).
    for (const p of [d.rs1, d.rs2, d.rs3, d.rd]) {
      const r = p >>> 1;
      if (r !== 0 && r < 32) c.localGet(L_ST).localGet(this.local(r)).mem(Op.i64_store, 3, ST_X + 8 * r);
    }
    this.interps.push(d);
    c.i32Const(this.interps.length - 1).call(FN_INTERP);
    this.trapExit(d, k, depth);
    const rd = d.rd >>> 1;
    if (rd !== 0 && rd < 32) c.localGet(L_ST).mem(Op.i64_load, 3, ST_X + 8 * rd).localSet(this.local(rd));
    // An FP instruction that did not trap saw FS on.
    this.fsChecked ||= FP_NAMES.has(d.name);
  }

  /**
   * An FP instruction: `fast` where `cond` (pushing an i32, or null: always) holds and FS is on
   * (checked at the first FP instruction of straight-line code), else the interpreter helper
   * (which raises the illegal-instruction trap when FS is off).
   */
  fp(d: Insn, k: number, cond: (() => void) | null, fast: () => void): void {
    const c = this.c;
    const check = !this.fsChecked;
    if (cond === null && !check) { fast(); return; }
    if (cond !== null) cond();
    if (check) {
      c.localGet(L_ST).mem(Op.i32_load, 2, ST_FS).i32Const(0).op(Op.i32_ne);
      if (cond !== null) c.op(Op.i32_and);
    }
    c.begin(Op.if);
    this.nest++;
    fast();
    this.nest--;
    c.op(Op.else);
    this.slowCall(d, k, 2);
    c.end();
    this.fsChecked = true;
  }

  /** Pushes f[p] as an f64 (`p` a pair index as in Insn). */
  fget(p: number): this {
    this.c.localGet(L_ST).mem(Op.f64_load, 3, fOff(p));
    return this;
  }

  /** f[rd] = local `l` (of type `t`: f64 or i64 bits); FS becomes dirty. */
  fsetFrom(d: Insn, l: number, t: ValType): void {
    const c = this.c;
    c.localGet(L_ST).localGet(l).mem(t === ValType.F64 ? Op.f64_store : Op.i64_store, 3, fOff(d.rd));
    this.dirty();
  }

  /** Sets mstatus.FS to dirty (once per straight-line stretch). */
  dirty(): void {
    if (this.fsDirty) return;
    this.c.localGet(L_ST).i32Const(FS_DIRTY).mem(Op.i32_store, 2, ST_FS);
    this.fsDirty = true;
  }

  /** ORs NX into the accrued flags where the i32 on the stack is 1 (else 0). */
  inexact(): void {
    this.usesFlags = true;
    if (NX !== 1) this.c.i32Const(NX).op(Op.i32_mul);
    this.c.localGet(L_FL).op(Op.i32_or).localSet(L_FL);
  }

  /** Pushes the exact error of RN(l_a + l_b) = l_s (TwoSum; no overflow in range). */
  twoSumErr(a: number, b: number, sum: number): this {
    const c = this.c;
    // bb = s - a; err = (a - (s - bb)) + (b - bb)
    c.localGet(sum).localGet(a).op(Op.f64_sub).localSet(L_FX);
    c.localGet(a).localGet(sum).localGet(L_FX).op(Op.f64_sub).op(Op.f64_sub);
    c.localGet(b).localGet(L_FX).op(Op.f64_sub).op(Op.f64_add);
    return this;
  }

  /** Pushes the exact error of RN(l_a * l_b) = l_p (Dekker's TwoProduct with Veltkamp splitting). */
  twoProdErr(a: number, b: number, prod: number): this {
    const c = this.c;
    const split = (x: number, hi: number, lo: number): void => {
      c.f64Const(SPLIT).localGet(x).op(Op.f64_mul).localTee(L_FX);
      c.localGet(L_FX).localGet(x).op(Op.f64_sub).op(Op.f64_sub).localTee(hi);
      c.localGet(x).localGet(hi).op(Op.f64_sub).localSet(lo);
      c.op(Op.drop);
    };
    split(a, L_AH, L_AL);
    split(b, L_BH, L_BL);
    // ((ah * bh - p) + ah * bl + al * bh) + al * bl
    c.localGet(L_AH).localGet(L_BH).op(Op.f64_mul).localGet(prod).op(Op.f64_sub);
    c.localGet(L_AH).localGet(L_BL).op(Op.f64_mul).op(Op.f64_add);
    c.localGet(L_AL).localGet(L_BH).op(Op.f64_mul).op(Op.f64_add);
    c.localGet(L_AL).localGet(L_BL).op(Op.f64_mul).op(Op.f64_add);
    return this;
  }

  /** Pushes whether |l_x| OP v (an i32). */
  absCmp(x: number, o: number, v: number): this {
    this.c.localGet(x).op(Op.f64_abs).f64Const(v).op(o);
    return this;
  }

  /**
   * The rounding-mode condition of an instruction that rounds inline only to nearest-even: null
   * (static RNE), a condition (dynamic: frm must be RNE), or false (interpreted).
   */
  rne(d: Insn): (() => void) | null | false {
    if (d.rm === RNE) return null;
    if (d.rm === RM_DYN) return () => { this.c.localGet(L_ST).mem(Op.i32_load, 2, ST_FRM).op(Op.i32_eqz); };
    return false;
  }

  /** The same for an exact operation: any valid mode (static, or frm valid). */
  validRm(d: Insn): (() => void) | null | false {
    if (d.rm <= RMM) return null;
    if (d.rm === RM_DYN) return () => { this.c.localGet(L_ST).mem(Op.i32_load, 2, ST_FRM).i32Const(RMM + 1).op(Op.i32_lt_u); };
    return false;
  }
}

/** mstatus.FS: dirty. */
const FS_DIRTY = 3;
/** The rm field's dynamic mode (use frm). */
const RM_DYN = 7;
/** Veltkamp's splitting constant for binary64: 2^27 + 1. */
const SPLIT = 134217729;
const P2_1022 = pow2(1022), P2_995 = pow2(995), P2_M969 = pow2(-969), P2_900 = pow2(900), P2_M900 = pow2(-900);
const TWO31 = 2147483648, TWO53 = 9007199254740992, TWO63 = 9223372036854775808, TWO64 = 18446744073709551616;

/** Byte offset in the state slot of f register pair index `p` (an FP rd may carry the x0 sink bit). */
function fOff(p: number): number { return ST_F + 4 * (p & 63); }

const LOAD_OPS = [Op.i64_load8_s, Op.i64_load16_s, Op.i64_load32_s, Op.i64_load, Op.i64_load8_u, Op.i64_load16_u, Op.i64_load32_u];
const STORE_OPS = [Op.i64_store8, Op.i64_store16, Op.i64_store32, Op.i64_store];

// ---- emitter helpers ----

const rr = (o: number): Emitter => (t, d) => { t.get(d.rs1).get(d.rs2).op(o).set(d.rd); };
const ri = (o: number): Emitter => (t, d) => { t.get(d.rs1).imm(d.imm).op(o).set(d.rd); };
/** Shift/rotate by an immediate masked to 6 bits. */
const rsh = (o: number): Emitter => (t, d) => { t.get(d.rs1).imm(d.imm & 63).op(o).set(d.rd); };
/** A 32-bit operation on the low words, the result sign-extended. */
const rrw = (o: number): Emitter => (t, d) => {
  t.get(d.rs1).op(Op.i32_wrap_i64).get(d.rs2).op(Op.i32_wrap_i64).op(o).op(Op.i64_extend_i32_s).set(d.rd);
};
const riw = (o: number, mask: number): Emitter => (t, d) => {
  t.get(d.rs1).op(Op.i32_wrap_i64).c.i32Const(d.imm & mask);
  t.op(o).op(Op.i64_extend_i32_s).set(d.rd);
};
/** A comparison (i32 result) as 0/1. */
const cmp = (o: number): Emitter => (t, d) => { t.get(d.rs1).get(d.rs2).op(o).op(Op.i64_extend_i32_u).set(d.rd); };
const cmpi = (o: number): Emitter => (t, d) => { t.get(d.rs1).imm(d.imm).op(o).op(Op.i64_extend_i32_u).set(d.rd); };
/** A unary op on the low word, the result zero-extended (clzw, ctzw, cpopw). */
const unw = (o: number): Emitter => (t, d) => { t.get(d.rs1).op(Op.i32_wrap_i64).op(o).op(Op.i64_extend_i32_u).set(d.rd); };
const un = (o: number): Emitter => (t, d) => { t.get(d.rs1).op(o).set(d.rd); };

function zext32(t: Translation, r: number): Translation {
  t.get(r).c.i64Const(-1, 0);
  return t.op(Op.i64_and);
}

/** Branch: next pc = cond ? pc + off + imm : pc + off + len. */
const branch = (o: number): Emitter => (t, d) => {
  t.pcPlus(d.off + d.imm).pcPlus(d.off + d.len).get(d.rs1).get(d.rs2).op(o).op(Op.select);
  t.setNextPc();
};

/** (rs1 << n) + rs2, with rs1 zero-extended from 32 bits for the .uw forms. */
const shadd = (n: number, uw: boolean): Emitter => (t, d) => {
  if (uw) zext32(t, d.rs1); else t.get(d.rs1);
  if (n > 0) t.imm(n).op(Op.i64_shl);
  t.get(d.rs2).op(Op.i64_add).set(d.rd);
};

/** min/max: select(a, b, a OP b). */
const minmax = (o: number): Emitter => (t, d) => {
  t.get(d.rs1).get(d.rs2).get(d.rs1).get(d.rs2).op(o).op(Op.select).set(d.rd);
};

/** Single-bit ops of Zbs: the bit 1 << (shamt & 63) from rs2 or the immediate. */
const bit = (kind: "clr" | "set" | "inv" | "ext", immediate: boolean): Emitter => (t, d) => {
  const shamt = (): void => { if (immediate) t.imm(d.imm & 63); else t.get(d.rs2); };
  if (kind === "ext") { t.get(d.rs1); shamt(); t.op(Op.i64_shr_u).imm(1).op(Op.i64_and).set(d.rd); return; }
  t.get(d.rs1).imm(1); shamt(); t.op(Op.i64_shl);
  if (kind === "clr") t.imm(-1).op(Op.i64_xor).op(Op.i64_and);
  else t.op(kind === "set" ? Op.i64_or : Op.i64_xor);
  t.set(d.rd);
};

/**
 * 64-bit division with the RISC-V results for a zero divisor (quotient all ones, remainder the
 * dividend) and signed overflow (quotient the dividend, remainder 0), where wasm would trap.
 */
const div64 = (rem: boolean, signed: boolean): Emitter => (t, d) => {
  const c = t.c;
  t.get(d.rs1).c.localSet(L_T0);
  t.get(d.rs2).c.localSet(L_T1);
  c.localGet(L_T1).op(Op.i64_eqz).begin(Op.if, ValType.I64);
  if (rem) c.localGet(L_T0); else c.i64Const(-1, -1);
  c.op(Op.else);
  if (signed) {
    c.localGet(L_T0).i64Const(0, -0x80000000).op(Op.i64_eq).localGet(L_T1).i64Const(-1, -1).op(Op.i64_eq).op(Op.i32_and);
    c.begin(Op.if, ValType.I64);
    if (rem) c.i64Const(0, 0); else c.localGet(L_T0);
    c.op(Op.else).localGet(L_T0).localGet(L_T1).op(rem ? Op.i64_rem_s : Op.i64_div_s).end();
  } else {
    c.localGet(L_T0).localGet(L_T1).op(rem ? Op.i64_rem_u : Op.i64_div_u);
  }
  c.end();
  t.set(d.rd);
};

/** The 32-bit forms (divw, divuw, remw, remuw), results sign-extended. */
const div32 = (rem: boolean, signed: boolean): Emitter => (t, d) => {
  const c = t.c;
  t.get(d.rs1).op(Op.i32_wrap_i64).c.localSet(L_W0);
  t.get(d.rs2).op(Op.i32_wrap_i64).c.localSet(L_W1);
  c.localGet(L_W1).op(Op.i32_eqz).begin(Op.if, ValType.I32);
  if (rem) c.localGet(L_W0); else c.i32Const(-1);
  c.op(Op.else);
  if (signed) {
    c.localGet(L_W0).i32Const(-0x80000000).op(Op.i32_eq).localGet(L_W1).i32Const(-1).op(Op.i32_eq).op(Op.i32_and);
    c.begin(Op.if, ValType.I32);
    if (rem) c.i32Const(0); else c.localGet(L_W0);
    c.op(Op.else).localGet(L_W0).localGet(L_W1).op(rem ? Op.i32_rem_s : Op.i32_div_s).end();
  } else {
    c.localGet(L_W0).localGet(L_W1).op(rem ? Op.i32_rem_u : Op.i32_div_u);
  }
  c.end().op(Op.i64_extend_i32_s);
  t.set(d.rd);
};

/**
 * High 64 bits of the 128-bit product of rs1 and rs2 from 32-bit partial products; `sa`/`sb`:
 * the operand is signed (the unsigned high product minus the other operand where it is negative).
 */
const mulh = (sa: boolean, sb: boolean): Emitter => (t, d) => {
  const c = t.c;
  const lo = (l: number): void => { c.localGet(l).i64Const(-1, 0).op(Op.i64_and); };
  const hi = (l: number): void => { c.localGet(l).i64Const(32, 0).op(Op.i64_shr_u); };
  t.get(d.rs1).c.localSet(L_T0);
  t.get(d.rs2).c.localSet(L_T1);
  lo(L_T0); hi(L_T1); c.op(Op.i64_mul).localSet(L_T2);   // p01 = a0 * b1
  hi(L_T0); lo(L_T1); c.op(Op.i64_mul).localSet(L_T3);   // p10 = a1 * b0
  // mid = (a0 * b0 >>> 32) + lo(p01) + lo(p10), in L_VA
  lo(L_T0); lo(L_T1); c.op(Op.i64_mul).i64Const(32, 0).op(Op.i64_shr_u);
  lo(L_T2); c.op(Op.i64_add); lo(L_T3); c.op(Op.i64_add).localSet(L_VA);
  // hi = a1 * b1 + hi(p01) + hi(p10) + hi(mid)
  hi(L_T0); hi(L_T1); c.op(Op.i64_mul);
  hi(L_T2); c.op(Op.i64_add); hi(L_T3); c.op(Op.i64_add); hi(L_VA); c.op(Op.i64_add);
  if (sa) c.localGet(L_T1).i64Const(0, 0).localGet(L_T0).i64Const(0, 0).op(Op.i64_lt_s).op(Op.select).op(Op.i64_sub);
  if (sb) c.localGet(L_T0).i64Const(0, 0).localGet(L_T1).i64Const(0, 0).op(Op.i64_lt_s).op(Op.select).op(Op.i64_sub);
  t.set(d.rd);
};

// ---- floating point (D inline where the result rounds to nearest-even and the flags are
// known without the interpreter's exact paths; everything else through the interpreter helper) ----

/** Emits `fast` under `cond` with the interpreter helper otherwise; a mode never handled inline goes to the helper. */
function fpOp(t: Translation, d: Insn, k: number, rm: (() => void) | null | false, cond: (() => void) | null, fast: () => void): void {
  if (rm === false) { t.slowCall(d, k); return; }
  const both = rm === null ? cond : cond === null ? rm : (): void => { rm(); cond(); t.op(Op.i32_and); };
  t.fp(d, k, both, fast);
}

/** fadd.d / fsub.d: RN(a ± b) is the native result; exact unless TwoSum's error is non-zero; |r| < 2^1022 (no NaN, no overflow). */
const faddD = (sub: boolean): Emitter => (t, d, k) => {
  const c = t.c;
  t.fget(d.rs1).c.localSet(L_FA);
  t.fget(d.rs2);
  if (sub) c.op(Op.f64_neg);
  c.localSet(L_FB);
  c.localGet(L_FA).localGet(L_FB).op(Op.f64_add).localSet(L_FR);
  fpOp(t, d, k, t.rne(d), () => { t.absCmp(L_FR, Op.f64_lt, P2_1022); }, () => {
    t.twoSumErr(L_FA, L_FB, L_FR).c.f64Const(0).op(Op.f64_ne);
    t.inexact();
    t.fsetFrom(d, L_FR, ValType.F64);
  });
};

/**
 * fmul.d: in the range where TwoProduct is exact (|r| in [2^-969, 2^1022), |a|, |b| < 2^995)
 * inexact iff its error is non-zero; a zero operand gives an exact zero; the rest (NaN, inf,
 * overflow, underflow) is interpreted.
 */
const fmulD: Emitter = (t, d, k) => {
  const c = t.c;
  t.fget(d.rs1).c.localSet(L_FA);
  t.fget(d.rs2).c.localSet(L_FB);
  c.localGet(L_FA).localGet(L_FB).op(Op.f64_mul).localSet(L_FR);
  t.absCmp(L_FR, Op.f64_ge, P2_M969).absCmp(L_FR, Op.f64_lt, P2_1022).op(Op.i32_and)
    .absCmp(L_FA, Op.f64_lt, P2_995).op(Op.i32_and).absCmp(L_FB, Op.f64_lt, P2_995).op(Op.i32_and);
  c.localSet(L_OK);
  fpOp(t, d, k, t.rne(d), () => {
    c.localGet(L_OK);
    c.localGet(L_FR).f64Const(0).op(Op.f64_eq);
    c.localGet(L_FA).f64Const(0).op(Op.f64_eq).localGet(L_FB).f64Const(0).op(Op.f64_eq).op(Op.i32_or).op(Op.i32_and);
    c.op(Op.i32_or);
  }, () => {
    t.twoProdErr(L_FA, L_FB, L_FR).c.f64Const(0).op(Op.f64_ne).localGet(L_OK).op(Op.i32_and);
    t.inexact();
    t.fsetFrom(d, L_FR, ValType.F64);
  });
};

/**
 * fmadd.d and its negated forms, as the interpreter's fast path (fpu/ops.ts fmaFast): a*b = p + e,
 * p + c = s + t, t + e = u + v, s + u = r + w, all exact in range; RN(a*b + c) = r unless s + u
 * was a tie between two doubles that v breaks (then r + 2w).
 */
const fmaD = (negProduct: boolean, negAddend: boolean): Emitter => (t, d, k) => {
  const c = t.c;
  t.fget(d.rs1); if (negProduct) c.op(Op.f64_neg); c.localSet(L_FA);
  t.fget(d.rs2).c.localSet(L_FB);
  t.fget(d.rs3); if (negAddend) c.op(Op.f64_neg); c.localSet(L_FC);
  c.localGet(L_FA).localGet(L_FB).op(Op.f64_mul).localSet(L_FP);
  t.absCmp(L_FP, Op.f64_ge, P2_M900).absCmp(L_FP, Op.f64_le, P2_900).op(Op.i32_and).absCmp(L_FC, Op.f64_le, P2_900).op(Op.i32_and)
    .absCmp(L_FA, Op.f64_lt, P2_995).op(Op.i32_and).absCmp(L_FB, Op.f64_lt, P2_995).op(Op.i32_and);
  c.localSet(L_OK);
  t.twoProdErr(L_FA, L_FB, L_FP).c.localSet(L_FE);
  c.localGet(L_FP).localGet(L_FC).op(Op.f64_add).localSet(L_FS);
  t.twoSumErr(L_FP, L_FC, L_FS).c.localSet(L_FT);
  c.localGet(L_FT).localGet(L_FE).op(Op.f64_add).localSet(L_FU);
  t.twoSumErr(L_FT, L_FE, L_FU).c.localSet(L_FV);
  c.localGet(L_FS).localGet(L_FU).op(Op.f64_add).localSet(L_FR);
  t.twoSumErr(L_FS, L_FU, L_FR).c.localSet(L_FW);
  // A zero product of finite operands: the sum is exact, a*b + c natively (its zero sign is RNE's).
  c.localGet(L_FA).f64Const(0).op(Op.f64_eq).localGet(L_FB).f64Const(0).op(Op.f64_eq).op(Op.i32_or);
  t.absCmp(L_FA, Op.f64_lt, Infinity).op(Op.i32_and).absCmp(L_FB, Op.f64_lt, Infinity).op(Op.i32_and)
    .absCmp(L_FC, Op.f64_lt, Infinity).op(Op.i32_and).c.localSet(L_W0);
  fpOp(t, d, k, t.rne(d), () => {
    c.localGet(L_OK);
    t.absCmp(L_FR, Op.f64_ge, P2_M900).op(Op.i32_and).absCmp(L_FR, Op.f64_le, P2_900).op(Op.i32_and);
    c.localGet(L_W0).op(Op.i32_or);
  }, () => {
    c.localGet(L_W0).begin(Op.if);
    c.localGet(L_FP).localGet(L_FC).op(Op.f64_add).localSet(L_FR);
    t.fsetFrom(d, L_FR, ValType.F64);
    c.op(Op.else);
    // ww = |w| signed as seen from |r|; a tie: the neighbour of |r| on ww's side is 2|ww| away.
    // L_FX = ww, L_FE = |r| (both free now).
    c.localGet(L_FR).op(Op.f64_abs).localSet(L_FE);
    c.localGet(L_FW).op(Op.f64_neg).localGet(L_FW).localGet(L_FR).f64Const(0).op(Op.f64_lt).op(Op.select).localSet(L_FX);
    // nextUp(|r|) - |r| == 2ww  (ww > 0),  |r| - nextDown(|r|) == -2ww  (ww < 0)
    c.localGet(L_FE).op(Op.i64_reinterpret_f64).i64Const(1, 0).op(Op.i64_add).op(Op.f64_reinterpret_i64).localGet(L_FE).op(Op.f64_sub)
      .f64Const(2).localGet(L_FX).op(Op.f64_mul).op(Op.f64_eq);
    c.localGet(L_FE).localGet(L_FE).op(Op.i64_reinterpret_f64).i64Const(1, 0).op(Op.i64_sub).op(Op.f64_reinterpret_i64).op(Op.f64_sub)
      .f64Const(-2).localGet(L_FX).op(Op.f64_mul).op(Op.f64_eq);
    c.localGet(L_FX).f64Const(0).op(Op.f64_gt).op(Op.select);
    // ... that v breaks: v != 0, w != 0, and v, w of the same sign
    c.localGet(L_FV).f64Const(0).op(Op.f64_ne).op(Op.i32_and);
    c.localGet(L_FW).f64Const(0).op(Op.f64_ne).op(Op.i32_and);
    c.localGet(L_FV).f64Const(0).op(Op.f64_gt).localGet(L_FW).f64Const(0).op(Op.f64_gt).op(Op.i32_eq).op(Op.i32_and);
    c.localSet(L_OK);
    c.localGet(L_FR).f64Const(2).localGet(L_FW).op(Op.f64_mul).op(Op.f64_add).localGet(L_FR).localGet(L_OK).op(Op.select).localSet(L_FR);
    c.localGet(L_FV).f64Const(0).op(Op.f64_ne).localGet(L_FW).f64Const(0).op(Op.f64_ne).op(Op.i32_or);
    t.inexact();
    t.fsetFrom(d, L_FR, ValType.F64);
    c.end();
  });
};

const SIGN_HI = -0x80000000;

/** fsgnj.d (0), fsgnjn.d (1), fsgnjx.d (2): bit operations, no flags. */
const sgnjD = (kind: 0 | 1 | 2): Emitter => (t, d, k) => {
  const c = t.c;
  t.fp(d, k, null, () => {
    c.localGet(L_ST).mem(Op.i64_load, 3, fOff(d.rs1)).localSet(L_T0);
    c.localGet(L_ST).mem(Op.i64_load, 3, fOff(d.rs2));
    if (kind === 1) c.i64Const(-1, -1).op(Op.i64_xor);
    else if (kind === 2) c.localGet(L_T0).op(Op.i64_xor);
    c.i64Const(0, SIGN_HI).op(Op.i64_and);
    c.localGet(L_T0).i64Const(-1, 0x7fffffff).op(Op.i64_and).op(Op.i64_or).localSet(L_T0);
    t.fsetFrom(d, L_T0, ValType.I64);
  });
};

/** L_FA = f[rs1], L_FB = f[rs2]; returns a condition pushing whether neither is a NaN. */
function numbers(t: Translation, d: Insn): () => void {
  t.fget(d.rs1).c.localSet(L_FA);
  t.fget(d.rs2).c.localSet(L_FB);
  return () => { t.c.localGet(L_FA).localGet(L_FA).op(Op.f64_eq).localGet(L_FB).localGet(L_FB).op(Op.f64_eq).op(Op.i32_and); };
}

/** fmin.d / fmax.d of two distinct non-NaN values (equal ones may be zeros of either sign: interpreted). */
const minmaxD = (isMax: boolean): Emitter => (t, d, k) => {
  const c = t.c;
  const ok = numbers(t, d);
  fpOp(t, d, k, null, () => {
    ok();
    c.localGet(L_FA).localGet(L_FB).op(Op.f64_ne).op(Op.i32_and);
  }, () => {
    c.localGet(L_FA).localGet(L_FB).localGet(L_FA).localGet(L_FB).op(isMax ? Op.f64_gt : Op.f64_lt).op(Op.select).localSet(L_FR);
    t.fsetFrom(d, L_FR, ValType.F64);
  });
};

/** feq.d / flt.d / fle.d of non-NaN operands (NaNs may set NV: interpreted). */
const fcmpD = (o: number): Emitter => (t, d, k) => {
  const c = t.c;
  fpOp(t, d, k, null, numbers(t, d), () => {
    c.localGet(L_FA).localGet(L_FB).op(o).op(Op.i64_extend_i32_u);
    t.set(d.rd);
  });
};

const enum ToInt { W, WU, L, LU }

/**
 * fcvt.{w,wu,l,lu}.d rounding to nearest-even or towards zero, of values whose rounded integer
 * is in range (else NV: interpreted); inexact when that integer differs from the operand.
 */
const cvtToIntD = (kind: ToInt): Emitter => (t, d, k) => {
  const c = t.c;
  let rm: (() => void) | null | false;
  let round: number;
  if (d.rm === RTZ) { rm = null; round = Op.f64_trunc; } else { rm = t.rne(d); round = Op.f64_nearest; }
  t.fget(d.rs1).c.localTee(L_FA).op(round).localSet(L_FR);
  const [lo, hi] = kind === ToInt.W ? [-TWO31, TWO31] : kind === ToInt.WU ? [0, TWO32] : kind === ToInt.L ? [-TWO63, TWO63] : [0, TWO64];
  fpOp(t, d, k, rm, () => {
    c.localGet(L_FR).f64Const(lo).op(Op.f64_ge).localGet(L_FR).f64Const(hi).op(Op.f64_lt).op(Op.i32_and);
  }, () => {
    c.localGet(L_FR).localGet(L_FA).op(Op.f64_ne);
    t.inexact();
    c.localGet(L_FR);
    // w/wu results are the 32-bit value sign-extended
    if (kind === ToInt.W) c.op(Op.i32_trunc_f64_s).op(Op.i64_extend_i32_s);
    else if (kind === ToInt.WU) c.op(Op.i32_trunc_f64_u).op(Op.i64_extend_i32_s);
    else c.op(kind === ToInt.L ? Op.i64_trunc_f64_s : Op.i64_trunc_f64_u);
    t.set(d.rd);
  });
};

/** fcvt.d.{w,wu} (always exact), fcvt.d.{l,lu} of values below 2^53 in magnitude (exact; larger ones interpreted). */
const cvtFromIntD = (kind: ToInt): Emitter => (t, d, k) => {
  const c = t.c;
  let cond: (() => void) | null = null;
  if (kind === ToInt.L) cond = () => { t.get(d.rs1).num(TWO53).op(Op.i64_add).num(2 * TWO53).op(Op.i64_le_u); };
  else if (kind === ToInt.LU) cond = () => { t.get(d.rs1).num(TWO53).op(Op.i64_le_u); };
  fpOp(t, d, k, t.validRm(d), cond, () => {
    t.get(d.rs1);
    if (kind === ToInt.W || kind === ToInt.WU) c.op(Op.i32_wrap_i64).op(kind === ToInt.W ? Op.f64_convert_i32_s : Op.f64_convert_i32_u);
    else c.op(kind === ToInt.L ? Op.f64_convert_i64_s : Op.f64_convert_i64_u);
    c.localSet(L_FR);
    t.fsetFrom(d, L_FR, ValType.F64);
  });
};

/** The FP instructions of the default tables (FS must be on). */
const FP_TABLES: readonly (readonly InsnDef[])[] = [rv64f, rv64d, zfh, zfhmin, zfhminD, zfa, zfaD, zfaH];
const FP_NAMES = new Set(FP_TABLES.flatMap((defs) => defs.map((x) => x.name)));
/**
 * Instructions without an emitter that the interpreter helper runs in translated code: they
 * neither transfer control nor touch CSRs or translation (FP, atomics, carry-less multiply,
 * crypto bit manipulation).
 */
const INTERPRETED: readonly (readonly InsnDef[])[] = [...FP_TABLES, rv64a, zbc, zbkc, zbkb, zbkx];

const nop: Emitter = () => {};

/** The translated instructions, by decoder name (compressed forms decode to the same names). */
export const EMITTERS: Readonly<Record<string, Emitter>> = {
  // ---- RV64I ----
  lui: (t, d) => { t.imm(d.imm).set(d.rd); },
  auipc: (t, d) => { t.pcPlus(d.off + d.imm).set(d.rd); },
  jal: (t, d) => { t.pcPlus(d.off + d.len).set(d.rd); t.pcPlus(d.off + d.imm).setNextPc(); },
  jalr: (t, d) => {
    // The target first: rd may be rs1.
    t.get(d.rs1).imm(d.imm).op(Op.i64_add).imm(-2).op(Op.i64_and).c.localSet(L_T0);
    t.pcPlus(d.off + d.len).set(d.rd);
    t.c.localGet(L_T0);
    t.setNextPc();
  },
  beq: branch(Op.i64_eq), bne: branch(Op.i64_ne), blt: branch(Op.i64_lt_s), bge: branch(Op.i64_ge_s),
  bltu: branch(Op.i64_lt_u), bgeu: branch(Op.i64_ge_u),
  lb: (t, d, k) => { t.load(d, k, 0); }, lh: (t, d, k) => { t.load(d, k, 1); }, lw: (t, d, k) => { t.load(d, k, 2); },
  ld: (t, d, k) => { t.load(d, k, 3); }, lbu: (t, d, k) => { t.load(d, k, 4); }, lhu: (t, d, k) => { t.load(d, k, 5); },
  lwu: (t, d, k) => { t.load(d, k, 6); },
  sb: (t, d, k) => { t.store(d, k, 0); }, sh: (t, d, k) => { t.store(d, k, 1); }, sw: (t, d, k) => { t.store(d, k, 2); },
  sd: (t, d, k) => { t.store(d, k, 3); },
  addi: ri(Op.i64_add), slti: cmpi(Op.i64_lt_s), sltiu: cmpi(Op.i64_lt_u),
  xori: ri(Op.i64_xor), ori: ri(Op.i64_or), andi: ri(Op.i64_and),
  slli: rsh(Op.i64_shl), srli: rsh(Op.i64_shr_u), srai: rsh(Op.i64_shr_s),
  add: rr(Op.i64_add), sub: rr(Op.i64_sub), sll: rr(Op.i64_shl), slt: cmp(Op.i64_lt_s), sltu: cmp(Op.i64_lt_u),
  xor: rr(Op.i64_xor), srl: rr(Op.i64_shr_u), sra: rr(Op.i64_shr_s), or: rr(Op.i64_or), and: rr(Op.i64_and),
  addiw: riw(Op.i32_add, -1), slliw: riw(Op.i32_shl, 31), srliw: riw(Op.i32_shr_u, 31), sraiw: riw(Op.i32_shr_s, 31),
  addw: rrw(Op.i32_add), subw: rrw(Op.i32_sub), sllw: rrw(Op.i32_shl), srlw: rrw(Op.i32_shr_u), sraw: rrw(Op.i32_shr_s),
  // FENCE: one hart's accesses are in order; FENCE.I: stores to code pages already invalidated them.
  fence: nop, fence_i: nop,
  // ---- M ----
  mul: rr(Op.i64_mul), mulw: rrw(Op.i32_mul),
  mulh: mulh(true, true), mulhsu: mulh(true, false), mulhu: mulh(false, false),
  div: div64(false, true), divu: div64(false, false), rem: div64(true, true), remu: div64(true, false),
  divw: div32(false, true), divuw: div32(false, false), remw: div32(true, true), remuw: div32(true, false),
  // ---- Zba ----
  add_uw: shadd(0, true), sh1add: shadd(1, false), sh2add: shadd(2, false), sh3add: shadd(3, false),
  sh1add_uw: shadd(1, true), sh2add_uw: shadd(2, true), sh3add_uw: shadd(3, true),
  slli_uw: (t, d) => { zext32(t, d.rs1).imm(d.imm & 63).op(Op.i64_shl).set(d.rd); },
  // ---- Zbb ----
  andn: (t, d) => { t.get(d.rs1).get(d.rs2).imm(-1).op(Op.i64_xor).op(Op.i64_and).set(d.rd); },
  orn: (t, d) => { t.get(d.rs1).get(d.rs2).imm(-1).op(Op.i64_xor).op(Op.i64_or).set(d.rd); },
  xnor: (t, d) => { t.get(d.rs1).get(d.rs2).op(Op.i64_xor).imm(-1).op(Op.i64_xor).set(d.rd); },
  rol: rr(Op.i64_rotl), ror: rr(Op.i64_rotr), rori: rsh(Op.i64_rotr),
  rolw: rrw(Op.i32_rotl), rorw: rrw(Op.i32_rotr), roriw: riw(Op.i32_rotr, 31),
  clz: un(Op.i64_clz), ctz: un(Op.i64_ctz), cpop: un(Op.i64_popcnt),
  clzw: unw(Op.i32_clz), ctzw: unw(Op.i32_ctz), cpopw: unw(Op.i32_popcnt),
  max: minmax(Op.i64_gt_s), maxu: minmax(Op.i64_gt_u), min: minmax(Op.i64_lt_s), minu: minmax(Op.i64_lt_u),
  sext_b: un(Op.i64_extend8_s), sext_h: un(Op.i64_extend16_s),
  zext_h: (t, d) => { t.get(d.rs1).imm(0xffff).op(Op.i64_and).set(d.rd); },
  // ---- Zbs ----
  bclr: bit("clr", false), bset: bit("set", false), binv: bit("inv", false), bext: bit("ext", false),
  bclri: bit("clr", true), bseti: bit("set", true), binvi: bit("inv", true), bexti: bit("ext", true),
  // ---- Zicond ----
  czero_eqz: (t, d) => { t.get(d.rs1).imm(0).get(d.rs2).op(Op.i64_eqz).op(Op.i32_eqz).op(Op.select).set(d.rd); },
  czero_nez: (t, d) => { t.get(d.rs1).imm(0).get(d.rs2).op(Op.i64_eqz).op(Op.select).set(d.rd); },
  // ---- F/D ----
  fld: (t, d, k) => { t.loadF(d, k, 3); }, flw: (t, d, k) => { t.loadF(d, k, 6); },
  fsd: (t, d, k) => { t.store(d, k, 3, true); }, fsw: (t, d, k) => { t.store(d, k, 2, true); },
  fadd_d: faddD(false), fsub_d: faddD(true), fmul_d: fmulD,
  fmadd_d: fmaD(false, false), fmsub_d: fmaD(false, true), fnmsub_d: fmaD(true, false), fnmadd_d: fmaD(true, true),
  fsgnj_d: sgnjD(0), fsgnjn_d: sgnjD(1), fsgnjx_d: sgnjD(2),
  fmin_d: minmaxD(false), fmax_d: minmaxD(true),
  feq_d: fcmpD(Op.f64_eq), flt_d: fcmpD(Op.f64_lt), fle_d: fcmpD(Op.f64_le),
  fcvt_w_d: cvtToIntD(ToInt.W), fcvt_wu_d: cvtToIntD(ToInt.WU), fcvt_l_d: cvtToIntD(ToInt.L), fcvt_lu_d: cvtToIntD(ToInt.LU),
  fcvt_d_w: cvtFromIntD(ToInt.W), fcvt_d_wu: cvtFromIntD(ToInt.WU), fcvt_d_l: cvtFromIntD(ToInt.L), fcvt_d_lu: cvtFromIntD(ToInt.LU),
  fmv_x_d: (t, d, k) => { t.fp(d, k, null, () => { t.c.localGet(L_ST).mem(Op.i64_load, 3, fOff(d.rs1)); t.set(d.rd); }); },
  fmv_d_x: (t, d, k) => { t.fp(d, k, null, () => { t.get(d.rs1).c.localSet(L_T0); t.fsetFrom(d, L_T0, ValType.I64); }); },
  fmv_x_w: (t, d, k) => { t.fp(d, k, null, () => { t.c.localGet(L_ST).mem(Op.i64_load32_s, 2, fOff(d.rs1)); t.set(d.rd); }); },
  fmv_w_x: (t, d, k) => {
    t.fp(d, k, null, () => { zext32(t, d.rs1).c.i64Const(0, -1).op(Op.i64_or).localSet(L_T0); t.fsetFrom(d, L_T0, ValType.I64); });
  },
};

const interpreted = (t: Translation, d: Insn, k: number): void => { t.slowCall(d, k); };
for (const defs of INTERPRETED) {
  for (const def of defs) if (!Object.prototype.hasOwnProperty.call(EMITTERS, def.name)) (EMITTERS as Record<string, Emitter>)[def.name] = interpreted;
}

/** How many instructions of `insns` (from the first) have a translation. */
export function translatablePrefix(insns: readonly Insn[]): number {
  let n = 0;
  while (n < insns.length && Object.prototype.hasOwnProperty.call(EMITTERS, insns[n].name)) n++;
  return n;
}

/**
 * One block of a region: its decoded instructions, the `count` translated (all of them unless the
 * region is this block alone), its byte length and its byte offset from the region's entry.
 */
export interface RegionBlock {
  insns: readonly Insn[];
  count: number;
  bytes: number;
  delta: number;
}

/** The function of a region (its entry block first); FN_INTERP indices refer to `interps`. */
export function translateRegion(blocks: readonly RegionBlock[], interps: Insn[] = []): { locals: ValType[]; body: Code } {
  const t = new Translation(interps);
  t.emitRegion(blocks);
  return t.finish();
}

/**
 * Translates the first `count` instructions of a block of `bytes` bytes into a function body (a
 * region of this block alone: a whole block that ends with a branch back to its start loops).
 */
export function translate(insns: readonly Insn[], count: number, bytes: number, interps: Insn[] = []): { locals: ValType[]; body: Code } {
  return translateRegion([{ insns, count, bytes, delta: 0 }], interps);
}

/**
 * The byte offsets (from the block start) where a whole block is likely to continue: a
 * conditional branch's target and fall-through, a jal's target (and for a call, the return
 * point after it), or the fall-through of a block without a final control transfer.
 */
export function successorOffsets(insns: readonly Insn[], bytes: number): number[] {
  const last = insns[insns.length - 1];
  if (!last.setsPc) return [bytes];
  if (last.name === "jal") return last.rd === 0 || last.rd === 64 ? [last.off + last.imm] : [last.off + last.imm, bytes];
  if (CONDITIONAL.has(last.name)) return [last.off + last.imm, bytes];
  return [];
}

const CONDITIONAL = new Set(["beq", "bne", "blt", "bge", "bltu", "bgeu"]);
