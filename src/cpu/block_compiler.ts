// The first step towards a JIT: a hot block becomes one generated JavaScript function that
// calls its instructions' exec functions in sequence, each bound as a constant. Every call site
// in it then sees a single target, so V8 inlines the instruction bodies — the generic block
// loop's one megamorphic call per instruction disappears. The next step is to generate the
// instruction bodies themselves.
//
// Where code generation is forbidden (a page whose Content-Security-Policy disallows eval),
// `compileBlock` returns null and the hart keeps interpreting the block.
import type { Hart } from "./hart.js";
import type { Insn } from "./insn.js";

export type CompiledBlock = (h: Hart) => void;

let available = true;

export function compileBlock(insns: readonly Insn[]): CompiledBlock | null {
  if (!available) return null;
  const params: string[] = [];
  const args: unknown[] = [];
  let body = "";
  insns.forEach((d, k) => {
    params.push(`f${k}`, `d${k}`);
    args.push(d.fn, d);
    body += `i = ${k}; f${k}(h, d${k}, 0);\n`;
  });
  // On a trap, record how many instructions completed before rethrowing (Hart.run reads it).
  const src = `return function block(h) {\nlet i = 0;\ntry {\n${body}} catch (e) { h.trapIndex = i; throw e; }\n};`;
  try {
    const factory = new Function(...params, src) as (...a: unknown[]) => CompiledBlock;
    return factory(...args);
  } catch {
    available = false;
    return null;
  }
}
