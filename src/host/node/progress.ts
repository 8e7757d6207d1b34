// A one-line progress display for pulls and imports: rewritten in place on a terminal (at most
// every REDRAW_MS), silent otherwise (logs and pipes get only the final summary the caller prints).
import type { WriteStream } from "node:tty";

const REDRAW_MS = 100;
const MIB = 1 << 20;

export function formatBytes(n: number): string {
  return n >= MIB ? `${(n / MIB).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;
}

export class Progress {
  private last = 0;
  private shown = false;
  private text = "";
  private count = 0;
  private total: number | null = null;
  readonly enabled: boolean;
  constructor(private readonly out: NodeJS.WritableStream & Partial<Pick<WriteStream, "isTTY" | "columns">> = process.stderr, enabled?: boolean) {
    this.enabled = enabled ?? out.isTTY === true;
  }

  /** Starts a phase ("sha256:abcd… downloading") with the bytes it will handle, when known. */
  phase(text: string, total: number | null = null): void {
    this.text = text; this.count = 0; this.total = total;
    this.draw(true);
  }

  /** Counts bytes of the current phase. */
  add(n: number): void { this.count += n; this.draw(false); }

  private draw(force: boolean): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (!force && now - this.last < REDRAW_MS) return;
    this.last = now;
    const amount = this.count === 0 && this.total === null ? "" : this.total !== null ? ` ${formatBytes(this.count)} / ${formatBytes(this.total)}` : ` ${formatBytes(this.count)}`;
    const width = (this.out.columns ?? 80) - 1;
    this.out.write(`\r\x1b[K${(this.text + amount).slice(0, width)}`);
    this.shown = true;
  }

  /** Clears the line. */
  done(): void {
    if (this.shown) this.out.write("\r\x1b[K");
    this.shown = false;
  }
}
