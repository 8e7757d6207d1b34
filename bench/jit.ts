// What WebAssembly compilation costs (issue 8: "measure WebAssembly.Module cost and pick
// thresholds from data"). Modules shaped like translated RV64 code — guest registers in i64
// locals, 64-bit ALU operations, and every fourth instruction a load or store behind an inline
// TLB compare with a slow-path call — are encoded with src/cpu/jit/wasm.ts, compiled with the
// synchronous `new WebAssembly.Module`, instantiated, and every function called once, as a
// translator on the run loop would: V8 compiles wasm functions lazily on their first call, so
// the Module constructor alone measures almost nothing. Rows give the median time per module
// (encode excluded); the notes split it per guest instruction.
import { Code, Module, Op, ValType } from "../src/cpu/jit/wasm.js";
import type { BenchRow, BenchSection } from "./bench.js";

/** Guest registers kept in locals by the model translation. */
const REGS = 16;
const REPEATS = 15;

/** One translated "guest instruction": ALU (3 of 4) or a load/store with a TLB check (1 of 4). */
function emitInsn(c: Code, k: number, slowPath: number): void {
  const rd = 1 + (k % REGS), rs1 = 1 + ((k * 7) % REGS), rs2 = 1 + ((k * 13) % REGS);
  if (k % 4 !== 3) {
    c.localGet(rs1).localGet(rs2).op([Op.i64_add, Op.i64_xor, Op.i64_sub][k % 3] as number).localSet(rd);
    return;
  }
  // address = rs1 + imm; tag compare against the TLB entry at (page & 255) * 16 in memory
  c.localGet(rs1).i64Const(k * 8, 0).op(Op.i64_add).op(Op.i32_wrap_i64).localSet(0);
  c.localGet(0).i32Const(12).op(Op.i32_shr_u).i32Const(255).op(Op.i32_and).i32Const(4).op(Op.i32_shl)
    .mem(Op.i32_load, 2).localGet(0).i32Const(-4096).op(Op.i32_and).op(Op.i32_eq);
  c.begin(Op.if, ValType.I64)
    .localGet(0).i32Const(0xfff).op(Op.i32_and).mem(Op.i64_load, 3, 4096)
    .op(Op.else).localGet(0).call(slowPath)
    .end().localSet(rd);
}

/** `salt` makes every module's bytes distinct: V8 reuses the compiled code of identical bytes. */
function buildModule(functions: number, insnsPerFunction: number, salt: number): Uint8Array {
  const m = new Module();
  const slow = m.importFunction("env", "slow", m.type([ValType.I32], [ValType.I64]));
  m.importMemory({ module: "env", name: "mem", min: 2 });
  const ty = m.type([], [ValType.I64]);
  const locals: ValType[] = [ValType.I32, ...Array.from({ length: REGS }, () => ValType.I64)];
  for (let f = 0; f < functions; f++) {
    const c = new Code().i64Const(salt, 0).localSet(1);
    for (let k = 0; k < insnsPerFunction; k++) emitInsn(c, k + f, slow);
    c.localGet(1);
    m.exportFunction(`f${f}`, m.addFunction(ty, locals.slice(), c));
  }
  return m.encode();
}

function medianCompileSeconds(functions: number, insns: number): number {
  const times: number[] = [];
  const mem = new WebAssembly.Memory({ initial: 2 });
  const imports: WebAssembly.Imports = { env: { mem, slow: (): bigint => 0n } };
  for (let i = 0; i < REPEATS; i++) {
    const bytes = buildModule(functions, insns, i + 1);
    const t0 = performance.now();
    const ex = new WebAssembly.Instance(new WebAssembly.Module(bytes), imports).exports;
    for (let f = 0; f < functions; f++) (ex[`f${f}`] as () => bigint)();
    times.push((performance.now() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[REPEATS >> 1] as number;
}

export const jitSection: BenchSection = {
  name: "jit-compile",
  description: "WebAssembly.Module compile cost for modules shaped like translated RV64 code (no QEMU counterpart)",
  async run(): Promise<BenchRow[]> {
    const shapes: [number, number][] = [[1, 16], [1, 64], [1, 256], [1, 1024], [64, 64]];
    return shapes.map(([functions, insns]) => {
      const bytes = buildModule(functions, insns, 0);
      const s = medianCompileSeconds(functions, insns);
      const total = functions * insns;
      return {
        section: "jit-compile",
        program: `${functions} function${functions > 1 ? "s" : ""} x ${insns} guest insns (${bytes.length} B)`,
        instructions: total, rvisorSeconds: s, rvisorMips: null, qemuSeconds: null, ratio: null,
        notes: `median of ${REPEATS}: ${(s * 1e6).toFixed(0)} us per module, ${((s * 1e6) / total).toFixed(2)} us per guest instruction`,
      };
    });
  },
};
