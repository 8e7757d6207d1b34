// Zfh/Zfhmin/Zfa tables in the decoder: which ISA gets which forms, shared definitions, and no
// overlapping encodings (Spike checks the same for its instruction list).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Decoder, INSN_TABLES, INSN_TABLES_JOINT } from "../decode.js";
import { Isa, type ExtName } from "../isa.js";
import type { InsnDef } from "../insn.js";
import { zfh, zfhmin, zfhminD } from "./zfh.js";
import { zfa, zfaD, zfaH } from "./zfa.js";

// A few encodings (rd = rs1 = rs2 = 1 where there are operands).
const FLH = 0x00109087; // flh f1, 0(x1)
const FADD_H = 0x042080d3; // fadd.h f1, f1, f2, rne
const FCVT_D_H = 0x422080d3; // fcvt.d.h f1, f1
const FLI_S = 0xf01080d3; // fli.s f1, entry 1
const FLI_D = 0xf21080d3;
const FLI_H = 0xf41080d3;
const FCVTMOD_W_D = 0xc28090d3; // fcvtmod.w.d x1, f1, rtz
const FMVH_X_D = 0xe21080d3; // RV32-only
const FMVP_D_X = 0xb22080d3; // RV32-only

function names(isa: Isa, raws: number[]): (string | null)[] {
  const d = new Decoder(isa);
  return raws.map((r) => d.lookup(r)?.name ?? null);
}

test("decoder: Zfh forms need Zfh, .d forms need D, Zfa .h forms need Zfa and Zfh", () => {
  const raws = [FLH, FADD_H, FCVT_D_H, FLI_S, FLI_D, FLI_H, FCVTMOD_W_D, FMVH_X_D, FMVP_D_X];
  assert.deepEqual(names(Isa.profile("rv64gc"), raws), [null, null, null, null, null, null, null, null, null]);
  assert.deepEqual(names(Isa.profile("rva22"), raws), ["flh", null, "fcvt_d_h", null, null, null, null, null, null]);
  assert.deepEqual(names(Isa.profile("max"), raws),
    ["flh", "fadd_h", "fcvt_d_h", "fli_s", "fli_d", "fli_h", "fcvtmod_w_d", null, null]);
  const only = (exts: ExtName[]): (string | null)[] => names(new Isa(["i", ...exts]), raws);
  assert.deepEqual(only(["zfhmin"]), ["flh", null, null, null, null, null, null, null, null]); // no D
  assert.deepEqual(only(["zfh"]), ["flh", "fadd_h", null, null, null, null, null, null, null]);
  assert.deepEqual(only(["zfa"]), [null, null, null, "fli_s", null, null, null, null, null]);
  assert.deepEqual(only(["zfa", "d"]), [null, null, null, "fli_s", "fli_d", null, "fcvtmod_w_d", null, null]);
  assert.deepEqual(only(["zfa", "zfhmin"]), ["flh", null, null, "fli_s", null, null, null, null, null]);
  assert.deepEqual(only(["zfa", "zfh"]), ["flh", "fadd_h", null, "fli_s", null, "fli_h", null, null, null]);
  // fcvtmod.w.d exists only with rm = RTZ
  assert.equal(new Decoder(Isa.profile("max")).lookup(FCVTMOD_W_D & ~0x7000), null);
});

test("Zfhmin instructions are the same definitions in the Zfh list", () => {
  for (const def of zfhmin) assert.ok(zfh.includes(def), def.name);
  assert.equal(INSN_TABLES.zfh, zfh);
  assert.equal(INSN_TABLES.zfhmin, zfhmin);
  assert.equal(INSN_TABLES.zfa, zfa);
  const joint = INSN_TABLES_JOINT.map((j) => j.defs);
  for (const t of [zfhminD, zfaD, zfaH]) assert.ok(joint.includes(t));
});

