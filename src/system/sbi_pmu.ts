// The SBI Performance Monitoring Unit extension (EID 0x504D55 "PMU", SBI spec v2.0 chapter 11)
// of the built-in firmware. Linux's perf_event_riscv_sbi driver probes it, lists the counters,
// stops them all and then grants U-mode access to time (and, in its legacy mode, cycle and
// instret) through scounteren; perf programs counters through it.
//
// Counters, as OpenSBI lists them on a hart whose hpmcounters read zero (rvisor's): logical
// counter 0 is cycle, 2 is instret (hardware, read by the kernel through their CSRs); 1 (time)
// is not a counter; 3..18 are the 16 firmware counters OpenSBI has, which count SBI events
// (set_timer, IPIs, remote fences) and are read with counter_fw_read.
import { CSR } from "../cpu/csr_numbers.js";
import type { Hart } from "../cpu/hart.js";

export const EXT_PMU = 0x504d55;

export const PMU_NUM_COUNTERS = 0, PMU_COUNTER_GET_INFO = 1, PMU_COUNTER_CONFIG_MATCHING = 2, PMU_COUNTER_START = 3;
export const PMU_COUNTER_STOP = 4, PMU_COUNTER_FW_READ = 5, PMU_COUNTER_FW_READ_HI = 6, PMU_SNAPSHOT_SET_SHMEM = 7;

/** event_idx[19:16]: the event type; [15:0]: the event code. */
export const PMU_EVENT_TYPE_HW = 0, PMU_EVENT_TYPE_FW = 0xf;
export const PMU_HW_CPU_CYCLES = 1, PMU_HW_INSTRUCTIONS = 2;

/** Firmware event codes (type 0xf) this SBI counts. */
export const PMU_FW_SET_TIMER = 5, PMU_FW_IPI_SENT = 6, PMU_FW_IPI_RECEIVED = 7;
export const PMU_FW_FENCE_I_SENT = 8, PMU_FW_FENCE_I_RECEIVED = 9;
export const PMU_FW_SFENCE_VMA_SENT = 10, PMU_FW_SFENCE_VMA_RECEIVED = 11;
export const PMU_FW_SFENCE_VMA_ASID_SENT = 12, PMU_FW_SFENCE_VMA_ASID_RECEIVED = 13;
/** The highest standard firmware event code (SBI v2.0: HFENCE_VVMA_ASID_RECEIVED). */
const PMU_FW_MAX_CODE = 21;

/** counter_config_matching flags. */
export const PMU_CFG_FLAG_SKIP_MATCH = 1 << 0, PMU_CFG_FLAG_CLEAR_VALUE = 1 << 1, PMU_CFG_FLAG_AUTO_START = 1 << 2;
/** counter_start / counter_stop flags. */
export const PMU_START_FLAG_SET_INIT_VALUE = 1 << 0, PMU_START_FLAG_INIT_SNAPSHOT = 1 << 1;
export const PMU_STOP_FLAG_RESET = 1 << 0, PMU_STOP_FLAG_TAKE_SNAPSHOT = 1 << 1;

/** counter_info: [11:0] CSR, [17:12] width - 1, [XLEN-1] type (1 = firmware). */
const CTR_INFO_WIDTH_SHIFT = 12;
const CTR_TYPE_FW_BIT = 2 ** 63;

export const PMU_CYCLE = 0, PMU_TIME = 1, PMU_INSTRET = 2, PMU_FIRST_FW = 3;
/** OpenSBI's SBI_PMU_FW_CTR_MAX. */
export const PMU_FW_COUNTERS = 16;
export const PMU_COUNTERS = PMU_FIRST_FW + PMU_FW_COUNTERS;

const SBI_ERR_NOT_SUPPORTED = -2, SBI_ERR_INVALID_PARAM = -3, SBI_ERR_ALREADY_STARTED = -7, SBI_ERR_ALREADY_STOPPED = -8;
const NO_EVENT = -1;
/** mcountinhibit's bit of each hardware counter (CY, IR). */
const INHIBIT_BIT = [1 << 0, 0, 1 << 2];

interface HartCounters {
  /** The event_idx each counter is configured for, or NO_EVENT. */
  event: number[];
  /** Firmware counters: running or not (hardware ones use mcountinhibit). */
  fwStarted: boolean[];
  fwValue: number[];
}

export interface SbiResult { error: number; value?: number }

/**
 * Per hart (by index), the counters the firmware keeps: null for a hart that never made a PMU
 * call. Hardware counters' values and run state are the hart's (mcycle, minstret, mcountinhibit).
 */
export interface SbiPmuState { version: 1; harts: (HartCounters | null)[] }

export class SbiPmu {
  private readonly harts = new Map<Hart, HartCounters>();

  private state(h: Hart): HartCounters {
    let s = this.harts.get(h);
    if (s === undefined) {
      s = { event: Array<number>(PMU_COUNTERS).fill(NO_EVENT), fwStarted: Array<boolean>(PMU_COUNTERS).fill(false), fwValue: Array<number>(PMU_COUNTERS).fill(0) };
      this.harts.set(h, s);
    }
    return s;
  }

  saveState(harts: readonly Hart[]): SbiPmuState {
    return {
      version: 1,
      harts: harts.map((h) => {
        const s = this.harts.get(h);
        return s === undefined ? null : { event: [...s.event], fwStarted: [...s.fwStarted], fwValue: [...s.fwValue] };
      }),
    };
  }

  loadState(state: SbiPmuState, harts: readonly Hart[]): void {
    const ok = (c: HartCounters | null): boolean => c === null ||
      (c.event.length === PMU_COUNTERS && c.fwStarted.length === PMU_COUNTERS && c.fwValue.length === PMU_COUNTERS);
    if (state.version !== 1 || state.harts.length !== harts.length || !state.harts.every(ok)) throw new Error("sbi pmu: incompatible state");
    this.harts.clear();
    state.harts.forEach((c, i) => {
      if (c !== null) this.harts.set(harts[i], { event: [...c.event], fwStarted: [...c.fwStarted], fwValue: [...c.fwValue] });
    });
  }

  /** A firmware event happened on hart `h`: every started firmware counter configured for it counts. */
  countFw(h: Hart, code: number): void {
    const s = this.harts.get(h);
    if (s === undefined) return;
    const event = (PMU_EVENT_TYPE_FW << 16) | code;
    for (let i = PMU_FIRST_FW; i < PMU_COUNTERS; i++) if (s.fwStarted[i] && s.event[i] === event) s.fwValue[i]++;
  }

  /** The counters selected by (counter_idx_base, counter_idx_mask); null when one does not exist. */
  private selected(base: number, mask: number): number[] | null {
    if (base < 0 || base >= PMU_COUNTERS) return null;
    const out: number[] = [];
    for (let i = 0; mask !== 0 && i < 64; i++, mask = Math.floor(mask / 2)) {
      if (mask % 2 === 0) continue;
      const c = base + i;
      if (c >= PMU_COUNTERS || c === PMU_TIME) return null;
      out.push(c);
    }
    return out;
  }

  private hwStarted(h: Hart, c: number): boolean { return (h.mcountinhibit & INHIBIT_BIT[c]) === 0; }

  private setInhibit(h: Hart, c: number, inhibit: boolean): void {
    const v = inhibit ? h.mcountinhibit | INHIBIT_BIT[c] : h.mcountinhibit & ~INHIBIT_BIT[c];
    h.csrWrite(CSR.mcountinhibit, v, 0);
  }

  private setValue(h: Hart, s: HartCounters, c: number, lo: number, hi: number): void {
    if (c >= PMU_FIRST_FW) s.fwValue[c] = (lo >>> 0) + (hi >>> 0) * 4294967296;
    else h.csrWrite(c === PMU_CYCLE ? CSR.mcycle : CSR.minstret, lo, hi);
  }

  private started(h: Hart, s: HartCounters, c: number): boolean { return c >= PMU_FIRST_FW ? s.fwStarted[c] : this.hwStarted(h, c); }

  private start(h: Hart, s: HartCounters, c: number): void {
    if (c >= PMU_FIRST_FW) s.fwStarted[c] = true; else this.setInhibit(h, c, false);
  }

  /** Can counter `c` count `event`? */
  private canCount(c: number, event: number): boolean {
    const type = event >>> 16, code = event & 0xffff;
    if (type === PMU_EVENT_TYPE_HW) return (code === PMU_HW_CPU_CYCLES && c === PMU_CYCLE) || (code === PMU_HW_INSTRUCTIONS && c === PMU_INSTRET);
    if (type === PMU_EVENT_TYPE_FW) return c >= PMU_FIRST_FW && code <= PMU_FW_MAX_CODE;
    return false; // cache and raw events: no hpmcounters to count them
  }

  /**
   * One PMU call: `a(i)` is argument register a_i as an unsigned number (a 64-bit value above
   * 2^53 is inexact, which no valid argument is), `aLo`/`aHi` its 32-bit halves.
   */
  call(h: Hart, fid: number, a: (i: number) => number, aLo: (i: number) => number, aHi: (i: number) => number): SbiResult {
    const s = this.state(h);
    switch (fid) {
      case PMU_NUM_COUNTERS: return { error: 0, value: PMU_COUNTERS };
      case PMU_COUNTER_GET_INFO: {
        const c = a(0);
        if (c >= PMU_COUNTERS || c === PMU_TIME) return { error: SBI_ERR_INVALID_PARAM };
        // Firmware counters: type bit only (the CSR and width fields are unused).
        if (c >= PMU_FIRST_FW) return { error: 0, value: CTR_TYPE_FW_BIT };
        return { error: 0, value: (CSR.cycle + c) | (63 << CTR_INFO_WIDTH_SHIFT) };
      }
      case PMU_COUNTER_CONFIG_MATCHING: {
        const set = this.selected(a(0), a(1));
        if (set === null || set.length === 0) return { error: SBI_ERR_INVALID_PARAM };
        const flags = aLo(2), event = a(3);
        let c: number | undefined;
        if ((flags & PMU_CFG_FLAG_SKIP_MATCH) !== 0) {
          // The caller names the counter (counter_idx_base) it configured before.
          c = a(0);
          if (s.event[c] === NO_EVENT) return { error: SBI_ERR_INVALID_PARAM };
        } else {
          c = set.find((x) => s.event[x] === NO_EVENT && this.canCount(x, event));
          if (c === undefined) return { error: SBI_ERR_NOT_SUPPORTED };
          s.event[c] = event;
        }
        if ((flags & PMU_CFG_FLAG_CLEAR_VALUE) !== 0) this.setValue(h, s, c, 0, 0);
        if ((flags & PMU_CFG_FLAG_AUTO_START) !== 0) this.start(h, s, c);
        return { error: 0, value: c };
      }
      case PMU_COUNTER_START: {
        const set = this.selected(a(0), a(1));
        if (set === null || set.some((c) => s.event[c] === NO_EVENT)) return { error: SBI_ERR_INVALID_PARAM };
        const flags = aLo(2);
        if ((flags & PMU_START_FLAG_INIT_SNAPSHOT) !== 0) return { error: SBI_ERR_NOT_SUPPORTED }; // no snapshot shmem
        let error = 0;
        for (const c of set) {
          if (this.started(h, s, c)) { error = SBI_ERR_ALREADY_STARTED; continue; }
          if ((flags & PMU_START_FLAG_SET_INIT_VALUE) !== 0) this.setValue(h, s, c, aLo(3), aHi(3));
          this.start(h, s, c);
        }
        return { error };
      }
      case PMU_COUNTER_STOP: {
        const set = this.selected(a(0), a(1));
        if (set === null) return { error: SBI_ERR_INVALID_PARAM };
        const flags = aLo(2);
        if ((flags & PMU_STOP_FLAG_TAKE_SNAPSHOT) !== 0) return { error: SBI_ERR_NOT_SUPPORTED };
        let error = 0;
        for (const c of set) {
          if (!this.started(h, s, c)) error = SBI_ERR_ALREADY_STOPPED;
          else if (c >= PMU_FIRST_FW) s.fwStarted[c] = false;
          else this.setInhibit(h, c, true);
          if ((flags & PMU_STOP_FLAG_RESET) !== 0) s.event[c] = NO_EVENT; // the counter is free again
        }
        return { error };
      }
      case PMU_COUNTER_FW_READ: {
        const c = a(0);
        if (c < PMU_FIRST_FW || c >= PMU_COUNTERS || s.event[c] === NO_EVENT) return { error: SBI_ERR_INVALID_PARAM };
        return { error: 0, value: s.fwValue[c] };
      }
      case PMU_COUNTER_FW_READ_HI: {
        const c = a(0);
        if (c < PMU_FIRST_FW || c >= PMU_COUNTERS || s.event[c] === NO_EVENT) return { error: SBI_ERR_INVALID_PARAM };
        return { error: 0, value: 0 }; // "always returns zero in a.value for RV64 or higher systems"
      }
      case PMU_SNAPSHOT_SET_SHMEM: return { error: SBI_ERR_NOT_SUPPORTED }; // optional; OpenSBI on QEMU has none either
      default: return { error: SBI_ERR_NOT_SUPPORTED };
    }
  }
}
