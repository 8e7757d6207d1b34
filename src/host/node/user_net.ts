// Node sockets for the process VM (placeholder).
import type { HostNet, HostSocket, HostSocketEvents, SockAddr } from "../../user/host.js";

export class NodeNet implements HostNet {
  create(_kind: "stream" | "dgram", _family: SockAddr["family"], _ev: HostSocketEvents): HostSocket {
    throw new Error("sockets are not available");
  }
}
