// The built-in SBI firmware, called the way an S-mode ECALL reaches it (through the hart's
// trap hook): Base probing, TIME, IPI, HSM, SRST and the legacy console.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Bus } from "../memory/bus.js";
import { Ram } from "../memory/ram.js";
import { CodeCache } from "../cpu/code_cache.js";
import { Hart } from "../cpu/hart.js";
import { CSR, Cause, MIP_SSIP, PRV_S, PRV_U } from "../cpu/csr_numbers.js";
import {
  EXT_BASE, EXT_CPPC, EXT_DBCN, EXT_DBTR, EXT_FWFT, EXT_HSM, EXT_IPI, EXT_NACL, EXT_PMU, EXT_RFENCE, EXT_SRST, EXT_SSE, EXT_STA,
  EXT_SUSP, EXT_TIME, SBI_ERR_INVALID_PARAM, SBI_ERR_NOT_SUPPORTED, Sbi, SBI_IMPL_ID,
} from "./sbi.js";
import {
  PMU_CFG_FLAG_AUTO_START, PMU_CFG_FLAG_CLEAR_VALUE, PMU_CFG_FLAG_SKIP_MATCH, PMU_COUNTERS, PMU_COUNTER_CONFIG_MATCHING,
  PMU_COUNTER_FW_READ, PMU_COUNTER_FW_READ_HI, PMU_COUNTER_GET_INFO, PMU_COUNTER_START, PMU_COUNTER_STOP, PMU_EVENT_TYPE_FW,
  PMU_FIRST_FW, PMU_FW_IPI_RECEIVED, PMU_FW_IPI_SENT, PMU_FW_SET_TIMER, PMU_FW_SFENCE_VMA_SENT, PMU_NUM_COUNTERS,
  PMU_SNAPSHOT_SET_SHMEM, PMU_START_FLAG_SET_INIT_VALUE, PMU_STOP_FLAG_RESET,
} from "./sbi_pmu.js";

function setup(n = 2) {
  const ram = new Ram(0x8000_0000, 1 << 20);
  const bus = new Bus(ram), code = new CodeCache(ram);
  const harts = [...Array(n).keys()].map((i) => new Hart(i, bus, code));
  const events: string[] = [];
  const timers: [number, number][] = [];
  const input = [0x41];
  const sbi = new Sbi({
    harts,
    setTimer: (h, t) => timers.push([h, t]),
    consolePutchar: (c) => events.push(`put ${String.fromCharCode(c)}`),
    consoleWrite: (b) => events.push(`write ${new TextDecoder().decode(b)}`),
    consoleGetchar: () => input.shift() ?? -1,
    reset: (kind, reason) => events.push(`${kind} ${reason}`),
  });
  sbi.boot(0x8020_0000, 0x8ff0_0000);
  const call = (h: Hart, eid: number, fid: number, ...args: number[]): { error: number; value: number } => {
    h.setX(17, eid); h.setX(16, fid);
    args.forEach((a, i) => h.setX(10 + i, a));
    const pc = h.pc;
    assert.ok(h.trapHook !== null && h.trapHook(h, Cause.EcallS, pc, false));
    assert.equal(h.pc, pc + 4, "execution resumes after the ECALL");
    return { error: h.getX(10), value: h.getX(11) };
  };
  return { harts, events, timers, call, ram, input, sbi };
}

test("boot: hart 0 enters the kernel in S-mode with a0=hartid, a1=dtb; others wait in HSM STOPPED", () => {
  const { harts } = setup();
  assert.equal(harts[0].priv, PRV_S);
  assert.equal(harts[0].pc, 0x8020_0000);
  assert.equal(harts[0].getX(11), 0x8ff0_0000);
  assert.equal(harts[1].stopped, true);
});

test("base: spec version 2.0, implementation id, extension probing as OpenSBI 1.6 answers on QEMU", () => {
  const { harts, call } = setup();
  assert.deepEqual(call(harts[0], EXT_BASE, 0), { error: 0, value: 2 << 24 });
  assert.equal(call(harts[0], EXT_BASE, 1).value, SBI_IMPL_ID);
  // OpenSBI 1.6 on virt: "Standard SBI Extensions: ipi,pmu,srst,hsm,rfnc,time,base,legacy,dbcn".
  for (const ext of [EXT_BASE, EXT_TIME, EXT_IPI, EXT_RFENCE, EXT_HSM, EXT_SRST, EXT_PMU, EXT_DBCN, 0, 8]) {
    assert.equal(call(harts[0], EXT_BASE, 3, ext).value, 1, `0x${ext.toString(16)} present`);
  }
  for (const ext of [EXT_SUSP, EXT_CPPC, EXT_NACL, EXT_STA, EXT_FWFT, EXT_SSE, EXT_DBTR]) {
    assert.equal(call(harts[0], EXT_BASE, 3, ext).value, 0, `0x${ext.toString(16)} absent`);
    assert.equal(call(harts[0], ext, 0).error, SBI_ERR_NOT_SUPPORTED);
  }
  assert.equal(call(harts[0], EXT_BASE, 3, 0x12345678).value, 0);
  assert.equal(call(harts[0], 0x0abcdef0, 0).error, SBI_ERR_NOT_SUPPORTED);
});

test("TIME, IPI and HSM", () => {
  const { harts, timers, call } = setup();
  call(harts[0], EXT_TIME, 0, 123456789);
  assert.deepEqual(timers, [[0, 123456789]]);
  // HSM: start hart 1 at an address with an opaque argument; query its status.
  assert.equal(call(harts[0], EXT_HSM, 2, 1).value, 1, "stopped");
  assert.equal(call(harts[0], EXT_HSM, 0, 1, 0x8020_1000, 0xabc).error, 0);
  assert.equal(harts[1].stopped, false);
  assert.equal(harts[1].pc, 0x8020_1000);
  assert.equal(harts[1].getX(10), 1);
  assert.equal(harts[1].getX(11), 0xabc);
  assert.equal(harts[1].priv, PRV_S);
  assert.equal(call(harts[0], EXT_HSM, 2, 1).value, 0, "started");
  assert.equal(call(harts[0], EXT_HSM, 0, 1, 0, 0).error, -6, "already available");
  // IPI to hart 1 (mask 0b10, base 0) sets its SSIP.
  assert.equal(call(harts[0], EXT_IPI, 0, 2, 0).error, 0);
  assert.ok((harts[1].mip & MIP_SSIP) !== 0);
  assert.ok((harts[0].mip & MIP_SSIP) === 0);
  assert.equal(call(harts[0], EXT_IPI, 0, 1, 5).error, -3, "hart 5 does not exist");
});

test("legacy console and SRST", () => {
  const { harts, events, call } = setup();
  call(harts[0], 1, 0, 0x68);
  assert.equal(call(harts[0], 2, 0).error, 0x41);
  assert.equal(call(harts[0], 2, 0).error, -1, "no input");
  call(harts[0], EXT_SRST, 0, 0, 0);
  assert.deepEqual(events, ["put h", "poweroff 0"]);
  assert.ok(harts.every((h) => h.stopped));
});

test("legacy send_ipi reads the hart mask through the caller's pointer", () => {
  const { harts, call, ram } = setup(3);
  ram.write64(0x8000_0100, 0b100); // hart 2 only (satp is bare: the pointer is physical)
  assert.equal(call(harts[0], 4, 0, 0x8000_0100).error, 0);
  assert.deepEqual(harts.map((h) => (h.mip & MIP_SSIP) !== 0), [false, false, true]);
  assert.equal(call(harts[0], 4, 0, 0x10).error, -3, "a pointer outside RAM is an invalid parameter");
});

test("DBCN: console_write of a physical buffer, console_read without waiting, console_write_byte", () => {
  const { harts, events, call, ram, input } = setup();
  ram.write(0x8000_0200, new TextEncoder().encode("hello, dbcn"));
  assert.deepEqual(call(harts[0], EXT_DBCN, 0, 11, 0x8000_0200, 0), { error: 0, value: 11 });
  assert.deepEqual(call(harts[0], EXT_DBCN, 2, 0x21), { error: 0, value: 0 });
  assert.deepEqual(events, ["write hello, dbcn", "put !"]);
  // Outside RAM, or a non-zero base_addr_hi on RV64: SBI_ERR_INVALID_PARAM, nothing written.
  assert.equal(call(harts[0], EXT_DBCN, 0, 4, 0x1000, 0).error, SBI_ERR_INVALID_PARAM);
  assert.equal(call(harts[0], EXT_DBCN, 0, 4, 0x8000_0200, 1).error, SBI_ERR_INVALID_PARAM);
  assert.equal(call(harts[0], EXT_DBCN, 0, 2 ** 21, 0x800f_ff00, 0).error, SBI_ERR_INVALID_PARAM, "runs past the end of RAM");
  assert.equal(events.length, 2);
  // console_read: what is pending (here "A" then "BC"), at most num_bytes, 0 when nothing is.
  input.push(0x42, 0x43);
  assert.deepEqual(call(harts[0], EXT_DBCN, 1, 2, 0x8000_0300, 0), { error: 0, value: 2 });
  assert.deepEqual([...ram.read(0x8000_0300, 2)], [0x41, 0x42]);
  assert.deepEqual(call(harts[0], EXT_DBCN, 1, 8, 0x8000_0300, 0), { error: 0, value: 1 });
  assert.equal(ram.read(0x8000_0300, 1)[0], 0x43);
  assert.deepEqual(call(harts[0], EXT_DBCN, 1, 8, 0x8000_0300, 0), { error: 0, value: 0 });
  assert.equal(call(harts[0], EXT_DBCN, 3).error, SBI_ERR_NOT_SUPPORTED);
});

/** The calls Linux's perf_event_riscv_sbi driver makes at probe (pmu_sbi_find_num_ctrs, pmu_sbi_get_ctrinfo, pmu_sbi_stop_all). */
test("PMU: Linux's driver probe sees 19 counters (cycle, instret, 16 firmware), time is not one; stop_all stops cycle and instret", () => {
  const { harts, call } = setup();
  const h = harts[0];
  const n = call(h, EXT_PMU, PMU_NUM_COUNTERS);
  assert.deepEqual(n, { error: 0, value: PMU_COUNTERS });
  assert.equal(PMU_COUNTERS, 19);
  let hw = 0, fw = 0, mask = 0;
  for (let i = 0; i < n.value; i++) {
    const r = call(h, EXT_PMU, PMU_COUNTER_GET_INFO, i);
    if (r.error !== 0) { assert.equal(i, 1, "only the time slot is not a counter"); continue; }
    mask += 2 ** i;
    const info = BigInt.asUintN(64, BigInt(r.value));
    if (info >> 63n === 1n) { fw++; continue; }
    hw++;
    assert.equal(Number(info & 0xfffn), CSR.cycle + i, "csr: cycle / instret");
    assert.equal(Number((info >> 12n) & 0x3fn), 63, "64-bit counter");
  }
  assert.deepEqual([hw, fw], [2, 16], "as OpenSBI on a hart without hpmcounters: 2 hardware, 16 firmware");
  assert.equal(call(h, EXT_PMU, PMU_COUNTER_GET_INFO, n.value).error, SBI_ERR_INVALID_PARAM);
  assert.equal(h.mcountinhibit, 0, "cycle and instret run from reset");
  call(h, EXT_PMU, PMU_COUNTER_STOP, 0, mask, PMU_STOP_FLAG_RESET);
  assert.equal(h.mcountinhibit, 0b101, "stop_all inhibits mcycle and minstret");
  assert.equal(call(h, EXT_PMU, PMU_COUNTER_STOP, 0, 2 ** 19, 0).error, SBI_ERR_INVALID_PARAM, "counter 19 does not exist");
  assert.equal(call(h, EXT_PMU, PMU_COUNTER_STOP, 1, 1, 0).error, SBI_ERR_INVALID_PARAM, "time is not a counter");
  assert.equal(call(h, EXT_PMU, PMU_SNAPSHOT_SET_SHMEM, 0, 0, 0).error, SBI_ERR_NOT_SUPPORTED);
});

test("PMU: perf's cycles event: config_matching picks counter 0, start sets the initial value, stop freezes it", () => {
  const { harts, call } = setup();
  const h = harts[0];
  call(h, EXT_PMU, PMU_COUNTER_STOP, 0, 0b101, PMU_STOP_FLAG_RESET);
  const CPU_CYCLES = 1, INSTRUCTIONS = 2, CACHE_REFERENCES = 3;
  // Linux passes every hardware counter in the mask; the cycles event can only go to counter 0.
  const c = call(h, EXT_PMU, PMU_COUNTER_CONFIG_MATCHING, 0, 0b101, PMU_CFG_FLAG_CLEAR_VALUE, CPU_CYCLES, 0);
  assert.deepEqual(c, { error: 0, value: 0 });
  assert.deepEqual(call(h, EXT_PMU, PMU_COUNTER_CONFIG_MATCHING, 0, 0b101, 0, INSTRUCTIONS, 0), { error: 0, value: 2 });
  assert.equal(call(h, EXT_PMU, PMU_COUNTER_CONFIG_MATCHING, 0, 0b101, 0, CPU_CYCLES, 0).error, SBI_ERR_NOT_SUPPORTED, "counter 0 is taken");
  assert.equal(call(h, EXT_PMU, PMU_COUNTER_CONFIG_MATCHING, 0, 0b101, 0, CACHE_REFERENCES, 0).error, SBI_ERR_NOT_SUPPORTED);
  assert.equal(call(h, EXT_PMU, PMU_COUNTER_CONFIG_MATCHING, 0, 0b101, PMU_CFG_FLAG_SKIP_MATCH, CPU_CYCLES, 0).value, 0, "skip match: the named counter");
  // riscv_pmu_event_set_period: start with an initial value (a0..a3 = base, mask, flags, value).
  assert.equal(call(h, EXT_PMU, PMU_COUNTER_START, 0, 1, PMU_START_FLAG_SET_INIT_VALUE, 0x1_2345_6789).error, 0);
  assert.equal(h.mcountinhibit & 1, 0);
  assert.ok(h.csrRead(CSR.mcycle));
  assert.equal(h.csrHi, 1, "mcycle = the initial value (high word)");
  assert.ok(h.csrLo >= 0x2345_6789 && h.csrLo < 0x2345_6789 + 4, `mcycle = the initial value (low word ${h.csrLo.toString(16)})`);
  assert.equal(call(h, EXT_PMU, PMU_COUNTER_START, 0, 1, 0).error, -7, "already started");
  assert.equal(call(h, EXT_PMU, PMU_COUNTER_STOP, 0, 1, 0).error, 0);
  assert.equal(call(h, EXT_PMU, PMU_COUNTER_STOP, 0, 1, 0).error, -8, "already stopped");
  assert.equal(call(h, EXT_PMU, PMU_COUNTER_START, 3, 1, 0).error, SBI_ERR_INVALID_PARAM, "an unconfigured counter cannot start");
  // Reset frees it for the next event.
  call(h, EXT_PMU, PMU_COUNTER_STOP, 0, 1, PMU_STOP_FLAG_RESET);
  assert.deepEqual(call(h, EXT_PMU, PMU_COUNTER_CONFIG_MATCHING, 0, 0b101, 0, CPU_CYCLES, 0), { error: 0, value: 0 });
});

test("PMU: firmware counters count SBI events on their hart and are read with counter_fw_read", () => {
  const { harts, call } = setup();
  const [h0, h1] = harts;
  call(h0, EXT_HSM, 0, 1, 0x8020_1000, 0);
  const fwEvent = (code: number): number => (PMU_EVENT_TYPE_FW << 16) | code;
  const fwMask = 2 ** 16 - 1;
  const timer = call(h0, EXT_PMU, PMU_COUNTER_CONFIG_MATCHING, PMU_FIRST_FW, fwMask, PMU_CFG_FLAG_AUTO_START | PMU_CFG_FLAG_CLEAR_VALUE, fwEvent(PMU_FW_SET_TIMER), 0);
  const sent = call(h0, EXT_PMU, PMU_COUNTER_CONFIG_MATCHING, PMU_FIRST_FW, fwMask, PMU_CFG_FLAG_AUTO_START, fwEvent(PMU_FW_IPI_SENT), 0);
  const recv = call(h1, EXT_PMU, PMU_COUNTER_CONFIG_MATCHING, PMU_FIRST_FW, fwMask, PMU_CFG_FLAG_AUTO_START, fwEvent(PMU_FW_IPI_RECEIVED), 0);
  const fence = call(h0, EXT_PMU, PMU_COUNTER_CONFIG_MATCHING, PMU_FIRST_FW, fwMask, 0, fwEvent(PMU_FW_SFENCE_VMA_SENT), 0);
  assert.deepEqual([timer.error, sent.error, recv.error, fence.error], [0, 0, 0, 0]);
  assert.deepEqual([timer.value, sent.value, recv.value, fence.value], [3, 4, 3, 5], "first free firmware counters, per hart");
  assert.equal(call(h0, EXT_PMU, PMU_COUNTER_CONFIG_MATCHING, 0, 0b101, 0, fwEvent(PMU_FW_SET_TIMER), 0).error, SBI_ERR_NOT_SUPPORTED, "not on cycle/instret");
  call(h0, EXT_TIME, 0, 1000);
  call(h0, 0, 0, 2000); // legacy set_timer counts too
  call(h0, EXT_IPI, 0, 0b11, 0); // to both harts
  call(h1, EXT_IPI, 0, 0b01, 0); // hart 1 sends one: not counted on hart 0's IPI_SENT counter
  call(h0, EXT_RFENCE, 1, 0b10, 0, 0, 0); // counter 5 is not started: no count
  const read = (h: typeof h0, c: number): number => call(h, EXT_PMU, PMU_COUNTER_FW_READ, c).value;
  assert.equal(read(h0, 3), 2, "two set_timer calls on hart 0");
  assert.equal(read(h0, 4), 2, "hart 0 sent two IPIs");
  assert.equal(read(h1, 3), 1, "hart 1 received one of them");
  assert.equal(read(h0, 5), 0);
  assert.deepEqual(call(h0, EXT_PMU, PMU_COUNTER_FW_READ_HI, 3), { error: 0, value: 0 });
  assert.equal(call(h0, EXT_PMU, PMU_COUNTER_FW_READ, 0).error, SBI_ERR_INVALID_PARAM, "cycle is not a firmware counter");
  assert.equal(call(h0, EXT_PMU, PMU_COUNTER_FW_READ, 10).error, SBI_ERR_INVALID_PARAM, "not configured");
  // stop, then start with an initial value.
  call(h0, EXT_PMU, PMU_COUNTER_STOP, 3, 1, 0);
  call(h0, EXT_TIME, 0, 3000);
  assert.equal(read(h0, 3), 2, "stopped: no count");
  call(h0, EXT_PMU, PMU_COUNTER_START, 3, 1, PMU_START_FLAG_SET_INIT_VALUE, 100);
  call(h0, EXT_TIME, 0, 4000);
  assert.equal(read(h0, 3), 101);
});

test("PMU: user access to time through scounteren as Linux's driver sets it (U-mode rdtime)", () => {
  const { harts } = setup();
  const h = harts[0];
  // pmu_sbi_starting_cpu: csr_write(CSR_SCOUNTEREN, 0x2) (or 0x7 in the legacy mode).
  h.csrWrite(CSR.scounteren, 2, 0);
  h.setPriv(PRV_U);
  assert.equal(h.csrRead(CSR.time), true, "rdtime allowed");
  assert.equal(h.csrRead(CSR.cycle), false, "rdcycle not granted");
});
