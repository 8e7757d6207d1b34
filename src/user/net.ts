// Socket system calls (placeholder until host sockets are wired).
import type { Kernel } from "./kernel.js";
import { EAFNOSUPPORT, ENOTSOCK } from "./errno.js";
import type { Thread, Wait } from "./task.js";

type R = number | Wait;
export const sys_socket = (_k: Kernel, _t: Thread, _a: number[]): R => -EAFNOSUPPORT;
export const sys_socketpair = sys_socket;
const notsock = (): R => -ENOTSOCK;
export const sys_bind = notsock, sys_listen = notsock, sys_accept = notsock, sys_accept4 = notsock, sys_connect = notsock,
  sys_getsockname = notsock, sys_getpeername = notsock, sys_sendto = notsock, sys_recvfrom = notsock,
  sys_setsockopt = notsock, sys_getsockopt = notsock, sys_shutdown = notsock, sys_sendmsg = notsock, sys_recvmsg = notsock;
