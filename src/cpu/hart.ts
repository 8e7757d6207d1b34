// One RV64GC hart: registers, CSRs, privilege modes, Sv39/Sv48 translation with a software
// TLB, and the interpreter loop over cached decoded blocks.
//
// 64-bit values live as int32 lo/hi pairs (no BigInt on the hot path). The pc and virtual
// addresses handed around as single numbers are signed 64-bit values held exactly in a double
// (canonical Sv39/Sv48 addresses and physical addresses are far below 2^53).
import type { Bus } from "../memory/bus.js";
import { HART_STATE_BYTES, PAGE_CODE, type Ram } from "../memory/ram.js";
import type { Insn } from "./insn.js";
import { CodeCache, type Block } from "./code_cache.js";
import { compileBlock } from "./block_compiler.js";
import type { Jit } from "./jit/jit.js";
import type { Isa } from "./isa.js";
import {
  CSR, Cause, MEDELEG_MASK, MIP_MEIP, MIP_MSIP, MIP_MTIP, MIP_SEIP, MIP_SSIP, MIP_STIP, MSTATUS_MIE, MSTATUS_MPIE,
  MSTATUS_MPP, MSTATUS_MPP_SHIFT, MSTATUS_MPRV, MSTATUS_MXR, MSTATUS_SIE, MSTATUS_SPIE, MSTATUS_SPP, MSTATUS_SUM,
  MSTATUS_TSR, MSTATUS_TVM, MSTATUS_TW, MSTATUS_WMASK, PRV_M, PRV_S, PRV_U, SSTATUS_MASK, S_INTERRUPTS,
  MSTATUS_FS_SHIFT, ENVCFG_FIOM, ENVCFG_CBIE, ENVCFG_CBIE_SHIFT, CBIE_RESERVED, ENVCFG_CBCFE, ENVCFG_CBZE,
  MENVCFG_STCE_HI, MENVCFG_PBMTE_HI, MENVCFG_ADUE_HI, MSTATEEN_SE_HI, MSTATEEN0_ENVCFG_HI,
} from "./csr_numbers.js";

/** The one object thrown to unwind an instruction that traps (no allocation, no stack trace). */
export const TRAP: { readonly trap: true } = { trap: true };

export const ACCESS_FETCH = 0, ACCESS_LOAD = 1, ACCESS_STORE = 2;
const TLB_BITS = 8, TLB_SIZE = 1 << TLB_BITS, TLB_MASK = TLB_SIZE - 1;
/**
 * Never equals a page-aligned tag, nor (in generated code, which compares the tag pair with the
 * address masked by ~0xfff | (size - 1)) any address: its low 12 bits are all ones.
 */
const TLB_INVALID = -1;
const TWO32 = 4294967296;
/** Executions after which a block is compiled into one function (block_compiler.ts). */
const HOT_BLOCK = 64;
/** Most instructions one entry into translated code may retire (its counters are int32). */
const JIT_MAX_BUDGET = 1 << 30;

// The hart's state slot (Ram.allocHartState): byte offsets from its start. Generated code
// (src/cpu/jit/translate.ts) addresses these; the interpreter sees the same bytes through `x`
// and the TLB views.
/** x registers: 66 int32 (32 lo/hi pairs and the x0 write sink), i.e. x[r] as an i64 at 8 * r. */
export const ST_X = 0;
/** The pc a translated block that ends with a control transfer continues at (an i64). */
export const ST_PC = 272;
/** The value a slow-path load helper returns to generated code (an i64). */
export const ST_SCRATCH = 280;
/** Byte offsets in the memory of the TLBs loads and stores use now (i32 each; see selectTlbs). */
export const ST_RTLB = 288, ST_WTLB = 292;
/** Instructions retired by the translated code of one entry from the run loop (an i32). */
export const ST_COUNT = 296;
/** Set by a slow-path helper when translated code must return to the run loop (interrupt, stop). */
export const ST_STOP = 300;
/** The hart's chainEpoch (an i32): translated-code cache entries of older epochs are stale. */
export const ST_EPOCH = 304;
/** f registers: 32 doubles as raw bits (f[r] at 8 * r), the `fi`/`f` views of the interpreter. */
export const ST_F = 512;
/** fflags, frm and mstatus.FS (an i32 each): the hart's `fflags`, `frm` and `fs` live here. */
export const ST_FFLAGS = 768, ST_FRM = 772, ST_FS = 776;
/** The 12 TLBs (TLB_SIZE entries of 3 int32: tagLo, tagHi, RAM offset), 4 KiB aligned. */
export const ST_TLB = 4096;
const TLB_BYTES = TLB_SIZE * 3 * 4;
/**
 * The translated-code cache the wasm dispatcher chains through (jit/jit.ts): JCACHE_SIZE
 * entries of 4 int32 (pcLo, pcHi, epoch, table index), indexed by (pc >>> 1) & (JCACHE_SIZE - 1).
 */
export const ST_JCACHE = ST_TLB + 12 * TLB_BYTES;
export const JCACHE_SIZE = 2048;
if (ST_JCACHE + JCACHE_SIZE * 16 > HART_STATE_BYTES) throw new Error("hart state slot too small");
export { TLB_SIZE };


const FAULT_CAUSE_ACCESS = [Cause.InsnAccessFault, Cause.LoadAccessFault, Cause.StoreAccessFault];
const FAULT_CAUSE_PAGE = [Cause.InsnPageFault, Cause.LoadPageFault, Cause.StorePageFault];

// PTE fields (priv spec 4.4.1 / Svpbmt / Svnapot / Svade), as bits of the PTE's low or high word.
const PTE_A = 0x40, PTE_D = 0x80;
/** Bits 60:54, reserved for future standard use in every PTE. */
const PTE_RESERVED_HI = 0x1fc00000;
/** Bits 63:61 (N, PBMT) as a 3-bit field of the high word. */
const PTE_EXT_SHIFT = 29;
const PTE_PBMT_MASK = 3, PBMT_RESERVED = 3;
const PTE_N_EXT = 4;
/** Svnapot: the only defined encoding, ppn[3:0] = 1000 (a 64 KiB page). */
const NAPOT_64K_MASK = 0xf, NAPOT_64K = 0x8;
/** The cache-block size of every CMO instruction (bytes; the device tree's riscv,cbo*-block-size). */
export const CBO_BLOCK_BYTES = 64;
/** The reset value of stimecmp (all ones, like mtimecmp: no interrupt). */
const TIMECMP_RESET = -1;
const TWO64 = 18446744073709551616;
/** Sdtrig with no triggers: tinfo.version = 1 (Sdtrig 1.0), info = 1 ("no trigger here"). */
const TINFO_NO_TRIGGER = (1 << 24) | 1;
/** mcounteren.TM: gates `time` and, with Sstc, stimecmp for S-mode. */
const COUNTEREN_TM = 1 << 1;

/**
 * Called before an exception or interrupt is delivered architecturally. Returning true means
 * the host handled it (the hook has set `h.pc`). Used by the built-in SBI firmware (ecalls
 * from S-mode) and by the process VM (every trap from U-mode goes to the application kernel).
 */
export type TrapHook = (h: Hart, cause: number, pc: number, interrupt: boolean) => boolean;

/**
 * Version 2 added the CSRs of Sstc, Smstateen and the high word of menvcfg (csr.menvcfgHi,
 * stimecmpLo/Hi, mstateen_0..7). A version 1 state (saved before they existed, on an rv64gc
 * hart) loads with those at their reset values. Version 3 added Sstc's STIP level (mipSstc) and
 * the no-progress counters the machine's stuck detection reads (noProgressTraps/Pc/Cause/Priv);
 * older states load with STIP re-evaluated at the next timer update and the counters reset.
 */
export interface HartState {
  version: 1 | 2 | 3;
  x: number[]; f: number[]; pc: number; priv: number;
  csr: Record<string, number>;
  pmpcfg: number[]; pmpaddr: number[];
}

export class Hart {
  // ---- architectural state ----
  /** x registers as lo/hi pairs; pair 32 (indices 64, 65) is the sink for writes to x0. In the state slot. */
  readonly x: Int32Array;
  /**
   * Byte offset of this hart's state slot in `ram.buffer` (x registers, TLBs, the words generated
   * code exchanges with the run loop), or -1 when no slot was free (private arrays: interpreter only).
   */
  readonly stateOff: number;
  /** The state slot as int32 words (ST_* / 4). */
  readonly st32: Int32Array;
  /** Raw bits of the f registers as lo/hi pairs, and the same registers as doubles (in the state slot). */
  readonly fi: Int32Array;
  readonly f: Float64Array;
  pc = 0;
  priv = PRV_M;
  // fflags, frm and mstatus.FS live in the state slot (translated FP code reads and sets them).
  get fflags(): number { return this.st32[ST_FFLAGS >>> 2]; }
  set fflags(v: number) { this.st32[ST_FFLAGS >>> 2] = v; }
  get frm(): number { return this.st32[ST_FRM >>> 2]; }
  set frm(v: number) { this.st32[ST_FRM >>> 2] = v; }
  /** mstatus.FS (0 off, 1 initial, 2 clean, 3 dirty). */
  get fs(): number { return this.st32[ST_FS >>> 2]; }
  set fs(v: number) { this.st32[ST_FS >>> 2] = v; }
  /** mstatus low word without FS (UXL=SXL=2 and SD are synthesized on read). */
  mstatus = 0;
  medeleg = 0;
  mideleg = 0;
  mie = 0;
  /** Interrupt-pending bits driven by devices (MSIP, MTIP, MEIP, SEIP line, and STIP under the built-in SBI). */
  mipHw = 0;
  /** Software-writable pending bits (SSIP, STIP, SEIP). */
  mipSw = 0;
  /** mipHw | mipSw, kept up to date for the fast interrupt check. */
  mip = 0;
  mcounteren = 0;
  scounteren = 0;
  mcountinhibit = 0;
  menvcfgLo = 0;
  /** menvcfg bits 63:32 (STCE, PBMTE, ADUE). */
  menvcfgHi = 0;
  senvcfgLo = 0;
  /** Sstc stimecmp as a lo/hi pair, and its value as a double for comparisons with time. */
  stimecmpLo = TIMECMP_RESET;
  stimecmpHi = TIMECMP_RESET;
  private stimecmpValue = TWO64;
  /** STIP as Sstc drives it (time >= stimecmp) while menvcfg.STCE = 1. */
  private mipSstc = 0;
  /** mstateen0-3 as lo/hi pairs (Smstateen). */
  readonly mstateen = new Int32Array(8);
  // 64-bit CSRs held as pairs: [mtvec, mscratch, mepc, mcause, mtval, stvec, sscratch, sepc, scause, stval]
  readonly c64 = new Int32Array(20);
  satpMode = 0;
  satpAsid = 0;
  /** satp.PPN as a number (44 bits). */
  satpPpn = 0;
  readonly pmpcfg = new Uint8Array(16);
  /** pmpaddr0-15 as lo/hi pairs (54 significant bits: more than a double holds exactly). */
  readonly pmpaddr = new Int32Array(32);
  /** Retired-instruction counter (monotonic, host side); minstret/mcycle are offsets from it. */
  retired = 0;
  /**
   * Consecutive exceptions taken by the very instruction an MRET/SRET had just returned to,
   * at the same pc with the same cause: a trap handler that "returns" into an instruction that
   * can never execute (a redirect to stvec = 0, say), while the handler itself retires fine.
   * Any other exception resets it. The machine uses it to report a hart that makes no progress.
   */
  noProgressTraps = 0;
  /** pc, cause and privilege of the exception counted by noProgressTraps. */
  noProgressPc = -1;
  noProgressCause = -1;
  noProgressPriv = -1;
  private instretBase = 0;
  private cycleBase = 0;
  private instretFrozen = 0;
  private cycleFrozen = 0;
  /** LR/SC reservation: physical address, or -1 when none. */
  reservation = -1;
  /** Index of the trapping instruction within a compiled block (set by the block). */
  trapIndex = 0;
  /** Bumped whenever chained block successors may be stale (see Block); kept in the state slot for generated code. */
  // A plain field for the run loop (a typed-array read per block cost ~1 host instruction per
  // guest instruction under callgrind), mirrored into ST_EPOCH by the setter for generated code.
  get chainEpoch(): number { return this.epoch; }
  set chainEpoch(v: number) {
    const e = (v | 0) === 0 ? 1 : v | 0; // 0: never valid (zeroed cache entries)
    this.epoch = e;
    this.st32[ST_EPOCH >>> 2] = e;
  }
  private epoch = 1;
  /** Set by WFI; cleared when an interrupt becomes pending. */
  wfi = false;
  /** Hart stopped (SBI HSM) — the machine skips it. */
  stopped = false;

  // ---- pending exception (set by raise) ----
  excCause = 0;
  excTvalLo = 0;
  excTvalHi = 0;

  // ---- host hooks ----
  trapHook: TrapHook | null = null;
  /** Returns mtime (10 MHz ticks) for the `time` CSR. */
  timeSource: () => number = () => 0;

  // ---- translation ----
  /** TLBs: [set*3 + access] each TLB_SIZE entries of (tagLo, tagHi, ramOffset). Sets: priv U=0, S=1, S+SUM=2, M=3. */
  private readonly tlbs: Int32Array[] = [];
  ftlb: Int32Array;
  rtlb: Int32Array;
  wtlb: Int32Array;
  readonly ram: Ram;
  readonly i32: Int32Array;
  readonly i16: Int16Array;
  readonly i8: Int8Array;
  readonly u8: Uint8Array;
  /** The machine's JIT when this hart can run translated code (it has a state slot). */
  private readonly jit: Jit | null;
  /** Executions after which a block is queued for translation (0: never). */
  private readonly jitHot: number;
  /** Threshold 1 (testing): CodeCache.block translates every block it decodes for this hart before its first execution. */
  readonly jitEager: boolean;
  private readonly ramBase: number;
  private readonly ramEnd: number;

  /** Scratch results of csrRead. */
  csrLo = 0;
  csrHi = 0;

  /** The ISA this hart implements (its machine's, through the shared code cache). */
  readonly isa: Isa;
  /** misa's extension bits. */
  private readonly misaExt: number;
  // The extensions that add CSRs or change translation, looked up once.
  private readonly hasSstc: boolean;
  private readonly hasSvpbmt: boolean;
  private readonly hasSvnapot: boolean;
  private readonly hasSvadu: boolean;
  private readonly hasZihpm: boolean;
  private readonly hasSmstateen: boolean;
  private readonly hasSstateen: boolean;
  private readonly hasSdtrig: boolean;
  /** Writable bits of menvcfg (low and high word) and senvcfg for this ISA. */
  private readonly menvcfgMaskLo: number;
  private readonly menvcfgMaskHi: number;
  private readonly senvcfgMask: number;
  /** Writable bits of mcounteren/scounteren: cycle, time, instret, and hpmcounter3-31 with Zihpm. */
  private readonly counterenMask: number;

  constructor(readonly hartId: number, readonly bus: Bus, readonly code: CodeCache) {
    this.ram = bus.ram;
    this.i32 = bus.ram.i32; this.i16 = bus.ram.i16; this.i8 = bus.ram.i8; this.u8 = bus.ram.u8;
    this.ramBase = bus.ram.base; this.ramEnd = bus.ram.base + bus.ram.size;
    this.stateOff = bus.ram.allocHartState();
    const buf = this.stateOff >= 0 ? bus.ram.buffer : new ArrayBuffer(HART_STATE_BYTES);
    const base = Math.max(this.stateOff, 0);
    this.x = new Int32Array(buf, base + ST_X, 66);
    this.st32 = new Int32Array(buf, base, HART_STATE_BYTES >>> 2);
    this.fi = new Int32Array(buf, base + ST_F, 64);
    this.f = new Float64Array(buf, base + ST_F, 32);
    this.chainEpoch = 1;
    for (let i = 0; i < 12; i++) this.tlbs.push(new Int32Array(buf, base + ST_TLB + i * TLB_BYTES, TLB_SIZE * 3).fill(TLB_INVALID));
    this.ftlb = this.tlbs[PRV_M * 3 + ACCESS_FETCH];
    this.rtlb = this.tlbs[PRV_M * 3 + ACCESS_LOAD];
    this.wtlb = this.tlbs[PRV_M * 3 + ACCESS_STORE];
    this.st32[ST_RTLB >>> 2] = this.rtlb.byteOffset;
    this.st32[ST_WTLB >>> 2] = this.wtlb.byteOffset;
    const isa = code.isa;
    this.isa = isa;
    this.misaExt = isa.misa();
    this.hasSstc = isa.has("sstc");
    this.hasSvpbmt = isa.has("svpbmt");
    this.hasSvnapot = isa.has("svnapot");
    this.hasSvadu = isa.has("svadu");
    this.hasZihpm = isa.has("zihpm");
    this.hasSmstateen = isa.has("smstateen");
    this.hasSstateen = this.hasSmstateen || isa.has("ssstateen");
    this.hasSdtrig = isa.has("sdtrig");
    const cbo = (isa.has("zicbom") ? ENVCFG_CBIE | ENVCFG_CBCFE : 0) | (isa.has("zicboz") ? ENVCFG_CBZE : 0);
    this.menvcfgMaskLo = ENVCFG_FIOM | cbo;
    this.senvcfgMask = ENVCFG_FIOM | cbo;
    this.menvcfgMaskHi = (this.hasSstc ? MENVCFG_STCE_HI : 0) | (this.hasSvpbmt ? MENVCFG_PBMTE_HI : 0) | (this.hasSvadu ? MENVCFG_ADUE_HI : 0);
    this.counterenMask = this.hasZihpm ? -1 : 7;
    this.jit = code.jit !== null && this.stateOff >= 0 ? code.jit : null;
    this.jitHot = this.jit !== null ? this.jit.opts.threshold : 0;
    this.jitEager = this.jitHot === 1;
    code.addHart(this);
  }

  /** Gives the state slot back (a thread of the process VM that will never run again). */
  release(): void {
    this.code.removeHart(this);
    this.ram.freeHartState(this.stateOff);
  }

  // =====================================================================================
  // Traps
  // =====================================================================================

  /** Records an exception; `throw h.raise(...)` unwinds the current instruction. */
  raise(cause: number, tvalLo = 0, tvalHi = 0): typeof TRAP {
    this.excCause = cause; this.excTvalLo = tvalLo; this.excTvalHi = tvalHi;
    return TRAP;
  }

  /** Illegal instruction; mtval = the instruction bits (as QEMU and Spike report). */
  illegal(d: Insn): typeof TRAP {
    return this.raise(Cause.IllegalInsn, d.raw, 0);
  }

  private raiseAddr(cause: number, vaddr: number): typeof TRAP {
    return this.raise(cause, vaddr | 0, Math.floor(vaddr / TWO32) | 0);
  }

  /** Delivers the pending exception (excCause/excTval) that occurred at `pc`. */
  takeException(pc: number): void {
    this.deliver(this.excCause, false, pc, this.excTvalLo, this.excTvalHi);
  }

  private deliver(cause: number, interrupt: boolean, pc: number, tvalLo: number, tvalHi: number): void {
    if (this.trapHook !== null && this.trapHook(this, cause, pc, interrupt)) return;
    this.reservation = -1;
    this.wfi = false;
    const deleg = interrupt ? this.mideleg : this.medeleg;
    const c = this.c64;
    if (this.priv <= PRV_S && ((deleg >>> cause) & 1) !== 0) {
      // Trap to S-mode.
      setPair(c, 14, pc);                                     // sepc
      c[16] = cause; c[17] = interrupt ? -0x80000000 : 0;     // scause
      c[18] = tvalLo; c[19] = tvalHi;                         // stval
      let s = this.mstatus;
      s = (s & ~MSTATUS_SPIE) | ((s & MSTATUS_SIE) !== 0 ? MSTATUS_SPIE : 0);
      s = (s & ~MSTATUS_SPP) | (this.priv === PRV_S ? MSTATUS_SPP : 0);
      s &= ~MSTATUS_SIE;
      this.mstatus = s;
      this.setPriv(PRV_S);
      this.pc = trapVector(c[10], c[11], interrupt, cause);
    } else {
      setPair(c, 4, pc);                                      // mepc
      c[6] = cause; c[7] = interrupt ? -0x80000000 : 0;       // mcause
      c[8] = tvalLo; c[9] = tvalHi;                           // mtval
      let s = this.mstatus;
      s = (s & ~MSTATUS_MPIE) | ((s & MSTATUS_MIE) !== 0 ? MSTATUS_MPIE : 0);
      s = (s & ~MSTATUS_MPP) | (this.priv << MSTATUS_MPP_SHIFT);
      s &= ~MSTATUS_MIE;
      this.mstatus = s;
      this.setPriv(PRV_M);
      this.pc = trapVector(c[0], c[1], interrupt, cause);
    }
  }

  /** The highest-priority pending and enabled interrupt, or -1 (priv spec 3.1.9). */
  pendingInterrupt(): number {
    const pending = this.mip & this.mie;
    if (pending === 0) return -1;
    const s = this.mstatus;
    let m = pending & ~this.mideleg;
    if (this.priv === PRV_M && (s & MSTATUS_MIE) === 0) m = 0;
    if (m !== 0) return pickInterrupt(m);
    let sp = pending & this.mideleg;
    if (this.priv === PRV_M || (this.priv === PRV_S && (s & MSTATUS_SIE) === 0)) sp = 0;
    if (sp !== 0) return pickInterrupt(sp);
    return -1;
  }

  /** Takes a pending interrupt if one is enabled; returns true when it did. */
  checkInterrupts(): boolean {
    const irq = this.pendingInterrupt();
    if (irq < 0) return false;
    this.deliver(irq, true, this.pc, 0, 0);
    return true;
  }

  /** Raises or lowers a device-driven interrupt-pending bit (MSIP, MTIP, MEIP, SEIP, STIP). */
  setIrq(bit: number, level: boolean): void {
    if (level) this.mipHw |= bit; else this.mipHw &= ~bit;
    this.updateMip();
    if (level && (this.mip & this.mie) !== 0) this.wfi = false;
  }

  /**
   * mip from its sources. With menvcfg.STCE = 1 (Sstc), STIP is `time >= stimecmp` and the
   * software-written STIP is ignored ("STIP is read-only in mip"); the device line (the
   * built-in SBI's mtimecmp routing) still ORs in.
   */
  private updateMip(): void {
    this.mip = this.stce
      ? this.mipHw | (this.mipSw & ~MIP_STIP) | this.mipSstc
      : this.mipHw | this.mipSw;
  }

  /** Whether Sstc's stimecmp is operational (menvcfg.STCE). */
  get stce(): boolean { return this.hasSstc && this.menvcfgHi < 0; }

  /**
   * Re-evaluates the Sstc timer against `now` (mtime ticks): the machine calls this between
   * slices, as it ticks the CLINT, and the hart after writes to stimecmp or menvcfg.
   */
  updateTimer(now: number): void {
    if (!this.stce) return;
    const level = now >= this.stimecmpValue ? MIP_STIP : 0;
    if (level === this.mipSstc) return;
    this.mipSstc = level;
    this.updateMip();
    if ((this.mip & this.mie) !== 0) this.wfi = false;
  }

  /** mtime ticks until the Sstc timer fires (Infinity when off or already pending). */
  timerDeadline(now: number): number {
    if (!this.stce || this.mipSstc !== 0 || this.stimecmpValue >= Number.MAX_SAFE_INTEGER) return Infinity;
    return Math.max(0, this.stimecmpValue - now);
  }

  /** mip as CSRRS/CSRRC modify it: with the software SEIP bit instead of the external line. */
  mipRmwBase(): number {
    return (this.mip & ~MIP_SEIP) | (this.mipSw & MIP_SEIP);
  }

  /** Sets or clears a software-writable pending bit (SSIP/STIP/SEIP), as firmware does for IPIs. */
  setSoftwarePending(bit: number, level: boolean): void {
    this.setMipSw(level ? this.mipSw | bit : this.mipSw & ~bit);
  }

  private setMipSw(v: number): void {
    this.mipSw = v & (MIP_SSIP | MIP_STIP | MIP_SEIP);
    this.updateMip();
    if ((this.mip & this.mie) !== 0) this.wfi = false;
  }

  setPriv(p: number): void {
    this.priv = p;
    this.selectTlbs();
  }

  /** Effective privilege of loads and stores (mstatus.MPRV). */
  dataPriv(): number {
    return this.priv === PRV_M && (this.mstatus & MSTATUS_MPRV) !== 0 ? (this.mstatus & MSTATUS_MPP) >>> MSTATUS_MPP_SHIFT : this.priv;
  }

  private selectTlbs(): void {
    this.chainEpoch++;
    const p = this.priv;
    this.ftlb = this.tlbs[p * 3 + ACCESS_FETCH];
    let dp = this.dataPriv();
    if (dp === PRV_S && (this.mstatus & MSTATUS_SUM) !== 0) dp = 2;
    this.rtlb = this.tlbs[dp * 3 + ACCESS_LOAD];
    this.wtlb = this.tlbs[dp * 3 + ACCESS_STORE];
    this.st32[ST_RTLB >>> 2] = this.rtlb.byteOffset;
    this.st32[ST_WTLB >>> 2] = this.wtlb.byteOffset;
  }

  flushTlb(): void {
    for (const t of this.tlbs) t.fill(TLB_INVALID);
    this.chainEpoch++;
  }

  /** Drops write-TLB entries that point at RAM page `page` (it now holds decoded code). */
  dropWritablePage(page: number): void {
    const off = page << 12;
    for (let s = 0; s < 4; s++) {
      const t = this.tlbs[s * 3 + ACCESS_STORE];
      for (let i = 0; i < TLB_SIZE * 3; i += 3) if (t[i + 2] === off) t[i] = TLB_INVALID;
    }
  }

  // =====================================================================================
  // Address translation (priv spec 4.3.2 / 4.5)
  // =====================================================================================

  /**
   * Translates virtual address (lo, hi) for `access` at privilege `prv`; returns the physical
   * address or throws a page/access fault. Sets A/D bits in hardware (as QEMU does).
   */
  translate(lo: number, hi: number, access: number, prv: number): number {
    if (prv === PRV_M || this.satpMode === 0) {
      return (lo >>> 0) + hi * TWO32;
    }
    const vaddr = (lo >>> 0) + hi * TWO32;
    const levels = this.satpMode === 8 ? 3 : 4;
    // The address must be canonical: bits above the top VPN bit equal it.
    const top = hi >> (levels === 3 ? 6 : 15);
    if (top !== 0 && top !== -1) throw this.raiseAddr(FAULT_CAUSE_PAGE[access], vaddr);
    let a = this.satpPpn * 4096;
    const ram = this.ram;
    for (let i = levels - 1; i >= 0; i--) {
      const vpn = i === 0 ? (lo >>> 12) & 0x1ff : i === 1 ? (lo >>> 21) & 0x1ff : i === 2 ? ((lo >>> 30) | (hi << 2)) & 0x1ff : (hi >>> 7) & 0x1ff;
      const pteAddr = a + vpn * 8;
      if (pteAddr < this.ramBase || pteAddr + 8 > this.ramEnd) throw this.raiseAddr(FAULT_CAUSE_ACCESS[access], vaddr);
      const wi = (pteAddr - this.ramBase) >>> 2;
      let pte = this.i32[wi];
      const pteHi = this.i32[wi + 1];
      // V=0, W without R, or reserved bits 60:54 → page fault.
      if ((pte & 1) === 0 || (pte & 6) === 4 || (pteHi & PTE_RESERVED_HI) !== 0) throw this.raiseAddr(FAULT_CAUSE_PAGE[access], vaddr);
      let ppn = (pte >>> 10) + (pteHi & 0x3fffff) * 4194304;
      // Bits 63:61: N (Svnapot) and PBMT (Svpbmt); reserved without them and in non-leaf PTEs.
      const ext = pteHi >>> PTE_EXT_SHIFT;
      if ((pte & 0xa) === 0) { // R=0 and X=0: pointer to the next level
        if (ext !== 0) throw this.raiseAddr(FAULT_CAUSE_PAGE[access], vaddr);
        a = ppn * 4096;
        continue;
      }
      if (ext !== 0) {
        const pbmt = ext & PTE_PBMT_MASK;
        // "When PBMTE=0, the implementation behaves as though Svpbmt were not implemented."
        // PMA (0) / NC (1) / IO (2) all behave as the PMA here; 3 is reserved.
        if (pbmt !== 0 && (!this.hasSvpbmt || (this.menvcfgHi & MENVCFG_PBMTE_HI) === 0 || pbmt === PBMT_RESERVED)) {
          throw this.raiseAddr(FAULT_CAUSE_PAGE[access], vaddr);
        }
        if ((ext & PTE_N_EXT) !== 0) {
          // Svnapot: only 4 KiB leaves with ppn[3:0] = 1000 (64 KiB); other encodings are reserved.
          if (!this.hasSvnapot || i !== 0 || (ppn & NAPOT_64K_MASK) !== NAPOT_64K) throw this.raiseAddr(FAULT_CAUSE_PAGE[access], vaddr);
          ppn = ppn - NAPOT_64K + ((lo >>> 12) & NAPOT_64K_MASK); // the 4 KiB page of the 64 KiB region
        }
      }
      // Leaf: permission checks.
      const s = this.mstatus;
      if (access === ACCESS_FETCH) {
        if ((pte & 8) === 0) throw this.raiseAddr(Cause.InsnPageFault, vaddr);
      } else if (access === ACCESS_LOAD) {
        if ((pte & 2) === 0 && !((s & MSTATUS_MXR) !== 0 && (pte & 8) !== 0)) throw this.raiseAddr(Cause.LoadPageFault, vaddr);
      } else if ((pte & 4) === 0) throw this.raiseAddr(Cause.StorePageFault, vaddr);
      const u = (pte & 0x10) !== 0;
      if (prv === PRV_U ? !u : u && (access === ACCESS_FETCH || (s & MSTATUS_SUM) === 0)) {
        throw this.raiseAddr(FAULT_CAUSE_PAGE[access], vaddr);
      }
      // Misaligned superpage.
      if (i > 0 && (ppn % (1 << (9 * i))) !== 0) throw this.raiseAddr(FAULT_CAUSE_PAGE[access], vaddr);
      // A and D bits: updated in hardware (as before Svadu, and with menvcfg.ADUE = 1), or with
      // ADUE = 0 (Svade) "a page-fault exception is raised" when one would need to be set.
      const want = PTE_A | (access === ACCESS_STORE ? PTE_D : 0);
      if ((pte & want) !== want) {
        if (this.hasSvadu && (this.menvcfgHi & MENVCFG_ADUE_HI) === 0) throw this.raiseAddr(FAULT_CAUSE_PAGE[access], vaddr);
        pte |= want;
        ram.i32[wi] = pte;
        ram.written[wi >>> 10] = 1;
      }
      const pageMask = i === 0 ? 0xfff : i === 1 ? 0x1fffff : i === 2 ? 0x3fffffff : -1;
      if (pageMask !== -1) return ppn * 4096 + ((lo & pageMask) >>> 0);
      return ppn * 4096 + (lo >>> 0) + (hi & 0x7f) * TWO32;
    }
    throw this.raiseAddr(FAULT_CAUSE_PAGE[access], vaddr);
  }

  /** Translates and, when the page is RAM, installs a TLB entry. Returns the physical address. */
  private tlbFill(lo: number, hi: number, access: number): number {
    const prv = access === ACCESS_FETCH ? this.priv : this.dataPriv();
    const pa = this.translate(lo, hi, access, prv);
    if (pa >= this.ramBase && pa < this.ramEnd) {
      const off = (pa - this.ramBase) & ~0xfff;
      // Every RAM store passes here (a TLB hit needs an entry put in here) or notifies.
      if (access === ACCESS_STORE) this.ram.written[off >>> 12] = 1;
      if (access !== ACCESS_STORE || this.ram.pageFlags[off >>> 12] === 0) {
        const t = access === ACCESS_FETCH ? this.ftlb : access === ACCESS_LOAD ? this.rtlb : this.wtlb;
        const i = ((lo >>> 12) & TLB_MASK) * 3;
        t[i] = lo & ~0xfff; t[i + 1] = hi; t[i + 2] = off;
      }
    }
    return pa;
  }

  // =====================================================================================
  // Loads and stores: address = x[r] + imm. Fast path through the TLB into RAM.
  // =====================================================================================

  load8(r: number, imm: number): number {
    const x = this.x, b = x[r], lo = (b + imm) | 0;
    const hi = (x[r + 1] + (imm >> 31) + ((lo >>> 0) < (b >>> 0) ? 1 : 0)) | 0;
    const t = this.rtlb, i = ((lo >>> 12) & TLB_MASK) * 3;
    if (t[i] === (lo & ~0xfff) && t[i + 1] === hi) return this.i8[t[i + 2] + (lo & 0xfff)];
    return (this.loadSlow(lo, hi, 1) << 24) >> 24;
  }

  load16(r: number, imm: number): number {
    const x = this.x, b = x[r], lo = (b + imm) | 0;
    const hi = (x[r + 1] + (imm >> 31) + ((lo >>> 0) < (b >>> 0) ? 1 : 0)) | 0;
    const t = this.rtlb, i = ((lo >>> 12) & TLB_MASK) * 3;
    if (t[i] === (lo & ~0xfff) && t[i + 1] === hi && (lo & 1) === 0) return this.i16[(t[i + 2] + (lo & 0xfff)) >>> 1];
    return (this.loadSlow(lo, hi, 2) << 16) >> 16;
  }

  load32(r: number, imm: number): number {
    const x = this.x, b = x[r], lo = (b + imm) | 0;
    const hi = (x[r + 1] + (imm >> 31) + ((lo >>> 0) < (b >>> 0) ? 1 : 0)) | 0;
    const t = this.rtlb, i = ((lo >>> 12) & TLB_MASK) * 3;
    if (t[i] === (lo & ~0xfff) && t[i + 1] === hi && (lo & 3) === 0) return this.i32[(t[i + 2] + (lo & 0xfff)) >>> 2];
    return this.loadSlow(lo, hi, 4) | 0;
  }

  load64(r: number, imm: number, dst: Int32Array, di: number): void {
    const x = this.x, b = x[r], lo = (b + imm) | 0;
    const hi = (x[r + 1] + (imm >> 31) + ((lo >>> 0) < (b >>> 0) ? 1 : 0)) | 0;
    const t = this.rtlb, i = ((lo >>> 12) & TLB_MASK) * 3;
    if (t[i] === (lo & ~0xfff) && t[i + 1] === hi && (lo & 7) === 0) {
      const w = (t[i + 2] + (lo & 0xfff)) >>> 2;
      dst[di] = this.i32[w]; dst[di + 1] = this.i32[w + 1];
      return;
    }
    this.load64Slow(lo, hi, dst, di);
  }

  /** A 64-bit load that missed the TLB or is misaligned (as two 32-bit halves). */
  load64Slow(lo: number, hi: number, dst: Int32Array, di: number): void {
    const l = this.loadSlow(lo, hi, 4);
    const addHi = (hi + ((lo >>> 0) > 0xfffffffb ? 1 : 0)) | 0;
    dst[di + 1] = this.loadSlow((lo + 4) | 0, addHi, 4);
    dst[di] = l;
  }

  store8(r: number, imm: number, v: number): void {
    const x = this.x, b = x[r], lo = (b + imm) | 0;
    const hi = (x[r + 1] + (imm >> 31) + ((lo >>> 0) < (b >>> 0) ? 1 : 0)) | 0;
    const t = this.wtlb, i = ((lo >>> 12) & TLB_MASK) * 3;
    if (t[i] === (lo & ~0xfff) && t[i + 1] === hi) { this.u8[t[i + 2] + (lo & 0xfff)] = v; return; }
    this.storeSlow(lo, hi, 1, v);
  }

  store16(r: number, imm: number, v: number): void {
    const x = this.x, b = x[r], lo = (b + imm) | 0;
    const hi = (x[r + 1] + (imm >> 31) + ((lo >>> 0) < (b >>> 0) ? 1 : 0)) | 0;
    const t = this.wtlb, i = ((lo >>> 12) & TLB_MASK) * 3;
    if (t[i] === (lo & ~0xfff) && t[i + 1] === hi && (lo & 1) === 0) { this.i16[(t[i + 2] + (lo & 0xfff)) >>> 1] = v; return; }
    this.storeSlow(lo, hi, 2, v);
  }

  store32(r: number, imm: number, v: number): void {
    const x = this.x, b = x[r], lo = (b + imm) | 0;
    const hi = (x[r + 1] + (imm >> 31) + ((lo >>> 0) < (b >>> 0) ? 1 : 0)) | 0;
    const t = this.wtlb, i = ((lo >>> 12) & TLB_MASK) * 3;
    if (t[i] === (lo & ~0xfff) && t[i + 1] === hi && (lo & 3) === 0) { this.i32[(t[i + 2] + (lo & 0xfff)) >>> 2] = v; return; }
    this.storeSlow(lo, hi, 4, v);
  }

  store64(r: number, imm: number, vlo: number, vhi: number): void {
    const x = this.x, b = x[r], lo = (b + imm) | 0;
    const hi = (x[r + 1] + (imm >> 31) + ((lo >>> 0) < (b >>> 0) ? 1 : 0)) | 0;
    const t = this.wtlb, i = ((lo >>> 12) & TLB_MASK) * 3;
    if (t[i] === (lo & ~0xfff) && t[i + 1] === hi && (lo & 7) === 0) {
      const w = (t[i + 2] + (lo & 0xfff)) >>> 2;
      this.i32[w] = vlo; this.i32[w + 1] = vhi;
      return;
    }
    this.store64Slow(lo, hi, vlo, vhi);
  }

  /** A 64-bit store that missed the TLB, is misaligned, or goes to a code/watched page or MMIO. */
  store64Slow(lo: number, hi: number, vlo: number, vhi: number): void {
    if ((lo & 7) === 0) {
      // Aligned RAM store that missed the TLB (or hit a code/watched page): write both
      // words, then notify once, so a watcher (HTIF tohost) sees the whole value.
      const pa = this.physAddr(lo, hi, ACCESS_STORE);
      if (pa >= this.ramBase && pa + 8 <= this.ramEnd) {
        const w = (pa - this.ramBase) >>> 2;
        this.i32[w] = vlo; this.i32[w + 1] = vhi;
        if (this.ram.pageFlags[w >>> 10] !== 0) this.ram.notifyWrite(pa, 8);
        return;
      }
    }
    // Translate both words before writing either, so a fault leaves memory untouched.
    const hi2 = (hi + ((lo >>> 0) > 0xfffffffb ? 1 : 0)) | 0;
    if (((lo & 0xfff) > 0xff8)) { this.physAddr(lo, hi, ACCESS_STORE); this.physAddr((lo + 4) | 0, hi2, ACCESS_STORE); }
    this.storeSlow(lo, hi, 4, vlo);
    this.storeSlow((lo + 4) | 0, hi2, 4, vhi);
  }

  /** Physical address of a data access (faults raised), filling the TLB. */
  physAddr(lo: number, hi: number, access: number): number {
    const t = access === ACCESS_LOAD ? this.rtlb : this.wtlb, i = ((lo >>> 12) & TLB_MASK) * 3;
    if (t[i] === (lo & ~0xfff) && t[i + 1] === hi) return this.ramBase + t[i + 2] + (lo & 0xfff);
    return this.tlbFill(lo, hi, access);
  }

  /** Any load of 1, 2 or 4 bytes: misaligned, MMIO, or a TLB miss. Returns the zero-extended value (int32 for 4). */
  loadSlow(lo: number, hi: number, size: number): number {
    if ((lo & (size - 1)) !== 0) {
      // Misaligned: assemble bytes (each may be on another page).
      let v = 0;
      for (let k = 0; k < size; k++) {
        const l = (lo + k) | 0, h = (hi + ((l >>> 0) < (lo >>> 0) ? 1 : 0)) | 0;
        v |= this.loadSlow(l, h, 1) << (8 * k);
      }
      return size === 4 ? v : v >>> 0;
    }
    const pa = this.physAddr(lo, hi, ACCESS_LOAD);
    if (pa >= this.ramBase && pa + size <= this.ramEnd) {
      const o = pa - this.ramBase;
      return size === 1 ? this.u8[o] : size === 2 ? this.i16[o >>> 1] & 0xffff : this.i32[o >>> 2];
    }
    const v = this.bus.read(pa, size as 1 | 2 | 4);
    if (v === null) throw this.raiseAddr(Cause.LoadAccessFault, (lo >>> 0) + hi * TWO32);
    return size === 4 ? v | 0 : v;
  }

  storeSlow(lo: number, hi: number, size: number, v: number): void {
    if ((lo & (size - 1)) !== 0) {
      // Misaligned: check every byte translates before writing any.
      for (let k = 0; k < size; k++) {
        const l = (lo + k) | 0, h = (hi + ((l >>> 0) < (lo >>> 0) ? 1 : 0)) | 0;
        this.physAddr(l, h, ACCESS_STORE);
      }
      for (let k = 0; k < size; k++) {
        const l = (lo + k) | 0, h = (hi + ((l >>> 0) < (lo >>> 0) ? 1 : 0)) | 0;
        this.storeSlow(l, h, 1, v >>> (8 * k));
      }
      return;
    }
    const pa = this.physAddr(lo, hi, ACCESS_STORE);
    if (pa >= this.ramBase && pa + size <= this.ramEnd) {
      const o = pa - this.ramBase;
      if (size === 1) this.u8[o] = v; else if (size === 2) this.i16[o >>> 1] = v; else this.i32[o >>> 2] = v;
      if (this.ram.pageFlags[o >>> 12] !== 0) this.ram.notifyWrite(pa, size);
      return;
    }
    if (!this.bus.write(pa, size as 1 | 2 | 4, size === 4 ? v >>> 0 : v & (size === 1 ? 0xff : 0xffff))) {
      throw this.raiseAddr(Cause.StoreAccessFault, (lo >>> 0) + hi * TWO32);
    }
  }

  /**
   * RAM byte offset for an atomic access of `size` at x[r] (LR/SC/AMO): alignment and write
   * permission are checked; atomics outside RAM raise an access fault.
   */
  amoOffset(r: number, size: number, access: number): number {
    const lo = this.x[r], hi = this.x[r + 1];
    const vaddr = (lo >>> 0) + hi * TWO32;
    if ((lo & (size - 1)) !== 0) throw this.raiseAddr(access === ACCESS_LOAD ? Cause.LoadMisaligned : Cause.StoreMisaligned, vaddr);
    const pa = this.physAddr(lo, hi, access);
    if (pa < this.ramBase || pa + size > this.ramEnd) {
      throw this.raiseAddr(access === ACCESS_LOAD ? Cause.LoadAccessFault : Cause.StoreAccessFault, vaddr);
    }
    const o = pa - this.ramBase;
    if (access === ACCESS_STORE && this.ram.pageFlags[o >>> 12] !== 0) this.ram.notifyWrite(pa, size);
    return o;
  }

  // =====================================================================================
  // Cache-block operations (Zicbom / Zicboz): 64-byte blocks, faults as stores with tval = rs1
  // =====================================================================================

  /**
   * CBO.CLEAN/FLUSH/INVAL: "permitted to access the specified cache block whenever a load
   * instruction or store instruction is permitted"; otherwise a store page fault (or store
   * access fault). Translation checks (and may set) the A bit, not D.
   */
  cacheBlockProbe(lo: number, hi: number): void {
    try {
      this.translate(lo, hi, ACCESS_LOAD, this.dataPriv());
    } catch (e) {
      if (e === TRAP) this.excCause = this.excCause === Cause.LoadPageFault ? Cause.StorePageFault : Cause.StoreAccessFault;
      throw e;
    }
  }

  /** CBO.ZERO: stores zeros to the 64-byte block holding (lo, hi), through RAM or the bus. */
  cacheBlockZero(lo: number, hi: number): void {
    const vaddr = (lo >>> 0) + hi * TWO32;
    // The block lies in one page: its physical base is the translation minus the offset.
    const pa = this.translate(lo, hi, ACCESS_STORE, this.dataPriv()) - (lo & (CBO_BLOCK_BYTES - 1));
    if (pa >= this.ramBase && pa + CBO_BLOCK_BYTES <= this.ramEnd) {
      const o = pa - this.ramBase;
      this.u8.fill(0, o, o + CBO_BLOCK_BYTES);
      if (this.ram.pageFlags[o >>> 12] !== 0) this.ram.notifyWrite(pa, CBO_BLOCK_BYTES);
      return;
    }
    for (let k = 0; k < CBO_BLOCK_BYTES; k += 4) {
      if (!this.bus.write(pa + k, 4, 0)) throw this.raiseAddr(Cause.StoreAccessFault, vaddr);
    }
  }

  // =====================================================================================
  // Instruction fetch
  // =====================================================================================

  /** RAM offset of the instruction at pc (raising fetch faults); -1 if the fetch crosses a page. */
  fetchOffset(pc: number): number {
    const lo = pc | 0, hi = Math.floor(pc / TWO32) | 0;
    const t = this.ftlb, i = ((lo >>> 12) & TLB_MASK) * 3;
    let off: number;
    if (t[i] === (lo & ~0xfff) && t[i + 1] === hi) off = t[i + 2] + (lo & 0xfff);
    else {
      const pa = this.tlbFill(lo, hi, ACCESS_FETCH);
      if (pa < this.ramBase || pa + 2 > this.ramEnd) throw this.raiseAddr(Cause.InsnAccessFault, pc);
      off = pa - this.ramBase;
    }
    return off;
  }

  /** Fetches 16 bits at virtual pc through translation (used for page-crossing instructions). */
  fetch16(pc: number): number {
    const off = this.fetchOffset(pc);
    return this.u8[off] | (this.u8[off + 1] << 8);
  }

  // =====================================================================================
  // CSRs
  // =====================================================================================

  /** Reads CSR `n` into (csrLo, csrHi); returns false if it does not exist or is not accessible. */
  csrRead(n: number): boolean {
    let lo = 0, hi = 0;
    const c = this.c64;
    switch (n) {
      case CSR.fflags: if (this.fs === 0) return false; lo = this.fflags; break;
      case CSR.frm: if (this.fs === 0) return false; lo = this.frm; break;
      case CSR.fcsr: if (this.fs === 0) return false; lo = (this.frm << 5) | this.fflags; break;
      case CSR.cycle: case CSR.time: case CSR.instret:
        if (!this.counterAllowed(n - CSR.cycle)) return false;
        if (n === CSR.time) { const t = this.timeSource(); lo = t | 0; hi = Math.floor(t / TWO32) | 0; }
        else { const v = n === CSR.cycle ? this.mcycle() : this.minstret(); lo = v | 0; hi = Math.floor(v / TWO32) | 0; }
        break;
      case CSR.sstatus: {
        lo = (this.mstatus & SSTATUS_MASK) | (this.fs << MSTATUS_FS_SHIFT);
        hi = 2 | (this.fs === 3 ? -0x80000000 : 0); // UXL=2, SD
        break;
      }
      case CSR.sie: lo = this.mie & this.mideleg; break;
      case CSR.sip: this.updateTimer(this.timeSource()); lo = this.mip & this.mideleg; break;
      case CSR.stvec: lo = c[10]; hi = c[11]; break;
      case CSR.scounteren: lo = this.scounteren; break;
      case CSR.senvcfg:
        if (!this.stateenAllows(0, MSTATEEN0_ENVCFG_HI)) return false;
        lo = this.senvcfgLo;
        break;
      case CSR.stimecmp:
        // Sstc: below M-mode, only with menvcfg.STCE = 1 and mcounteren.TM = 1.
        if (!this.hasSstc || (this.priv !== PRV_M && (!this.stce || (this.mcounteren & COUNTEREN_TM) === 0))) return false;
        lo = this.stimecmpLo; hi = this.stimecmpHi;
        break;
      case CSR.sscratch: lo = c[12]; hi = c[13]; break;
      case CSR.sepc: lo = c[14]; hi = c[15]; break;
      case CSR.scause: lo = c[16]; hi = c[17]; break;
      case CSR.stval: lo = c[18]; hi = c[19]; break;
      case CSR.satp:
        if (this.priv === PRV_S && (this.mstatus & MSTATUS_TVM) !== 0) return false;
        lo = this.satpPpn | 0; hi = (Math.floor(this.satpPpn / TWO32) & 0xfff) | (this.satpAsid << 12) | (this.satpMode << 28);
        break;
      case CSR.mvendorid: case CSR.marchid: case CSR.mimpid: case CSR.mconfigptr: break;
      case CSR.mhartid: lo = this.hartId; break;
      case CSR.mstatus:
        lo = this.mstatus | (this.fs << MSTATUS_FS_SHIFT);
        hi = 0xa | (this.fs === 3 ? -0x80000000 : 0); // UXL=SXL=2, SD
        break;
      case CSR.misa: lo = this.misaExt; hi = -0x80000000; break; // MXL=2
      case CSR.medeleg: lo = this.medeleg; break;
      case CSR.mideleg: lo = this.mideleg; break;
      case CSR.mie: lo = this.mie; break;
      case CSR.mtvec: lo = c[0]; hi = c[1]; break;
      case CSR.mcounteren: lo = this.mcounteren; break;
      case CSR.menvcfg: lo = this.menvcfgLo; hi = this.menvcfgHi; break;
      case CSR.mcountinhibit: lo = this.mcountinhibit; break;
      case CSR.mscratch: lo = c[2]; hi = c[3]; break;
      case CSR.mepc: lo = c[4]; hi = c[5]; break;
      case CSR.mcause: lo = c[6]; hi = c[7]; break;
      case CSR.mtval: lo = c[8]; hi = c[9]; break;
      case CSR.mip: this.updateTimer(this.timeSource()); lo = this.mip; break; // Sstc: STIP as of now
      case CSR.mcycle: case CSR.minstret: {
        const v = n === CSR.mcycle ? this.mcycle() : this.minstret();
        lo = v | 0; hi = Math.floor(v / TWO32) | 0;
        break;
      }
      default:
        if (n >= CSR.pmpcfg0 && n <= CSR.pmpcfg15) {
          if ((n & 1) !== 0) return false; // odd pmpcfg CSRs do not exist on RV64
          const base = (n - CSR.pmpcfg0) * 4;
          if (base >= 16) break;
          const p = this.pmpcfg;
          lo = p[base] | (p[base + 1] << 8) | (p[base + 2] << 16) | (p[base + 3] << 24);
          hi = p[base + 4] | (p[base + 5] << 8) | (p[base + 6] << 16) | (p[base + 7] << 24);
        } else if (n >= CSR.pmpaddr0 && n <= CSR.pmpaddr63) {
          const k = n - CSR.pmpaddr0;
          if (k < 16) { lo = this.pmpaddr[2 * k]; hi = this.pmpaddr[2 * k + 1]; }
        } else if ((n >= CSR.mhpmcounter3 && n <= CSR.mhpmcounter31) || (n >= CSR.mhpmevent3 && n <= CSR.mhpmevent31)) {
          // Hardwired to zero (no extra performance counters).
        } else if (n >= CSR.hpmcounter3 && n <= CSR.hpmcounter31) {
          if (!this.counterAllowed(n - CSR.cycle)) return false;
        } else if (n >= CSR.mstateen0 && n <= CSR.mstateen3) {
          if (!this.hasSmstateen) return false;
          const k = n - CSR.mstateen0;
          lo = this.mstateen[2 * k]; hi = this.mstateen[2 * k + 1];
        } else if (n >= CSR.sstateen0 && n <= CSR.sstateen3) {
          // No state here is controlled by an sstateen bit: they read as zero, when accessible.
          if (!this.hasSstateen || !this.stateenAllows(n - CSR.sstateen0, MSTATEEN_SE_HI)) return false;
        } else if (n >= CSR.tselect && n <= CSR.tinfo) {
          // Sdtrig with no triggers: tselect is 0, tdata1 reads type 0 ("there is no trigger
          // at this tselect"), tdata2/3 read 0 and tinfo says only type 0 exists.
          if (!this.hasSdtrig) return false;
          if (n === CSR.tinfo) lo = TINFO_NO_TRIGGER;
        } else return false;
    }
    this.csrLo = lo; this.csrHi = hi;
    return true;
  }

  /**
   * Smstateen: whether the current mode may reach state gated by bit `hiBit` (high word) of
   * mstateen`k`. M-mode always may; without Smstateen nothing is gated.
   */
  private stateenAllows(k: number, hiBit: number): boolean {
    return this.priv === PRV_M || !this.hasSmstateen || (this.mstateen[2 * k + 1] & hiBit) !== 0;
  }

  private counterAllowed(bit: number): boolean {
    if (this.priv === PRV_M) return true;
    if (((this.mcounteren >>> bit) & 1) === 0) return false;
    return this.priv === PRV_S || ((this.scounteren >>> bit) & 1) !== 0;
  }

  minstret(): number { return (this.mcountinhibit & 4) !== 0 ? this.instretFrozen : wrap64(this.retired - this.instretBase); }
  mcycle(): number { return (this.mcountinhibit & 1) !== 0 ? this.cycleFrozen : wrap64(this.retired - this.cycleBase); }

  /**
   * Writes CSR `n` (already checked to exist, be writable and accessible). CSR instructions
   * end their block, so changes to translation or interrupt state apply to the next one.
   */
  csrWrite(n: number, lo: number, hi: number): void {
    const c = this.c64;
    switch (n) {
      case CSR.fflags: this.fflags = lo & 0x1f; this.fs = 3; break;
      case CSR.frm: this.frm = lo & 7; this.fs = 3; break;
      case CSR.fcsr: this.fflags = lo & 0x1f; this.frm = (lo >>> 5) & 7; this.fs = 3; break;
      case CSR.sstatus:
        this.writeMstatus((this.mstatus & ~SSTATUS_MASK) | (lo & SSTATUS_MASK), (lo >>> MSTATUS_FS_SHIFT) & 3);
        break;
      case CSR.sie: this.mie = (this.mie & ~this.mideleg) | (lo & this.mideleg & S_INTERRUPTS); break;
      case CSR.sip: {
        // Only SSIP is writable through sip, and only when delegated.
        const m = MIP_SSIP & this.mideleg;
        this.setMipSw((this.mipSw & ~m) | (lo & m));
        break;
      }
      case CSR.stvec: setTvec(c, 10, lo, hi); break;
      case CSR.scounteren: this.scounteren = lo & this.counterenMask; break;
      case CSR.senvcfg: this.senvcfgLo = envcfgWarl(this.senvcfgLo, lo, this.senvcfgMask); break;
      case CSR.stimecmp: this.setStimecmp(lo, hi); break;
      case CSR.sscratch: c[12] = lo; c[13] = hi; break;
      case CSR.sepc: c[14] = lo & ~1; c[15] = hi; break;
      case CSR.scause: c[16] = lo; c[17] = hi & -0x80000000; break;
      case CSR.stval: c[18] = lo; c[19] = hi; break;
      case CSR.satp: {
        const mode = hi >>> 28;
        if (mode !== 0 && mode !== 8 && mode !== 9) break; // unsupported MODE: the write has no effect
        this.satpMode = mode;
        this.satpAsid = (hi >>> 12) & 0xffff;
        this.satpPpn = (lo >>> 0) + (hi & 0xfff) * TWO32;
        this.flushTlb();
        break;
      }
      case CSR.mstatus: this.writeMstatus((this.mstatus & ~MSTATUS_WMASK) | (lo & MSTATUS_WMASK), (lo >>> MSTATUS_FS_SHIFT) & 3); break;
      case CSR.misa: break; // WARL: fixed
      case CSR.medeleg: this.medeleg = lo & MEDELEG_MASK; break;
      case CSR.mideleg: this.mideleg = lo & S_INTERRUPTS; break;
      case CSR.mie: this.mie = lo & (S_INTERRUPTS | MIP_MSIP | MIP_MTIP | MIP_MEIP); if ((this.mip & this.mie) !== 0) this.wfi = false; break;
      case CSR.mtvec: setTvec(c, 0, lo, hi); break;
      case CSR.mcounteren: this.mcounteren = lo & this.counterenMask; break;
      case CSR.menvcfg: {
        const oldHi = this.menvcfgHi;
        this.menvcfgLo = envcfgWarl(this.menvcfgLo, lo, this.menvcfgMaskLo);
        this.menvcfgHi = hi & this.menvcfgMaskHi;
        if (((oldHi ^ this.menvcfgHi) & (MENVCFG_PBMTE_HI | MENVCFG_ADUE_HI)) !== 0) this.flushTlb();
        if (((oldHi ^ this.menvcfgHi) & MENVCFG_STCE_HI) !== 0) {
          this.mipSstc = 0;
          this.updateMip();
          this.updateTimer(this.timeSource());
        }
        break;
      }
      case CSR.mcountinhibit: {
        const v = lo & 5;
        const ir = this.minstret(), cy = this.mcycle();
        this.mcountinhibit = v;
        this.setMinstret(ir, 0); this.setMcycle(cy, 0);
        break;
      }
      case CSR.mscratch: c[2] = lo; c[3] = hi; break;
      case CSR.mepc: c[4] = lo & ~1; c[5] = hi; break;
      case CSR.mcause: c[6] = lo; c[7] = hi & -0x80000000; break;
      case CSR.mtval: c[8] = lo; c[9] = hi; break;
      case CSR.mip: {
        // With Sstc on (STCE = 1), STIP is read-only: the write keeps the stored bit.
        const m = this.stce ? MIP_SSIP | MIP_SEIP : MIP_SSIP | MIP_STIP | MIP_SEIP;
        this.setMipSw((this.mipSw & ~m) | (lo & m));
        break;
      }
      // "Any CSR write takes effect after the writing instruction has otherwise completed":
      // the block loop counts this instruction afterwards, so store value - 1.
      case CSR.mcycle: this.setMcycle((lo >>> 0) + hi * TWO32, 1); break;
      case CSR.minstret: this.setMinstret((lo >>> 0) + hi * TWO32, 1); break;
      default:
        if (n >= CSR.pmpcfg0 && n <= CSR.pmpcfg15) {
          const base = (n - CSR.pmpcfg0) * 4;
          if (base >= 16) break;
          for (let k = 0; k < 8; k++) {
            if ((this.pmpcfg[base + k] & 0x80) !== 0) continue; // locked
            let b = (k < 4 ? lo >>> (8 * k) : hi >>> (8 * (k - 4))) & 0x9f;
            if ((b & 3) === 2) b &= ~3; // R=0,W=1 is reserved: keep it unusable
            this.pmpcfg[base + k] = b;
          }
        } else if (n >= CSR.pmpaddr0 && n <= CSR.pmpaddr63) {
          const k = n - CSR.pmpaddr0;
          if (k < 16 && (this.pmpcfg[k] & 0x80) === 0) { this.pmpaddr[2 * k] = lo; this.pmpaddr[2 * k + 1] = hi & 0x3fffff; }
        } else if (n >= CSR.mstateen0 && n <= CSR.mstateen3) {
          // WARL: bit 63 (SE: access to sstateenN) and, in mstateen0, ENVCFG (senvcfg) are
          // implemented; the other bits control state this hart does not have (read-only 0).
          const k = n - CSR.mstateen0;
          this.mstateen[2 * k] = 0;
          this.mstateen[2 * k + 1] = hi & (k === 0 ? MSTATEEN_SE_HI | MSTATEEN0_ENVCFG_HI : MSTATEEN_SE_HI);
        }
        // mhpmcounter*/mhpmevent*, sstateen*, trigger CSRs: hardwired (writes ignored).
    }
  }

  private setStimecmp(lo: number, hi: number): void {
    this.stimecmpLo = lo; this.stimecmpHi = hi;
    this.stimecmpValue = (hi >>> 0) * TWO32 + (lo >>> 0);
    // A new compare value lowers STIP at once when it lies in the future.
    if (this.stce) { this.mipSstc = 0; this.updateMip(); this.updateTimer(this.timeSource()); }
  }

  private setMinstret(v: number, adjust: number): void {
    if ((this.mcountinhibit & 4) !== 0) this.instretFrozen = v;
    else this.instretBase = this.retired - v + adjust;
  }

  private setMcycle(v: number, adjust: number): void {
    if ((this.mcountinhibit & 1) !== 0) this.cycleFrozen = v;
    else this.cycleBase = this.retired - v + adjust;
  }

  private writeMstatus(v: number, fs: number): void {
    const old = this.mstatus;
    // MPP is WARL: the reserved value 2 (H) becomes U.
    if (((v & MSTATUS_MPP) >>> MSTATUS_MPP_SHIFT) === 2) v &= ~MSTATUS_MPP;
    this.mstatus = v;
    this.fs = fs;
    if (((old ^ v) & MSTATUS_MXR) !== 0) this.flushTlb();
    if (((old ^ v) & (MSTATUS_MPRV | MSTATUS_MPP | MSTATUS_SUM)) !== 0) this.selectTlbs();
  }

  /** Whether the current privilege may access CSR `n` at all (priv spec 2.1: bits 9:8). */
  csrPrivOk(n: number): boolean {
    return ((n >>> 8) & 3) <= this.priv;
  }

  // =====================================================================================
  // xRET, WFI, SFENCE
  // =====================================================================================

  mret(): number {
    const s = this.mstatus;
    const mpp = (s & MSTATUS_MPP) >>> MSTATUS_MPP_SHIFT;
    let ns = (s & ~(MSTATUS_MIE | MSTATUS_MPP)) | ((s & MSTATUS_MPIE) !== 0 ? MSTATUS_MIE : 0) | MSTATUS_MPIE;
    if (mpp !== PRV_M) ns &= ~MSTATUS_MPRV;
    this.mstatus = ns;
    this.reservation = -1;
    this.setPriv(mpp);
    const c = this.c64;
    return pairToNumber(c[4], c[5]);
  }

  sret(): number {
    const s = this.mstatus;
    const spp = (s & MSTATUS_SPP) !== 0 ? PRV_S : PRV_U;
    this.mstatus = ((s & ~(MSTATUS_SIE | MSTATUS_SPP | MSTATUS_MPRV)) | ((s & MSTATUS_SPIE) !== 0 ? MSTATUS_SIE : 0)) | MSTATUS_SPIE;
    this.reservation = -1;
    this.setPriv(spp);
    const c = this.c64;
    return pairToNumber(c[14], c[15]);
  }

  /** TSR/TW/TVM checks (priv spec 3.1.6.5). */
  get tsr(): boolean { return this.priv === PRV_S && (this.mstatus & MSTATUS_TSR) !== 0; }
  get tw(): boolean { return this.priv !== PRV_M && (this.mstatus & MSTATUS_TW) !== 0; }
  get tvm(): boolean { return this.priv === PRV_S && (this.mstatus & MSTATUS_TVM) !== 0; }

  // =====================================================================================
  // The interpreter loop
  // =====================================================================================

  /**
   * Runs up to about `budget` instructions (it stops at block ends). Returns the number of
   * instructions executed (traps count as one). Stops early on WFI or when `stopped`.
   */
  run(budget: number): number {
    return this.jit === null ? this.runInterpreter(budget) : this.runJit(budget);
  }

  /**
   * The interpreter alone (no JIT, or a hart without a state slot): kept apart from runJit so
   * its loop stays as tight as before the JIT (callgrind on cpubench: the shared loop cost
   * ~9 host instructions per guest instruction more).
   */
  private runInterpreter(budget: number): number {
    let executed = 0;
    const code = this.code;
    let prev: Block | null = null;
    while (executed < budget && !this.wfi && !this.stopped) {
      if ((this.mip & this.mie) !== 0 && this.checkInterrupts()) prev = null;
      const start = this.pc;
      let i = 0;
      let blk: Block | null = null;
      try {
        const epoch = this.epoch;
        if (prev !== null && prev.succPc0 === start && prev.succEpoch0 === epoch) blk = prev.succ0;
        else if (prev !== null && prev.succPc1 === start && prev.succEpoch1 === epoch) blk = prev.succ1;
        if (blk === null) {
          blk = code.block(this, start);
          if (prev !== null) {
            // Keep the newest successor in slot 0, the previous one in slot 1.
            prev.succPc1 = prev.succPc0; prev.succ1 = prev.succ0; prev.succEpoch1 = prev.succEpoch0;
            prev.succPc0 = start; prev.succ0 = blk; prev.succEpoch0 = this.epoch;
          }
        }
        const insns = blk.insns, n = insns.length;
        const compiled = blk.compiled;
        if (compiled !== null) {
          i = -1; // a trap inside reports its index through trapIndex
          compiled(this);
        } else {
          for (; i < n; i++) {
            const d = insns[i];
            d.fn(this, d, 0);
          }
          if (++blk.hits === HOT_BLOCK) blk.compiled = compileBlock(insns);
        }
        // Control transfers wrote the next pc themselves; otherwise fall through.
        if (!blk.setsPc) this.pc = start + blk.bytes;
        this.retired += n;
        executed += n;
        prev = blk;
      } catch (e) {
        if (e !== TRAP) throw e;
        if (i < 0) i = this.trapIndex;
        this.retired += i;
        executed += i + 1;
        this.pc = start;
        const epc = blk === null ? start : start + blk.insns[i].off;
        // prev is the block that ran just before (null: unknown, e.g. at the start of a slice).
        if (prev !== null) this.noteTrap(i === 0 && endsWithXret(prev), epc);
        this.takeException(epc);
        prev = null;
      }
    }
    return executed;
  }

  /** The run loop with translated code: whole translated blocks run in the dispatcher, the rest interpreted. */
  private runJit(budget: number): number {
    let executed = 0;
    const code = this.code;
    const jit = this.jit as Jit;
    const st = this.st32;
    let prev: Block | null = null;
    while (executed < budget && !this.wfi && !this.stopped) {
      if ((this.mip & this.mie) !== 0 && this.checkInterrupts()) prev = null;
      const start = this.pc;
      let i = 0;
      let blk: Block | null = null;
      try {
        const epoch = this.epoch;
        if (prev !== null && prev.succPc0 === start && prev.succEpoch0 === epoch) blk = prev.succ0;
        else if (prev !== null && prev.succPc1 === start && prev.succEpoch1 === epoch) blk = prev.succ1;
        if (blk === null) {
          // (With threshold 1, code.block translates a block as it decodes it.)
          blk = code.block(this, start);
          if (prev !== null) {
            // Keep the newest successor in slot 0, the previous one in slot 1.
            prev.succPc1 = prev.succPc0; prev.succ1 = prev.succ0; prev.succEpoch1 = prev.succEpoch0;
            prev.succPc0 = start; prev.succ0 = blk; prev.succEpoch0 = this.epoch;
          }
        }
        const insns = blk.insns, n = insns.length;
        if (blk.jitIndex >= 0) {
          if (blk.jitLen === n) {
            // A whole translated block, and the translated blocks it chains to.
            const r = jit.enter(this, blk, start, Math.min(budget - executed, JIT_MAX_BUDGET));
            const count = st[ST_COUNT >>> 2];
            this.retired += count;
            executed += count;
            const pc = pairToNumber(st[ST_PC >>> 2], st[(ST_PC >>> 2) + 1]);
            if (r >= 0) {
              // The slow path recorded the exception; pc is the trapping block's start.
              executed++;
              this.pc = pc;
              if (prev !== null || count > 0) this.noteTrap(count === 0 && prev !== null && endsWithXret(prev), pc + r);
              this.takeException(pc + r);
            } else this.pc = pc;
            prev = null;
            continue;
          }
          // A translated prefix, then the rest of the block interpreted.
          if (jit.enter(this, blk, start, 0) >= 0) { i = st[ST_COUNT >>> 2]; throw TRAP; }
          i = blk.jitLen;
          for (; i < n; i++) {
            const d = insns[i];
            d.fn(this, d, 0);
          }
        } else {
          const compiled = blk.compiled;
          if (compiled !== null) {
            i = -1; // a trap inside reports its index through trapIndex
            compiled(this);
          } else {
            for (; i < n; i++) {
              const d = insns[i];
              d.fn(this, d, 0);
            }
          }
          const hits = ++blk.hits;
          if (hits === HOT_BLOCK && compiled === null) blk.compiled = compileBlock(insns);
          if (hits === this.jitHot) jit.enqueue(blk, this.retired);
        }
        // Control transfers wrote the next pc themselves; otherwise fall through.
        if (!blk.setsPc) this.pc = start + blk.bytes;
        this.retired += n;
        executed += n;
        prev = blk;
      } catch (e) {
        if (e !== TRAP) throw e;
        if (i < 0) i = this.trapIndex;
        this.retired += i;
        executed += i + 1;
        this.pc = start;
        const epc = blk === null ? start : start + blk.insns[i].off;
        // prev is the block that ran just before (null: unknown, e.g. at the start of a slice).
        if (prev !== null) this.noteTrap(i === 0 && endsWithXret(prev), epc);
        this.takeException(epc);
        prev = null;
      }
    }
    jit.poll(this.retired);
    return executed;
  }

  private noteTrap(afterXret: boolean, epc: number): void {
    if (!afterXret) { this.noProgressTraps = 0; return; }
    if (epc === this.noProgressPc && this.excCause === this.noProgressCause && this.priv === this.noProgressPriv) this.noProgressTraps++;
    else { this.noProgressPc = epc; this.noProgressCause = this.excCause; this.noProgressPriv = this.priv; this.noProgressTraps = 1; }
  }

  // =====================================================================================
  // Snapshots
  // =====================================================================================

  saveState(): HartState {
    const csr: Record<string, number> = {
      fflags: this.fflags, frm: this.frm, fs: this.fs, mstatus: this.mstatus, medeleg: this.medeleg, mideleg: this.mideleg,
      mie: this.mie, mipSw: this.mipSw, mipHw: this.mipHw, mcounteren: this.mcounteren, scounteren: this.scounteren,
      mcountinhibit: this.mcountinhibit, menvcfg: this.menvcfgLo, senvcfg: this.senvcfgLo, satpMode: this.satpMode,
      satpAsid: this.satpAsid, satpPpn: this.satpPpn, retired: this.retired, instretBase: this.instretBase,
      cycleBase: this.cycleBase, instretFrozen: this.instretFrozen, cycleFrozen: this.cycleFrozen,
      reservation: this.reservation, wfi: this.wfi ? 1 : 0, stopped: this.stopped ? 1 : 0,
      menvcfgHi: this.menvcfgHi, stimecmpLo: this.stimecmpLo, stimecmpHi: this.stimecmpHi,
      mipSstc: this.mipSstc, noProgressTraps: this.noProgressTraps, noProgressPc: this.noProgressPc,
      noProgressCause: this.noProgressCause, noProgressPriv: this.noProgressPriv,
    };
    for (let k = 0; k < 20; k++) csr[`c64_${k}`] = this.c64[k];
    for (let k = 0; k < 8; k++) csr[`mstateen_${k}`] = this.mstateen[k];
    return {
      version: 3, x: Array.from(this.x.subarray(0, 64)), f: Array.from(this.fi), pc: this.pc, priv: this.priv, csr,
      pmpcfg: Array.from(this.pmpcfg), pmpaddr: Array.from(this.pmpaddr),
    };
  }

  loadState(s: HartState): void {
    if (s.version !== 1 && s.version !== 2 && s.version !== 3) throw new Error(`unsupported hart state version ${String(s.version)}`);
    this.x.set(s.x); this.x[64] = 0; this.x[65] = 0;
    this.fi.set(s.f);
    this.pc = s.pc;
    const c = s.csr;
    this.fflags = c.fflags; this.frm = c.frm; this.fs = c.fs; this.mstatus = c.mstatus; this.medeleg = c.medeleg;
    this.mideleg = c.mideleg; this.mie = c.mie; this.mipSw = c.mipSw; this.mipHw = c.mipHw; this.mip = this.mipHw | this.mipSw;
    this.mcounteren = c.mcounteren; this.scounteren = c.scounteren; this.mcountinhibit = c.mcountinhibit;
    this.menvcfgLo = c.menvcfg; this.senvcfgLo = c.senvcfg; this.satpMode = c.satpMode; this.satpAsid = c.satpAsid;
    this.satpPpn = c.satpPpn; this.retired = c.retired; this.instretBase = c.instretBase; this.cycleBase = c.cycleBase;
    this.instretFrozen = c.instretFrozen; this.cycleFrozen = c.cycleFrozen; this.reservation = c.reservation;
    this.wfi = c.wfi === 1; this.stopped = c.stopped === 1;
    for (let k = 0; k < 20; k++) this.c64[k] = c[`c64_${k}`];
    // Version 1 predates these CSRs: their reset values.
    const v2 = s.version >= 2, v3 = s.version >= 3;
    this.menvcfgHi = v2 ? c.menvcfgHi : 0;
    for (let k = 0; k < 8; k++) this.mstateen[k] = v2 ? c[`mstateen_${k}`] : 0;
    this.stimecmpLo = v2 ? c.stimecmpLo : TIMECMP_RESET;
    this.stimecmpHi = v2 ? c.stimecmpHi : TIMECMP_RESET;
    this.stimecmpValue = (this.stimecmpHi >>> 0) * TWO32 + (this.stimecmpLo >>> 0);
    this.mipSstc = v3 ? c.mipSstc & MIP_STIP : 0;
    this.noProgressTraps = v3 ? c.noProgressTraps : 0;
    this.noProgressPc = v3 ? c.noProgressPc : -1;
    this.noProgressCause = v3 ? c.noProgressCause : -1;
    this.noProgressPriv = v3 ? c.noProgressPriv : -1;
    this.updateMip();
    this.pmpcfg.set(s.pmpcfg); this.pmpaddr.set(s.pmpaddr);
    this.flushTlb();
    this.setPriv(s.priv);
  }

  // ---- conveniences for hosts and tests ----
  getX(r: number): number { return pairToNumber(this.x[2 * r], this.x[2 * r + 1]); }
  setX(r: number, v: number): void { if (r !== 0) setPair(this.x, 2 * r, v); }
  /** x register r as an unsigned 64-bit BigInt (tests and debugging only). */
  getXBig(r: number): bigint { return (BigInt(this.x[2 * r + 1] >>> 0) << 32n) | BigInt(this.x[2 * r] >>> 0); }
}

/**
 * A write of `v` to a menvcfg/senvcfg low word under `mask`. CBIE is WARL: the reserved
 * encoding 10 keeps the field's previous value.
 */
function envcfgWarl(old: number, v: number, mask: number): number {
  let r = v & mask;
  if ((mask & ENVCFG_CBIE) !== 0 && ((r & ENVCFG_CBIE) >>> ENVCFG_CBIE_SHIFT) === CBIE_RESERVED) r = (r & ~ENVCFG_CBIE) | (old & ENVCFG_CBIE);
  return r;
}

/** Picks the highest-priority interrupt in `bits`: MEI, MSI, MTI, SEI, SSI, STI. */
function pickInterrupt(bits: number): number {
  if (bits & MIP_MEIP) return 11;
  if (bits & MIP_MSIP) return 3;
  if (bits & MIP_MTIP) return 7;
  if (bits & MIP_SEIP) return 9;
  if (bits & MIP_SSIP) return 1;
  if (bits & MIP_STIP) return 5;
  return 31 - Math.clz32(bits);
}

function trapVector(lo: number, hi: number, interrupt: boolean, cause: number): number {
  const base = pairToNumber(lo & ~3, hi);
  return interrupt && (lo & 3) === 1 ? base + 4 * cause : base;
}

function setTvec(c: Int32Array, i: number, lo: number, hi: number): void {
  // MODE is WARL: only direct (0) and vectored (1); other values keep the old mode.
  const mode = (lo & 3) <= 1 ? lo & 3 : c[i] & 3;
  c[i] = (lo & ~3) | mode; c[i + 1] = hi;
}

/** Signed 64-bit value of a lo/hi pair as a double (exact below 2^53 in magnitude). */
/** MRET and SRET (privileged spec: fixed encodings). */
const MRET = 0x30200073, SRET = 0x10200073;

function endsWithXret(b: Block): boolean {
  const last = b.insns[b.insns.length - 1];
  return last !== undefined && (last.raw === MRET || last.raw === SRET);
}

export function pairToNumber(lo: number, hi: number): number {
  return hi * TWO32 + (lo >>> 0);
}

export function setPair(a: Int32Array, i: number, v: number): void {
  a[i] = v | 0; a[i + 1] = Math.floor(v / TWO32) | 0;
}

/** Counters are 64-bit: keep the double within [0, 2^64). */
function wrap64(v: number): number {
  return v < 0 ? v + 18446744073709551616 : v;
}

// Re-exported so instruction files need one import.
export { PRV_M, PRV_S, PRV_U, PAGE_CODE };
