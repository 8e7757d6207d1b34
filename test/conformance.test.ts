// Bare-metal conformance programs (test/conformance/*.S): each is built with the cross gcc,
// validated on QEMU's spike board (proving the test itself right), then run on rvisor's
// bare-metal runner. Both must exit through HTIF with status 0 and print the same console
// output. Skips only when the cross compiler is missing. QEMU runs the QEMU_QUIRKS build of
// each program, which differs only in checks where QEMU 7.2 deviates from the spec.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { buildConformance, conformanceMeta, conformancePrograms, crossGcc, missingCompilerMessage } from "./lib/toolchain.js";
import { Isa, PROFILES, type CpuProfile } from "../src/cpu/isa.js";
import { qemuSystem, runQemuSpike } from "./lib/qemu.js";
import { loadRunBareMetal } from "./lib/rvisor.js";

const MAX_INSTRUCTIONS = 200_000_000;
const haveGcc = crossGcc() !== null;
const haveQemu = qemuSystem() !== null;
const skip = haveGcc ? false : missingCompilerMessage();

test("conformance programs exist", { skip }, () => {
  const names = conformancePrograms().map((p) => p.replace(/.*\//, ""));
  for (const want of ["rv64i.S", "rv64m.S", "rv64a.S", "rv64c.S", "fp.S", "csr.S", "traps.S", "interrupts.S", "vm_sv39.S", "vm_sv48.S", "counters.S"]) {
    assert.ok(names.includes(want), `missing test/conformance/${want}`);
  }
});

for (const src of haveGcc ? conformancePrograms() : ["(none)"]) {
  const name = src.replace(/.*\//, "");
  test(`conformance ${name}`, { skip }, async (t) => {
    const elfPath = buildConformance(src);
    const meta = conformanceMeta(src);
    if (!(meta.cpu in PROFILES)) assert.fail(`${name}: unknown //! cpu: ${meta.cpu}`);
    const isa = Isa.profile(meta.cpu as CpuProfile);
    let qemuOutput: string | null = null;
    if (meta.reference === "spec") {
      t.diagnostic("reference: expected values from the specification (QEMU 7.2 lacks this extension)");
    } else if (haveQemu) {
      await t.test("qemu-system-riscv64 -M spike (reference)", async () => {
        // -icount: exact instret/cycle; QEMU_QUIRKS build: see CHK_QUIRK in common.h.
        const r = await runQemuSpike(buildConformance(src, "qemu"), { icount: true, timeoutMs: 60_000, cpuProps: meta.qemuCpu });
        assert.equal(r.timedOut, false, `QEMU timed out; output so far:\n${r.output}`);
        assert.equal(r.exitCode, 0, `QEMU exit ${String(r.exitCode)}; output:\n${r.output}${r.stderr}`);
        qemuOutput = r.output;
      });
    } else {
      t.diagnostic("qemu-system-riscv64 not found: rvisor's output is checked against the exit status only");
    }
    await t.test("rvisor", async () => {
      const loaded = await loadRunBareMetal();
      if ("error" in loaded) assert.fail(loaded.error);
      const r = loaded.run(new Uint8Array(readFileSync(elfPath)), { maxInstructions: MAX_INSTRUCTIONS, isa });
      assert.notEqual(r.exitCode, null, `instruction budget (${MAX_INSTRUCTIONS}) exhausted; output:\n${r.output}`);
      assert.equal(r.exitCode, 0, `rvisor exit ${String(r.exitCode)}; output:\n${r.output}`);
      if (qemuOutput !== null) assert.equal(r.output, qemuOutput, "console output differs from QEMU");
    });
  });
}
