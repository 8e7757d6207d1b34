import { test } from "node:test";
import assert from "node:assert/strict";
import { ConsoleTickets, MAX_TICKETS, TICKET_TTL_MS } from "./console_tickets.js";

test("console tickets: single use, for one VM, until they expire; the oldest go when too many are out", () => {
  let now = 1_000_000;
  const t = new ConsoleTickets(() => now);
  const a = t.issue("vm1");
  assert.match(a.ticket, /^[0-9a-f]{64}$/);
  assert.equal(a.expiresAt, now + TICKET_TTL_MS);
  assert.equal(t.take(a.ticket, "vm1"), true);
  assert.equal(t.take(a.ticket, "vm1"), false, "a ticket is good once");

  const b = t.issue("vm1");
  assert.equal(t.take(b.ticket, "vm2"), false, "a ticket is for its VM only");
  assert.equal(t.take(b.ticket, "vm1"), false, "and shown at the wrong VM it is spent");

  const c = t.issue("vm1");
  now += TICKET_TTL_MS;
  assert.equal(t.take(c.ticket, "vm1"), false, "expired");
  assert.equal(t.take("", "vm1"), false);
  assert.equal(t.take("not-a-ticket", "vm1"), false);

  const first = t.issue("vm1");
  for (let i = 1; i < MAX_TICKETS; i++) t.issue("vm1");
  assert.equal(t.size, MAX_TICKETS);
  const last = t.issue("vm1");
  assert.equal(t.size, MAX_TICKETS);
  assert.equal(t.take(first.ticket, "vm1"), false, "the oldest was dropped");
  assert.equal(t.take(last.ticket, "vm1"), true);
  now += TICKET_TTL_MS;
  assert.equal(t.size, 0, "expired tickets are pruned");
});
