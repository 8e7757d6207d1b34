// `rvisor logs NAME --follow` (docker logs -f, journalctl -f): the kept console output, then what
// the VM writes as it writes it, across a stop and a start of the VM, until the user interrupts
// it (SIGINT: exit 0). The VM is a bare machine whose one program echoes the serial console (no
// guest image needed), so what is typed on its console is what it writes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { appendFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { Hypervisor } from "../src/host/node/hypervisor.js";
import { RVISOR_BIN } from "./lib/guest.js";
import { echoes, echoHome, echoVmDefinition } from "./lib/echo_vm.js";
import { scaled } from "./lib/time_scale.js";

const FOLLOW_WAIT_MS = 20_000;

test("logs --follow: the kept output, then new output as the VM writes it, across a restart; SIGINT ends it with 0", { timeout: scaled(60_000) }, async () => {
  const { home, env, kernel } = echoHome("logs");
  const hv = new Hypervisor({ home, env });
  await hv.create(echoVmDefinition("e1", kernel));
  await hv.start("e1");
  const c = await hv.console("e1");
  try { await echoes(c, "kept-1\r"); } finally { c.destroy(); }
  const follower = spawn(process.execPath, [RVISOR_BIN, "logs", "e1", "--follow"], { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "", err = "";
  try {
    follower.stdout.on("data", (d: Buffer) => { out += d.toString("latin1"); });
    follower.stderr.on("data", (d: Buffer) => { err += d.toString("latin1"); });
    const until = async (what: string): Promise<void> => {
      const deadline = performance.now() + scaled(FOLLOW_WAIT_MS);
      while (!out.includes(what)) {
        assert.ok(performance.now() < deadline && follower.exitCode === null, `logs --follow did not show ${JSON.stringify(what)}: ${JSON.stringify(out)} ${err}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await until("kept-1\r");
    const c2 = await hv.console("e1");
    try { await echoes(c2, "live-2\r"); } finally { c2.destroy(); }
    await until("live-2\r");
    // The VM stops and starts again: the follower keeps going.
    await hv.stop("e1", { force: true });
    await hv.start("e1");
    const c3 = await hv.console("e1");
    try { await echoes(c3, "after-restart-3\r"); } finally { c3.destroy(); }
    await until("after-restart-3\r");
    assert.deepEqual([out.indexOf("kept-1") < out.indexOf("live-2"), out.indexOf("live-2") < out.indexOf("after-restart-3")], [true, true]);
    const exited = new Promise<number | null>((r) => follower.once("exit", (code) => r(code)));
    follower.kill("SIGINT");
    assert.equal(await exited, 0, err);
  } finally {
    if (follower.exitCode === null) follower.kill("SIGKILL");
    for (const v of await hv.list()) if (v.pid !== null) await hv.kill(v.name).catch(() => undefined);
    rmSync(home, { recursive: true, force: true });
  }
});

test("followLogs: appended bytes only, the tail of the kept output first, and nothing lost when the log rotates", { timeout: scaled(30_000) }, async () => {
  const { home, env, kernel } = echoHome("logrot");
  const hv = new Hypervisor({ home, env });
  try {
    await hv.create(echoVmDefinition("r1", kernel));
    const log = hv.store.logPath("r1");
    writeFileSync(log, "one\ntwo\nthree\n");
    let got = "";
    const stop = hv.followLogs("r1", (b) => { got += b.toString("latin1"); }, { tail: 2, kept: true });
    try {
      assert.equal(got, "two\nthree\n", "the kept output's last 2 lines, at once");
      const wait = async (want: string): Promise<void> => {
        const deadline = performance.now() + 10_000;
        while (got !== want) {
          assert.ok(performance.now() < deadline, `followed ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      appendFileSync(log, "four\n");
      await wait("two\nthree\nfour\n");
      // As RotatingLog does: more output, then the file becomes console.log.1 and a new one starts,
      // before the follower looked again.
      appendFileSync(log, "five\n");
      renameSync(log, `${log}.1`);
      writeFileSync(log, "six\n");
      await wait("two\nthree\nfour\nfive\nsix\n");
    } finally { stop(); }
  } finally { rmSync(home, { recursive: true, force: true }); }
});
