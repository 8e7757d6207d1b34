// The guest's terminal: a tty with Linux's termios state and the N_TTY line discipline done here,
// in the application kernel (the host terminal is put in raw mode, so the host neither edits
// lines, echoes nor turns keys into signals: rvisor does, for the guest's foreground process
// group). Input bytes from the host go through input(); reads take the processed queue.
// The controlling-terminal state (session, foreground process group) lives here too; the checks
// that involve processes are in jobctl.ts.
//
// Partial, as documented in the syscall table: IXON/IXOFF flow control is not done (VSTART and
// VSTOP bytes are data), VTIME timers are not run (VMIN=0 reads return at once), and output
// post-processing (OPOST/ONLCR) is the host terminal's, which stays on in raw mode.

/** struct termios of the kernel (asm-generic/termbits.h): 4 flag words, c_line, c_cc[NCCS]. */
export const NCCS = 19, TERMIOS_BYTES = 36, TERMIOS2_BYTES = 44;
export const VINTR = 0, VQUIT = 1, VERASE = 2, VKILL = 3, VEOF = 4, VTIME = 5, VMIN = 6, VSWTC = 7, VSTART = 8,
  VSTOP = 9, VSUSP = 10, VEOL = 11, VREPRINT = 12, VDISCARD = 13, VWERASE = 14, VLNEXT = 15, VEOL2 = 16;
// c_iflag
export const IGNBRK = 0o1, BRKINT = 0o2, ISTRIP = 0o40, INLCR = 0o100, IGNCR = 0o200, ICRNL = 0o400, IXON = 0o2000,
  IMAXBEL = 0o20000, IUTF8 = 0o40000;
// c_oflag
export const OPOST = 0o1, ONLCR = 0o4;
// c_cflag
export const B38400 = 0o17, CS8 = 0o60, CREAD = 0o200, HUPCL = 0o2000;
// c_lflag
export const ISIG = 0o1, ICANON = 0o2, ECHO = 0o10, ECHOE = 0o20, ECHOK = 0o40, ECHONL = 0o100, NOFLSH = 0o200,
  TOSTOP = 0o400, ECHOCTL = 0o1000, ECHOPRT = 0o2000, ECHOKE = 0o4000, IEXTEN = 0o100000;
// Signals the keys raise (asm-generic/signal.h; kept here so this module stands alone).
export const SIGINT = 2, SIGQUIT = 3, SIGTSTP = 20, SIGWINCH = 28;

const POSIX_VDISABLE = 0, NL = 0x0a, CR = 0x0d, TAB = 0x09, BS = 0x08, SPACE = 0x20, DEL = 0x7f;
/** A line ended by VEOF: read returns what precedes it, or 0 (end of file) when nothing does. */
const EOF_MARK = 0x100;
/** Canonical lines are at most this long (N_TTY_BUF_SIZE - 1); more bytes are dropped. */
export const MAX_CANON = 4095;
/** Input kept while nobody reads: beyond this, bytes are dropped. */
export const MAX_INPUT = 65536;

export interface TtyHooks {
  /** Echo to the terminal. */
  echo(data: Uint8Array): void;
  /** A signal key was typed (ISIG): `sig` goes to the foreground process group. */
  signal(sig: number): void;
  /** Input became readable. */
  notify(): void;
}

export class Tty {
  iflag = ICRNL | IXON | IUTF8;
  oflag = OPOST | ONLCR;
  cflag = B38400 | CS8 | CREAD | HUPCL;
  lflag = ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN;
  line = 0;
  readonly cc = new Uint8Array(NCCS);
  /** Session whose controlling terminal this is (its leader's pid), or 0. */
  sid = 0;
  /** Foreground process group, or 0. */
  pgrp = 0;
  /** Set once the host has taken the terminal back (the first process exited): every guest process is in the background then. */
  released = false;
  rows = 24; cols = 80;
  /** Processed input: bytes 0..255 and EOF_MARK. */
  private q: number[] = [];
  /** How much of q a read may take (canonical: up to the last ended line; else all of q). */
  private readable = 0;
  private lnext = false;
  /** Output column, for erasing tabs. */
  private col = 0;
  /** The column where the line being edited began. */
  private canonCol = 0;

  constructor(readonly hooks: TtyHooks) {
    const cc = this.cc;
    cc[VINTR] = 0x03; cc[VQUIT] = 0x1c; cc[VERASE] = DEL; cc[VKILL] = 0x15; cc[VEOF] = 0x04; cc[VTIME] = 0; cc[VMIN] = 1;
    cc[VSTART] = 0x11; cc[VSTOP] = 0x13; cc[VSUSP] = 0x1a; cc[VREPRINT] = 0x12; cc[VDISCARD] = 0x0f;
    cc[VWERASE] = 0x17; cc[VLNEXT] = 0x16;
  }

  get canonical(): boolean { return (this.lflag & ICANON) !== 0; }

  // ------------------------------------------------------------------ termios
  /** TCGETS: struct termios (or termios2 with the speeds, 44 bytes). */
  termios(size = TERMIOS_BYTES): Uint8Array {
    const b = new Uint8Array(size);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, this.iflag, true); dv.setUint32(4, this.oflag, true); dv.setUint32(8, this.cflag, true); dv.setUint32(12, this.lflag, true);
    b[16] = this.line;
    b.set(this.cc, 17);
    if (size >= TERMIOS2_BYTES) { dv.setUint32(36, 38400, true); dv.setUint32(40, 38400, true); }
    return b;
  }

  /** TCSETS*: takes a struct termios; TCSETSF also flushes pending input. */
  setTermios(b: Uint8Array, flush: boolean): void {
    const dv = new DataView(b.buffer, b.byteOffset, b.length);
    const wasCanon = this.canonical;
    this.iflag = dv.getUint32(0, true); this.oflag = dv.getUint32(4, true); this.cflag = dv.getUint32(8, true); this.lflag = dv.getUint32(12, true);
    this.line = b[16];
    this.cc.set(b.subarray(17, 17 + NCCS));
    if (flush) this.flushInput();
    if (wasCanon !== this.canonical) {
      // As n_tty_set_termios: leaving canonical mode makes the partial line readable; entering it
      // makes what is queued one pushed line.
      if (!this.canonical) this.q = this.q.filter((c) => c !== EOF_MARK);
      this.readable = this.q.length;
      this.canonCol = this.col;
      this.lnext = false;
    }
    this.hooks.notify();
  }

  flushInput(): void { this.q = []; this.readable = 0; this.lnext = false; }

  // ------------------------------------------------------------------ reading
  /** Whether a read would return now (data, end of file, or VMIN=0 in non-canonical mode). */
  canRead(): boolean {
    if (this.readable > 0) return true;
    return !this.canonical && this.cc[VMIN] === 0;
  }

  /** Bytes a read would take (FIONREAD). */
  available(): number {
    if (!this.canonical) return this.q.length;
    let n = 0;
    for (let i = 0; i < this.readable; i++) if (this.q[i] !== EOF_MARK) n++;
    return n;
  }

  /** Reads processed input into buf: the count, 0 at end of file, or null when the reader must wait. */
  read(buf: Uint8Array): number | null {
    if (this.readable === 0) return !this.canonical && this.cc[VMIN] === 0 ? 0 : null;
    let n = 0, taken = 0;
    if (this.canonical) {
      // One line at most: up to and including its terminator; VEOF is consumed, not returned.
      while (taken < this.readable && n < buf.length) {
        const c = this.q[taken];
        taken++;
        if (c === EOF_MARK) break;
        buf[n++] = c;
        if (this.isLineEnd(c)) break;
      }
    } else {
      while (taken < this.readable && n < buf.length) buf[n++] = this.q[taken++];
    }
    this.q.splice(0, taken);
    this.readable -= taken;
    return n;
  }

  private isLineEnd(c: number): boolean {
    const cc = this.cc;
    return c === NL || (c === cc[VEOL] && c !== POSIX_VDISABLE) || (c === cc[VEOL2] && c !== POSIX_VDISABLE && (this.lflag & IEXTEN) !== 0);
  }

  // ------------------------------------------------------------------ output
  /** Guest output to the terminal passes here (for the column that erasing a tab needs). */
  output(data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) this.col = advance(this.col, data[i]);
  }

  // ------------------------------------------------------------------ input
  /** Bytes typed on the host terminal. */
  input(data: Uint8Array): void {
    const out: number[] = [];
    let ready = false;
    for (let i = 0; i < data.length; i++) if (this.inputByte(data[i], out)) ready = true;
    if (out.length > 0) this.echo(out);
    if (ready) this.hooks.notify();
  }

  private echo(out: number[]): void {
    if (out.length === 0) return;
    const b = Uint8Array.from(out);
    this.output(b);
    this.hooks.echo(b);
  }

  /** One input byte (n_tty_receive_char); true when input became readable. */
  private inputByte(c: number, out: number[]): boolean {
    const lf = this.lflag, cc = this.cc;
    const isCc = (i: number): boolean => c === cc[i] && c !== POSIX_VDISABLE;
    if ((this.iflag & ISTRIP) !== 0) c &= 0x7f;
    if (this.lnext) {
      this.lnext = false;
      return this.store(c, out, true);
    }
    if ((lf & ISIG) !== 0) {
      const sig = isCc(VINTR) ? SIGINT : isCc(VQUIT) ? SIGQUIT : isCc(VSUSP) ? SIGTSTP : 0;
      if (sig !== 0) {
        // Without NOFLSH the queues are flushed: input, and echo not yet written (of this batch).
        if ((lf & NOFLSH) === 0) { this.flushInput(); out.length = 0; }
        if ((lf & ECHO) !== 0) this.echoChar(c, out);
        this.echo(out.splice(0));
        this.canonCol = this.col;
        this.hooks.signal(sig);
        return false;
      }
    }
    if (c === CR) {
      if ((this.iflag & IGNCR) !== 0) return false;
      if ((this.iflag & ICRNL) !== 0) c = NL;
    } else if (c === NL && (this.iflag & INLCR) !== 0) c = CR;
    if ((lf & ICANON) !== 0) {
      const ext = (lf & IEXTEN) !== 0;
      if (isCc(VERASE) || isCc(VKILL) || (ext && isCc(VWERASE))) { this.erase(isCc(VERASE) ? VERASE : isCc(VKILL) ? VKILL : VWERASE, c, out); return false; }
      if (ext && isCc(VLNEXT)) {
        this.lnext = true;
        if ((lf & ECHO) !== 0) out.push(0x5e, BS); // "^" then back over it, as Linux
        return false;
      }
      if (ext && isCc(VREPRINT)) {
        if ((lf & ECHO) !== 0) {
          this.echoChar(c, out);
          out.push(NL);
          this.echo(out.splice(0));
          this.canonCol = this.col;
          for (let i = this.readable; i < this.q.length; i++) if (this.q[i] !== EOF_MARK) this.echoChar(this.q[i], out);
        }
        return false;
      }
      if (isCc(VEOF)) return this.endLine(EOF_MARK, out);
      if (c === NL || isCc(VEOL) || (ext && isCc(VEOL2))) return this.endLine(c, out);
    }
    return this.store(c, out, false);
  }

  /** Queues a data byte (echoed); in non-canonical mode it is readable at once. */
  private store(c: number, out: number[], literal: boolean): boolean {
    const canon = this.canonical;
    if (this.q.length >= MAX_INPUT || (canon && this.q.length - this.readable >= MAX_CANON)) {
      if ((this.iflag & IMAXBEL) !== 0 && (this.lflag & ECHO) !== 0) out.push(0x07);
      return false;
    }
    if (canon && this.q.length === this.readable) {
      // The first byte of a line: record its column (for erasing tabs), as n_tty's canon_column.
      this.echo(out.splice(0));
      this.canonCol = this.col;
    }
    this.q.push(c);
    if ((this.lflag & ECHO) !== 0) {
      if (c === NL && !literal) out.push(NL); else this.echoChar(c, out);
    } else if (c === NL && (this.lflag & ECHONL) !== 0 && canon) out.push(NL);
    if (canon) return false;
    this.readable = this.q.length;
    return true;
  }

  private endLine(c: number, out: number[]): boolean {
    if (this.q.length >= MAX_INPUT) return false;
    this.q.push(c);
    const lf = this.lflag;
    if (c === NL) { if ((lf & (ECHO | ECHONL)) !== 0) out.push(NL); }
    else if (c !== EOF_MARK && (lf & ECHO) !== 0) this.echoChar(c, out);
    this.readable = this.q.length;
    this.echo(out.splice(0));
    this.canonCol = this.col;
    return true;
  }

  /** Echoes a byte: control characters as ^X with ECHOCTL (not TAB or NL). */
  private echoChar(c: number, out: number[]): void {
    if ((this.lflag & ECHOCTL) !== 0 && (c < SPACE || c === DEL) && c !== TAB && c !== NL) out.push(0x5e, c ^ 0x40);
    else out.push(c);
  }

  /** VERASE, VWERASE, VKILL on the line being edited (eraser in n_tty.c). */
  private erase(kind: number, c: number, out: number[]): void {
    const lf = this.lflag;
    if (this.q.length === this.readable) return;
    const echo = (lf & ECHO) !== 0;
    if (kind === VKILL && echo && (lf & ECHOKE) === 0) {
      // Without ECHOKE: echo the kill character, then a newline with ECHOK.
      this.q.length = this.readable;
      this.echoChar(c, out);
      if ((lf & ECHOK) !== 0) out.push(NL);
      this.echo(out.splice(0));
      this.canonCol = this.col;
      return;
    }
    if (kind === VERASE && echo && (lf & ECHOE) === 0) {
      this.q.pop();
      this.echoChar(c, out);
      return;
    }
    let seenWord = false;
    while (this.q.length > this.readable) {
      const last = this.q[this.q.length - 1];
      if (kind === VWERASE) {
        const word = last !== SPACE && last !== TAB;
        if (seenWord && !word) break;
        if (word) seenWord = true;
      }
      // A UTF-8 character is erased whole: its continuation bytes, then its lead byte.
      let n = 1;
      if ((this.iflag & IUTF8) !== 0) while (n < this.q.length - this.readable && (this.q[this.q.length - n] & 0xc0) === 0x80) n++;
      const gone = this.q.splice(this.q.length - n, n);
      if (echo) this.rubout(gone, out);
      if (kind === VERASE) break;
    }
  }

  /** Visually removes erased bytes: "\b \b" per column (a tab goes back to where it began). */
  private rubout(gone: number[], out: number[]): void {
    const c = gone[0];
    if (c === TAB) {
      if (out.length > 0) this.echo(out.splice(0));
      let col = this.canonCol;
      for (let i = this.readable; i < this.q.length; i++) col = advanceEcho(col, this.q[i], this.lflag);
      const back = Math.max(0, this.col - col);
      for (let i = 0; i < back; i++) out.push(BS);
      return;
    }
    const width = (this.lflag & ECHOCTL) !== 0 && (c < SPACE || c === DEL) ? 2 : (c & 0xc0) === 0x80 ? 0 : 1;
    for (let i = 0; i < width; i++) out.push(BS, SPACE, BS);
  }
}

function advance(col: number, c: number): number {
  if (c === NL || c === CR) return 0;
  if (c === TAB) return (col | 7) + 1;
  if (c === BS) return Math.max(0, col - 1);
  if (c < SPACE || c === DEL || (c & 0xc0) === 0x80) return col;
  return col + 1;
}

/** The column after echoing c (control characters take two with ECHOCTL). */
function advanceEcho(col: number, c: number, lflag: number): number {
  if (c === TAB) return (col | 7) + 1;
  if ((c < SPACE || c === DEL) && (lflag & ECHOCTL) !== 0) return col + 2;
  return advance(col, c);
}
