import { test } from "node:test";
import assert from "node:assert/strict";
import { actionsFor, fitTerminal, formatDisks, formatMib, requestFor, tokenFromFragment } from "./model.js";

test("web console model: actions per state, their requests, the token in the fragment, formatting, terminal fit", () => {
  assert.deepEqual([...actionsFor("shut off")].sort(), ["console", "start"]);
  assert.deepEqual([...actionsFor("running")].sort(), ["console", "kill", "pause", "snapshot", "stop"]);
  assert.deepEqual([...actionsFor("paused")].sort(), ["console", "kill", "resume", "snapshot", "stop"]);
  assert.deepEqual(requestFor("pause"), { method: "PATCH", path: "vm", body: { state: "Paused" } });
  assert.deepEqual(requestFor("start"), { method: "PUT", path: "actions", body: { action_type: "InstanceStart" } });
  assert.deepEqual(tokenFromFragment("#token=abc%2Bdef&vm=x"), { token: "abc+def", rest: "#vm=x" });
  assert.deepEqual(tokenFromFragment("#token="), { token: null, rest: "" });
  assert.deepEqual(tokenFromFragment(""), { token: null, rest: "" });
  assert.equal(formatMib(256), "256 MiB");
  assert.equal(formatMib(2048), "2 GiB");
  assert.equal(formatDisks([]), "none");
  assert.equal(formatDisks([{ id: "root", path: "/a", format: "qcow2", readonly: false }, { id: "d", path: "/b", format: "raw", readonly: true }]), "root (qcow2), d (raw, ro)");
  assert.deepEqual(fitTerminal(800, 480, 8, 16), { cols: 100, rows: 30 });
  assert.deepEqual(fitTerminal(10, 10, 8, 16), { cols: 20, rows: 5 });
  assert.deepEqual(fitTerminal(800, 480, 0, 16), { cols: 80, rows: 24 });
});
