// The host side of a network card: Ethernet frames in, Ethernet frames out, with backpressure
// toward the guest (TinyEMU's EthernetDevice: device_can_write_packet / device_write_packet).
// The same NIC works over the user-mode stack (src/net/user_net.ts), and later over a switch
// port or a WebSocket relay: each is a NetBackend.

/** What the NIC offers its backend: the guest's receive side. */
export interface NetFrontend {
  /**
   * True when a frame of `len` bytes can be handed to the guest now (it has posted enough
   * receive buffers). A backend asks before every `deliver` and keeps the frame queued when
   * the answer is no; the NIC calls `NetBackend.rxReady()` once buffers arrive.
   */
  canReceive(len: number): boolean;
  /** Hands one frame to the guest; only after `canReceive(frame.length)` said yes. */
  deliver(frame: Uint8Array): void;
}

export interface NetBackend {
  /** Called once by the NIC that owns this backend. */
  attach(frontend: NetFrontend): void;
  /** A frame the guest transmitted (the NIC keeps no reference: the backend may keep it). */
  transmit(frame: Uint8Array): void;
  /** The guest posted receive buffers: deliver what is queued. */
  rxReady(): void;
}

/** Ethernet's largest frame without FCS at MTU 1500: 14-byte header + 1500 payload. */
export const ETH_FRAME_MAX = 1514;
/** A frame with an 802.1Q tag (4 bytes more) is still accepted from the guest. */
export const ETH_FRAME_MAX_VLAN = ETH_FRAME_MAX + 4;
/** Destination MAC, source MAC, EtherType. */
export const ETH_HEADER_LEN = 14;
