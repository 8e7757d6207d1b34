// Hart unit tests: snapshot round trip, x0, traps and delegation, Sv39 translation.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Bus } from "../memory/bus.js";
import { Ram } from "../memory/ram.js";
import { CodeCache } from "./code_cache.js";
import { Hart } from "./hart.js";
import { CSR, MENVCFG_ADUE_HI, PRV_M, PRV_S } from "./csr_numbers.js";

const BASE = 0x8000_0000;

function machine(words: number[], memBytes = 1 << 20): { ram: Ram; hart: Hart } {
  const ram = new Ram(BASE, memBytes);
  const bus = new Bus(ram);
  const hart = new Hart(0, bus, new CodeCache(ram));
  words.forEach((w, i) => ram.write32(BASE + 4 * i, w >>> 0));
  hart.pc = BASE;
  return { ram, hart };
}

// Small assembler for the handful of encodings the tests need.
const I = (op: number, f3: number, rd: number, rs1: number, imm: number): number => ((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op;
const addi = (rd: number, rs1: number, imm: number): number => I(0x13, 0, rd, rs1, imm);
const csrrw = (rd: number, csr: number, rs1: number): number => I(0x73, 1, rd, rs1, csr);
const csrrs = (rd: number, csr: number, rs1: number): number => I(0x73, 2, rd, rs1, csr);
const ld = (rd: number, rs1: number, imm: number): number => I(0x03, 3, rd, rs1, imm);
const mul = (rd: number, rs1: number, rs2: number): number => (1 << 25) | (rs2 << 20) | (rs1 << 15) | (rd << 7) | 0x33;
const ECALL = 0x00000073, MRET = 0x30200073;

test("x0 stays zero and ADDI sign-extends into 64 bits", () => {
  const { hart } = machine([addi(0, 0, 5), addi(1, 0, -1), addi(2, 1, -1), ECALL]);
  hart.run(3);
  assert.equal(hart.getX(0), 0);
  assert.equal(hart.getXBig(1), 0xffff_ffff_ffff_ffffn);
  assert.equal(hart.getXBig(2), 0xffff_ffff_ffff_fffen);
});

test("64-bit MUL keeps the low 64 bits of the product", () => {
  const { hart } = machine([mul(3, 1, 2), ECALL]);
  hart.x[2] = 0x12345678; hart.x[3] = 0x9abcdef0 | 0;
  hart.x[4] = 0x0fedcba9; hart.x[5] = 0x87654321 | 0;
  hart.run(1);
  const want = BigInt.asUintN(64, 0x9abcdef012345678n * 0x876543210fedcba9n);
  assert.equal(hart.getXBig(3), want);
});

test("ECALL from M traps to mtvec with mcause 11 and mepc; MRET returns", () => {
  // 0: csrrw x0, mtvec, x5 ; 4: ecall ; 8: addi x6, x0, 7 ; trap handler at 0x40: csrrs x7, mepc; addi x7,x7,4; csrrw x0,mepc,x7; mret
  const prog = [csrrw(0, 0x305, 5), ECALL, addi(6, 0, 7), ECALL];
  while (prog.length < 16) prog.push(0);
  prog.push(csrrs(7, 0x341, 0), addi(7, 7, 4), csrrw(0, 0x341, 7), MRET);
  const { hart } = machine(prog);
  hart.setX(5, BASE + 0x40);
  hart.run(2);
  assert.equal(hart.pc, BASE + 0x40);
  assert.ok(hart.csrRead(0x342));
  assert.equal(hart.csrLo, 11);
  hart.run(5);
  assert.equal(hart.getX(6), 7);
  assert.equal(hart.priv, PRV_M);
});

test("a load from an unmapped physical address raises a load access fault with mtval", () => {
  const { hart } = machine([ld(1, 2, 8)]);
  hart.setX(2, 0x1000);
  hart.csrWrite(0x305, BASE + 0x100, 0);
  hart.run(1);
  assert.equal(hart.pc, BASE + 0x100);
  hart.csrRead(0x342); assert.equal(hart.csrLo, 5);
  hart.csrRead(0x343); assert.equal(hart.csrLo, 0x1008);
});

test("Sv39: a 4 KiB mapping translates, sets A/D, and an unmapped page faults with stval", () => {
  const { ram, hart } = machine([], 4 << 20);
  const root = BASE + 0x10_0000, l1 = root + 0x1000, l0 = root + 0x2000, page = BASE + 0x20_0000;
  const pte = (pa: number, flags: number): number => (pa / 4096) * 1024 + flags;
  // VA 0x4000_0000 → l1 → l0 → page (R|W|V|U=0)
  ram.write64(root + 8 * 1, pte(l1, 1));
  ram.write64(l1 + 0, pte(l0, 1));
  ram.write64(l0 + 0, pte(page, 0x7));
  // Hardware A/D updating (Svadu): the max profile resets menvcfg.ADUE to 0 (Svade).
  hart.csrWrite(CSR.menvcfg, 0, MENVCFG_ADUE_HI);
  ram.write32(page + 16, 0xdeadbeef);
  hart.setPriv(PRV_S);
  hart.csrWrite(0x180, (root / 4096) >>> 0, 8 << 28);
  const pa = hart.translate(0x4000_0010, 0, 2, PRV_S);
  assert.equal(pa, page + 16);
  assert.equal(ram.read32(l0) & 0xc0, 0xc0, "A and D set by the store walk");
  assert.throws(() => hart.translate(0x4000_1000, 0, 1, PRV_S));
  assert.equal(hart.excCause, 13);
  assert.equal(hart.excTvalLo >>> 0, 0x4000_1000);
  // Non-canonical address (bit 38 not sign-extended) faults too.
  assert.throws(() => hart.translate(0x4000_0000, 1, 1, PRV_S));
});

test("hart state round-trips through saveState/loadState", () => {
  const prog = [addi(1, 1, 1), addi(2, 2, 3), mul(3, 1, 2), 0xfe0006e3 /* beq x0,x0,-20 */];
  const a = machine(prog);
  a.hart.csrWrite(0x340, 0x1234, 0x5678); // mscratch
  a.hart.fi[10] = 0x3f800000; a.hart.fi[11] = -1;
  a.hart.run(40);
  const snap = JSON.parse(JSON.stringify(a.hart.saveState())) as ReturnType<Hart["saveState"]>;
  const b = machine(prog);
  b.hart.loadState(snap);
  a.hart.run(400); b.hart.run(400);
  for (let r = 0; r < 32; r++) assert.equal(b.hart.getXBig(r), a.hart.getXBig(r), `x${r}`);
  assert.deepEqual(Array.from(b.hart.fi), Array.from(a.hart.fi));
  assert.equal(b.hart.pc, a.hart.pc);
  assert.equal(b.hart.minstret(), a.hart.minstret());
  b.hart.csrRead(0x340);
  assert.deepEqual([b.hart.csrLo, b.hart.csrHi], [0x1234, 0x5678]);
});

test("CSRRC on mip does not latch the external SEIP line into the software bit", () => {
  const csrrc = (rd: number, csr: number, rs1: number): number => I(0x73, 3, rd, rs1, csr);
  const { hart } = machine([csrrc(0, 0x344, 5), ECALL]);
  hart.setIrq(1 << 9, true); // PLIC raises SEIP
  hart.setX(5, 1 << 5); // clear STIP
  hart.run(1);
  hart.setIrq(1 << 9, false); // PLIC lowers it again
  hart.csrRead(0x344);
  assert.equal(hart.csrLo & (1 << 9), 0, "SEIP must follow the line once it drops");
});

test("a trap inside a compiled (hot) block reports the right pc, instret and partial effects", () => {
  const B = (f3: number, rs1: number, rs2: number, imm: number): number =>
    (((imm >> 12) & 1) << 31) | (((imm >> 5) & 0x3f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (((imm >> 1) & 0xf) << 8) | (((imm >> 11) & 1) << 7) | 0x63;
  const J = (rd: number, imm: number): number =>
    (((imm >> 20) & 1) << 31) | (((imm >> 1) & 0x3ff) << 21) | (((imm >> 11) & 1) << 20) | (((imm >> 12) & 0xff) << 12) | (rd << 7) | 0x6f;
  const prog = [
    addi(7, 7, 1),        // 0: loop: x7++
    ld(5, 6, 0),          // 4: load through x6 (faults once x6 is 0x1000)
    addi(8, 8, 1),        // 8: x8++
    B(1, 7, 9, -12),      // 12: bne x7, x9, loop
    (1 << 12) | (6 << 7) | 0x37, // 16: lui x6, 1  → x6 = 0x1000
    addi(9, 9, 1000),     // 20: x9 += 1000 (loop again)
    J(0, -24),            // 24: j loop
  ];
  const { hart } = machine(prog);
  hart.setX(6, BASE + 0x800);
  hart.setX(9, 500);
  const traps: [number, number][] = [];
  hart.trapHook = (h, cause, pc) => { traps.push([cause, pc]); h.stopped = true; return true; };
  hart.run(10_000);
  assert.deepEqual(traps, [[5, BASE + 4]], "one load access fault, at the ld");
  assert.equal(hart.getX(7), 501, "the addi before the ld in the same block ran");
  assert.equal(hart.getX(8), 500, "the addi after it did not");
  // 500 iterations of 4 + lui, addi, j + the addi before the faulting ld.
  assert.equal(hart.minstret(), 500 * 4 + 3 + 1);
});
