// The virt board, compatible with QEMU's riscv `virt` machine so unmodified firmware and
// kernels boot. The board is described once, by VIRT_MEMMAP and the device rows built in
// `VirtMachine`: the bus and the device tree both come from those rows.
import { Bus } from "../memory/bus.js";
import { Ram, type RamOptions } from "../memory/ram.js";
import type { Device, IrqLine } from "../memory/device.js";
import { isElf, parseElf, PT_LOAD } from "../memory/elf.js";
import { CodeCache } from "../cpu/code_cache.js";
import type { Isa } from "../cpu/isa.js";
import { CBO_BLOCK_BYTES, Hart, pairToNumber, type HartState } from "../cpu/hart.js";
import { CSR, PRV_M, MIP_MEIP, MIP_MSIP, MIP_MTIP, MIP_SEIP, MIP_STIP } from "../cpu/csr_numbers.js";
import { FdtBuilder, regCells } from "./fdt.js";
import { Sbi, type SbiState } from "./sbi.js";
import { checkImage, imageSize, loadElfPhysical, LoadError } from "./loader.js";
import { Clint, clintFdt, CLINT_TIMEBASE_FREQ, type ClintState } from "./devices/clint.js";
import { Plic, plicFdt, type PlicState } from "./devices/plic.js";
import { Uart16550, uartFdt, type UartState } from "./devices/uart16550.js";
import { GoldfishRtc, rtcFdt, type RtcState } from "./devices/goldfish_rtc.js";
import { SifiveTest, testFdt, testPowerFdt, type PowerEvent } from "./devices/sifive_test.js";
import { VirtioMmio, virtioMmioFdt, type VirtioDevice, type VirtioMmioState } from "./devices/virtio_mmio.js";
import { VirtioBlk, type BlockBackend } from "./devices/virtio_blk.js";
import { VirtioConsole } from "./devices/virtio_console.js";
import { VirtioRng, defaultRandomBytes } from "./devices/virtio_rng.js";
import { Virtio9p, type FileSystem9p } from "./devices/virtio_9p.js";
import type { CharBackend } from "./devices/char_backend.js";
import { VirtioNet, defaultMac, type VirtioNetOptions } from "./devices/virtio_net.js";
import { PowerButton, powerButtonFdt } from "./devices/power_button.js";
import type { NetBackend } from "../net/backend.js";
import { ConsoleHistory } from "./console_history.js";

/** QEMU virt's memory map (hw/riscv/virt.c). */
export const VIRT_MEMMAP = {
  test: { base: 0x0010_0000, size: 0x1000 },
  rtc: { base: 0x0010_1000, size: 0x1000, irq: 11 },
  clint: { base: 0x0200_0000, size: 0x1_0000 },
  plic: { base: 0x0c00_0000, size: 0x60_0000 },
  uart0: { base: 0x1000_0000, size: 0x100, irq: 10 },
  virtio: { base: 0x1000_1000, size: 0x1000, irq: 1, count: 8 },
  /** rvisor's addition: the power button's PLIC line (no MMIO window; see power_button.ts). */
  powerButton: { irq: 12 },
  dram: { base: 0x8000_0000 },
} as const;

export const KERNEL_OFFSET = 0x20_0000;
const TICKS_PER_MS = CLINT_TIMEBASE_FREQ / 1000;

export type Firmware = { kind: "builtin" } | { kind: "none" } | { kind: "image"; bytes: Uint8Array };

export interface VirtConfig {
  memBytes: number;
  harts: number;
  firmware: Firmware;
  kernel?: Uint8Array;
  initrd?: Uint8Array;
  append?: string;
  drives?: BlockBackend[];
  shares?: { fs: FileSystem9p; tag: string }[];
  /** Network cards (virtio-net), each on its backend; default MAC 52:54:00:12:34:56 + index. */
  nics?: { backend: NetBackend; mac?: Uint8Array; mrgRxbuf?: boolean; offloads?: VirtioNetOptions["offloads"] }[];
  console: CharBackend;
  /** Host monotonic milliseconds (performance.now). */
  clock?: () => number;
  /** Host wall-clock milliseconds (Date.now). */
  wallClock?: () => number;
  randomBytes?: (dst: Uint8Array) => void;
  /** The harts' ISA (`--cpu`); default: the richest profile. */
  isa?: Isa;
  /** How guest RAM is allocated (shared memory or not; default: shared where the host has it). */
  ram?: RamOptions;
  /**
   * false: build the board but load nothing into RAM and start no hart (a snapshot restore
   * fills both; see snapshot.ts). Firmware, kernel and initrd are then not needed. Default true.
   */
  boot?: boolean;
}

/** What a snapshot must match to be restored on this board (compared field by field). */
export interface BoardConfig {
  memBytes: number;
  ramBase: number;
  harts: number;
  firmware: Firmware["kind"];
  /** riscv,isa and riscv,isa-extensions as in the device tree. */
  isa: string;
  extensions: string[];
  /** The virtio slots in order: device id, and the geometry a restore must find again. */
  virtio: { deviceId: number; disk?: { capacitySectors: number; readonly: boolean }; tag?: string }[];
}

/** Everything of the machine except RAM: harts, devices, firmware, the machine's own counters. */
export interface VirtMachineState {
  version: 1;
  harts: HartState[];
  clint: ClintState;
  plic: PlicState;
  uart: UartState;
  rtc: RtcState;
  virtio: VirtioMmioState[];
  sbi: SbiState | null;
  exit: ExitReason | null;
  executed: number;
  trapRun: number[];
  dtbAddr: number;
  initrdStart: number;
  initrdEnd: number;
}

/**
 * Why a run ended. `stuck`: a hart makes no progress (see STUCK_TRAPS, STUCK_RETURNS); `cause`
 * and `epc` are the exception it keeps taking, `priv` the mode of the instruction at `epc`.
 */
export type ExitReason = { kind: "poweroff"; code: number } | { kind: "reboot" } | { kind: "halted" }
  | { kind: "stuck"; hart: number; cause: number; epc: number; priv: number };

/**
 * Consecutive trapping instructions after which a hart counts as stuck: every instruction
 * traps, the trap vector's too (RAM of zeros or random bytes with mtvec/stvec = 0). A real
 * trap handler retires instructions.
 */
export const STUCK_TRAPS = 200_000;
/**
 * Consecutive times a trap handler returns (MRET/SRET) into an instruction that traps again at
 * once, same pc and cause, after which a hart counts as stuck: firmware such as OpenSBI that
 * redirects each fault to an S-mode vector which itself faults retires instructions in M-mode
 * forever while the kernel never runs one.
 */
export const STUCK_RETURNS = 4096;

interface Row {
  name: string;
  base: number;
  size: number;
  device: Device;
  fdt: (fdt: FdtBuilder) => void;
}

export class VirtMachine {
  readonly ram: Ram;
  readonly bus: Bus;
  readonly code: CodeCache;
  readonly harts: Hart[] = [];
  readonly clint: Clint;
  readonly plic: Plic;
  readonly uart: Uart16550;
  readonly rtc: GoldfishRtc;
  readonly powerButton: PowerButton;
  readonly rows: Row[] = [];
  readonly virtio: VirtioMmio[] = [];
  sbi: Sbi | null = null;
  exit: ExitReason | null = null;
  /** Instructions executed by all harts, counting trapping ones (which do not retire). */
  executed = 0;
  dtb: Uint8Array = new Uint8Array(0);
  dtbAddr = 0;
  initrdStart = 0;
  initrdEnd = 0;
  private readonly clock: () => number;
  /** Per hart: instructions executed since it last retired one. */
  private trapRun: number[] = [];
  /** The console's recent output, which a snapshot carries (console_history.ts; not guest-visible). */
  readonly consoleHistory = new ConsoleHistory();
  /** config.console, with every byte also kept in consoleHistory. */
  private readonly consoleOut: CharBackend;

  constructor(readonly config: VirtConfig) {
    const { memBytes, harts: nharts } = config;
    if (nharts < 1 || nharts > 8) throw new Error(`--smp must be between 1 and 8 (got ${nharts})`);
    this.clock = config.clock ?? (() => performance.now());
    const history = this.consoleHistory, host = config.console;
    this.consoleOut = { write: (bytes) => { history.push(bytes); host.write(bytes); } };
    this.ram = new Ram(VIRT_MEMMAP.dram.base, memBytes, config.ram);
    this.bus = new Bus(this.ram);
    this.code = new CodeCache(this.ram, config.isa);
    for (let i = 0; i < nharts; i++) this.harts.push(new Hart(i, this.bus, this.code));
    this.trapRun = this.harts.map(() => 0);
    const builtin = config.firmware.kind === "builtin";
    const line = (h: Hart, bit: number): IrqLine => ({ set: (l) => h.setIrq(bit, l) });

    // The built-in SBI routes the machine timer to STIP: sbi_set_timer is an mtimecmp write.
    this.clint = new Clint(this.harts.map((h) => ({ msip: line(h, MIP_MSIP), mtip: line(h, builtin ? MIP_STIP : MIP_MTIP) })), this.clock);
    this.plic = new Plic(this.harts.map((h) => ({ meip: line(h, MIP_MEIP), seip: line(h, MIP_SEIP) })));
    this.uart = new Uart16550(this.consoleOut, this.plic.irq(VIRT_MEMMAP.uart0.irq));
    this.rtc = new GoldfishRtc(this.plic.irq(VIRT_MEMMAP.rtc.irq), config.wallClock ?? (() => Date.now()));
    this.powerButton = new PowerButton(this.plic, VIRT_MEMMAP.powerButton.irq);
    const test = new SifiveTest((e: PowerEvent) => this.powerEvent(e.kind === "reset" ? "reboot" : "poweroff", e.code));
    for (const h of this.harts) h.timeSource = () => this.clint.mtime();

    const plicPhandle = 0x7f00, testPhandle = 0x7f01; // fixed: referenced before the rows are written
    const intc = this.harts.map((_, i) => 0x7e00 + i);
    const M = VIRT_MEMMAP;
    this.rows.push(
      { name: "test", ...M.test, device: test, fdt: (f) => testFdt(f, M.test.base, M.test.size, testPhandle) },
      { name: "rtc", ...M.rtc, device: this.rtc, fdt: (f) => rtcFdt(f, M.rtc.base, M.rtc.size, M.rtc.irq, plicPhandle) },
      { name: "clint", ...M.clint, device: this.clint, fdt: (f) => clintFdt(f, M.clint.base, M.clint.size, intc) },
      { name: "plic", ...M.plic, device: this.plic, fdt: (f) => plicFdt(f, M.plic.base, M.plic.size, plicPhandle, intc, 95) },
      { name: "uart0", ...M.uart0, device: this.uart, fdt: (f) => { uartFdt(f, M.uart0.base, M.uart0.size, M.uart0.irq, plicPhandle); } },
    );
    const devices: VirtioDevice[] = [];
    for (const d of config.drives ?? []) devices.push(new VirtioBlk(d));
    for (const s of config.shares ?? []) devices.push(new Virtio9p(s.fs, s.tag));
    (config.nics ?? []).forEach((n, i) => devices.push(new VirtioNet(n.backend, { mac: n.mac ?? defaultMac(i), mrgRxbuf: n.mrgRxbuf, offloads: n.offloads })));
    devices.push(new VirtioRng(config.randomBytes ?? defaultRandomBytes));
    devices.push(new VirtioConsole(this.consoleOut));
    if (devices.length > M.virtio.count) throw new Error(`too many virtio devices (${devices.length}; the board has ${M.virtio.count} slots)`);
    devices.forEach((dev, n) => {
      const base = M.virtio.base + n * M.virtio.size, irq = M.virtio.irq + n;
      const t = new VirtioMmio(this.ram, this.plic.irq(irq), dev);
      this.virtio.push(t);
      this.rows.push({ name: `virtio${n}`, base, size: M.virtio.size, device: t, fdt: (f) => virtioMmioFdt(f, base, M.virtio.size, irq, plicPhandle) });
    });
    for (const r of this.rows) this.bus.map(r.name, r.base, r.size, r.device);
    if (config.boot === false) {
      if (builtin) this.sbi = this.builtinSbi();
      for (const h of this.harts) h.stopped = true; // until a restore says otherwise
    } else {
      this.load(plicPhandle, testPhandle, intc);
    }
  }

  private builtinSbi(): Sbi {
    const out = this.consoleOut;
    return new Sbi({
      harts: this.harts,
      setTimer: (hart, t) => this.setMtimecmp(hart, t),
      consolePutchar: (ch) => out.write(Uint8Array.of(ch)),
      consoleWrite: (bytes) => out.write(bytes),
      consoleGetchar: () => this.uart.takeInput(),
      reset: (kind) => this.powerEvent(kind, 0),
    });
  }

  /** The configuration a snapshot of this machine records and a restore must match. */
  board(): BoardConfig {
    const isa = this.code.isa;
    return {
      memBytes: this.config.memBytes, ramBase: this.ram.base, harts: this.harts.length, firmware: this.config.firmware.kind,
      isa: isa.isaString(), extensions: [...isa.isaExtensions()],
      virtio: this.virtio.map((t) => {
        const d = t.device.saveState();
        return { deviceId: t.device.deviceId, ...(d.kind === "blk" ? { disk: { capacitySectors: d.capacitySectors, readonly: d.readonly } } : {}),
          ...(d.kind === "9p" ? { tag: d.tag } : {}) };
      }),
    };
  }

  /**
   * Resolves once no virtio request is in host I/O (disk reads and writes, 9P calls). Call it
   * while the machine does not run, before saveState, so the snapshot has no half-done request
   * (as QEMU drains block I/O before savevm); requests still in flight are replayed on restore.
   */
  async settle(): Promise<void> {
    for (const t of this.virtio) await t.device.idle?.();
  }

  /** Harts, devices, firmware and counters (not RAM: snapshot.ts stores its pages). */
  saveState(): VirtMachineState {
    return {
      version: 1, harts: this.harts.map((h) => h.saveState()), clint: this.clint.saveState(), plic: this.plic.saveState(),
      uart: this.uart.saveState(), rtc: this.rtc.saveState(), virtio: this.virtio.map((t) => t.saveState()),
      sbi: this.sbi === null ? null : this.sbi.saveState(), exit: this.exit === null ? null : { ...this.exit },
      executed: this.executed, trapRun: [...this.trapRun], dtbAddr: this.dtbAddr, initrdStart: this.initrdStart, initrdEnd: this.initrdEnd,
    };
  }

  /**
   * Loads a state saved by saveState on a board with the same BoardConfig (snapshot.ts checks
   * it first), with guest RAM already restored. Host-side caches go: decoded code, TLBs
   * (hart loadState), chained successors. In-flight virtio requests are replayed.
   */
  loadState(s: VirtMachineState): void {
    if (s.version !== 1 || s.harts.length !== this.harts.length || s.virtio.length !== this.virtio.length || (s.sbi === null) !== (this.sbi === null)) {
      throw new Error("machine: the state is for another board");
    }
    this.code.invalidateAll();
    s.harts.forEach((hs, i) => { const h = this.harts[i]; h.loadState(hs); h.chainEpoch++; });
    // Interrupt controllers before the devices that drive their lines.
    this.plic.loadState(s.plic);
    this.clint.loadState(s.clint);
    this.uart.loadState(s.uart);
    this.rtc.loadState(s.rtc);
    s.virtio.forEach((vs, i) => this.virtio[i].loadState(vs));
    if (this.sbi !== null && s.sbi !== null) this.sbi.loadState(s.sbi);
    this.exit = s.exit === null ? null : { ...s.exit };
    this.executed = s.executed;
    this.trapRun = [...s.trapRun];
    this.dtbAddr = s.dtbAddr; this.initrdStart = s.initrdStart; this.initrdEnd = s.initrdEnd;
    for (const t of this.virtio) t.kick();
  }

  /** Input from the host console. */
  consoleInput(bytes: Uint8Array): void { this.uart.receive(bytes); }

  /** Presses the power button (a KEY_POWER event in the guest; see power_button.ts). */
  pressPowerButton(): void { this.powerButton.press(); }

  /**
   * Puts disk `index` (its virtio-blk slot) on another backend of the same geometry: the
   * managed-VM snapshot moves a running disk onto a fresh overlay. Call it while the machine
   * does not run, after settle(), so no request is in host I/O.
   */
  replaceDrive(index: number, backend: BlockBackend): void {
    const dev = this.virtio[index]?.device;
    if (!(dev instanceof VirtioBlk)) throw new Error(`virtio${index} is not a disk`);
    dev.replaceBackend(backend);
    if (this.config.drives !== undefined) this.config.drives[index] = backend;
  }

  private powerEvent(kind: "poweroff" | "reboot", code: number): void {
    this.exit = kind === "poweroff" ? { kind, code } : { kind };
    for (const h of this.harts) h.stopped = true;
  }

  private load(plicPhandle: number, testPhandle: number, intc: number[]): void {
    const { config, ram } = this;
    const base: number = VIRT_MEMMAP.dram.base, memBytes = config.memBytes;
    let kernelEnd: number = base;
    let firmwareEntry: number = base;
    let kernelEntry: number = base + KERNEL_OFFSET;
    if (config.firmware.kind === "image") {
      const fw = config.firmware.bytes;
      checkImage(fw, "firmware");
      if (fw.length > KERNEL_OFFSET) throw new LoadError(`firmware image is ${fw.length} bytes; it must fit below the kernel at +0x200000`);
      if (isElf(fw)) firmwareEntry = loadElfPhysical(ram, fw); else ram.write(base, fw);
    }
    if (config.kernel !== undefined) {
      const k = config.kernel;
      checkImage(k, "kernel");
      if (isElf(k)) {
        kernelEntry = loadElfPhysical(ram, k);
        for (const s of parseElf(k).segments) if (s.type === PT_LOAD) kernelEnd = Math.max(kernelEnd, s.paddr + s.memsz);
      } else {
        if (config.firmware.kind === "none") kernelEntry = base;
        // A Linux Image's header gives the memory it needs (image_size, with its .bss).
        const need = imageSize(k);
        if (kernelEntry - base + need > memBytes) throw new LoadError(`kernel (${need} bytes) does not fit in ${memBytes >> 20} MiB of RAM`);
        ram.write(kernelEntry, k);
        kernelEnd = kernelEntry + need;
      }
    } else if (config.firmware.kind !== "image") {
      throw new LoadError("no kernel given (--kernel FILE)");
    }
    // The device tree goes at the top of RAM; the initrd well above the kernel (QEMU: half
    // of RAM, at most 128 MiB in) so the kernel's own early allocations cannot clobber it.
    this.dtb = this.buildFdt(plicPhandle, testPhandle, intc, 0, 0);
    const dtbSlot = (this.dtb.length + 4096 + 0xffff) & ~0xffff;
    this.dtbAddr = base + memBytes - dtbSlot;
    if (config.initrd !== undefined) {
      const len = config.initrd.length;
      let start = base + Math.min(memBytes / 2, 128 << 20);
      start = Math.max(start, (kernelEnd + 0x1f_ffff) & ~0x1f_ffff);
      if (start + len > this.dtbAddr) throw new LoadError(`initrd (${len} bytes) does not fit in RAM above the kernel; use a larger --mem`);
      ram.write(start, config.initrd);
      this.initrdStart = start; this.initrdEnd = start + len;
      this.dtb = this.buildFdt(plicPhandle, testPhandle, intc, start, start + len);
    }
    ram.write(this.dtbAddr, this.dtb);

    if (config.firmware.kind === "builtin") {
      this.sbi = this.builtinSbi();
      this.sbi.boot(kernelEntry, this.dtbAddr);
    } else {
      // Like QEMU's reset vector: every hart enters the firmware (or bare kernel) in M-mode
      // with a0 = hartid, a1 = fdt, a2 = fw_dynamic_info (which fw_jump ignores).
      const info = this.dtbAddr - 64;
      const next = config.kernel !== undefined ? kernelEntry : 0;
      // struct fw_dynamic_info { magic, version, next_addr, next_mode, options, boot_hart }
      const fields = [0x4942534f, 2, next, 1, 0, 0];
      fields.forEach((v, i) => ram.write64(info + 8 * i, v));
      const entry = config.firmware.kind === "image" ? firmwareEntry : kernelEntry;
      for (const h of this.harts) {
        h.pc = entry;
        h.setX(10, h.hartId);
        h.setX(11, this.dtbAddr);
        h.setX(12, info);
      }
    }
  }

  private setMtimecmp(hart: number, t: number): void {
    const off = 0x4000 + 8 * hart;
    // High word to all ones first so the half-written value never fires early.
    this.clint.write(off + 4, 4, 0xffffffff);
    this.clint.write(off, 4, t >>> 0);
    this.clint.write(off + 4, 4, Math.floor(t / 4294967296) >>> 0);
  }

  buildFdt(plicPhandle: number, testPhandle: number, intc: number[], initrdStart: number, initrdEnd: number): Uint8Array {
    const f = new FdtBuilder();
    const c = this.config;
    f.beginNode("").propU32("#address-cells", 2).propU32("#size-cells", 2)
      .propString("compatible", "riscv-virtio").propString("model", "riscv-virtio,qemu");
    f.beginNode("chosen").propString("bootargs", c.append ?? "").propString("stdout-path", `/soc/serial@${VIRT_MEMMAP.uart0.base.toString(16)}`);
    if (initrdEnd > initrdStart) f.propU64("linux,initrd-start", initrdStart).propU64("linux,initrd-end", initrdEnd);
    const seed = new Uint8Array(32);
    (c.randomBytes ?? defaultRandomBytes)(seed);
    f.propBytes("rng-seed", seed);
    f.endNode();
    f.beginNode(`memory@${VIRT_MEMMAP.dram.base.toString(16)}`).propString("device_type", "memory")
      .propCells("reg", regCells(VIRT_MEMMAP.dram.base, c.memBytes)).endNode();
    const isa = this.code.isa;
    f.beginNode("cpus").propU32("#address-cells", 1).propU32("#size-cells", 0).propU32("timebase-frequency", 10_000_000);
    this.harts.forEach((h, i) => {
      f.beginNode(`cpu@${i}`).propString("device_type", "cpu").propU32("reg", i).propString("status", "okay")
        .propString("compatible", "riscv").propString("riscv,isa", isa.isaString())
        .propString("riscv,isa-base", isa.isaBase()).propStrings("riscv,isa-extensions", isa.isaExtensions())
        .propString("mmu-type", "riscv,sv48").propU32("phandle", 0x7d00 + i);
      // Cache-block sizes of the CMO extensions (devicetree bindings, riscv/cpus.yaml).
      if (isa.has("zicbom")) f.propU32("riscv,cbom-block-size", CBO_BLOCK_BYTES);
      if (isa.has("zicboz")) f.propU32("riscv,cboz-block-size", CBO_BLOCK_BYTES);
      if (isa.has("zicbop")) f.propU32("riscv,cbop-block-size", CBO_BLOCK_BYTES);
      f.beginNode("interrupt-controller").propU32("#address-cells", 0).propU32("#interrupt-cells", 1).propEmpty("interrupt-controller")
        .propString("compatible", "riscv,cpu-intc").propU32("phandle", intc[i]).endNode();
      f.endNode();
    });
    f.beginNode("cpu-map").beginNode("cluster0");
    this.harts.forEach((_, i) => f.beginNode(`core${i}`).propU32("cpu", 0x7d00 + i).endNode());
    f.endNode().endNode();
    f.endNode();
    testPowerFdt(f, testPhandle);
    powerButtonFdt(f, VIRT_MEMMAP.powerButton.irq, plicPhandle);
    f.beginNode("soc").propU32("#address-cells", 2).propU32("#size-cells", 2).propString("compatible", "simple-bus").propEmpty("ranges");
    for (const r of this.rows) r.fdt(f);
    f.endNode();
    f.endNode();
    return f.finish();
  }

  /**
   * Runs the harts round-robin for about `budget` instructions in total, with device time
   * advancing between slices. Returns the instructions executed (0 when every hart waits).
   */
  step(budget: number): number {
    const SLICE = 10_000;
    let total = 0;
    while (total < budget && this.exit === null) {
      this.clint.tick();
      this.rtc.tick();
      this.powerButton.tick();
      // Sstc timers compare with the same mtime, once a slice like mtimecmp (waking WFI harts).
      const now = this.clint.mtime();
      for (const h of this.harts) h.updateTimer(now);
      let ran = 0;
      for (let i = 0; i < this.harts.length; i++) {
        const h = this.harts[i];
        const left = budget - total - ran;
        if (left <= 0) break;
        if (h.stopped || h.wfi) continue;
        // Another hart may have stored since: an old reservation must fail. With one hart nothing
        // else ran, and an LR/SC pair split by the slice boundary succeeds as on QEMU.
        if (this.harts.length > 1) h.reservation = -1;
        const retired = h.retired;
        const n = h.run(Math.min(SLICE, left));
        ran += n;
        if (h.retired !== retired) this.trapRun[i] = 0;
        else if ((this.trapRun[i] += n) >= STUCK_TRAPS) this.stuck(h);
        if (h.noProgressTraps >= STUCK_RETURNS) {
          this.exit = { kind: "stuck", hart: h.hartId, cause: h.noProgressCause, epc: h.noProgressPc, priv: h.noProgressPriv };
          for (const o of this.harts) o.stopped = true;
        }
      }
      if (ran === 0) break;
      total += ran;
    }
    this.executed += total;
    return total;
  }

  /** Ends the run: hart `h` only traps (see STUCK_TRAPS); it is in the mode its trap vector runs in. */
  private stuck(h: Hart): void {
    const m = h.priv === PRV_M;
    const csr = (n: number): number => (h.csrRead(n) ? pairToNumber(h.csrLo, h.csrHi) : 0);
    this.exit = { kind: "stuck", hart: h.hartId, cause: csr(m ? CSR.mcause : CSR.scause), epc: csr(m ? CSR.mepc : CSR.sepc), priv: h.priv };
    for (const o of this.harts) o.stopped = true;
  }

  /** Host milliseconds until a timer can wake a waiting hart (Infinity if none). */
  idleDeadline(): number {
    let best = Math.min(this.clint.nextDeadline(), this.rtc.nextDeadline());
    const now = this.clint.mtime();
    for (const h of this.harts) best = Math.min(best, h.timerDeadline(now) / TICKS_PER_MS);
    return best;
  }

  /** Instructions retired by all harts. */
  instret(): number { return this.harts.reduce((s, h) => s + h.retired, 0); }
}
