import { test } from "node:test";
import assert from "node:assert/strict";
import type { IrqLine } from "../../memory/device.js";
import { Uart16550, uartFdt } from "./uart16550.js";
import { CaptureCharBackend } from "./char_backend.js";
import { FdtBuilder, parseFdt, fdtFind, fdtCells, fdtStrings } from "../fdt.js";
import { viaJson } from "../../memory/device.js";

class Line implements IrqLine {
  level = false;
  set(level: boolean): void { this.level = level; }
}

const RBR = 0, THR = 0, IER = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7;

function setup(): { uart: Uart16550; out: CaptureCharBackend; irq: Line } {
  const out = new CaptureCharBackend();
  const irq = new Line();
  return { uart: new Uart16550(out, irq), out, irq };
}

test("THR writes reach the backend; LSR shows THRE|TEMT", () => {
  const { uart, out } = setup();
  for (const c of "hi\n") uart.write(THR, 1, c.charCodeAt(0));
  assert.equal(out.text(), "hi\n");
  assert.equal(uart.read(LSR, 1), 0x60);
});

test("RX FIFO returns bytes in order and LSR.DR tracks it", () => {
  const { uart } = setup();
  uart.write(FCR, 1, 0x07); // enable + clear
  uart.receive(new TextEncoder().encode("abc"));
  assert.equal(uart.read(LSR, 1) & 1, 1);
  const got = [uart.read(RBR, 1), uart.read(RBR, 1), uart.read(RBR, 1)];
  assert.deepEqual(got, [0x61, 0x62, 0x63]);
  assert.equal(uart.read(LSR, 1) & 1, 0);
  assert.equal(uart.read(RBR, 1), 0);
});

test("FIFO clear drops at most the 16 bytes in the FIFO; host queue refills it", () => {
  const { uart } = setup();
  uart.write(FCR, 1, 0x01);
  uart.receive(new Uint8Array(20).map((_, i) => i));
  uart.write(FCR, 1, 0x03); // clear RX FIFO
  assert.deepEqual([0, 1, 2, 3].map(() => uart.read(RBR, 1)), [16, 17, 18, 19]);
  assert.equal(uart.read(LSR, 1) & 1, 0);
});

test("IIR reports FIFO enabled bits and RX interrupts (RDA at trigger, CTI below)", () => {
  const { uart, irq } = setup();
  assert.equal(uart.read(IIR, 1), 0x01);
  uart.write(FCR, 1, 0x41); // FIFO on, trigger level 4
  assert.equal(uart.read(IIR, 1), 0xc1);
  uart.write(IER, 1, 0x01); // ERBFI
  uart.receive(new Uint8Array([1, 2]));
  assert.equal(irq.level, true);
  assert.equal(uart.read(IIR, 1), 0xcc); // character timeout
  uart.receive(new Uint8Array([3, 4]));
  assert.equal(uart.read(IIR, 1), 0xc4); // data available at trigger level
  for (let i = 0; i < 4; i++) uart.read(RBR, 1);
  assert.equal(irq.level, false);
  assert.equal(uart.read(IIR, 1), 0xc1);
});

test("THRE interrupt: raised by enabling ETBEI, cleared by reading IIR, re-raised by THR write", () => {
  const { uart, irq, out } = setup();
  uart.write(FCR, 1, 0x01);
  uart.write(IER, 1, 0x02);
  assert.equal(irq.level, true);
  assert.equal(uart.read(IIR, 1), 0xc2);
  assert.equal(irq.level, false);
  assert.equal(uart.read(IIR, 1), 0xc1);
  uart.write(THR, 1, 0x41);
  assert.equal(irq.level, true); // byte sent at once, THR empty again
  assert.equal(out.text(), "A");
  uart.write(IER, 1, 0);
  assert.equal(irq.level, false);
});

test("Linux 8250 startup THRE test and UART_BUG_TXEN test pass", () => {
  const { uart } = setup();
  uart.write(FCR, 1, 0x01);
  // THRE test: iir1 must show an interrupt and iir must show it re-asserted.
  uart.write(IER, 1, 0x02);
  const iir1 = uart.read(IIR, 1);
  uart.write(IER, 1, 0);
  uart.write(IER, 1, 0x02);
  const iir = uart.read(IIR, 1);
  uart.write(IER, 1, 0);
  assert.equal(iir1 & 1, 0);
  assert.equal(iir & 1, 0);
  // TXEN test: enabling THRI must produce an interrupt while TEMT is set.
  uart.write(IER, 1, 0x02);
  const lsr = uart.read(LSR, 1);
  const iir2 = uart.read(IIR, 1);
  uart.write(IER, 1, 0);
  assert.equal(lsr & 0x40, 0x40);
  assert.equal(iir2 & 1, 0);
});

test("Linux autoconfig sees a 16550A: IER bits, FIFO bits, loopback MSR, scratch", () => {
  const { uart } = setup();
  uart.write(IER, 1, 0);
  assert.equal(uart.read(IER, 1) & 0x0f, 0);
  uart.write(IER, 1, 0x0f);
  assert.equal(uart.read(IER, 1) & 0x0f, 0x0f);
  uart.write(IER, 1, 0);
  uart.write(MCR, 1, 0x1a); // loopback | OUT2 | RTS
  assert.equal(uart.read(MSR, 1) & 0xf0, 0x90);
  uart.write(MCR, 1, 0);
  uart.write(FCR, 1, 0x01);
  assert.equal(uart.read(IIR, 1) >> 6, 3);
  uart.write(LCR, 1, 0xbf);
  assert.notEqual(uart.read(2, 1), 0); // no EFR: not a 16650
  uart.write(LCR, 1, 0);
  uart.write(IER, 1, 0x40); // UUE bit does not stick: not XScale
  assert.equal(uart.read(IER, 1) & 0x40, 0);
  uart.write(SCR, 1, 0xa5);
  assert.equal(uart.read(SCR, 1), 0xa5);
});

test("loopback routes THR to RBR instead of the backend", () => {
  const { uart, out } = setup();
  uart.write(MCR, 1, 0x10);
  uart.write(THR, 1, 0x55);
  assert.equal(out.bytes().length, 0);
  assert.equal(uart.read(RBR, 1), 0x55);
});

test("DLAB switches offsets 0/1 to DLL/DLM", () => {
  const { uart, out } = setup();
  uart.write(IER, 1, 0x01);
  uart.write(LCR, 1, 0x83);
  uart.write(0, 1, 0x01);
  uart.write(1, 1, 0x02);
  assert.equal(uart.read(0, 1), 0x01);
  assert.equal(uart.read(1, 1), 0x02);
  assert.equal(out.bytes().length, 0);
  uart.write(LCR, 1, 0x03);
  assert.equal(uart.read(IER, 1), 0x01);
  assert.equal(uart.read(LCR, 1), 0x03);
  uart.write(LCR, 1, 0x83);
  assert.equal(uart.read(0, 1), 0x01);
});

test("saveState/loadState keeps registers and queued input", () => {
  const a = setup();
  a.uart.write(FCR, 1, 0x01);
  a.uart.write(IER, 1, 0x01);
  a.uart.write(SCR, 1, 7);
  a.uart.receive(new Uint8Array([9, 8]));
  const b = setup();
  b.uart.loadState(viaJson(a.uart.saveState()));
  assert.equal(b.irq.level, true);
  assert.equal(b.uart.read(SCR, 1), 7);
  assert.equal(b.uart.read(RBR, 1), 9);
  assert.equal(b.uart.read(RBR, 1), 8);
  assert.equal(b.irq.level, false);
});

test("large host input is queued without loss", () => {
  const { uart } = setup();
  uart.write(FCR, 1, 0x01);
  const data = new Uint8Array(10000).map((_, i) => i & 0xff);
  uart.receive(data);
  for (let i = 0; i < data.length; i++) assert.equal(uart.read(RBR, 1), i & 0xff);
});

test("uartFdt writes QEMU's node", () => {
  const fdt = new FdtBuilder();
  fdt.beginNode("");
  assert.equal(uartFdt(fdt, 0x1000_0000, 0x100, 10, 3), "serial@10000000");
  fdt.endNode();
  const node = fdtFind(parseFdt(fdt.finish()).root, "/serial@10000000");
  assert.ok(node);
  assert.deepEqual(fdtStrings(node, "compatible"), ["ns16550a"]);
  assert.deepEqual(fdtCells(node, "clock-frequency"), [0x384000]);
  assert.deepEqual(fdtCells(node, "interrupts"), [10]);
  assert.deepEqual(fdtCells(node, "interrupt-parent"), [3]);
  assert.deepEqual(fdtCells(node, "reg"), [0, 0x1000_0000, 0, 0x100]);
});
