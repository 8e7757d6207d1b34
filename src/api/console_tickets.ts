// Console tickets: how a browser opens a VM's console WebSocket on a TCP listener. A browser's
// WebSocket constructor cannot send an Authorization header, so the page first asks for a ticket
// with an authenticated request (POST /v1/vms/{name}/console/ticket, bearer token as every API
// call) and then opens /v1/vms/{name}/console?ticket=T. A ticket is 256 random bits (hex), good
// for one upgrade of that one VM's console, within TICKET_TTL_MS of being issued (Proxmox's
// termproxy and KubeVirt's VNC tokens work the same way). Only the upgrade takes a ticket; every
// other request needs the bearer token.
import { randomBytes } from "node:crypto";

/** How long a ticket stays good: long enough for a page to open the WebSocket, no longer. */
export const TICKET_TTL_MS = 30_000;
/** Tickets outstanding at once; issuing one more drops the oldest. */
export const MAX_TICKETS = 256;
const TICKET_BYTES = 32;

export interface ConsoleTicket { ticket: string; vm: string; expiresAt: number }

export class ConsoleTickets {
  /** In the order issued (a Map iterates in insertion order), so the first is the oldest. */
  private readonly live = new Map<string, ConsoleTicket>();

  constructor(private readonly now: () => number = () => Date.now(), private readonly ttlMs = TICKET_TTL_MS) {}

  /** A new single-use ticket for VM `vm`'s console. */
  issue(vm: string): ConsoleTicket {
    this.prune();
    while (this.live.size >= MAX_TICKETS) this.live.delete(this.live.keys().next().value as string);
    const t: ConsoleTicket = { ticket: randomBytes(TICKET_BYTES).toString("hex"), vm, expiresAt: this.now() + this.ttlMs };
    this.live.set(t.ticket, t);
    return t;
  }

  /** Whether `ticket` is good for VM `vm`'s console; a good one is used up. */
  take(ticket: string, vm: string): boolean {
    const t = this.live.get(ticket);
    if (t === undefined) return false;
    // Expired or for another VM: gone either way (a ticket shown to the wrong door is spent).
    this.live.delete(ticket);
    return t.vm === vm && this.now() < t.expiresAt;
  }

  get size(): number { this.prune(); return this.live.size; }

  private prune(): void {
    const now = this.now();
    for (const [k, t] of this.live) if (now >= t.expiresAt) this.live.delete(k);
  }
}
