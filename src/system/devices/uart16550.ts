// NS16550A UART (reg-shift 0) as on QEMU's virt board at 0x1000_0000, IRQ 10.
// Transmission is instantaneous: THR bytes go straight to the CharBackend, so LSR.THRE and
// LSR.TEMT stay set. Host input waits in an unbounded host-side queue; the guest sees at
// most 16 bytes of it (the RX FIFO) or 1 byte (FIFO disabled), so nothing overruns.
import type { AccessWidth, Device, IrqLine, Stateful } from "../../memory/device.js";
import type { FdtBuilder } from "../fdt.js";
import { regCells } from "../fdt.js";
import type { CharBackend, CharFrontend } from "./char_backend.js";

export const UART0_BASE = 0x1000_0000;
export const UART0_SIZE = 0x100;
export const UART0_IRQ = 10;
export const UART_CLOCK_FREQ = 3_686_400;
const FIFO_SIZE = 16;

// Register offsets (DLAB=0 / DLAB=1).
const RBR_THR_DLL = 0, IER_DLM = 1, IIR_FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7;
const IER_ERBFI = 0x01, IER_ETBEI = 0x02, IER_ELSI = 0x04, IER_EDSSI = 0x08;
const IIR_NO_INT = 0x01, IIR_MSR = 0x00, IIR_THRE = 0x02, IIR_RDA = 0x04, IIR_RLS = 0x06, IIR_CTI = 0x0c;
const IIR_FIFO_ENABLED = 0xc0;
const FCR_ENABLE = 0x01, FCR_CLEAR_RX = 0x02;
const LCR_DLAB = 0x80;
const MCR_LOOP = 0x10;
const LSR_DR = 0x01, LSR_ERRORS = 0x1e, LSR_THRE = 0x20, LSR_TEMT = 0x40;
const MSR_CTS = 0x10, MSR_DSR = 0x20, MSR_RI = 0x40, MSR_DCD = 0x80, MSR_TERI = 0x04;
const RX_TRIGGER = [1, 4, 8, 14];

/** Registers and the whole RX queue: the 16-byte FIFO the guest sees and the host input waiting behind it. */
export interface UartState {
  version: 1; ier: number; fcr: number; lcr: number; mcr: number; lsrErrors: number; msr: number;
  scr: number; dll: number; dlm: number; thrIpending: boolean; rx: number[];
}

export class Uart16550 implements Device, Stateful<UartState>, CharFrontend {
  private ier = 0;
  private fcr = 0;
  private lcr = 0;
  private mcr = 0;
  private lsrErrors = 0; // OE/PE/FE/BI: never produced here, kept for RLS semantics
  private msr = MSR_DCD | MSR_DSR | MSR_CTS; // modem lines "connected"
  private scr = 0;
  private dll = 0;
  private dlm = 0;
  // "THRE interrupt ... cleared by reading IIR (if source of interrupt) or writing THR".
  private thrIpending = false;
  private rxBuf = new Uint8Array(4096);
  private rxHead = 0;
  private rxLen = 0;
  private irqLevel = false;
  private readonly txByte = new Uint8Array(1);

  constructor(private readonly backend: CharBackend, private readonly irq: IrqLine) {}

  /** Host input: queued, then delivered through the RX FIFO. */
  receive(bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i++) this.rxPush(bytes[i]);
    this.update();
  }

  /**
   * Takes the next byte of host input, or -1: the SBI legacy console (sbi_console_getchar)
   * reads the same input stream when the guest uses it instead of the UART driver.
   */
  takeInput(): number {
    return this.rxLen === 0 ? -1 : this.readRbr();
  }

  read(offset: number, _width: AccessWidth): number {
    switch (offset) {
      case RBR_THR_DLL:
        if (this.lcr & LCR_DLAB) return this.dll;
        return this.readRbr();
      case IER_DLM: return this.lcr & LCR_DLAB ? this.dlm : this.ier;
      case IIR_FCR: {
        const iir = this.iir();
        if (iir === IIR_THRE) { this.thrIpending = false; this.update(); }
        return iir | (this.fcr & FCR_ENABLE ? IIR_FIFO_ENABLED : 0);
      }
      case LCR: return this.lcr;
      case MCR: return this.mcr;
      case LSR: {
        const lsr = this.lsr();
        if (this.lsrErrors !== 0) { this.lsrErrors = 0; this.update(); } // errors clear on read
        return lsr;
      }
      case MSR: {
        const msr = this.msr;
        if (msr & 0x0f) { this.msr &= 0xf0; this.update(); } // delta bits clear on read
        return msr;
      }
      case SCR: return this.scr;
      default: return 0;
    }
  }

  write(offset: number, _width: AccessWidth, value: number): void {
    const v = value & 0xff;
    switch (offset) {
      case RBR_THR_DLL:
        if (this.lcr & LCR_DLAB) { this.dll = v; return; }
        this.transmit(v);
        return;
      case IER_DLM: {
        if (this.lcr & LCR_DLAB) { this.dlm = v; return; }
        const changed = (this.ier ^ v) & IER_ETBEI;
        this.ier = v & 0x0f;
        // Enabling ETBEI with THR empty raises THRE; Linux's startup THRE test relies on it.
        if (changed) this.thrIpending = (this.ier & IER_ETBEI) !== 0;
        this.update();
        return;
      }
      case IIR_FCR: this.writeFcr(v); return;
      case LCR: this.lcr = v; return;
      case MCR: this.mcr = v & 0x1f; this.updateModemStatus(); this.update(); return;
      case SCR: this.scr = v; return;
      default: return; // LSR and MSR are read-only
    }
  }

  private readRbr(): number {
    if (this.rxLen === 0) return 0;
    const b = this.rxBuf[this.rxHead];
    this.rxHead = (this.rxHead + 1) % this.rxBuf.length;
    this.rxLen--;
    this.update();
    return b;
  }

  private transmit(byte: number): void {
    if (this.mcr & MCR_LOOP) this.rxPush(byte);
    else { this.txByte[0] = byte; this.backend.write(this.txByte); }
    // The byte leaves at once, so THR is empty again: THRE re-asserts if enabled.
    this.thrIpending = (this.ier & IER_ETBEI) !== 0;
    this.update();
  }

  private writeFcr(v: number): void {
    // "FCR0 must be 1 when other FCR bits are written to or they will not be programmed";
    // changing FCR0 clears both FIFOs.
    const toggled = ((this.fcr ^ v) & FCR_ENABLE) !== 0;
    if (toggled || (v & FCR_CLEAR_RX)) this.dropRxFifo();
    this.fcr = v & FCR_ENABLE ? v & 0xc9 : 0;
    this.update();
  }

  /** Bytes visible to the guest: the FIFO's contents (or the holding register). */
  private fifoCount(): number {
    return Math.min(this.rxLen, this.fcr & FCR_ENABLE ? FIFO_SIZE : 1);
  }

  private dropRxFifo(): void {
    const n = this.fifoCount();
    this.rxHead = (this.rxHead + n) % this.rxBuf.length;
    this.rxLen -= n;
  }

  private lsr(): number {
    return (this.rxLen > 0 ? LSR_DR : 0) | this.lsrErrors | LSR_THRE | LSR_TEMT;
  }

  /** Highest-priority pending interrupt: RLS > RDA/CTI > THRE > MSR. */
  private iir(): number {
    if (this.ier & IER_ELSI && this.lsrErrors & LSR_ERRORS) return IIR_RLS;
    if (this.ier & IER_ERBFI && this.rxLen > 0) {
      if (!(this.fcr & FCR_ENABLE)) return IIR_RDA;
      // Below the trigger level the character timeout fires; we do not wait 4 char times.
      return this.fifoCount() >= RX_TRIGGER[this.fcr >> 6] ? IIR_RDA : IIR_CTI;
    }
    if (this.ier & IER_ETBEI && this.thrIpending) return IIR_THRE;
    if (this.ier & IER_EDSSI && this.msr & 0x0f) return IIR_MSR;
    return IIR_NO_INT;
  }

  private update(): void {
    const level = this.iir() !== IIR_NO_INT;
    if (level !== this.irqLevel) { this.irqLevel = level; this.irq.set(level); }
  }

  /** MSR status bits; in loopback they mirror MCR: DTR→DSR, RTS→CTS, OUT1→RI, OUT2→DCD. */
  private updateModemStatus(): void {
    const m = this.mcr;
    const status = m & MCR_LOOP
      ? (m & 0x01 ? MSR_DSR : 0) | (m & 0x02 ? MSR_CTS : 0) | (m & 0x04 ? MSR_RI : 0) | (m & 0x08 ? MSR_DCD : 0)
      : MSR_DCD | MSR_DSR | MSR_CTS;
    const old = this.msr & 0xf0;
    const changed = old ^ status;
    let delta = this.msr & 0x0f;
    if (changed & MSR_CTS) delta |= 0x01;
    if (changed & MSR_DSR) delta |= 0x02;
    if (old & MSR_RI && !(status & MSR_RI)) delta |= MSR_TERI; // trailing edge of RI
    if (changed & MSR_DCD) delta |= 0x08;
    this.msr = status | delta;
  }

  private rxPush(b: number): void {
    if (this.rxLen === this.rxBuf.length) { // grow, unwrapping the ring
      const next = new Uint8Array(this.rxBuf.length * 2);
      for (let i = 0; i < this.rxLen; i++) next[i] = this.rxBuf[(this.rxHead + i) % this.rxBuf.length];
      this.rxBuf = next;
      this.rxHead = 0;
    }
    this.rxBuf[(this.rxHead + this.rxLen) % this.rxBuf.length] = b;
    this.rxLen++;
  }

  saveState(): UartState {
    const rx: number[] = [];
    for (let i = 0; i < this.rxLen; i++) rx.push(this.rxBuf[(this.rxHead + i) % this.rxBuf.length]);
    return {
      version: 1, ier: this.ier, fcr: this.fcr, lcr: this.lcr, mcr: this.mcr, lsrErrors: this.lsrErrors,
      msr: this.msr, scr: this.scr, dll: this.dll, dlm: this.dlm, thrIpending: this.thrIpending, rx,
    };
  }

  loadState(s: UartState): void {
    if (s.version !== 1 || !Array.isArray(s.rx)) throw new Error("uart16550: incompatible state");
    ({ ier: this.ier, fcr: this.fcr, lcr: this.lcr, mcr: this.mcr, lsrErrors: this.lsrErrors, msr: this.msr,
      scr: this.scr, dll: this.dll, dlm: this.dlm, thrIpending: this.thrIpending } = s);
    this.rxHead = 0;
    this.rxLen = 0;
    for (const b of s.rx) this.rxPush(b);
    this.irqLevel = this.iir() !== IIR_NO_INT;
    this.irq.set(this.irqLevel);
  }
}

/**
 * Writes `serial@<base>` as QEMU virt does (compatible "ns16550a", clock-frequency 3.6864 MHz).
 * Returns the node name, for `/chosen/stdout-path = "/soc/<name>"`.
 */
export function uartFdt(fdt: FdtBuilder, base: number, size: number, irq: number, plicPhandle: number): string {
  const name = `serial@${base.toString(16)}`;
  fdt.beginNode(name);
  fdt.propString("compatible", "ns16550a");
  fdt.propCells("reg", regCells(base, size));
  fdt.propU32("clock-frequency", UART_CLOCK_FREQ);
  fdt.propU32("interrupt-parent", plicPhandle);
  fdt.propU32("interrupts", irq);
  fdt.endNode();
  return name;
}
