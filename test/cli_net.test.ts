// `rvisor run --net`: usage errors, and the card in the device tree (--dump-dtb, no boot).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RVISOR_BIN } from "./lib/guest.js";
import { WFI_LOOP, tinyElf } from "./lib/tiny_elf.js";
import { scaled } from "./lib/time_scale.js";

function rvisor(...args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [RVISOR_BIN, ...args], { encoding: "utf8", timeout: scaled(60_000), input: "" });
  return { status: r.status, stderr: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), "rvisor-cli-net-"));
const kernel = join(dir, "k.elf");
writeFileSync(kernel, tinyElf({ base: 0x8000_0000, code: WFI_LOOP }));

test("--net: bad values are usage errors (status 2) naming the option", () => {
  for (const [spec, msg] of [["tap", /must be 'user', 'switch=NAME' or 'none'/], ["user,mac=zz", /mac=/], ["user,foo=1", /unknown option 'foo'/],
    ["user,hostfwd=tcp::1", /hostfwd= must be \[tcp\|udp\]/], ["user,hostfwd=tcp::99999-:80", /host port must be 1 to 65535/]] as const) {
    const r = rvisor("run", "--bios", "none", "--kernel", kernel, "--net", spec);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, msg);
  }
});

test("--net user adds a virtio-mmio node per card; --net none adds none", () => {
  const count = (args: string[]): number => {
    const out = join(dir, `dtb-${args.join("_").replace(/[^a-z0-9]/gi, "")}`);
    const r = rvisor("run", "--bios", "none", "--kernel", kernel, "--dump-dtb", out, ...args);
    assert.equal(r.status, 0, r.stderr);
    return readFileSync(out).toString("latin1").split("virtio_mmio@").length - 1;
  };
  const none = count([]);
  assert.equal(count(["--net", "none"]), none);
  assert.equal(count(["--net", "user"]), none + 1);
  assert.equal(count(["--net", "user", "--net", "user,mac=52:54:00:00:00:02"]), none + 2);
});
