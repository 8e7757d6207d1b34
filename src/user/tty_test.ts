import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ECHO, ICANON, ISIG, MAX_CANON, SIGINT, SIGQUIT, SIGTSTP, TERMIOS_BYTES, Tty, VEOF, VERASE, VINTR, VKILL, VMIN,
  VSUSP,
} from "./tty.js";

/** A tty whose echo, signals and wake-ups are recorded. */
function tty(): { t: Tty; echoed: () => string; signals: number[]; wakes: () => number } {
  let echo = "", wakes = 0;
  const signals: number[] = [];
  const t = new Tty({
    echo: (b) => { echo += Buffer.from(b).toString("latin1"); },
    signal: (s) => { signals.push(s); },
    notify: () => { wakes++; },
  });
  return { t, echoed: () => { const e = echo; echo = ""; return e; }, signals, wakes: () => wakes };
}

const type = (t: Tty, s: string): void => t.input(Buffer.from(s, "latin1"));
function readStr(t: Tty, max = 4096): string | number | null {
  const b = new Uint8Array(max);
  const n = t.read(b);
  return n === null ? null : n === 0 ? 0 : Buffer.from(b.subarray(0, n)).toString("latin1");
}

/** Sets lflag (and VMIN) through TCSETS, as a program would. */
function setLflag(t: Tty, lflag: number, vmin = 1): void {
  const b = t.termios();
  new DataView(b.buffer).setUint32(12, lflag, true);
  b[17 + VMIN] = vmin;
  t.setTermios(b, false);
}

test("tty: default termios is Linux's (tty_std_termios, IUTF8 on)", () => {
  const { t } = tty();
  const b = t.termios();
  assert.equal(b.length, TERMIOS_BYTES);
  const dv = new DataView(b.buffer);
  assert.equal(dv.getUint32(0, true), 0o42400); // ICRNL | IXON | IUTF8
  assert.equal(dv.getUint32(4, true), 0o5); // OPOST | ONLCR
  assert.equal(dv.getUint32(8, true), 0o2277); // B38400 | CS8 | CREAD | HUPCL
  assert.equal(dv.getUint32(12, true), 0x8a3b); // ISIG ICANON ECHO ECHOE ECHOK ECHOCTL ECHOKE IEXTEN
  assert.deepEqual([...b.subarray(17, 17 + 17)], [3, 0x1c, 0x7f, 0x15, 4, 0, 1, 0, 0x11, 0x13, 0x1a, 0, 0x12, 0x0f, 0x17, 0x16, 0]);
  const t2 = tty().t;
  t2.setTermios(b, false);
  assert.deepEqual(t2.termios(), b, "TCSETS of TCGETS is the identity");
});

test("tty: canonical mode edits the line, echoes, and a read waits for the newline", () => {
  const { t, echoed, wakes } = tty();
  type(t, "ab\x7fc");
  assert.equal(readStr(t), null, "no line yet");
  assert.equal(t.canRead(), false);
  assert.equal(echoed(), "ab\b \bc");
  type(t, "\r"); // ICRNL: CR is NL
  assert.equal(echoed(), "\n");
  assert.ok(wakes() > 0);
  assert.equal(t.available(), 3);
  assert.equal(readStr(t), "ac\n");
  assert.equal(readStr(t), null);
});

test("tty: a canonical read takes one line at a time, and a short buffer the rest later", () => {
  const { t } = tty();
  type(t, "one\ntwo\n");
  assert.equal(readStr(t, 2), "on");
  assert.equal(readStr(t), "e\n");
  assert.equal(readStr(t), "two\n");
});

test("tty: VEOF ends a line without itself; at the start of a line it reads as end of file", () => {
  const { t, echoed } = tty();
  type(t, "xy\x04");
  assert.equal(readStr(t), "xy");
  type(t, "\x04");
  assert.equal(readStr(t), 0);
  assert.equal(echoed(), "xy", "VEOF is not echoed");
  assert.equal(readStr(t), null);
});

test("tty: VKILL with ECHOKE rubs the line out; VWERASE erases a word", () => {
  const { t, echoed } = tty();
  type(t, "abc\x15");
  assert.equal(echoed(), "abc" + "\b \b".repeat(3));
  type(t, "foo bar\x17\n");
  assert.equal(readStr(t), "foo \n");
  assert.equal(echoed(), "foo bar" + "\b \b".repeat(3) + "\n");
});

test("tty: erase takes a whole UTF-8 character; a control character echoes as ^X and erases both columns", () => {
  const { t, echoed } = tty();
  type(t, "a\xc3\xa9\x7f\n");
  assert.equal(readStr(t), "a\n");
  assert.equal(echoed(), "a\xc3\xa9\b \b\n");
  type(t, "\x01\x7f\n");
  assert.equal(echoed(), "^A\b \b\b \b\n");
  assert.equal(readStr(t), "\n");
});

test("tty: erasing a tab goes back to where the tab began", () => {
  const { t, echoed } = tty();
  t.output(Buffer.from("$ ")); // a prompt: the line starts at column 2
  type(t, "a\t\x7f");
  assert.equal(echoed(), "a\t" + "\b".repeat(5)); // the tab went from column 3 to 8
});

test("tty: ISIG keys signal the foreground group, echo ^C and flush the line", () => {
  const { t, echoed, signals } = tty();
  type(t, "partial");
  type(t, "\x03");
  assert.deepEqual(signals, [SIGINT]);
  assert.equal(echoed(), "partial^C");
  type(t, "typed with the key\x03"); // echo of the same batch is flushed with the queue, as n_tty's isig
  assert.equal(echoed(), "^C");
  signals.length = 0; signals.push(SIGINT);
  type(t, "\n");
  assert.equal(readStr(t), "\n", "the partial line was flushed");
  type(t, "\x1c\x1a");
  assert.deepEqual(signals, [SIGINT, SIGQUIT, SIGTSTP]);
  // The keys are c_cc entries: change VINTR, disable VSUSP.
  const b = t.termios();
  b[17 + VINTR] = 0x07; b[17 + VSUSP] = 0;
  t.setTermios(b, false);
  type(t, "\x03\x1a\x07");
  assert.deepEqual(signals, [SIGINT, SIGQUIT, SIGTSTP, SIGINT]);
});

test("tty: without ISIG the signal keys are data; VLNEXT quotes one", () => {
  const { t, signals } = tty();
  type(t, "\x16\x03\n");
  assert.deepEqual(signals, []);
  assert.equal(readStr(t), "\x03\n");
  setLflag(t, ICANON | ECHO);
  type(t, "\x03\x1a\x1c\n");
  assert.deepEqual(signals, []);
  assert.equal(readStr(t), "\x03\x1a\x1c\n");
});

test("tty: non-canonical mode without echo: bytes readable at once, VMIN=0 reads return 0", () => {
  const { t, echoed } = tty();
  setLflag(t, ISIG);
  type(t, "q\r");
  assert.equal(echoed(), "");
  assert.equal(readStr(t), "q\n");
  assert.equal(readStr(t), null, "VMIN=1: wait");
  setLflag(t, ISIG, 0);
  assert.equal(t.canRead(), true);
  assert.equal(readStr(t), 0);
});

test("tty: leaving canonical mode makes the partial line readable; entering it pushes queued bytes", () => {
  const { t } = tty();
  type(t, "half");
  assert.equal(readStr(t), null);
  setLflag(t, ISIG | ECHO);
  assert.equal(readStr(t), "half");
  type(t, "raw");
  setLflag(t, ISIG | ICANON | ECHO);
  assert.equal(readStr(t), "raw");
});

test("tty: TCSETSF flushes input; a canonical line holds at most MAX_CANON bytes", () => {
  const { t } = tty();
  type(t, "junk\n");
  t.setTermios(t.termios(), true);
  assert.equal(readStr(t), null);
  type(t, "x".repeat(MAX_CANON + 100) + "\n");
  const r = readStr(t, 8192);
  assert.equal(typeof r === "string" ? r.length : r, MAX_CANON + 1);
});

test("tty: c_cc VERASE/VKILL/VEOF are honoured as set", () => {
  const { t } = tty();
  const b = t.termios();
  b[17 + VERASE] = 0x08; b[17 + VKILL] = 0x40; b[17 + VEOF] = 0x1a; b[17 + VSUSP] = 0;
  t.setTermios(b, false);
  type(t, "ab\x08c@de\x1a");
  assert.equal(readStr(t), "de");
});
