// Goldfish RTC ("google,goldfish-rtc") as on QEMU's virt board at 0x0010_1000, IRQ 11.
// Time is nanoseconds of host wall-clock time plus a guest-set offset. The 64-bit values
// exceed 2^53, so this device uses BigInt: it is read a few times per boot, not per insn.
import type { AccessWidth, Device, IrqLine, Stateful } from "../../memory/device.js";
import type { FdtBuilder } from "../fdt.js";
import { regCells } from "../fdt.js";

export const RTC_BASE = 0x0010_1000;
export const RTC_SIZE = 0x1000;
export const RTC_IRQ = 11;

const TIME_LOW = 0x00, TIME_HIGH = 0x04, ALARM_LOW = 0x08, ALARM_HIGH = 0x0c, IRQ_ENABLED = 0x10;
const CLEAR_ALARM = 0x14, ALARM_STATUS = 0x18, CLEAR_INTERRUPT = 0x1c;
const LOW = 0xffff_ffffn;
const HIGH = LOW << 32n;

/**
 * Version 2 saves the guest's time itself (`timeNs`, as QEMU's goldfish_rtc pre_save does with
 * its tick offset): a restore continues the RTC from the snapshot's instant, in step with mtime,
 * instead of jumping to the host's present. Version 1 saved the offset from host time (`offsetNs`).
 * 64-bit nanosecond values are decimal strings (they exceed 2^53).
 */
export interface RtcState {
  version: 1 | 2; offsetNs?: string; timeNs?: string; timeHigh: number; alarmNext: string; alarmRunning: boolean;
  irqPending: boolean; irqEnabled: boolean;
}

export class GoldfishRtc implements Device, Stateful<RtcState> {
  private offsetNs = 0n; // guest time = host wall-clock ns + offsetNs
  private timeHigh = 0; // latched by reading TIME_LOW
  private alarmNext = 0n;
  private alarmRunning = false;
  private irqPending = false;
  private irqEnabled = false;
  private irqLevel = false;

  /** @param wallClockMs host wall-clock milliseconds since the Unix epoch (e.g. Date.now). */
  constructor(private readonly irq: IrqLine, private readonly wallClockMs: () => number) {}

  /** Guest time in nanoseconds since the epoch. */
  nowNs(): bigint {
    const ms = this.wallClockMs();
    const whole = Math.floor(ms);
    return BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1e6)) + this.offsetNs;
  }

  /** Fires the alarm when its time has come. */
  tick(): void {
    if (this.alarmRunning && this.nowNs() >= this.alarmNext) this.fire();
  }

  /** Host milliseconds until the alarm fires, or Infinity. */
  nextDeadline(): number {
    if (!this.alarmRunning) return Infinity;
    const d = this.alarmNext - this.nowNs();
    return d <= 0n ? 0 : Number(d) / 1e6;
  }

  read(offset: number, _width: AccessWidth): number {
    switch (offset) {
      case TIME_LOW: {
        const t = this.nowNs();
        this.timeHigh = Number(t >> 32n); // "reading TIME_LOW latches TIME_HIGH"
        return Number(t & LOW);
      }
      case TIME_HIGH: return this.timeHigh;
      case ALARM_LOW: return Number(this.alarmNext & LOW);
      case ALARM_HIGH: return Number(this.alarmNext >> 32n);
      case IRQ_ENABLED: return this.irqEnabled ? 1 : 0;
      case ALARM_STATUS: return this.alarmRunning ? 1 : 0;
      default: return 0;
    }
  }

  write(offset: number, _width: AccessWidth, value: number): void {
    const v = BigInt(value >>> 0);
    switch (offset) {
      case TIME_LOW:
      case TIME_HIGH: { // setting either half moves the offset
        const now = this.nowNs();
        const next = offset === TIME_LOW ? (now & HIGH) | v : (now & LOW) | (v << 32n);
        this.offsetNs += next - now;
        return;
      }
      case ALARM_LOW: // Linux writes ALARM_HIGH, then ALARM_LOW, which arms the alarm.
        this.alarmNext = (this.alarmNext & HIGH) | v;
        if (this.alarmNext <= this.nowNs()) this.fire(); else this.alarmRunning = true;
        return;
      case ALARM_HIGH: this.alarmNext = (this.alarmNext & LOW) | (v << 32n); return;
      case IRQ_ENABLED: this.irqEnabled = (value & 1) !== 0; this.update(); return;
      case CLEAR_ALARM: this.alarmRunning = false; return;
      case CLEAR_INTERRUPT: this.irqPending = false; this.update(); return;
      default: return;
    }
  }

  private fire(): void {
    this.alarmRunning = false;
    this.irqPending = true;
    this.update();
  }

  private update(): void {
    const level = this.irqPending && this.irqEnabled;
    if (level !== this.irqLevel) { this.irqLevel = level; this.irq.set(level); }
  }

  saveState(): RtcState {
    return {
      version: 2, timeNs: this.nowNs().toString(), timeHigh: this.timeHigh, alarmNext: this.alarmNext.toString(),
      alarmRunning: this.alarmRunning, irqPending: this.irqPending, irqEnabled: this.irqEnabled,
    };
  }

  loadState(s: RtcState): void {
    const time = s.version === 2 ? s.timeNs : s.version === 1 ? s.offsetNs : undefined;
    if (time === undefined || !/^-?\d+$/.test(time)) throw new Error("goldfish_rtc: incompatible state");
    // Version 2: guest time continues from the snapshot's; version 1: the saved offset from host time.
    this.offsetNs = s.version === 2 ? BigInt(time) - (this.nowNs() - this.offsetNs) : BigInt(time);
    this.timeHigh = s.timeHigh;
    this.alarmNext = BigInt(s.alarmNext);
    this.alarmRunning = s.alarmRunning;
    this.irqPending = s.irqPending;
    this.irqEnabled = s.irqEnabled;
    this.irqLevel = this.irqPending && this.irqEnabled;
    this.irq.set(this.irqLevel);
  }
}

/** Writes `rtc@<base>` as QEMU virt does. */
export function rtcFdt(fdt: FdtBuilder, base: number, size: number, irq: number, plicPhandle: number): void {
  fdt.beginNode(`rtc@${base.toString(16)}`);
  fdt.propString("compatible", "google,goldfish-rtc");
  fdt.propCells("reg", regCells(base, size));
  fdt.propU32("interrupt-parent", plicPhandle);
  fdt.propU32("interrupts", irq);
  fdt.endNode();
}
