// rvisor's built-in SBI firmware (RISC-V SBI spec v2.0): the machine starts the kernel in
// S-mode and this host-side code answers its ECALLs, so no M-mode firmware runs at all.
// Implemented: Base, TIME, IPI (sPI), RFENCE, HSM, SRST, PMU (sbi_pmu.ts), DBCN (debug console)
// and the legacy extensions (set_timer, console putchar/getchar, IPIs, fences, shutdown).
//
// The set is what Debian's OpenSBI (trixie's 1.6) offers on QEMU's virt board: "Runtime SBI
// Version 2.0; Standard SBI Extensions: ipi,pmu,srst,hsm,rfnc,time,base,legacy,dbcn". It has no
// SUSP (no system suspend device), CPPC, NACL or STA (those need a platform driver or the H
// extension) either, so probe_extension answers 0 for them, as it does for FWFT, SSE and DBTR,
// which OpenSBI 1.6 calls experimental and Linux 6.12 does not use.
//
// Timer: the CLINT's timer line for each hart is wired to STIP instead of MTIP, so
// sbi_set_timer(t) is a write of mtimecmp (which lowers the line until mtime >= t).
import { CSR, Cause, MIP_SSIP, PRV_S } from "../cpu/csr_numbers.js";
import { ACCESS_LOAD, type Hart } from "../cpu/hart.js";
import {
  EXT_PMU, PMU_FW_FENCE_I_RECEIVED, PMU_FW_FENCE_I_SENT, PMU_FW_IPI_RECEIVED, PMU_FW_IPI_SENT, PMU_FW_SET_TIMER,
  PMU_FW_SFENCE_VMA_ASID_RECEIVED, PMU_FW_SFENCE_VMA_ASID_SENT, PMU_FW_SFENCE_VMA_RECEIVED, PMU_FW_SFENCE_VMA_SENT, SbiPmu,
  type SbiPmuState,
} from "./sbi_pmu.js";
import { setSupervisorEnvcfg } from "./sbi_envcfg.js";

export const SBI_SUCCESS = 0, SBI_ERR_FAILED = -1, SBI_ERR_NOT_SUPPORTED = -2, SBI_ERR_INVALID_PARAM = -3;
export const SBI_ERR_ALREADY_AVAILABLE = -6, SBI_ERR_ALREADY_STARTED = -7, SBI_ERR_ALREADY_STOPPED = -8;

export const EXT_BASE = 0x10, EXT_TIME = 0x54494d45, EXT_IPI = 0x735049, EXT_RFENCE = 0x52464e43;
export const EXT_HSM = 0x48534d, EXT_SRST = 0x53525354, EXT_DBCN = 0x4442434e;
export { EXT_PMU };
/** Extensions of SBI v2.0 (and later) that this firmware does not implement, as OpenSBI on QEMU does not. */
export const EXT_SUSP = 0x53555350, EXT_CPPC = 0x43505043, EXT_NACL = 0x4e41434c, EXT_STA = 0x535441;
export const EXT_FWFT = 0x46574654, EXT_SSE = 0x535345, EXT_DBTR = 0x44425452;
const DBCN_CONSOLE_WRITE = 0, DBCN_CONSOLE_READ = 1, DBCN_CONSOLE_WRITE_BYTE = 2;
const RFENCE_FENCE_I = 0, RFENCE_SFENCE_VMA = 1, RFENCE_SFENCE_VMA_ASID = 2;
const LEGACY_SET_TIMER = 0, LEGACY_PUTCHAR = 1, LEGACY_GETCHAR = 2, LEGACY_CLEAR_IPI = 3, LEGACY_SEND_IPI = 4;
const LEGACY_FENCE_I = 5, LEGACY_SFENCE_VMA = 6, LEGACY_SFENCE_VMA_ASID = 7, LEGACY_SHUTDOWN = 8;

/** SBI implementation ID for rvisor (not in the registry; chosen outside the assigned range). */
export const SBI_IMPL_ID = 0x7276;
/** spec_version: major in [30:24], minor in [23:0]. v2.0, as OpenSBI 1.6 reports. */
export const SBI_SPEC_VERSION = 2 << 24;

const HSM_STARTED = 0, HSM_STOPPED = 1;

export interface SbiPlatform {
  harts: readonly Hart[];
  setTimer(hart: number, mtimecmp: number): void;
  consolePutchar(ch: number): void;
  /** Several bytes at once (DBCN console_write); default: consolePutchar for each. */
  consoleWrite?(bytes: Uint8Array): void;
  /** A byte of console input, or -1. */
  consoleGetchar(): number;
  /** SRST / legacy shutdown. */
  reset(kind: "poweroff" | "reboot", reason: number): void;
}

/**
 * The firmware's own state. HSM states are the harts' (`stopped`, `wfi` for a retentive
 * suspend), the timers are the CLINT's mtimecmp: both are saved with those.
 */
export interface SbiState { version: 1; pmu: SbiPmuState }

export class Sbi {
  readonly pmu = new SbiPmu();

  saveState(): SbiState { return { version: 1, pmu: this.pmu.saveState(this.p.harts) }; }

  loadState(s: SbiState): void {
    if (s.version !== 1) throw new Error("sbi: incompatible state");
    this.pmu.loadState(s.pmu, this.p.harts);
  }

  constructor(private readonly p: SbiPlatform) {
    for (const h of p.harts) h.trapHook = (hart, cause, pc, interrupt) => this.onTrap(hart, cause, pc, interrupt);
  }

  /** Puts every hart in the state OpenSBI leaves it in before jumping to the kernel. */
  boot(entry: number, dtb: number, bootHart = 0): void {
    for (const h of this.p.harts) {
      prepareForSupervisor(h);
      h.stopped = h.hartId !== bootHart;
      if (!h.stopped) this.enter(h, entry, dtb);
    }
  }

  private enter(h: Hart, pc: number, a1: number): void {
    h.setX(10, h.hartId);
    h.setX(11, a1);
    h.satpMode = 0;
    h.setPriv(PRV_S);
    h.flushTlb();
    h.pc = pc;
    h.stopped = false;
    h.wfi = false;
  }

  private onTrap(h: Hart, cause: number, pc: number, interrupt: boolean): boolean {
    if (interrupt || cause !== Cause.EcallS) return false;
    const eid = h.getX(17) >>> 0, fid = h.getX(16) >>> 0;
    const r = this.call(h, eid, fid);
    h.setX(10, r.error);
    if (r.value !== undefined) h.setX(11, r.value);
    h.pc = pc + 4; // resume after the ECALL (a stopped hart restarts at its HSM start address)
    return true;
  }

  private arg(h: Hart, i: number): number { return h.getX(10 + i); }
  private argU(h: Hart, i: number): number { const lo = h.x[2 * (10 + i)] >>> 0, hi = h.x[2 * (10 + i) + 1] >>> 0; return hi * 4294967296 + lo; }

  /** Harts selected by (hart_mask, hart_mask_base); base -1 means all harts. */
  private targets(h: Hart): Hart[] | null {
    const mask = this.argU(h, 0), base = this.arg(h, 1);
    const harts = this.p.harts;
    if (base === -1) return [...harts];
    const out: Hart[] = [];
    for (let i = 0; i < 64; i++) {
      if (Math.floor(mask / 2 ** i) % 2 === 0) continue;
      const id = base + i;
      if (id < 0 || id >= harts.length) return null;
      out.push(harts[id]);
    }
    return out;
  }

  private call(h: Hart, eid: number, fid: number): { error: number; value?: number } {
    const p = this.p;
    switch (eid) {
      case EXT_BASE:
        switch (fid) {
          case 0: return { error: 0, value: SBI_SPEC_VERSION };
          case 1: return { error: 0, value: SBI_IMPL_ID };
          case 2: return { error: 0, value: 1 };
          case 3: {
            const ext = this.argU(h, 0);
            const known = [EXT_BASE, EXT_TIME, EXT_IPI, EXT_RFENCE, EXT_HSM, EXT_SRST, EXT_PMU, EXT_DBCN, 0, 1, 2, 3, 4, 5, 6, 7, 8];
            return { error: 0, value: known.includes(ext) ? 1 : 0 };
          }
          case 4: case 5: case 6: return { error: 0, value: 0 }; // mvendorid, marchid, mimpid
          default: return { error: SBI_ERR_NOT_SUPPORTED };
        }
      case EXT_TIME:
        if (fid !== 0) return { error: SBI_ERR_NOT_SUPPORTED };
        this.setTimer(h);
        return { error: 0 };
      case EXT_IPI: {
        if (fid !== 0) return { error: SBI_ERR_NOT_SUPPORTED };
        const t = this.targets(h);
        if (t === null) return { error: SBI_ERR_INVALID_PARAM };
        for (const o of t) this.sendIpi(h, o);
        return { error: 0 };
      }
      case EXT_RFENCE: {
        if (fid > 6) return { error: SBI_ERR_NOT_SUPPORTED };
        const t = this.targets(h);
        if (t === null) return { error: SBI_ERR_INVALID_PARAM };
        // fid 0 = FENCE.I: decoded code is kept coherent with every store, nothing to do.
        // fid 1, 2 = SFENCE.VMA (with ASID); 3-6 are hypervisor fences (no H extension here).
        if (fid >= 3) return { error: SBI_ERR_NOT_SUPPORTED };
        for (const o of t) this.remoteFence(h, o, fid);
        return { error: 0 };
      }
      case EXT_HSM: return this.hsm(h, fid);
      case EXT_PMU: return this.pmu.call(h, fid, (i) => this.argU(h, i), (i) => h.x[2 * (10 + i)], (i) => h.x[2 * (10 + i) + 1]);
      case EXT_DBCN: return this.dbcn(h, fid);
      case EXT_SRST: {
        if (fid !== 0) return { error: SBI_ERR_NOT_SUPPORTED };
        const type = this.argU(h, 0), reason = this.argU(h, 1);
        if (type > 2) return { error: SBI_ERR_INVALID_PARAM };
        p.reset(type === 0 ? "poweroff" : "reboot", reason);
        for (const o of p.harts) o.stopped = true;
        return { error: 0 };
      }
      // ---- legacy extensions (SBI v0.1): a0 is the return value ----
      case LEGACY_SET_TIMER: this.setTimer(h); return { error: 0 };
      case LEGACY_PUTCHAR: p.consolePutchar(this.arg(h, 0) & 0xff); return { error: 0 };
      case LEGACY_GETCHAR: return { error: p.consoleGetchar() };
      case LEGACY_CLEAR_IPI: h.setSoftwarePending(MIP_SSIP, false); return { error: 0 };
      case LEGACY_SEND_IPI: case LEGACY_FENCE_I: case LEGACY_SFENCE_VMA: case LEGACY_SFENCE_VMA_ASID: {
        // a0 points to a hart mask in S-mode virtual memory (0 = all harts).
        const ptr = this.argU(h, 0);
        let mask = 0;
        if (ptr === 0) mask = (2 ** p.harts.length) - 1;
        else {
          // Translated as the caller (S-mode) would see it; a bad pointer is an invalid parameter.
          let pa: number;
          try { pa = h.translate(ptr | 0, Math.floor(ptr / 4294967296) | 0, ACCESS_LOAD, PRV_S); } catch { return { error: SBI_ERR_INVALID_PARAM }; }
          if (!h.ram.contains(pa, 8)) return { error: SBI_ERR_INVALID_PARAM };
          mask = h.ram.read64(pa);
        }
        for (let i = 0; i < p.harts.length; i++) {
          if (Math.floor(mask / 2 ** i) % 2 === 0) continue;
          if (eid === LEGACY_SEND_IPI) this.sendIpi(h, p.harts[i]);
          else this.remoteFence(h, p.harts[i], eid === LEGACY_FENCE_I ? RFENCE_FENCE_I : eid === LEGACY_SFENCE_VMA ? RFENCE_SFENCE_VMA : RFENCE_SFENCE_VMA_ASID);
        }
        return { error: 0 };
      }
      case LEGACY_SHUTDOWN:
        p.reset("poweroff", 0);
        for (const o of p.harts) o.stopped = true;
        return { error: 0 };
      default:
        return { error: SBI_ERR_NOT_SUPPORTED };
    }
  }

  private setTimer(h: Hart): void {
    this.pmu.countFw(h, PMU_FW_SET_TIMER);
    this.p.setTimer(h.hartId, this.argU(h, 0));
  }

  private sendIpi(from: Hart, to: Hart): void {
    this.pmu.countFw(from, PMU_FW_IPI_SENT);
    this.pmu.countFw(to, PMU_FW_IPI_RECEIVED);
    to.setSoftwarePending(MIP_SSIP, true);
  }

  /** RFENCE fid 0-2 on hart `to`. FENCE.I needs no work: decoded code is kept coherent with every store. */
  private remoteFence(from: Hart, to: Hart, fid: number): void {
    const [sent, received] = fid === RFENCE_FENCE_I ? [PMU_FW_FENCE_I_SENT, PMU_FW_FENCE_I_RECEIVED]
      : fid === RFENCE_SFENCE_VMA ? [PMU_FW_SFENCE_VMA_SENT, PMU_FW_SFENCE_VMA_RECEIVED]
        : [PMU_FW_SFENCE_VMA_ASID_SENT, PMU_FW_SFENCE_VMA_ASID_RECEIVED];
    this.pmu.countFw(from, sent);
    this.pmu.countFw(to, received);
    if (fid !== RFENCE_FENCE_I) to.flushTlb();
  }

  /**
   * Debug Console (SBI v2.0 chapter 12). console_write/console_read take (num_bytes,
   * base_addr_lo, base_addr_hi): a *physical* buffer; on RV64 base_addr_hi must be 0. They
   * return the bytes transferred (read does not wait: 0 when no input is pending).
   */
  private dbcn(h: Hart, fid: number): { error: number; value?: number } {
    const p = this.p;
    if (fid === DBCN_CONSOLE_WRITE_BYTE) { p.consolePutchar(this.arg(h, 0) & 0xff); return { error: 0, value: 0 }; }
    if (fid !== DBCN_CONSOLE_WRITE && fid !== DBCN_CONSOLE_READ) return { error: SBI_ERR_NOT_SUPPORTED };
    const n = this.argU(h, 0), pa = this.argU(h, 1), hi = this.argU(h, 2);
    if (hi !== 0 || !h.ram.contains(pa, Math.max(n, 1))) return { error: SBI_ERR_INVALID_PARAM };
    if (fid === DBCN_CONSOLE_WRITE) {
      const bytes = h.ram.read(pa, n);
      if (p.consoleWrite !== undefined) p.consoleWrite(bytes); else for (const b of bytes) p.consolePutchar(b);
      return { error: 0, value: n };
    }
    const got: number[] = [];
    while (got.length < n) { const c = p.consoleGetchar(); if (c < 0) break; got.push(c); }
    if (got.length > 0) h.ram.write(pa, Uint8Array.from(got));
    return { error: 0, value: got.length };
  }

  private hsm(h: Hart, fid: number): { error: number; value?: number } {
    const harts = this.p.harts;
    switch (fid) {
      case 0: { // hart_start(hartid, start_addr, opaque)
        const id = this.argU(h, 0);
        if (id >= harts.length) return { error: SBI_ERR_INVALID_PARAM };
        const t = harts[id];
        if (!t.stopped) return { error: SBI_ERR_ALREADY_AVAILABLE };
        prepareForSupervisor(t);
        this.enter(t, this.argU(h, 1), this.argU(h, 2));
        return { error: 0 };
      }
      case 1: // hart_stop
        h.stopped = true;
        return { error: 0 };
      case 2: { // hart_get_status
        const id = this.argU(h, 0);
        if (id >= harts.length) return { error: SBI_ERR_INVALID_PARAM };
        return { error: 0, value: harts[id].stopped ? HSM_STOPPED : HSM_STARTED };
      }
      case 3: { // hart_suspend(type, resume_addr, opaque): default retentive suspend = WFI
        const type = this.argU(h, 0);
        if (type !== 0) return { error: SBI_ERR_NOT_SUPPORTED };
        if ((h.mip & h.mie) === 0) h.wfi = true;
        return { error: 0 };
      }
      default: return { error: SBI_ERR_NOT_SUPPORTED };
    }
  }
}

/** M-mode set-up OpenSBI performs before entering S-mode: delegation and counter access. */
function prepareForSupervisor(h: Hart): void {
  // Delegate every exception S-mode can handle (all but ECALL from S/M).
  h.csrWrite(0x302, (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) |
    (1 << 8) | (1 << 12) | (1 << 13) | (1 << 15), 0);
  h.csrWrite(0x303, (1 << 1) | (1 << 5) | (1 << 9), 0); // mideleg: SSI, STI, SEI
  // Counter access as OpenSBI's mstatus_init grants it: mcounteren and scounteren all ones
  // (cycle, time, instret; no hpmcounters here). Linux 6.1 writes scounteren only from its SBI
  // PMU driver, so without this U-mode rdtime/rdcycle/rdinstret (vDSO clock_gettime, dd) trap.
  h.csrWrite(CSR.mcounteren, -1, -1);
  h.csrWrite(CSR.scounteren, -1, -1);
  h.csrWrite(0x304, 0, 0); // mie: S-mode enables its own via sie
  setSupervisorEnvcfg(h); // menvcfg/mstateen0 for Sstc, Svpbmt, Svadu, Zicbo*, Smstateen
  h.fs = 1; // FPU available (mstatus.FS = Initial)
}
