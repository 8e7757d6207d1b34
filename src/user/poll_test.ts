// EPOLLET on the process VM's sockets, as Go's netpoller uses it: every fd is registered once
// with EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET and the runtime relies on an edge for the initial
// writable state, for every new arrival of data (Linux wakes the socket on each one, even when
// the buffer was not drained) and for every new connection on a listening socket.
import { POLLIN, POLLOUT, POLLRDHUP } from "../abi/linux.js";
import { test } from "node:test";
import assert from "node:assert/strict";
import { EPOLLET, EpollFile } from "./poll.js";
import { Kernel } from "./kernel.js";
import { nodeUserHost } from "../host/node/user_host.js";
import { fakeStat, OpenFile } from "./file.js";
import type { HostStat } from "./host.js";
import { AF_UNIX, SOCK_STREAM, StreamSocket } from "./net.js";

const GO_EVENTS = POLLIN | POLLOUT | POLLRDHUP | EPOLLET;

function kernel(): Kernel {
  return new Kernel(nodeUserHost(), { root: "/", readonly: true, strace: false, log: () => {}, memBytes: 16 << 20 });
}

/** One epoll_wait that does not block: the fds reported and their events (and the edges consumed). */
function wait(ep: EpollFile): Map<number, number> {
  const r = ep.ready(16);
  ep.consume(r);
  return new Map(r.map(([i, ev]) => [i.fd, ev]));
}

const send = (s: StreamSocket, text: string): void => { assert.equal(s.write(new TextEncoder().encode(text)), text.length); };

test("EPOLLET on a connected stream socket: the initial writable edge, then an edge per arrival of data", () => {
  const k = kernel();
  const [a, b] = StreamSocket.pair(k, AF_UNIX, SOCK_STREAM);
  const ep = new EpollFile();
  ep.arm(3, a, GO_EVENTS, 0n);
  assert.deepEqual(wait(ep), new Map([[3, POLLOUT]]), "the initial writable edge");
  assert.deepEqual(wait(ep), new Map(), "no edge without a wakeup");
  send(b, "one");
  assert.deepEqual(wait(ep), new Map([[3, POLLIN | POLLOUT]]), "data arrived");
  assert.deepEqual(wait(ep), new Map());
  // More data before the reader drained: Linux reports it again (sk_data_ready on each skb).
  send(b, "two");
  assert.deepEqual(wait(ep), new Map([[3, POLLIN | POLLOUT]]), "more data, not drained");
  // The reader drains without an epoll_wait in between, then data comes again: still an edge,
  // although the readiness mask looks the same as at the last report.
  const buf = new Uint8Array(64);
  assert.equal(a.read(buf), 6);
  send(b, "three");
  assert.deepEqual(wait(ep), new Map([[3, POLLIN | POLLOUT]]), "data after an unobserved drain");
  // The peer's end of file is an edge too.
  b.release();
  const last = wait(ep).get(3) ?? 0;
  assert.equal(last & POLLRDHUP, POLLRDHUP, "end of file");
  a.release();
});

test("EPOLLET on a listening socket: an edge per new connection, even with one still queued", () => {
  const k = kernel();
  const l = new StreamSocket(k, AF_UNIX, SOCK_STREAM, 0);
  l.state = "bound";
  assert.equal(l.listen(8), 0);
  const ep = new EpollFile();
  ep.arm(4, l, GO_EVENTS, 0n);
  assert.deepEqual(wait(ep), new Map(), "nothing to accept yet");
  const c1 = new StreamSocket(k, AF_UNIX, SOCK_STREAM, 0);
  const cep = new EpollFile();
  cep.arm(5, c1, GO_EVENTS, 0n);
  assert.equal(l.acceptLocal(c1), true);
  assert.deepEqual(wait(ep), new Map([[4, POLLIN]]), "first connection");
  assert.deepEqual(wait(cep), new Map([[5, POLLOUT]]), "the connecting side's writable edge once connected");
  // Accept it without an epoll_wait seeing the queue empty, then a second connection comes.
  const s1 = l.accept();
  assert.ok(s1 instanceof StreamSocket);
  const c2 = new StreamSocket(k, AF_UNIX, SOCK_STREAM, 0);
  assert.equal(l.acceptLocal(c2), true);
  assert.deepEqual(wait(ep), new Map([[4, POLLIN]]), "second connection after an unobserved accept");
  // A third while the second is still queued.
  const c3 = new StreamSocket(k, AF_UNIX, SOCK_STREAM, 0);
  assert.equal(l.acceptLocal(c3), true);
  assert.deepEqual(wait(ep), new Map([[4, POLLIN]]), "third connection, second still queued");
  for (const s of [s1, c1, c2, c3, l]) s.release();
});

/** A file that counts no wakeups: readable while `ready` is set, always writable. */
class Plain extends OpenFile {
  ready = false;
  override poll(): number { return (this.ready ? POLLIN : 0) | POLLOUT; }
  override stat(): HostStat { return fakeStat(0o600); }
}

test("EPOLLET on a file without a wakeup count: a readiness bit that went off is armed again", () => {
  const f = new Plain();
  const ep = new EpollFile();
  ep.arm(6, f, GO_EVENTS, 0n);
  assert.deepEqual(wait(ep), new Map([[6, POLLOUT]]));
  f.ready = true;
  assert.deepEqual(wait(ep), new Map([[6, POLLIN | POLLOUT]]), "POLLIN came on");
  assert.deepEqual(wait(ep), new Map());
  f.ready = false;
  assert.deepEqual(wait(ep), new Map(), "POLLIN went off: no event, but armed");
  f.ready = true;
  assert.deepEqual(wait(ep), new Map([[6, POLLIN | POLLOUT]]), "POLLIN came on again while POLLOUT stayed on");
});
