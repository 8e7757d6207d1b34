// The host side of a network card: Ethernet frames in, Ethernet frames out, with backpressure
// toward the guest (TinyEMU's EthernetDevice: device_can_write_packet / device_write_packet).
// The same NIC works over the user-mode stack (src/net/user_net.ts), and later over a switch
// port or a WebSocket relay: each is a NetBackend.

// Offloads (virtio 1.2 5.1.6.2 and 5.1.6.4): work on a frame that its producer leaves to its
// consumer. Without them every frame either way is a complete Ethernet frame of at most
// ETH_FRAME_MAX_VLAN bytes with every checksum filled in.

/** Takes frames whose TCP/UDP checksum is left partial (flagged NET_FRAME_CSUM_PARTIAL). */
export const NET_OFFLOAD_CSUM = 1;
/** Takes TCP/IPv4 segments longer than one frame (up to TSO_FRAME_MAX; the IPv4 total length covers them). */
export const NET_OFFLOAD_TSO4 = 2;

/**
 * Frame flag: the TCP/UDP checksum field holds only the pseudo-header sum (as Linux leaves it
 * for CHECKSUM_PARTIAL); the consumer completes it over the transport header and data, or,
 * when it terminates the connection itself, need not look at it.
 */
export const NET_FRAME_CSUM_PARTIAL = 1;
/** Frame flag: every checksum was filled in or checked by the producer (virtio's DATA_VALID). */
export const NET_FRAME_CSUM_VALID = 2;

/** What the NIC offers its backend: the guest's receive side. */
export interface NetFrontend {
  /** NET_OFFLOAD_* bits the guest's driver accepts now (they change when it renegotiates). */
  readonly offloads: number;
  /** The card's own MAC (what the guest was given), when the frontend has one. */
  readonly mac?: Uint8Array;
  /**
   * True when a frame of `len` bytes can be handed to the guest now (it has posted enough
   * receive buffers). A backend asks before every `deliver` and keeps the frame queued when
   * the answer is no; the NIC calls `NetBackend.rxReady()` once buffers arrive.
   */
  canReceive(len: number): boolean;
  /**
   * Hands one frame to the guest; only after `canReceive(frame.length)` said yes. `flags` are
   * NET_FRAME_* bits; `gsoSize` > 0 marks a TCP/IPv4 segment longer than one frame, to be seen
   * as segments of that many data bytes (only while `offloads` has NET_OFFLOAD_TSO4; partial
   * checksums only with NET_OFFLOAD_CSUM: a frame that breaks these is dropped).
   */
  deliver(frame: Uint8Array, flags?: number, gsoSize?: number): void;
}

export interface NetBackend {
  /** Called once by the NIC that owns this backend. */
  attach(frontend: NetFrontend): void;
  /**
   * A frame the guest transmitted (the NIC keeps no reference: the backend may keep it).
   * `flags` (NET_FRAME_*) can only hold what `offloads` allows.
   */
  transmit(frame: Uint8Array, flags?: number): void;
  /** The guest posted receive buffers: deliver what is queued. */
  rxReady(): void;
  /**
   * NET_OFFLOAD_* bits of what `transmit` takes (none when absent): the NIC completes checksums
   * and cuts large segments into frames for a backend that takes neither (a switch port).
   */
  readonly offloads?: number;
}

/** Ethernet's largest frame without FCS at MTU 1500: 14-byte header + 1500 payload. */
export const ETH_FRAME_MAX = 1514;
/** A frame with an 802.1Q tag (4 bytes more) is still accepted from the guest. */
export const ETH_FRAME_MAX_VLAN = ETH_FRAME_MAX + 4;
/** Destination MAC, source MAC, EtherType. */
export const ETH_HEADER_LEN = 14;
/** IPv4's largest datagram (the 16-bit total length). */
export const IPV4_DATAGRAM_MAX = 0xffff;
/** Largest TCP/IPv4 frame with NET_OFFLOAD_TSO4: an Ethernet header and the largest IPv4 datagram. */
export const TSO_FRAME_MAX = ETH_HEADER_LEN + IPV4_DATAGRAM_MAX;
